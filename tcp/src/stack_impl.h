// The engine behind shardtcp::tcp::Stack: one per core. Holds the connection
// table, listeners, the timer wheel, the TIME-WAIT store, buffer pools and
// the output vector; implements RFC 9293 §3.10 event processing over Tcbs.
//
// Files: stack.cc (API, lifecycle, set_state), listen_input.cc (CLOSED,
// LISTEN, SYN-SENT, TIME-WAIT arrivals), tcb_input.cc (SYN-RECEIVED and
// synchronized states), tcb_output.cc (segments out), tcb_timers.cc.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "oow_limit.h"
#include "block_pool.h"
#include "nothrow_vec.h"
#include "reassembly.h"
#include "recycler.h"
#include "sack_scoreboard.h"
#include "send_buffer.h"
#include "shardtcp/tcp/flow_table.h"
#include "shardtcp/tcp/isn.h"
#include "shardtcp/tcp/stack.h"
#include "shardtcp/tcp/syn_cookie.h"
#include "shardtcp/tcp/time_wait.h"
#include "shardtcp/tcp/timer_wheel.h"
#include "tcb.h"

namespace shardtcp::tcp {

struct Listener {
  Ipv4 local_ip = 0;  // 0 = any
  std::uint16_t port = 0;
  Handlers handlers;
  void* user = nullptr;
  ListenOptions opts;
  std::uint32_t syn_backlog = 0;  // bound on half-open (SYN-RECEIVED) Tcbs
  std::uint32_t syn_queued = 0;
  TimeUs last_overflow = kNever;  // SYN queue last full (cookies are checked after)
};

class StackImpl {
 public:
  StackImpl(const TcpConfig& cfg, TcpCounters& counters, unsigned core_id, TimeUs now);
  ~StackImpl();
  StackImpl(const StackImpl&) = delete;
  StackImpl& operator=(const StackImpl&) = delete;

  // --- Stack API -------------------------------------------------------------
  bool listen(std::uint16_t port, const Handlers& h, void* user, Ipv4 local_ip,
              const ListenOptions& opts);
  Connection* connect(const FourTuple& t, const Handlers& h, void* user, TimeUs now);
  void input(const Segment& seg, TimeUs now);
  void poll(TimeUs now);
  IcmpResult icmp_frag_needed(const IcmpFragNeeded& e, TimeUs now);  // path_mtu.cc

  // --- Connection API ----------------------------------------------------------
  std::size_t send(Tcb& t, const void* data, std::size_t len);
  std::size_t send_space(const Tcb& t) const;
  void shutdown(Tcb& t);
  void close(Tcb& t);
  void abort(Tcb& t);
  void set_keepalive(Tcb& t, bool on);
  void set_receive_paused(Tcb& t, bool paused);
  void set_nodelay(Tcb& t, bool on);
  void set_deadline(Tcb& t, TimeUs at);

  // The ONE place a state changes. Moves exactly one unit between two
  // TcpCounters::state gauges (CLOSED is not gauged), keeps the CLOSE-WAIT
  // FIFO. `t` is null only for TIME-WAIT entries and listeners, which have
  // no Tcb.
  void set_state(Tcb* t, State from, State to);

  const TcpConfig& config() const { return cfg_; }
  TcpCounters& counters() { return ctr_; }
  std::size_t connection_count() const { return flows_.size(); }
  std::size_t time_wait_count() const { return tw_.size(); }
  TimeUs next_expiry() const { return std::min(wheel_.next_expiry_hint(), tw_.next_expiry()); }
  void pause_accept(bool paused) { accept_paused_ = paused; }

  NothrowVec<OutSegment> out_;  // grows without throwing (emit())
  // Tests: the next ISS we choose (RFC 6528 otherwise), so sequence numbers
  // near 2^32 can be forced. Cleared after use.
  bool isn_override_ = false;
  std::uint32_t isn_override_value_ = 0;
  std::uint32_t next_iss(const FourTuple& t) {
    if (isn_override_) {
      isn_override_ = false;
      return isn_override_value_;
    }
    return isn_.isn(t, now_);
  }
  TimeUs now() const { return now_; }
  std::size_t reasm_pool_size() const { return reasm_.size(); }
  // Payload blocks in use (send chunks, reassembly and held pages).
  std::size_t chunks_in_use() const { return blocks_.in_use(); }
  BlockPool& blocks_for_testing() { return blocks_; }

  // --- memory budget (issue 9; mem_budget.cc) ---------------------------------------
  // Three marks, as Linux's tcp_mem has (min / pressure / max):
  // - pressure (3/4 of the budget): out-of-order data is not stored, and a
  //   connection that already has bytes queued gets no new send chunk (it
  //   is throttled, its queued data still goes out); one with an empty send
  //   buffer may still take one chunk, so every connection makes progress;
  // - high water (7/8): new connections are refused (SYNs dropped, counted);
  // - the budget itself: in-order bytes that cannot be held are dropped.
  // Out-of-order data is pruned first whenever memory is short.
  std::size_t mem_pressure_mark() const {
    return blocks_.max_blocks() - blocks_.max_blocks() / 4;
  }
  bool mem_pressure() const { return blocks_.in_use() >= mem_pressure_mark(); }
  bool mem_high_water() const {
    return blocks_.in_use() >= blocks_.max_blocks() - blocks_.max_blocks() / 8;
  }
  // New send chunks connection `t` may take now, at most `want` (prunes
  // out-of-order data first when that makes room).
  std::size_t send_chunk_allowance(const Tcb& t, std::size_t want);
  // True (and counted) when a new connection must not be created now:
  // accepting is paused (mbuf low water) or payload memory is under pressure.
  bool shed_new_connection();
  // White-box tests and the stateful fuzzer (tests/fuzz/fuzz_stack.cc).
  Tcb* find_tcb(const FourTuple& t) {
    Tcb** p = flows_.find(t);
    return p != nullptr ? *p : nullptr;
  }

 private:
  // --- arrivals by state group (RFC 9293 §3.10.7) --------------------------------
  void closed_input(const Segment& seg);               // §3.10.7.1
  void listen_input(Listener& l, const Segment& seg);  // §3.10.7.2
  void syn_sent_input(Tcb& t, const Segment& seg);     // §3.10.7.3
  void tcb_input(Tcb& t, const Segment& seg);          // §3.10.7.4
  bool time_wait_input(TimeWaitEntry& e, const Segment& seg,
                       bool can_reopen);  // Linux-style verdict
  bool syn_cookie_ack(Listener& l, const Segment& seg);
  void send_cookie_syn_ack(const Segment& seg);
  std::uint32_t ts_offset_of(const FourTuple& t) const {
    return static_cast<std::uint32_t>(siphash_tuple(t, isn_.key()) >> 32);
  }

  // Pieces of §3.10.7.4.
  bool acceptable(const Tcb& t, const Segment& seg) const;
  void rst_arrived(Tcb& t);
  bool ack_arrived(Tcb& t, const Segment& seg);
  void new_data_acked(Tcb& t, const Segment& seg);
  void dup_ack(Tcb& t);
  void enter_recovery(Tcb& t, bool sack_based);
  void sack_transmit(Tcb& t);  // RFC 6675 §5 step (C)
  // RACK-TLP and PRR (tcb_recovery.cc), used while t.txlog is held.
  void rack_after_ack(Tcb& t, bool advanced);
  void rack_enter_recovery(Tcb& t);
  void rack_transmit(Tcb& t, std::uint32_t delivered);
  TimeUs rack_detect_and_respond(Tcb& t, std::uint32_t delivered);
  void rack_on_rto(Tcb& t);
  void rack_timer(Tcb& t);
  void rack_arm(Tcb& t, TimeUs reo_wait, bool rearm_tlp);
  void tlp_fire(Tcb& t);
  TimeUs pto(const Tcb& t) const;
  void rack_log_send(Tcb& t, std::uint32_t seq, std::uint32_t seg_len, bool starts_flight);
  void rack_release(Tcb& t);
  void send_range(Tcb& t, std::uint32_t seq, std::uint32_t len);
  void update_window(Tcb& t, const Segment& seg);
  void text_arrived(Tcb& t, std::uint32_t seq, const std::uint8_t* data, std::uint32_t len,
                    bool fin);
  void fin_arrived(Tcb& t);
  void deliver(Tcb& t, const std::uint8_t* data, std::uint32_t len);
  void deliver_held(Tcb& t, bool force = false);
  void update_ts_recent(Tcb& t, const Segment& seg);
  // RFC 2883: remembers the duplicate part of an acceptable segment (below
  // RCV.NXT, or out-of-order data already held) for the next ACK to `t`.
  void note_dsack(Tcb& t, const Segment& seg);
  // Spurious retransmission detection and undo (undo.cc; RFC 3522, 4015,
  // 5682, 3708). undo_begin() runs before a congestion response cuts cwnd.
  void undo_begin(Tcb& t, bool rto, bool first_rto = true);
  void undo_on_ack(Tcb& t, const Segment& seg, std::uint32_t acked);
  void frto_dupack(Tcb& t);
  bool frto_send_new(Tcb& t);
  void rto_spurious(Tcb& t, const Segment& seg, std::uint32_t acked, bool late);
  void undo_window(Tcb& t);
  void undo_disarm(Tcb& t);
  void dsack_arrived(Tcb& t, const Segment& seg);
  void rtt_from_ack(Tcb& t, const Segment& seg);
  void challenge_ack(Tcb& t);
  // Per-connection limit on out-of-window answers (oow_limit.h): true when
  // the answer to `seg` must not be sent (counted). Segments that occupy
  // sequence space without SYN (data, FIN) are not limited unless
  // `always` (challenge ACKs), as in Linux's tcp_oow_rate_limited(): they
  // are retransmissions whose ACK was lost, not ACK-loop material.
  bool oow_suppressed(std::uint32_t& stamp, const Segment& seg, bool always = false);
  void establish(Tcb& t, const Segment& seg);
  // Path MTU (path_mtu.cc): lower t's MSS to `mss` and resend what is in
  // flight in segments of the new size (RFC 1191 §6.4, RFC 4821 §7.5).
  void lower_mss(Tcb& t, std::uint32_t mss);
  // RFC 4821 §7.7 (tcp.mtu_probing): an RTO that repeats may be a black hole
  // eating full-sized segments; fall back to the search floor.
  void mtu_blackhole_check(Tcb& t);
  // ECN (ecn.cc), RFC 3168 §6.1.
  void negotiate_ecn(Tcb& t, const Segment& syn);
  void ecn_input(Tcb& t, const Segment& seg);
  void ecn_mark(Tcb& t, OutSegment& o, bool retransmission);
  void negotiate_options(Tcb& t, const TcpOptions& peer);

  // --- output (tcb_output.cc) ------------------------------------------------------
 public:
  void output(Tcb& t, bool force_one = false);
  // The fields a connection's segment shares (ACK, window, timestamps); the
  // caller adds options or payload and hands it to emit().
  OutSegment segment_for(Tcb& t, std::uint8_t flags, std::uint32_t seq);
  // Appends `o` to the output after checking the contract (payload <=
  // payload_mss, frame within the MTU); false (counted) when it is refused.
  bool emit(const OutSegment& o, std::uint32_t payload_mss);
  // dsack: a duplicate range to report first (RFC 2883 D-SACK), or null.
  void send_ack(Tcb& t, const SackBlock* dsack = nullptr);
  void send_syn(Tcb& t);  // SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED)
  void send_rst(Tcb& t);  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>
  void send_data(Tcb& t, std::uint32_t seq, std::uint32_t len, bool fin);
  void retransmit_head(Tcb& t);  // the first unacknowledged segment (fast retransmit)
  TimeUs persist_interval(const Tcb& t) const;
  // The RTO to arm: the estimator's, but at least 3 s (with backoff) when a
  // SYN timed out and no RTT sample exists yet (RFC 6298 (5.7)).
  TimeUs rto(const Tcb& t) const;
  void reply_rst(const Segment& seg);  // RFC 9293 §3.10.7.1 reset for a segment
  std::uint16_t window_field(Tcb& t);
  // True when the window we could offer exceeds the advertised one by a
  // receiver-SWS step (RFC 1122 §4.2.3.3): a window update is worth sending.
  bool window_update_due(const Tcb& t) const;
  // `space` (what we could offer) exceeds the advertised window by that step.
  bool opens_by_step(std::uint64_t space, const Tcb& t) const;
  std::uint32_t ts_now(const Tcb& t) const;
  static std::uint32_t ts_now_for(TimeUs now, std::uint32_t offset);
  std::uint8_t our_wscale() const;

 private:
  // --- timers (tcb_timers.cc) --------------------------------------------------------
  void rearm(Tcb& t);
  void on_timer(Tcb& t);
  void rto_expired(Tcb& t);
  void persist_expired(Tcb& t);
  void give_up(Tcb& t);
  void idle_expired(Tcb& t);
  void start_rto(Tcb& t);

  // --- lifecycle (stack.cc) ------------------------------------------------------------
  Tcb* alloc_tcb(const FourTuple& tuple);
  // CLOSED: removes from the table, calls on_closed if the application owns
  // it, and defers freeing the memory to the next input()/poll().
  void close_tcb(Tcb& t, CloseReason why);
  void enter_time_wait(Tcb& t);
  void release(Tcb& t);
  void reap();
  void leave_syn_queue(Tcb& t);
  Listener* find_listener(Ipv4 local_ip, std::uint16_t port);
  // Borrowed objects; nullptr (counted) when memory is refused.
  ReassemblyQueue* get_reasm(Tcb& t);
  void put_reasm(ReassemblyQueue* q);
  SackScoreboard* get_sacks();
  void put_sacks(SackScoreboard* s) { sacks_.put(s); }
  void put_txlog(TxLog* l) { txlogs_.put(l); }
  // Memory pressure (mem_budget.cc): out-of-order queues that may hold data
  // (pruned first, oldest first), and connections whose send() came up
  // short for lack of memory (on_writable once memory frees).
  void ooo_track(ReassemblyQueue& q);
  void ooo_untrack(ReassemblyQueue& q);
  std::size_t prune_ooo_queues(std::size_t want_blocks);
  static std::size_t reclaim(void* self, std::size_t want_blocks);
  void mem_wait(Tcb& t);
  void mem_unwait(Tcb& t);
  void wake_mem_waiters();
  // Stores in-order bytes for a paused reader (RFC 9293 §3.10.7.4 seventh):
  // out-of-order bytes of this connection are pruned first if memory is
  // short. False: not stored (dropped, counted, not acknowledged).
  bool hold_in_order(Tcb& t, std::uint32_t seq, const std::uint8_t* data, std::uint32_t len);
  void notify_closed(Tcb& t, CloseReason why);
  // Idle LRU (evict.cc): ESTABLISHED / CLOSE-WAIT connections, least
  // recently heard from first; kept by set_state() and tcb_input().
  void lru_on_state(Tcb& t, State from, State to);
  void lru_touch(Tcb& t);
  void lru_unlink(Tcb& t);
  // The connection to reset when the table is full: the longest idle with
  // nothing in flight, or null (tcp.evict_idle_on_full off, or none).
  Tcb* idle_victim();
  // Resets and releases idle_victim(); true when one was evicted.
  bool evict_idle();

  TcpConfig cfg_;
  TcpCounters& ctr_;
  unsigned core_;
  TimeUs now_;
  IsnGenerator isn_;
  FlowTable<Tcb*> flows_;
  TimerWheel wheel_;
  TimeWaitStore tw_;
  SynCookies cookies_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<Handlers>> active_handlers_;  // interned for connect()

  // The per-core payload budget: send chunks, reassembly and held pages.
  // Declared before everything that borrows blocks from it.
  BlockPool blocks_;
  BlockPool& chunks_ = blocks_;  // send-buffer code reads better with this name
  Recycler<ReassemblyQueue> reasm_;
  Recycler<SackScoreboard> sacks_;
  Recycler<TxLog> txlogs_;
  TxLog::AckInfo ack_info_;  // what the ACK being processed delivered (RACK)

  // Tcb pool: slabs of raw storage, a free list through fifo_next, and the
  // graveyard of Tcbs freed during the current call (reaped lazily so
  // OutSegment payload pointers stay valid until the dataplane drains them).
  std::vector<std::unique_ptr<unsigned char[]>> tcb_slabs_;
  Tcb* tcb_free_ = nullptr;
  std::size_t tcb_slab_ = 0;  // Tcbs per slab (constructor)
  Tcb* graveyard_ = nullptr;

  // Queues that received out-of-order data (prune candidates, oldest first).
  ReassemblyQueue* ooo_head_ = nullptr;
  ReassemblyQueue* ooo_tail_ = nullptr;
  // Connections waiting for memory to send, oldest first. An entry names
  // the Tcb and its tuple and is valid while the table still maps that tuple
  // to that Tcb and its mem_waiting bit is set; a Tcb released meanwhile
  // leaves a stale entry that is skipped (no links in the Tcb: it stays
  // within its 512-byte budget). Entries before mem_wait_head_ are done.
  struct MemWaiter {
    Tcb* t;
    FourTuple tuple;
  };
  NothrowVec<MemWaiter> mem_wait_;
  std::size_t mem_wait_head_ = 0;
  bool mem_waiters() const { return mem_wait_head_ < mem_wait_.size(); }

  // RFC 2883 D-SACK block owed to the connection being processed (set by
  // note_dsack(), consumed by its next send_ack(), reset per input segment).
  SackBlock dsack_{};
  const Tcb* dsack_for_ = nullptr;

  // CLOSE-WAIT FIFO, oldest first.
  Tcb* cw_head_ = nullptr;
  Tcb* cw_tail_ = nullptr;

  // RFC 5961 §7 challenge-ACK budget per core, drawn at random per second
  // (after CVE-2016-5696, see challenge_ack()).
  TimeUs chal_window_ = kNever;
  std::uint32_t chal_budget_ = 0;
  std::uint64_t chal_key_[2] = {0, 0};

  // Idle LRU (evict.cc), least recently heard from at the head.
  Tcb* lru_head_ = nullptr;
  Tcb* lru_tail_ = nullptr;

  bool in_call_ = false;  // inside input()/poll(): no re-entry
  bool accept_paused_ = false;
};

}  // namespace shardtcp::tcp
