// Per-core dataplane counters (L2/L3 and the poll loop). Same rules as
// tcp::TcpCounters: written by the owning lcore only (relaxed load+store, no
// locked RMW), read by the metrics exporter thread at scrape time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "shardtcp/tcp/counters.h"

namespace shardtcp::dataplane {

using tcp::Counter;
using tcp::Gauge;

// Drop sites below TCP (TCP drops are tcp::DropReason).
enum class L3DropReason : std::uint8_t {
  kNotIpv4OrArp,  // other ethertypes
  kEthTooShort,
  kArpMalformed,
  kArpNotForUs,
  kIpBadVersion,
  kIpBadHeaderLen,
  kIpBadTotalLen,  // total length vs frame
  kIpBadChecksum,
  kIpFragment,  // fragments are not reassembled
  kIpNotForUs,
  kIpBadProto,  // not TCP/ICMP
  kIcmpMalformed,
  kArpUnresolved,     // tx dropped: no ARP entry (queue full / resolution failed)
  kTxFull,            // tx ring did not take the packet
  kNoMbuf,            // mbuf pool exhausted
  kSteerRingFull,     // software steering ring to the owner core was full
  kIcmpUnsupported,   // ICMP other than echo request (not answered)
  kNoRoute,           // tx: destination off-subnet and no gateway configured
  kMultiSegment,      // rx: chained mbuf that could not be linearized
  kTxFrameTooBig,     // tx: frame larger than the mbuf's room; never written
  kIpBadSource,       // rx: source no reply may go to (RFC 1122 §3.2.1.3): broadcast,
                      // multicast, 0/8, 127/8, 240/4, or our own address (LAND)
  kIpBadDestination,  // rx: TCP/ICMP to a broadcast or multicast address (RFC 1122 §4.2.3.10)
  kIcmpNotOurs,       // rx: ICMP error quoting a datagram that is not a TCP segment we sent
  kCount,
};
inline constexpr int kNumL3DropReasons = static_cast<int>(L3DropReason::kCount);

constexpr std::string_view to_string(L3DropReason r) {
  switch (r) {
    case L3DropReason::kNotIpv4OrArp:
      return "not_ipv4_or_arp";
    case L3DropReason::kEthTooShort:
      return "eth_too_short";
    case L3DropReason::kArpMalformed:
      return "arp_malformed";
    case L3DropReason::kArpNotForUs:
      return "arp_not_for_us";
    case L3DropReason::kIpBadVersion:
      return "ip_bad_version";
    case L3DropReason::kIpBadHeaderLen:
      return "ip_bad_header_len";
    case L3DropReason::kIpBadTotalLen:
      return "ip_bad_total_len";
    case L3DropReason::kIpBadChecksum:
      return "ip_bad_checksum";
    case L3DropReason::kIpFragment:
      return "ip_fragment";
    case L3DropReason::kIpNotForUs:
      return "ip_not_for_us";
    case L3DropReason::kIpBadProto:
      return "ip_bad_proto";
    case L3DropReason::kIcmpMalformed:
      return "icmp_malformed";
    case L3DropReason::kArpUnresolved:
      return "arp_unresolved";
    case L3DropReason::kTxFull:
      return "tx_full";
    case L3DropReason::kNoMbuf:
      return "no_mbuf";
    case L3DropReason::kSteerRingFull:
      return "steer_ring_full";
    case L3DropReason::kIcmpUnsupported:
      return "icmp_unsupported";
    case L3DropReason::kNoRoute:
      return "no_route";
    case L3DropReason::kMultiSegment:
      return "multi_segment";
    case L3DropReason::kTxFrameTooBig:
      return "tx_frame_too_big";
    case L3DropReason::kIpBadSource:
      return "ip_bad_source";
    case L3DropReason::kIpBadDestination:
      return "ip_bad_destination";
    case L3DropReason::kIcmpNotOurs:
      return "icmp_not_ours";
    case L3DropReason::kCount:
      break;
  }
  return "?";
}

// What the impairment stage (issue 15, dataplane/src/impair.h) did to a frame; also the `action`
// label of shardtcp_impair_frames_total.
enum class ImpairAction : std::uint8_t {
  kLossRandom,  // lost in the good state (impair.*_loss_pct)
  kLossBurst,   // lost in the Gilbert-Elliott bad state
  kDuplicate,   // a second copy was made
  kReorder,     // held back reorder_us behind later frames
  kCorrupt,     // one byte changed
  kDelay,       // held in the delay queue (delay, jitter or reorder)
  kQueueFull,   // dropped: the delay queue was full
  kNoMbuf,      // a duplicate not made: the mbuf pool was empty
  kCount,
};
inline constexpr int kNumImpairActions = static_cast<int>(ImpairAction::kCount);

constexpr std::string_view to_string(ImpairAction a) {
  switch (a) {
    case ImpairAction::kLossRandom:
      return "loss_random";
    case ImpairAction::kLossBurst:
      return "loss_burst";
    case ImpairAction::kDuplicate:
      return "duplicate";
    case ImpairAction::kReorder:
      return "reorder";
    case ImpairAction::kCorrupt:
      return "corrupt";
    case ImpairAction::kDelay:
      return "delay";
    case ImpairAction::kQueueFull:
      return "queue_full";
    case ImpairAction::kNoMbuf:
      return "no_mbuf";
    case ImpairAction::kCount:
      break;
  }
  return "?";
}

struct DataplaneCounters {
  Counter rx_packets, rx_bytes, tx_packets, tx_bytes;
  Counter arp_requests_in, arp_replies_in, arp_requests_out, arp_replies_out;
  Gauge arp_cache_entries;
  Counter icmp_echo_requests, icmp_echo_replies;
  Counter icmp_frag_needed;         // RFC 1191 errors passed to the engine (outcome: TCP counters)
  Counter steered_out, steered_in;  // software steering between cores
  // TCP segments among steered_in (the rest are ARP copies): for a client
  // whose source ports land on the opening core (owner_core()), these are
  // the packets the NIC / PMD placed on another core's queue.
  Counter steered_in_tcp;
  Counter polls, busy_polls;          // loop iterations, iterations that did work
  Counter busy_cycles, total_cycles;  // TSC cycles: busy ratio = busy/total
  Counter rx_bursts;                  // non-empty rx bursts (packets per poll = rx/rx_bursts)
  Counter arp_resolve_failures;       // next hops that never answered
  // Published by the owning core about every 10 ms (Stack state is not
  // readable from other threads): TCBs and compact TIME-WAIT entries.
  Gauge connections, time_wait_entries;
  Gauge mbufs_in_use;  // this core's pool: in use (pool size - available)
  std::array<Counter, kNumL3DropReasons> drops;
  // The impairment stage, [0] = rx (PMD -> core), [1] = tx (core -> PMD):
  // frames per action, and frames held in its delay queue.
  std::array<std::array<Counter, kNumImpairActions>, 2> impair;
  std::array<Gauge, 2> impair_held;

  void drop(L3DropReason r) { drops[static_cast<std::size_t>(r)].inc(); }
};

// A per-core counter an application keeps (same rules as the engine's:
// written by the owning core, read by the exporter thread at scrape time),
// exported as `name{core="N"[,label="label_value"]}`. Entries with the same
// name form one family (one help text). The counters must stay valid until
// the loops stopped and the exporter was stopped (run() returned).
struct AppCounter {
  std::string name;  // full metric name, e.g. "shardtcp_http_timeouts_total"
  std::string help;
  std::string label;  // an extra label's name ("" = none)
  std::string label_value;
  std::function<const Counter*(unsigned core)> counter;  // by core index; nullptr = none
};

}  // namespace shardtcp::dataplane
