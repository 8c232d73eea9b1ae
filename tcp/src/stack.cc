// Stack / Connection public API, connection lifecycle, and the one
// set_state() that keeps the per-state gauges exact.
#include <algorithm>
#include <cstring>
#include <new>
#include <random>

#include "shardtcp/tcp/addr_check.h"
#include "stack_impl.h"

namespace shardtcp::tcp {

const char* to_string(CloseReason r) {
  switch (r) {
    case CloseReason::kNormal:
      return "normal";
    case CloseReason::kReset:
      return "reset";
    case CloseReason::kAborted:
      return "aborted";
    case CloseReason::kTimeout:
      return "timeout";
    case CloseReason::kRefused:
      return "refused";
    case CloseReason::kFinWait2Timeout:
      return "fin_wait2_timeout";
    case CloseReason::kEvicted:
      return "evicted";
  }
  return "?";
}

namespace {
constexpr std::size_t kTcbSlab = 256;  // Tcbs per growth step (at most)
constexpr std::size_t kMinTcbSlab = 8;
constexpr std::size_t kInitialFlowCapacity = 1024;  // at most; see StackImpl()
// Tcbs per slab: a stack with a small connection limit (tests, many small
// stacks) does not allocate room for 256 at its first connection.
std::size_t tcb_slab_len(std::size_t max_connections) {
  return std::clamp(max_connections, kMinTcbSlab, kTcbSlab);
}
// Empty payload slabs kept per core for reuse (2 MB); beyond, idle slabs go
// back to the system.
constexpr std::size_t kCachedSlabs = 16;
std::size_t budget_blocks(std::uint64_t bytes) {
  if (bytes == 0) return BlockPool::kUnlimited;
  return static_cast<std::size_t>(std::max<std::uint64_t>(bytes / BlockPool::kBlockSize, 1));
}
}  // namespace

StackImpl::StackImpl(const TcpConfig& cfg, TcpCounters& counters, unsigned core_id, TimeUs now)
    : cfg_(cfg),
      ctr_(counters),
      core_(core_id),
      now_(now),
      isn_(cfg.isn_secret),
      // Sized from the limit: grows past it only if the table needs to.
      flows_(isn_.key(), std::min<std::size_t>(kInitialFlowCapacity, cfg.max_connections + 16)),
      wheel_(now),
      tw_(isn_.key(), cfg.time_wait_capacity, 2 * cfg.msl),
      cookies_(isn_.key()),
      blocks_(budget_blocks(cfg.mem_budget), kCachedSlabs) {
  ctr_.time_wait_capacity.set(static_cast<std::int64_t>(cfg.time_wait_capacity));
  std::random_device rd;  // challenge-ACK budget key (challenge_ack())
  for (auto& k : chal_key_) k = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  ctr_.mem_budget_bytes.set(cfg.mem_budget == 0 ? 0
                                                : static_cast<std::int64_t>(blocks_.max_blocks() *
                                                                            BlockPool::kBlockSize));
  blocks_.set_gauges(&ctr_.mem_used_bytes, &ctr_.mem_mapped_bytes);
  blocks_.set_reclaimer(&StackImpl::reclaim, this);
  // Start-up: room for every Tcb slab the connection limit allows (plus the
  // graveyard's share), so alloc_tcb() never reallocates this vector.
  // The graveyard's share stays 16 * kTcbSlab Tcbs whatever the slab length.
  tcb_slab_ = tcb_slab_len(cfg.max_connections);
  tcb_slabs_.reserve(cfg.max_connections / tcb_slab_ + 16 * (kTcbSlab / tcb_slab_));
  // The output vector grows only past the largest burst of one call; start
  // with room for a typical one (RFC 6928 initial windows of many timers).
  if (!out_.reserve(1024)) throw std::bad_alloc();  // start-up, not the data path
}

StackImpl::~StackImpl() {
  // Live Tcbs are trivially destructible apart from what the pools own
  // (chunks, reassembly queues), and the pools free that memory. Their timer
  // nodes live in the Tcb slabs, which go before the wheel: disarm them.
  reap();
  flows_.for_each([this](const FourTuple&, Tcb*& t) {
    wheel_.cancel(t->timer);
    // Borrowed memory goes back before the pools it came from are destroyed.
    t->sndbuf.release(chunks_);
    if (t->reasm != nullptr) put_reasm(t->reasm);
    if (t->sacks != nullptr) put_sacks(t->sacks);
    if (t->txlog != nullptr) put_txlog(t->txlog);
    t->reasm = nullptr;
    t->sacks = nullptr;
    t->txlog = nullptr;
  });
}

// --- set_state ------------------------------------------------------------------

void StackImpl::set_state(Tcb* t, State from, State to) {
  if (from == to) return;
  if (from != State::kClosed) ctr_.in(from).dec();
  if (to != State::kClosed) ctr_.in(to).inc();
  if (t == nullptr) return;
  t->state = to;
  lru_on_state(*t, from, to);
  // CLOSE-WAIT FIFO: entry order == entry time order (now_ never goes back),
  // so the head is always the oldest.
  if (from == State::kCloseWait) {
    if (t->fifo_prev)
      t->fifo_prev->fifo_next = t->fifo_next;
    else
      cw_head_ = t->fifo_next;
    if (t->fifo_next)
      t->fifo_next->fifo_prev = t->fifo_prev;
    else
      cw_tail_ = t->fifo_prev;
    t->fifo_prev = t->fifo_next = nullptr;
  }
  if (to == State::kCloseWait) {
    t->close_wait_since = std::max<TimeUs>(now_, 1);
    t->fifo_prev = cw_tail_;
    t->fifo_next = nullptr;
    if (cw_tail_)
      cw_tail_->fifo_next = t;
    else
      cw_head_ = t;
    cw_tail_ = t;
  }
  if (from == State::kCloseWait || to == State::kCloseWait) {
    ctr_.oldest_close_wait_since.set(
        cw_head_ ? static_cast<std::int64_t>(cw_head_->close_wait_since) : 0);
  }
}

// --- Tcb pool and lifecycle --------------------------------------------------------

Tcb* StackImpl::alloc_tcb(const FourTuple& tuple) {
  if (tcb_free_ == nullptr) {
    // Nothrow (issue 9): no room or no memory refuses the connection; the
    // caller drops the SYN and counts it (DropReason::kNoMemory).
    if (tcb_slabs_.size() == tcb_slabs_.capacity()) return nullptr;
    std::unique_ptr<unsigned char[]> slab(
        new (std::nothrow) unsigned char[tcb_slab_ * sizeof(Tcb)]);
    if (slab == nullptr) {
      ctr_.mem_alloc_failures.inc();
      return nullptr;
    }
    for (std::size_t i = 0; i < tcb_slab_; ++i) {
      // Storage only: a Tcb is constructed on allocation. The free-list link
      // lives in the first pointer-sized bytes of the raw storage.
      void* p = slab.get() + i * sizeof(Tcb);
      Tcb* next = tcb_free_;
      std::memcpy(p, &next, sizeof(next));
      tcb_free_ = static_cast<Tcb*>(p);
    }
    tcb_slabs_.push_back(std::move(slab));
  }
  void* p = tcb_free_;
  Tcb* next;
  std::memcpy(&next, p, sizeof(next));
  tcb_free_ = next;
  Tcb* t = new (p) Tcb(cfg_);
  t->timer.owner = t;
  t->stack = this;
  t->tuple = tuple;
  t->nagle = cfg_.nagle;
  t->keepalive = cfg_.keepalive;
  t->last_rcv = now_;
  if (!flows_.insert(tuple, t)) {
    t->~Tcb();
    std::memcpy(p, &tcb_free_, sizeof(Tcb*));
    tcb_free_ = static_cast<Tcb*>(p);
    return nullptr;
  }
  return t;
}

void StackImpl::leave_syn_queue(Tcb& t) {
  if (t.listener != nullptr) {
    --t.listener->syn_queued;
    t.listener = nullptr;
  }
}

// Unlinks a Tcb from everything that can reach it; memory goes to the
// graveyard and is reclaimed by reap() at the start of the next call.
void StackImpl::release(Tcb& t) {
  if (t.dead) return;
  t.dead = true;
  wheel_.cancel(t.timer);
  flows_.erase(t.tuple);
  leave_syn_queue(t);
  mem_unwait(t);
  t.fifo_next = graveyard_;
  graveyard_ = &t;
}

void StackImpl::notify_closed(Tcb& t, CloseReason why) {
  if (!t.app_owned) return;
  t.app_owned = false;
  if (t.handlers != nullptr && t.handlers->on_closed != nullptr) t.handlers->on_closed(t, why);
}

void StackImpl::close_tcb(Tcb& t, CloseReason why) {
  if (t.dead) return;
  set_state(&t, t.state, State::kClosed);
  release(t);
  notify_closed(t, why);
}

void StackImpl::reap() {
  while (graveyard_ != nullptr) {
    Tcb* t = graveyard_;
    graveyard_ = t->fifo_next;
    t->sndbuf.release(chunks_);
    if (t->reasm != nullptr) put_reasm(t->reasm);
    if (t->sacks != nullptr) put_sacks(t->sacks);
    if (t->txlog != nullptr) put_txlog(t->txlog);
    t->~Tcb();
    void* p = t;
    std::memcpy(p, &tcb_free_, sizeof(Tcb*));
    tcb_free_ = static_cast<Tcb*>(p);
  }
}

// --- listeners ------------------------------------------------------------------------

Listener* StackImpl::find_listener(Ipv4 local_ip, std::uint16_t port) {
  Listener* any = nullptr;
  for (auto& l : listeners_) {
    if (l->port != port) continue;
    if (l->local_ip == local_ip) return l.get();
    if (l->local_ip == 0) any = l.get();
  }
  return any;
}

bool StackImpl::listen(std::uint16_t port, const Handlers& h, void* user, Ipv4 local_ip,
                       const ListenOptions& opts) {
  for (auto& l : listeners_) {
    if (l->port == port && l->local_ip == local_ip) return false;
  }
  auto l = std::make_unique<Listener>();
  l->local_ip = local_ip;
  l->port = port;
  l->handlers = h;
  l->user = user;
  l->opts = opts;
  l->syn_backlog = opts.syn_backlog != 0 ? opts.syn_backlog : cfg_.syn_backlog;
  listeners_.push_back(std::move(l));
  // CLOSED -> LISTEN (RFC 9293 §3.10.1 passive OPEN); the gauge counts listeners.
  set_state(nullptr, State::kClosed, State::kListen);
  return true;
}

Connection* StackImpl::connect(const FourTuple& tuple, const Handlers& h, void* user, TimeUs now) {
  // No reap() here: memory is reclaimed only at the start of input()/poll(),
  // after the dataplane drained the output of the previous call.
  if (!in_call_) now_ = std::max(now_, now);
  if (flows_.find(tuple) != nullptr) return nullptr;
  // A tuple still in TIME-WAIT on our side (we closed first). TIME-WAIT
  // keeps old duplicates of the peer's segments out of a new incarnation
  // (RFC 9293 §3.6.1); with timestamps on both incarnations, PAWS does the
  // same job (RFC 7323 §5, the reasoning of RFC 6191 applied to the side
  // that holds TIME-WAIT, as Linux's tcp_tw_reuse / tcp_twsk_unique): the
  // peer's old segments carry TSvals below the TS.Recent of the new
  // connection once the peer's timestamp clock (>= 1 tick/s, RFC 7323 §5.4)
  // has moved on, so the old connection's last segment must be >= 1 s old.
  // Our own new TSvals continue the same per-tuple clock (ts_offset_of()),
  // so the peer's PAWS rejects our old duplicates too. The new ISS lies
  // beyond anything the old incarnation could have sent or had acknowledged.
  std::uint32_t min_iss = 0;
  bool reuse = false;
  if (TimeWaitEntry* tw = tw_.find(tuple)) {
    const TimeUs last_segment = tw->expiry - std::min(tw->expiry, tw_.timeout());
    if (!cfg_.time_wait_reuse || !cfg_.timestamps || !tw->ts_ok ||
        now_ < last_segment + kUsPerSec) {
      ctr_.time_wait_reuse_refused.inc();
      return nullptr;
    }
    min_iss = tw->snd_nxt + 65535 + 2;  // Linux's choice: a full unscaled window beyond
    reuse = true;
  }
  if (flows_.size() >= cfg_.max_connections) {
    ctr_.conn_limit_drops.inc();
    return nullptr;
  }
  // Above the payload budget's high-water mark new connections are refused
  // in both directions, so established ones keep what is left (mem_budget.cc).
  if (mem_high_water()) {
    ctr_.mem_connect_refused.inc();
    return nullptr;
  }
  const Handlers* hp = nullptr;
  for (auto& known : active_handlers_) {
    if (std::memcmp(known.get(), &h, sizeof(Handlers)) == 0) hp = known.get();
  }
  if (hp == nullptr) {
    active_handlers_.push_back(std::make_unique<Handlers>(h));
    hp = active_handlers_.back().get();
  }
  Tcb* t = alloc_tcb(tuple);
  if (t == nullptr) return nullptr;
  if (reuse) {
    tw_.erase(tuple);
    ctr_.time_wait_reused.inc();
    set_state(nullptr, State::kTimeWait, State::kClosed);
  }
  t->handlers = hp;
  t->user_ptr = user;
  t->app_owned = true;
  t->active_open = true;
  // RFC 9293 §3.10.1 active OPEN: ISS per RFC 6528, send <SYN>.
  t->iss = next_iss(tuple);
  if (reuse && seq_lt(t->iss, min_iss)) t->iss = min_iss;
  t->snd_una = t->iss;
  t->snd_nxt = t->iss;
  t->snd_max = t->iss;
  t->ts_offset = ts_offset_of(tuple);
  t->rcv_wscale = cfg_.window_scaling ? our_wscale() : 0;
  t->mss = cfg_.mss;
  t->cc.init(t->mss, cfg_.initial_window_segments);
  ctr_.active_opens.inc();
  // CLOSED -> SYN-SENT (RFC 9293 §3.10.1 active OPEN).
  set_state(t, State::kClosed, State::kSynSent);
  send_syn(*t);
  start_rto(*t);
  rearm(*t);
  return t;
}

// --- input / poll ----------------------------------------------------------------------

void StackImpl::input(const Segment& seg, TimeUs now) {
  reap();
  now_ = std::max(now_, now);
  in_call_ = true;
  ctr_.in_segs.inc();
  // RFC 1122 §4.2.3.10 / §3.2.1.3: never answer, never make state for, a
  // broadcast, multicast, unspecified, loopback or our own source, nor a
  // segment not sent to a unicast address. The dataplane drops these first
  // (with the subnet's broadcast too); this is defence in depth.
  if (!valid_source(seg.tuple.remote_ip, seg.tuple.local_ip) ||
      !valid_tcp_destination(seg.tuple.local_ip)) {
    ctr_.drop(DropReason::kBadAddress);
    in_call_ = false;
    return;
  }
  if (Tcb** tp = flows_.find(seg.tuple)) {
    Tcb& t = **tp;
    if (t.state == State::kSynSent) {
      syn_sent_input(t, seg);
    } else {
      tcb_input(t, seg);
    }
    if (!t.dead) rearm(t);
  } else if (TimeWaitEntry* e = tw_.find(seg.tuple)) {
    // A SYN that may reopen (RFC 6191) goes on to the listener, if any.
    Listener* l = find_listener(seg.tuple.local_ip, seg.tuple.local_port);
    if (time_wait_input(*e, seg, l != nullptr)) listen_input(*l, seg);
  } else if (Listener* l = find_listener(seg.tuple.local_ip, seg.tuple.local_port)) {
    listen_input(*l, seg);
  } else {
    closed_input(seg);
  }
  if (mem_waiters()) wake_mem_waiters();
  in_call_ = false;
}

void StackImpl::poll(TimeUs now) {
  reap();
  now_ = std::max(now_, now);
  in_call_ = true;
  wheel_.advance(now_, [this](TimerNode& n) {
    Tcb& t = *static_cast<TcbTimer&>(n).owner;
    on_timer(t);
  });
  // TIME-WAIT entries have a constant timeout: a FIFO, no wheel slots.
  tw_.expire(now_, [this](const TimeWaitEntry&) {
    ctr_.time_wait_expired.inc();
    // TIME-WAIT -> CLOSED (RFC 9293 §3.10.8, 2*MSL timeout).
    set_state(nullptr, State::kTimeWait, State::kClosed);
  });
  if (mem_waiters()) wake_mem_waiters();
  in_call_ = false;
}

// --- Connection API backing ---------------------------------------------------------------

std::size_t StackImpl::send_space(const Tcb& t) const {
  if (t.dead || t.fin_queued) return 0;
  if (!in_state(t.state, State::kSynSent | State::kEstablished | State::kCloseWait)) return 0;
  return cfg_.snd_buf > t.sndbuf.size() ? cfg_.snd_buf - t.sndbuf.size() : 0;
}

std::size_t StackImpl::send(Tcb& t, const void* data, std::size_t len) {
  const std::size_t space = send_space(t);
  if (space == 0) {
    t.want_writable = true;
    return 0;
  }
  const std::size_t take = std::min(len, space);
  const std::size_t chunks = send_chunk_allowance(t, t.sndbuf.chunks_needed(take));
  const std::size_t n = t.sndbuf.append(chunks_, static_cast<const std::uint8_t*>(data), len,
                                        cfg_.snd_buf, chunks);
  if (n < len) t.want_writable = true;
  if (n < take) {
    // The payload budget (or the system) refused a chunk: a short send, as
    // Linux's sk_stream_memory_free() makes it; on_writable once memory frees.
    ctr_.mem_short_sends.inc();
    mem_wait(t);
    if (n == 0) return 0;
  }
  output(t);
  rearm(t);
  return n;
}

void StackImpl::shutdown(Tcb& t) {
  if (t.dead || t.fin_queued) return;
  switch (t.state) {
    case State::kSynSent:
      close_tcb(t, CloseReason::kAborted);  // RFC 9293 §3.10.4: delete the TCB
      return;
    case State::kEstablished:
      t.fin_queued = true;
      // ESTABLISHED -> FIN-WAIT-1 (RFC 9293 §3.10.4 CLOSE; FIN after queued data).
      set_state(&t, t.state, State::kFinWait1);
      break;
    case State::kCloseWait:
      t.fin_queued = true;
      // CLOSE-WAIT -> LAST-ACK (RFC 9293 §3.10.4 CLOSE).
      set_state(&t, t.state, State::kLastAck);
      break;
    default:
      return;
  }
  output(t);
  rearm(t);
}

void StackImpl::close(Tcb& t) {
  if (t.dead) return;
  if (t.rcv_held() > 0) {
    // RFC 9293 §3.10.4 / RFC 2525 §2.17: closing with received data the
    // application never read resets the connection (as Linux does).
    ctr_.close_unread_resets.inc();
    abort(t);
    return;
  }
  t.orphan = true;
  shutdown(t);
  if (t.dead) return;
  if (t.state == State::kFinWait2 && t.idle_at == kNever) {
    // Already half-closed: the orphaned FIN-WAIT-2 timer starts now.
    t.idle_at = now_ + cfg_.fin_wait2_timeout;
    rearm(t);
  }
}

void StackImpl::abort(Tcb& t) {
  if (t.dead) return;
  // RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST> in synchronized states.
  if (t.state != State::kSynSent) send_rst(t);
  if (in_state(t.state, State::kEstablished | State::kCloseWait)) ctr_.estab_resets.inc();
  close_tcb(t, CloseReason::kAborted);
}

void StackImpl::set_nodelay(Tcb& t, bool on) {
  if (t.dead) return;
  t.nagle = !on;
  if (on) {
    output(t);  // what Nagle held back goes now
    rearm(t);
  }
}

void StackImpl::set_receive_paused(Tcb& t, bool paused) {
  if (t.dead) return;
  t.rcv_paused = paused;
  if (paused) return;
  deliver_held(t);
  if (t.dead) return;
  // The application read what was held: tell a peer that may be stalled on
  // our (zero) window, once it opens by a receiver-SWS step (RFC 1122
  // §4.2.3.3; RFC 9293 §3.8.6.2.2).
  if (in_state(t.state, State::kEstablished | State::kFinWait1 | State::kFinWait2) &&
      window_update_due(t)) {
    send_ack(t);
    rearm(t);
  }
}

void StackImpl::set_keepalive(Tcb& t, bool on) {
  if (t.dead) return;
  t.keepalive = on;
  t.ka_probes = 0;
  if (on && in_state(t.state, State::kEstablished | State::kCloseWait)) {
    t.idle_at = t.last_rcv + cfg_.keepalive_idle;
  } else if (!on && in_state(t.state, State::kEstablished | State::kCloseWait)) {
    t.idle_at = kNever;
  }
  rearm(t);
}

void StackImpl::set_deadline(Tcb& t, TimeUs at) {
  // Only while the application owns the connection: after on_closed the
  // pointer is dead, and a Tcb still in SYN-RECEIVED has no owner yet.
  if (t.dead || !t.app_owned) return;
  t.app_at = at;
  rearm(t);
}

// --- public wrappers ----------------------------------------------------------------------

namespace {
Tcb& tcb(Connection* c) { return *static_cast<Tcb*>(c); }
const Tcb& tcb(const Connection* c) { return *static_cast<const Tcb*>(c); }
}  // namespace

std::size_t Connection::send(const void* data, std::size_t len) {
  return tcb(this).stack->send(tcb(this), data, len);
}
std::size_t Connection::send_space() const { return tcb(this).stack->send_space(tcb(this)); }
std::size_t Connection::send_queued() const { return tcb(this).sndbuf.size(); }
void Connection::shutdown() { tcb(this).stack->shutdown(tcb(this)); }
void Connection::close() { tcb(this).stack->close(tcb(this)); }
void Connection::abort() { tcb(this).stack->abort(tcb(this)); }
void Connection::set_nodelay(bool on) { tcb(this).stack->set_nodelay(tcb(this), on); }
void Connection::set_keepalive(bool on) { tcb(this).stack->set_keepalive(tcb(this), on); }
void Connection::set_receive_paused(bool paused) {
  tcb(this).stack->set_receive_paused(tcb(this), paused);
}
void Connection::set_deadline(TimeUs at) { tcb(this).stack->set_deadline(tcb(this), at); }
TimeUs Connection::deadline() const { return tcb(this).app_at; }
TimeUs Connection::now() const { return tcb(this).stack->now(); }
bool Connection::receive_paused() const { return tcb(this).rcv_paused; }
std::size_t Connection::received_unread() const { return tcb(this).rcv_held(); }
void Connection::set_user(void* u) { tcb(this).user_ptr = u; }
void* Connection::user() const { return tcb(this).user_ptr; }
const FourTuple& Connection::tuple() const { return tcb(this).tuple; }
State Connection::state() const { return tcb(this).state; }

Stack::Stack(const TcpConfig& cfg, TcpCounters& counters, unsigned core_id, TimeUs now)
    : impl_(std::make_unique<StackImpl>(cfg, counters, core_id, now)) {}
Stack::~Stack() = default;

bool Stack::listen(std::uint16_t port, const Handlers& h, void* user, Ipv4 local_ip,
                   const ListenOptions& opts) {
  return impl_->listen(port, h, user, local_ip, opts);
}
Connection* Stack::connect(const FourTuple& t, const Handlers& h, void* user, TimeUs now) {
  return impl_->connect(t, h, user, now);
}
void Stack::input(const Segment& seg, TimeUs now) { impl_->input(seg, now); }
void Stack::poll(TimeUs now) { impl_->poll(now); }
IcmpResult Stack::icmp_frag_needed(const IcmpFragNeeded& e, TimeUs now) {
  return impl_->icmp_frag_needed(e, now);
}
TimeUs Stack::now() const { return impl_->now(); }
std::span<const OutSegment> Stack::output() const {
  return {impl_->out_.begin(), impl_->out_.size()};
}
void Stack::clear_output() { impl_->out_.clear(); }
std::size_t Stack::connection_count() const { return impl_->connection_count(); }
TimeUs Stack::next_expiry() const { return impl_->next_expiry(); }
void Stack::pause_accept(bool paused) { impl_->pause_accept(paused); }
std::size_t Stack::time_wait_count() const { return impl_->time_wait_count(); }
const TcpConfig& Stack::config() const { return impl_->config(); }
TcpCounters& Stack::counters() { return impl_->counters(); }

}  // namespace shardtcp::tcp
