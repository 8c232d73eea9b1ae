#!/usr/bin/env python3
"""What the OpenAPI schemas cannot check in deploy/k8s (see test_k8s.sh).
    k8s_checks.py DEPLOY_K8S_DIR WORK_DIR   (WORK_DIR holds the kustomize
    outputs as JSON: base.json, server_deployment.json, ...)"""
import json
import os
import sys

K, WORK = sys.argv[1], sys.argv[2]
fails = 0


def check(name, ok, why=""):
    global fails
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok or not why else f" ({why})"))
    fails += 0 if ok else 1


def load(variant):
    with open(os.path.join(WORK, variant.replace("/", "_") + ".json")) as f:
        return json.load(f)


def pods(objs):
    for o in objs:
        if o["kind"] in ("Deployment", "DaemonSet", "Job"):
            yield o, o["spec"]["template"]


def cpu_whole(q):
    return str(q).isdigit() and int(q) >= 1


podmonitor = None
for variant in ("server/deployment", "server/daemonset", "server/af-xdp", "loadgen"):
    objs = load(variant)
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    nads = {o["metadata"]["name"]: o for o in objs if o["kind"] == "NetworkAttachmentDefinition"}
    if variant != "loadgen":
        podmonitor = by.get(("PodMonitor", "shardtcp"))
        check(f"{variant}: has the PodMonitor and the PrometheusRule",
              podmonitor is not None and ("PrometheusRule", "shardtcp") in by)
    for nad in nads.values():
        cfg = json.loads(nad["spec"]["config"])
        check(f"{variant}: NetworkAttachmentDefinition {nad['metadata']['name']}: config is CNI JSON",
              bool(cfg.get("cniVersion")) and bool(cfg.get("type")))
    for w, tpl in pods(objs):
        name = f"{variant}: {w['kind']} {w['metadata']['name']}"
        spec, labels = tpl["spec"], tpl["metadata"].get("labels", {})
        sel = podmonitor["spec"]["selector"]["matchLabels"] if podmonitor else {}
        check(f"{name}: the PodMonitor selects it, job label {labels.get(podmonitor['spec']['jobLabel']) if podmonitor else None}",
              podmonitor is not None and all(labels.get(k) == v for k, v in sel.items())
              and labels.get(podmonitor["spec"]["jobLabel"]) == "shardtcp")
        if w["kind"] != "Job":
            ml = w["spec"]["selector"]["matchLabels"]
            check(f"{name}: selector matches its pods", all(labels.get(k) == v for k, v in ml.items()))
        # Multus attachment exists here and its device-plugin resource is requested.
        net = tpl["metadata"].get("annotations", {}).get("k8s.v1.cni.cncf.io/networks", "")
        nad = nads.get(net)
        check(f"{name}: network attachment {net!r} defined", nad is not None)
        for c in spec["containers"]:
            cn = f"{name}/{c['name']}"
            req, lim = c["resources"].get("requests", {}), c["resources"].get("limits", {})
            # Guaranteed QoS: the static CPU manager gives exclusive cores
            # only to Guaranteed pods with integer CPU (kubelet docs).
            check(f"{cn}: requests == limits (Guaranteed QoS)", req == lim, f"{req} vs {lim}")
            check(f"{cn}: whole CPUs ({lim.get('cpu')})", cpu_whole(lim.get("cpu", "")))
            check(f"{cn}: hugepages-2Mi and memory set", "hugepages-2Mi" in lim and "memory" in lim)
            if nad is not None:
                res = nad["metadata"].get("annotations", {}).get("k8s.v1.cni.cncf.io/resourceName")
                check(f"{cn}: requests the attachment's resource {res}", res in lim)
            sc = c.get("securityContext", {})
            caps = sc.get("capabilities", {})
            check(f"{cn}: not privileged, drops ALL, adds only NET_RAW/NET_ADMIN/IPC_LOCK",
                  not sc.get("privileged", False) and caps.get("drop") == ["ALL"]
                  and set(caps.get("add", [])) <= {"NET_RAW", "NET_ADMIN", "IPC_LOCK"}
                  and sc.get("allowPrivilegeEscalation") is False)
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            check(f"{cn}: metrics port 9100 (PodMonitor port)",
                  podmonitor is not None and ports.get(podmonitor["spec"]["podMetricsEndpoints"][0]["port"]) == 9100)
            if w["kind"] != "Job":
                for probe in ("readinessProbe", "livenessProbe"):
                    p = c.get(probe, {}).get("httpGet", {})
                    check(f"{cn}: {probe} GET /metrics on the metrics port",
                          p.get("path") == "/metrics" and p.get("port") in ("metrics", 9100))
            vols = {v["name"]: v for v in spec.get("volumes", [])}
            hp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/dev/hugepages"]
            check(f"{cn}: /dev/hugepages is a HugePages-2Mi emptyDir",
                  len(hp) == 1 and vols[hp[0]["name"]].get("emptyDir", {}).get("medium") == "HugePages-2Mi")
            # The ConfigMap it mounts exists (kustomize renamed it with a hash).
            cms = [v["configMap"]["name"] for v in vols.values() if "configMap" in v]
            check(f"{cn}: its ConfigMap(s) exist", all(("ConfigMap", n) in by for n in cms), str(cms))
        if w["kind"] == "Job":
            js = w["spec"]
            env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env", [])}
            check(f"{name}: Indexed, completions == parallelism == LG_GENERATORS ({js['completions']})",
                  js.get("completionMode") == "Indexed" and js["completions"] == js["parallelism"]
                  == int(env.get("LG_GENERATORS", -1)))
            svc = by.get(("Service", spec.get("subdomain")))
            check(f"{name}: subdomain is a headless Service selecting its pods (start barrier)",
                  svc is not None and svc["spec"].get("clusterIP") == "None"
                  and svc["spec"].get("publishNotReadyAddresses") is True
                  and all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())
                  and env.get("LG_SUBDOMAIN") == spec.get("subdomain")
                  and env.get("LG_JOB_NAME") == w["metadata"]["name"])
            lo, hi = (int(x) for x in env["LG_PORTS"].split("-"))
            check(f"{name}: every generator gets >= 1000 source ports",
                  (hi - lo + 1) // js["completions"] >= 1000)

# The ConfigMaps carry exactly the TOML files beside the kustomizations.
for variant, key, path in (("base", "httpd.toml", "base/httpd.toml"),
                           ("loadgen", "loadgen.toml", "loadgen/loadgen.toml")):
    cms = [o for o in load(variant) if o["kind"] == "ConfigMap"]
    with open(os.path.join(K, path)) as f:
        text = f.read()
    check(f"{variant}: ConfigMap holds {path}", len(cms) == 1 and cms[0]["data"].get(key) == text)

sys.exit(1 if fails else 0)
