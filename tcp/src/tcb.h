// The transmission control block (RFC 9293 §3.3.1): everything the engine
// keeps per synchronized connection. A Tcb *is* the Connection the
// application holds (Connection has no members and no virtual functions).
//
// Size budget (issue 4): <= 512 bytes for an idle established connection,
// queued payload excluded. Buffers hang off the TCB by pointer and exist only
// while bytes are queued; TIME-WAIT uses a compact entry, not a Tcb.
#pragma once

#include <cstdint>

#include "congestion.h"
#include "rack.h"
#include "reassembly.h"
#include "rtt.h"
#include "send_buffer.h"
#include "shardtcp/tcp/seq.h"
#include "shardtcp/tcp/stack.h"
#include "shardtcp/tcp/timer_wheel.h"

namespace shardtcp::tcp {

class StackImpl;
class Tcb;
class SackScoreboard;
struct Listener;

// The one wheel slot a connection owns, armed at its earliest deadline.
struct TcbTimer : TimerNode {
  Tcb* owner = nullptr;
};

class Tcb final : public Connection {
 public:
  explicit Tcb(const TcpConfig& cfg) : rtt(cfg), cc(cfg) {}
  ~Tcb() = default;

  // --- ownership and application ---------------------------------------
  TcbTimer timer;
  StackImpl* stack = nullptr;
  const Handlers* handlers = nullptr;
  void* user_ptr = nullptr;
  Listener* listener = nullptr;  // set while SYN-RECEIVED from a listener
  // CLOSE-WAIT FIFO (oldest first) for counters.oldest_close_wait_since; the
  // same link holds the free list / graveyard when the Tcb is not in use.
  Tcb* fifo_prev = nullptr;
  Tcb* fifo_next = nullptr;
  TimeUs close_wait_since = 0;
  // Idle LRU of ESTABLISHED / CLOSE-WAIT connections (StackImpl::evict_idle),
  // least recently heard from first; moved at most once per kLruStepMs.
  Tcb* lru_prev = nullptr;
  Tcb* lru_next = nullptr;
  std::uint32_t lru_ms = 0;     // when last moved to the LRU tail (ms, wraps)
  std::uint32_t oow_stamp = 0;  // last out-of-window answer (oow_limit.h)

  // --- timers (kNever = not pending) --------------------------------------
  TimeUs rtx_at = kNever;          // RTO, SYN(-ACK) retransmission or persist
  TimeUs delack_at = kNever;       // delayed ACK
  TimeUs idle_at = kNever;         // keepalive or FIN-WAIT-2
  TimeUs app_at = kNever;          // application deadline (Connection::set_deadline)
  TimeUs rack_at = kNever;         // RACK reordering timer or TLP probe timeout (RFC 8985)
  TimeUs last_rcv = 0;             // time of the last segment received (keepalive)
  TimeUs rtt_time = 0;             // when the timed segment (rtt_seq) was sent
  TimeUs last_data_sent = kNever;  // last data/FIN transmission (RFC 5681 §4.1 idle)

  RttEstimator rtt;
  CongestionController cc;
  SendBuffer sndbuf;
  // Only while bytes are held: out of order, or in order but unread while
  // the application has paused receiving ([rcv_nxt - rcv_held, rcv_nxt)).
  ReassemblyQueue* reasm = nullptr;
  SackScoreboard* sacks = nullptr;  // only while the peer SACKs our data (RFC 6675)
  // RACK-TLP transmission log (RFC 8985): only while data is in flight to a
  // SACK peer with tcp.rack on.
  TxLog* txlog = nullptr;

  // --- RFC 9293 §3.3.1 variables -----------------------------------------
  FourTuple tuple;
  std::uint32_t iss = 0;
  std::uint32_t irs = 0;
  std::uint32_t snd_una = 0;
  std::uint32_t snd_nxt = 0;  // next sequence number to send (may go back on RTO)
  std::uint32_t snd_max = 0;  // highest sequence number sent + 1 (RFC's SND.NXT for ACK checks)
  std::uint32_t snd_wnd = 0;  // peer's window, already scaled
  std::uint32_t max_snd_wnd = 0;
  std::uint32_t snd_wl1 = 0;
  std::uint32_t snd_wl2 = 0;
  std::uint32_t rcv_nxt = 0;
  std::uint32_t rcv_adv = 0;            // right edge of the window we advertised
  std::uint32_t rtt_seq = 0;            // sequence number being timed (Karn)
  std::uint32_t recover = 0;            // RFC 6582 "recover" / RFC 6675 RecoveryPoint
  std::uint32_t high_rxt = 0;           // RFC 6675 HighRxt (one past the highest retransmitted)
  std::uint32_t ts_recent = 0;          // RFC 7323 §4.3
  std::uint32_t ts_last_rtx = 0;        // TSval of our latest retransmission
  std::uint32_t ts_offset = 0;          // per-connection TSval offset
  std::uint32_t last_ack_sent = 0;      // RFC 7323 §4.3 Last.ACK.sent
  std::uint32_t pending_ack_bytes = 0;  // bytes received since our last ACK
  std::uint32_t ecn_recover = 0;        // SND.MAX at the last ECE response (RFC 3168 §6.1.2)
  // Spurious retransmission undo (undo.cc): the state before the last
  // congestion response and what may show it was needless.
  std::uint32_t undo_cwnd = 0;      // cwnd before the response
  std::uint32_t undo_ssthresh = 0;  // RFC 4015 pipe_prev = max(FlightSize, ssthresh)
  std::uint32_t undo_una = 0;       // SND.UNA at the first retransmission
  std::uint32_t undo_ts = 0;        // RFC 3522 RetransmitTS (TSval of that retransmission)

  std::uint16_t mss = 536;      // payload bytes per segment we send (options excluded)
  std::uint16_t rcv_mss = 536;  // largest payload the peer sent (delayed-ACK rule)

  std::uint16_t undo_retrans = 0;  // RFC 3708: retransmissions not yet D-SACKed (undo.cc)
  State state = State::kClosed;
  std::uint8_t snd_wscale = 0;
  std::uint8_t rcv_wscale = 0;
  std::uint8_t retries = 0;  // consecutive RTO / SYN / persist expiries
  std::uint8_t dupacks = 0;
  std::uint8_t ka_probes = 0;
  std::uint8_t persist_shift = 0;  // persist timer backoff

  // --- flags ---------------------------------------------------------------
  bool ts_ok : 1 = false;         // timestamps negotiated (RFC 7323)
  bool rtx_ts_valid : 1 = false;  // ts_last_rtx is set
  bool ws_ok : 1 = false;         // window scaling negotiated (RFC 7323 §2)
  bool sack_ok : 1 = false;       // SACK permitted both ways (RFC 2018)
  bool fin_queued : 1 = false;    // close()/shutdown() asked for a FIN
  bool orphan : 1 = false;        // close() called: no more on_data
  bool app_owned : 1 = false;     // handed to the application (on_closed owed)
  bool want_writable : 1 = false;
  bool nagle : 1 = false;
  bool keepalive : 1 = false;
  bool in_recovery : 1 = false;    // fast recovery (RFC 6582 / 6675)
  bool sack_recovery : 1 = false;  // the recovery is RFC 6675 (SACK) based
  bool ack_now : 1 = false;        // send an ACK at the end of input processing
  bool dead : 1 = false;           // freed; memory reclaimed on the next input/poll
  bool active_open : 1 = false;
  bool rtt_timing : 1 = false;     // rtt_seq/rtt_time valid
  bool syn_rto_fired : 1 = false;  // RFC 6298 (5.7)
  bool persist : 1 = false;        // rtx_at is the persist timer
  bool fin_acked : 1 = false;      // our FIN has been acknowledged
  bool rcv_paused : 1 = false;     // the application paused receiving
  bool peer_fin_owed : 1 = false;  // on_peer_closed waits for held bytes to be read
  bool in_lru : 1 = false;         // linked in the idle LRU
  bool mem_waiting : 1 = false;    // send() came up short for memory (stack's wait FIFO)
  bool ecn_ok : 1 = false;         // ECN negotiated (RFC 3168 §6.1.1)
  bool ece_pending : 1 = false;    // CE seen: ECE on our ACKs until the peer's CWR (§6.1.3)
  bool cwr_pending : 1 = false;    // cwnd reduced for ECE: CWR on the next new data (§6.1.2)
  bool ecn_reduced : 1 = false;    // ecn_recover is valid
  bool rack_tlp : 1 = false;       // rack_at is the TLP probe timeout (else reordering)
  bool undo_armed : 1 = false;     // the undo_* fields describe the last congestion response
  bool undo_rto : 1 = false;       // ... and it was a retransmission timeout
  bool undo_dsacked : 1 = false;   // RFC 3708: a D-SACK covered one of its retransmissions
  bool eifel_wait : 1 = false;     // RFC 3522: the first acceptable ACK is still to come
  bool frto_wait1 : 1 = false;     // RFC 5682 §2 step 2: first ACK after the RTO awaited
  bool frto_wait2 : 1 = false;     // RFC 5682 §2 step 3: second ACK awaited

  // Our SYN occupies one sequence number until it is acknowledged, which is
  // exactly while we are in SYN-SENT or SYN-RECEIVED (not snd_una == iss:
  // that recurs after 2^32 bytes).
  bool syn_unacked() const { return in_state(state, State::kSynSent | State::kSynReceived); }
  // Sequence number of send-buffer byte 0.
  std::uint32_t data_seq0() const { return snd_una + (syn_unacked() ? 1u : 0u); }
  // Sequence number after the last queued byte; our FIN goes here.
  std::uint32_t data_end() const { return data_seq0() + sndbuf.size(); }
  bool fin_sent() const { return fin_queued && (fin_acked || seq_gt(snd_max, data_end())); }
  std::uint32_t flight() const { return snd_max - snd_una; }
  std::uint32_t rcv_wnd() const { return rcv_adv - rcv_nxt; }
  // In-order bytes not yet given to on_data (the application paused).
  std::uint32_t rcv_held() const { return reasm != nullptr ? reasm->held_in_order() : 0; }
  // First byte the application has not read yet (RCV.NXT counts the peer's
  // FIN too once it arrived, and the FIN is not a byte to read).
  std::uint32_t rcv_read() const { return rcv_nxt - rcv_held() - (peer_fin_owed ? 1u : 0u); }
};

}  // namespace shardtcp::tcp
