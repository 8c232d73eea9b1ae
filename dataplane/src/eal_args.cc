// EAL argument construction from the config, with automatic fallback to
// --no-huge when the host has not reserved enough hugepages.
#include "eal_args.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

namespace shardtcp::dataplane {

namespace {

bool has_arg(const std::vector<std::string>& args, const std::string& flag) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
    return a == flag || a.rfind(flag + "=", 0) == 0;
  });
}

std::uint64_t read_u64(const std::string& path) {
  std::ifstream f(path);
  std::uint64_t v = 0;
  if (f >> v) return v;
  return 0;
}

// net_af_packet serves one queue pair unless told otherwise; each lcore
// needs its own TX queue, so ask for one pair per lcore when unspecified.
std::string fix_vdev(const std::string& vdev, unsigned cores, std::vector<std::string>& notes) {
  if (cores <= 1 || vdev.rfind("net_af_packet", 0) != 0 ||
      vdev.find("qpairs=") != std::string::npos) {
    return vdev;
  }
  std::string out = vdev + ",qpairs=" + std::to_string(cores);
  notes.push_back("vdev " + vdev + ": added qpairs=" + std::to_string(cores) +
                  " (one queue pair per lcore)");
  return out;
}

}  // namespace

std::uint64_t free_hugepage_bytes() {
  const std::uint64_t free2m =
      read_u64("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") * (2ull << 20);
  const std::uint64_t free1g =
      read_u64("/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages") * (1ull << 30);
  return free2m + free1g;
}

std::uint64_t estimate_memory_bytes(const config::Config& cfg, unsigned cores) {
  // Per mbuf: the rte_mbuf header (128 B), the data room (headroom
  // included) and the mempool's per-object header/trailer (~64 B).
  const std::uint64_t per_mbuf = 128 + std::uint64_t{cfg.mempool.data_room} + 64;
  const std::uint64_t pools = per_mbuf * cfg.mempool.mbufs * cores;
  // Descriptor rings, EAL tables and malloc heap slack.
  return pools + (64ull << 20);
}

EalPlan plan_eal(const config::Config& cfg, const std::string& prog, unsigned cores) {
  EalPlan plan;
  const std::vector<std::string>& extra = cfg.eal.args;
  std::vector<std::string>& a = plan.args;
  a.push_back(prog);
  if (!has_arg(extra, "-l") && !has_arg(extra, "--lcores") && !has_arg(extra, "-c")) {
    a.push_back("-l");
    a.push_back(cfg.eal.lcores.empty() ? "0" : cfg.eal.lcores);
  }
  // Virtual devices only: do not probe (and grab) PCI NICs unless the user
  // allow-lists one.
  if (!cfg.eal.vdevs.empty() && !has_arg(extra, "--no-pci") && !has_arg(extra, "-a") &&
      !has_arg(extra, "--allow") && !has_arg(extra, "-b") && !has_arg(extra, "--block")) {
    a.push_back("--no-pci");
  }
  for (const std::string& v : cfg.eal.vdevs) {
    a.push_back("--vdev");
    a.push_back(fix_vdev(v, cores, plan.notes));
  }
  // --in-memory: no runtime files under /var/run/dpdk, several processes
  // coexist and nothing is left behind after a crash.
  if (!has_arg(extra, "--log-level")) a.push_back("--log-level=lib.eal:notice");

  const std::uint64_t need = estimate_memory_bytes(cfg, cores);
  const std::uint64_t need_mb = (need >> 20) + 1;
  bool no_huge = cfg.eal.no_huge || has_arg(extra, "--no-huge");
  if (!no_huge) {
    const std::uint64_t free = free_hugepage_bytes();
    if (free < need) {
      no_huge = true;
      plan.notes.push_back("hugepages: " + std::to_string(free >> 20) + " MiB free, need ~" +
                           std::to_string(need_mb) + " MiB: falling back to --no-huge");
    }
  }
  plan.hugepages = !no_huge;
  const bool user_prefix = has_arg(extra, "--file-prefix") || has_arg(extra, "--proc-type");
  // eal.file_prefix names the runtime dir (several processes on one host).
  // Without one: --in-memory with hugepages; with --no-huge (which DPDK
  // treats as legacy memory, refused together with --in-memory)
  // --no-shconf, which likewise leaves no runtime files behind.
  if (!cfg.eal.file_prefix.empty() && !user_prefix) {
    a.push_back("--file-prefix");
    a.push_back(cfg.eal.file_prefix);
  } else if (!user_prefix && !no_huge && !has_arg(extra, "--in-memory")) {
    a.push_back("--in-memory");
  } else if (!user_prefix && no_huge && !has_arg(extra, "--no-shconf")) {
    a.push_back("--no-shconf");
  }
  if (no_huge) {
    if (!has_arg(extra, "--no-huge")) a.push_back("--no-huge");
    if (!has_arg(extra, "-m") && !has_arg(extra, "--socket-mem")) {
      a.push_back("-m");
      a.push_back(std::to_string(std::max<std::uint64_t>(512, need_mb * 2)));
    }
  }
  for (const std::string& x : extra) {
    if (no_huge && x == "--in-memory") {
      plan.notes.push_back("eal.args: dropped --in-memory (incompatible with --no-huge)");
      continue;
    }
    a.push_back(x);
  }
  return plan;
}

}  // namespace shardtcp::dataplane
