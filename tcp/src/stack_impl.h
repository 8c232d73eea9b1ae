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

  std::vector<OutSegment> out_;
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
  std::size_t chunks_in_use() const { return chunks_.in_use(); }
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
  void send_range(Tcb& t, std::uint32_t seq, std::uint32_t len);
  void update_window(Tcb& t, const Segment& seg);
  void text_arrived(Tcb& t, std::uint32_t seq, const std::uint8_t* data, std::uint32_t len,
                    bool fin);
  void fin_arrived(Tcb& t);
  void deliver(Tcb& t, const std::uint8_t* data, std::uint32_t len);
  void deliver_held(Tcb& t, bool force = false);
  void update_ts_recent(Tcb& t, const Segment& seg);
  void rtt_from_ack(Tcb& t, const Segment& seg);
  void challenge_ack(Tcb& t);
  void establish(Tcb& t, const Segment& seg);
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
  ReassemblyQueue* get_reasm() { return reasm_.get(&reasm_pages_); }
  void put_reasm(ReassemblyQueue* q) { reasm_.put(q); }
  SackScoreboard* get_sacks() { return sacks_.get(); }
  void put_sacks(SackScoreboard* s) { sacks_.put(s); }
  void notify_closed(Tcb& t, CloseReason why);

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

  ChunkPool chunks_;
  ReassemblyPool reasm_pages_;
  Recycler<ReassemblyQueue> reasm_;
  Recycler<SackScoreboard> sacks_;

  // Tcb pool: slabs of raw storage, a free list through fifo_next, and the
  // graveyard of Tcbs freed during the current call (reaped lazily so
  // OutSegment payload pointers stay valid until the dataplane drains them).
  std::vector<std::unique_ptr<unsigned char[]>> tcb_slabs_;
  Tcb* tcb_free_ = nullptr;
  Tcb* graveyard_ = nullptr;

  // CLOSE-WAIT FIFO, oldest first.
  Tcb* cw_head_ = nullptr;
  Tcb* cw_tail_ = nullptr;

  // RFC 5961 §7 challenge-ACK rate limit (per second per core).
  TimeUs chal_window_ = 0;
  std::uint32_t chal_count_ = 0;

  bool in_call_ = false;  // inside input()/poll(): no re-entry
  bool accept_paused_ = false;
};

}  // namespace shardtcp::tcp
