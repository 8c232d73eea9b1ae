// One lcore's world: its Stack, ARP cache, counters, tx batch and steering
// rings. Nothing in a Core is written by another lcore (the steering rings are
// single-producer / single-consumer: the producer side belongs to the sender).
#pragma once

#include "mbuf_pressure.h"

#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "arp_cache.h"
#include "impair.h"
#include "port.h"
#include "shardtcp/dataplane/counters.h"
#include "shardtcp/dataplane/runtime.h"
#include "shardtcp/tcp/stack.h"

struct rte_mbuf;
struct rte_mempool;

namespace shardtcp::dataplane {

inline constexpr unsigned kRxBurst = 32;
inline constexpr unsigned kTxBurst = 32;
inline constexpr unsigned kSteerRingSize = 1024;  // per ordered core pair
inline constexpr std::uint16_t kNoQueue = 0xffff;
inline constexpr unsigned kMaxPendingTotal = 64;  // per core, packets waiting for ARP

using SteerRing = boost::lockfree::spsc_queue<rte_mbuf*, boost::lockfree::capacity<kSteerRingSize>>;

// Read-only after start-up; shared by all cores.
struct Shared {
  const config::Config* cfg = nullptr;
  const AppSetup* app = nullptr;
  std::uint16_t port = 0;
  MacAddr mac;
  tcp::Ipv4 ip = 0;       // host order
  tcp::Ipv4 netmask = 0;  // host order
  tcp::Ipv4 gateway = 0;  // 0 = none
  PortFeatures features;  // checksum offloads, steering, NIC hash use
  unsigned num_cores = 1;
  double us_per_tsc = 0;
  std::uint64_t tsc0 = 0;
  // rings[from * num_cores + to]; null on the diagonal.
  std::vector<std::unique_ptr<SteerRing>> rings;

  SteerRing* ring(unsigned from, unsigned to) const { return rings[from * num_cores + to].get(); }
};

class alignas(64) Core {
 public:
  Core(const Shared& sh, unsigned index, unsigned lcore, rte_mempool* pool, std::uint16_t rxq,
       std::uint16_t txq);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // The lcore's run-to-completion loop; returns when stop is requested.
  void run();

  unsigned index() const { return index_; }
  unsigned lcore() const { return lcore_; }
  rte_mempool* pool() const { return pool_; }
  std::uint16_t rx_queue() const { return rxq_; }
  std::uint16_t tx_queue() const { return txq_; }
  DataplaneCounters& dp() { return dp_; }
  tcp::TcpCounters& tcp_counters() { return tcp_; }

 private:
  tcp::TimeUs now_us() const;
  // RX side.
  void rx_frame(rte_mbuf* m, bool steered);
  void rx_arp(rte_mbuf* m, std::uint32_t len, bool steered);
  void rx_ipv4(rte_mbuf* m, std::uint32_t len);
  void rx_icmp(rte_mbuf* m, std::uint32_t ihl, std::uint32_t l4_len);
  void rx_tcp(rte_mbuf* m);
  // ICMP destination unreachable / fragmentation needed (RFC 1191) quoting
  // one of our segments: handed to the engine (core.cc).
  void rx_icmp_frag_needed(rte_mbuf* m);
  void steer(rte_mbuf* m, unsigned owner);
  void replicate_arp(rte_mbuf* m);
  void drop(rte_mbuf* m, L3DropReason r);
  // TX side (core_tx.cc). drain_output returns the number of segments sent.
  std::uint32_t drain_output();
  void send_segment(const tcp::OutSegment& os);
  void send_arp(std::uint16_t op, const MacAddr& dst_mac, tcp::Ipv4 target_ip);
  void tx_enqueue(rte_mbuf* m);
  void tx_flush();
  void tx_send(rte_mbuf** v, std::uint16_t n);  // tx_burst with retries; frees what is left
  // Impairment stage (core_impair.cc): one frame through a direction's
  // decider; returns the frames (0..2) to pass on now, in out.
  struct ImpairPath {
    ImpairDecider decide;
    DelayQueue<rte_mbuf*> held;
  };
  unsigned impair_frame(ImpairPath& p, bool tx, rte_mbuf* m, rte_mbuf** out);
  void rx_impaired(rte_mbuf** burst, std::uint16_t n);
  std::uint32_t impair_release();  // frames now due, both directions
  void impair_drain();             // shutdown: frees every held frame
  void resolve_and_send(rte_mbuf* m, tcp::Ipv4 next_hop);
  void release_pending(ArpCache::Entry& e);
  // Every ~10 ms.
  void housekeeping();
  void arp_sweep();

  const Shared& sh_;
  unsigned index_;
  unsigned lcore_;
  rte_mempool* pool_;
  std::uint16_t rxq_, txq_;
  tcp::TimeUs now_ = 0;
  std::uint16_t ip_id_ = 0;

  DataplaneCounters dp_;
  tcp::TcpCounters tcp_;
  std::optional<tcp::Stack> stack_;  // built on the lcore itself (memory locality)
  ArpCache arp_;

  // Mbuf pool pressure (issue 4), see mbuf_pressure.h. Checked every 10 ms.
  MbufPressure pressure_;
  bool shed_syn_ = false;
  std::uint32_t pending_total_ = 0;  // mbufs waiting for ARP, <= kMaxPendingTotal
  std::uint16_t tx_n_ = 0;
  rte_mbuf* tx_[kTxBurst] = {};
  // Issue 15: engaged only for a direction with an impair.* setting.
  std::optional<ImpairPath> impair_rx_, impair_tx_;
};

}  // namespace shardtcp::dataplane
