// Per-core engine counters. Written only by the owning core, read by the
// metrics exporter thread at scrape time.
//
// Rationale: a plain `uint64_t++` read from another thread is a data race in
// C++. Counter uses a relaxed atomic load + relaxed store (never a locked
// read-modify-write): on x86-64 and arm64 this compiles to the same plain
// load/add/store as an ordinary integer, and the reader sees a torn-free value.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shardtcp/tcp/state.h"

namespace shardtcp::tcp {

class Counter {
 public:
  void inc() { add(1); }
  void add(std::uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }
  void set(std::uint64_t n) { v_.store(n, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void inc() { v_.store(v_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void dec() { v_.store(v_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed); }
  void set(std::int64_t n) { v_.store(n, std::memory_order_relaxed); }
  std::int64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// Every place a segment is dropped names one of these; each is also the
// value of the `reason` label of shardtcp_tcp_drops_total.
enum class DropReason : std::uint8_t {
  kBadChecksum,
  kTooShort,
  kBadDataOffset,
  kBadOption,
  kNoListenerRst,     // no socket; answered with RST (counted, not silent)
  kRstNoConnection,   // RST for nothing: dropped per RFC 9293 §3.10.7.1
  kUnacceptable,      // sequence check failed (an ACK was sent)
  kAckOutOfWindow,    // RFC 5961 §5 / RFC 9293 ACK check
  kPawsRejected,      // RFC 7323 §5 PAWS
  kListenOverflow,    // SYN queue full and no cookies
  kConnLimit,         // per-core connection limit reached
  kSynCookieInvalid,  // ACK that is neither a connection nor a valid cookie
  kNoMemory,          // buffer pool exhausted
  kTimeWait,          // absorbed by TIME-WAIT processing
  kBadSynFlags,       // SYN+FIN, SYN+RST and other nonsense
  kInvalidState,      // a segment with no meaning in the current state
  kBadAddress,        // source/destination no reply may go to (RFC 1122 §4.2.3.10)
  kCount,
};
inline constexpr int kNumDropReasons = static_cast<int>(DropReason::kCount);

constexpr std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::kBadChecksum:
      return "bad_checksum";
    case DropReason::kTooShort:
      return "too_short";
    case DropReason::kBadDataOffset:
      return "bad_data_offset";
    case DropReason::kBadOption:
      return "bad_option";
    case DropReason::kNoListenerRst:
      return "no_listener";
    case DropReason::kRstNoConnection:
      return "rst_no_connection";
    case DropReason::kUnacceptable:
      return "unacceptable_seq";
    case DropReason::kAckOutOfWindow:
      return "ack_out_of_window";
    case DropReason::kPawsRejected:
      return "paws";
    case DropReason::kListenOverflow:
      return "listen_overflow";
    case DropReason::kConnLimit:
      return "conn_limit";
    case DropReason::kSynCookieInvalid:
      return "syncookie_invalid";
    case DropReason::kNoMemory:
      return "no_memory";
    case DropReason::kTimeWait:
      return "time_wait";
    case DropReason::kBadSynFlags:
      return "bad_flags";
    case DropReason::kInvalidState:
      return "invalid_state";
    case DropReason::kBadAddress:
      return "bad_address";
    case DropReason::kCount:
      break;
  }
  return "?";
}

// What became of an ICMP "fragmentation needed" (RFC 1191) about one of our
// segments; each is the `result` label of shardtcp_tcp_icmp_frag_needed_total.
enum class IcmpResult : std::uint8_t {
  kMssLowered,    // accepted: the connection's MSS went down, data resent
  kNoConnection,  // the quoted segment names no connection of ours
  kOutOfWindow,   // quoted SEQ outside SND.UNA..SND.NXT (RFC 5927 §4.1): forged or stale
  kNotLower,      // the reported MTU does not lower the MSS (RFC 1191 §3: never raise)
  kCount,
};
inline constexpr int kNumIcmpResults = static_cast<int>(IcmpResult::kCount);

constexpr std::string_view to_string(IcmpResult r) {
  switch (r) {
    case IcmpResult::kMssLowered:
      return "mss_lowered";
    case IcmpResult::kNoConnection:
      return "no_connection";
    case IcmpResult::kOutOfWindow:
      return "out_of_window";
    case IcmpResult::kNotLower:
      return "not_lower";
    case IcmpResult::kCount:
      break;
  }
  return "?";
}

// Mirrors /proc/net/snmp Tcp: and netstat -s TcpExt: where a name exists.
struct TcpCounters {
  Counter active_opens;               // ActiveOpens: CLOSED -> SYN-SENT
  Counter passive_opens;              // PassiveOpens: LISTEN -> SYN-RECEIVED
  Counter attempt_fails;              // AttemptFails
  Counter estab_resets;               // EstabResets
  Counter close_unread_resets;        // TCPAbortOnClose: close() with unread data -> RST
  Counter in_segs;                    // InSegs
  Counter out_segs;                   // OutSegs
  Counter retrans_segs;               // RetransSegs
  Counter in_errs;                    // InErrs (bad checksum, malformed)
  Counter in_rsts;                    // RSTs received and acted on
  Counter out_rsts;                   // OutRsts
  Counter ooo_segs;                   // TCPOFOQueue
  Counter challenge_acks;             // TCPChallengeACK
  Counter challenge_acks_suppressed;  // over the RFC 5961 §7 rate limit
  Counter syncookies_sent;            // SyncookiesSent
  Counter syncookies_validated;       // SyncookiesRecv
  Counter syncookies_failed;          // SyncookiesFailed
  Counter listen_overflows;           // ListenOverflows
  Counter listen_drops;               // ListenDrops
  Counter fin_wait2_timeouts;         // connections released by the FIN-WAIT-2 timer
  Counter time_wait_reopens;          // RFC 6191 reuse of a TIME-WAIT 4-tuple
  Counter time_wait_recycled;         // oldest TIME-WAIT evicted at capacity
  Counter time_wait_expired;          // TIME-WAIT entries that ran their 2*MSL
  Counter timeouts;                   // connections given up after max retries
  Counter fast_retransmits;           // TCPFastRetrans
  Counter rto_expirations;            // RTO timer firings
  // Loss recovery (RFC 8985 RACK-TLP, RFC 6937 PRR), issue 10.
  Counter rack_lost_segs;     // segments RACK deemed lost (time-based, §6.2)
  Counter lost_retransmits;   // of them, retransmissions found lost (TCPLostRetransmit)
  Counter rack_reo_timeouts;  // reordering-timer expirations (§6.2 step 5)
  Counter tlp_probes;         // tail loss probes sent (TCPLossProbes)
  Counter tlp_recoveries;     // losses repaired by a probe, no RTO (TCPLossProbeRecovery)
  Counter prr_segs;           // segments sent in fast recovery under PRR (RFC 6937)
  Counter delayed_acks;       // ACKs sent by the delayed-ACK timer
  // Spurious retransmissions (issue 10; undo.cc): each detection by its
  // method, and each congestion response undone.
  Counter spurious_rto_eifel;  // RFC 3522: timestamps showed an RTO spurious
  Counter spurious_rto_frto;   // RFC 5682: F-RTO showed an RTO spurious
  Counter spurious_fr_eifel;   // RFC 3522: timestamps showed a fast retransmit spurious
  Counter spurious_dsack;      // RFC 3708: every retransmission of a response D-SACKed
  Counter dsacks_received;     // TCPDSACKRecv: D-SACK blocks received (RFC 2883)
  Counter undo_rto;            // RFC 4015 Eifel response after a spurious RTO
  Counter undo_recovery;       // TCPFullUndo/TCPDSACKUndo: cwnd and ssthresh restored

  Counter keepalive_probes;
  Counter zero_window_probes;
  Counter conn_limit_drops;
  // Segments refused by the engine's emit(): payload above the connection's
  // MSS or a frame above the MTU. Never sent; nonzero means an engine bug.
  Counter out_oversize;
  // Out-of-window answers (unacceptable-segment, PAWS, TIME-WAIT and
  // challenge ACKs) not sent: over the per-connection limit
  // (tcp.invalid_ratelimit_ms; Linux TCPACKSkipped*).
  Counter oow_acks_suppressed;
  // Idle connections reset to admit a new one at tcp.max_connections
  // (tcp.evict_idle_on_full).
  Counter idle_evictions;
  // connect() calls that took over a 4-tuple still in TIME-WAIT on our side
  // (tcp.time_wait_reuse), and those refused because the tuple was in
  // TIME-WAIT and reuse was not safe (or off).
  Counter time_wait_reused;
  Counter time_wait_reuse_refused;
  // Payload memory budget (issue 9), after Linux's tcp_mem pressure counters.
  Counter mem_syn_drops;       // SYNs refused above the budget's high-water mark
  Counter mem_connect_refused;  // connect() calls refused above the high-water mark
  Counter mem_prune_calls;     // PruneCalled: memory pressure pruned out-of-order queues
  Counter mem_ofo_pruned;      // OfoPruned (bytes): out-of-order bytes given back
  Counter mem_ofo_drops;       // TCPOFODrop: out-of-order segments not stored
  Counter mem_rcv_drops;       // TCPRcvQDrop: in-order segments not stored (not ACKed)
  Counter mem_short_sends;     // send() calls that took less for lack of memory
  Counter mem_alloc_failures;  // allocations the system refused (nothrow, degraded)
  // Path MTU (RFC 1191 / RFC 5927, RFC 4821 black-hole detection) and ECN (RFC 3168).
  std::array<Counter, kNumIcmpResults> icmp_frag_needed;
  Counter pmtu_blackhole_probes;  // MSS lowered after repeated timeouts (tcp.mtu_probing)
  Counter ecn_connections;        // connections that negotiated ECN
  Counter ecn_ce_received;        // data segments received with CE set in the IP header
  Counter ecn_ece_received;       // congestion responses to ECE (at most one per window)
  Counter ecn_cwr_sent;           // data segments sent with CWR
  std::array<Counter, kNumDropReasons> drops;

  // Exact number of connections per state, moved only by the one set_state().
  // LISTEN counts listeners; TIME-WAIT counts compact TIME-WAIT entries.
  std::array<Gauge, kNumStates> state;
  Gauge time_wait_capacity;
  // Payload memory (bytes): the budget, blocks in use, slabs mapped.
  Gauge mem_budget_bytes;
  Gauge mem_used_bytes;
  Gauge mem_mapped_bytes;
  // Entry time (TimeUs) of the oldest connection now in CLOSE-WAIT, 0 if none.
  Gauge oldest_close_wait_since;

  void drop(DropReason r) { drops[static_cast<std::size_t>(r)].inc(); }
  // state_index() is in [0, kNumStates) for every State.
  Gauge& in(State s) { return state[static_cast<std::size_t>(state_index(s))]; }
};

}  // namespace shardtcp::tcp
