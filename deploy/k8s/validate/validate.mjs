// Validates Kubernetes objects offline against the Kubernetes OpenAPI
// schemas (npm kubernetes-models) and the Prometheus Operator CRDs
// (@kubernetes-models/prometheus-operator).
//   node validate.mjs FILE.json   (a JSON array of objects: kubectl kustomize | yaml->json)
// Prints one line per object (PASS/FAIL kind/name: why); exit 1 if any
// fails, also for a kind it has no schema for (unless listed in
// NO_SCHEMA below, which test_k8s.sh checks by hand).
import { readFileSync } from "node:fs";

const NO_SCHEMA = new Set(["k8s.cni.cncf.io/v1/NetworkAttachmentDefinition"]);

async function modelFor(apiVersion, kind) {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    const m = await import(`@kubernetes-models/prometheus-operator/${apiVersion}`);
    return m[kind];
  }
  const path = apiVersion.includes("/") ? apiVersion : `v1`;
  try {
    const m = await import(`kubernetes-models/${path}`);
    return m[kind];
  } catch {
    return undefined;
  }
}

const objects = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const o of objects) {
  const id = `${o.kind}/${o.metadata?.name}`;
  const key = `${o.apiVersion}/${o.kind}`;
  if (NO_SCHEMA.has(key)) {
    console.log(`SKIP-SCHEMA ${id}: no OpenAPI schema for ${key} (checked by test_k8s.sh)`);
    continue;
  }
  const Model = await modelFor(o.apiVersion, o.kind);
  if (!Model) {
    console.log(`FAIL ${id}: no schema for ${key}`);
    failed++;
    continue;
  }
  try {
    new Model(o).validate();
    console.log(`PASS ${id} (${key})`);
  } catch (e) {
    console.log(`FAIL ${id}: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
