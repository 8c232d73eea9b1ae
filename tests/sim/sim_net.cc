// The in-memory link and the virtual clock; see sim_net.h.
#include "sim_net.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <utility>

namespace shardtcp::tcp::sim {

void fill_pattern(std::uint64_t key, std::uint64_t offset, std::uint8_t* dst, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint64_t pos = offset + i;
    const std::uint64_t word = splitmix64(key ^ (pos >> 3));
    std::size_t b = pos & 7;
    for (; b < 8 && i < n; ++b, ++i) dst[i] = static_cast<std::uint8_t>(word >> (8 * b));
  }
}

// ---- application callbacks ----------------------------------------------------

struct Callbacks {
  static Endpoint* ep(Connection& c) { return static_cast<Endpoint*>(c.user()); }

  static void on_accept(Connection& c, void* listener_user) {
    Sim* s = static_cast<Sim*>(listener_user);
    Endpoint* e = s->server_endpoint(c.tuple().remote_port);
    if (e == nullptr || e->conn != nullptr || e->closed_calls != 0) {
      // Not a connection this simulation opened (or a second accept of the
      // same one): refuse it loudly; the test will see the stray counts.
      ++s->stray_accepts;
      if (s->trace_all) std::fprintf(stderr, "STRAY ACCEPT port %u\n", c.tuple().remote_port);
      c.abort();
      return;
    }
    e->conn = &c;
    c.set_user(e);
    e->established = true;
    e->pump();
  }
  static void on_connected(Connection& c) {
    Endpoint* e = ep(c);
    e->established = true;
    e->pump();
  }
  static void on_data(Connection& c, ByteView v) { ep(c)->on_bytes(v); }
  static void on_writable(Connection& c) {
    Endpoint* e = ep(c);
    ++e->writable_calls;
    e->pump();
  }
  static void on_peer_closed(Connection& c) {
    Endpoint* e = ep(c);
    ++e->peer_closed_calls;
    e->pump();
  }
  static void on_closed(Connection& c, CloseReason r) {
    Endpoint* e = ep(c);
    if (e == nullptr) return;  // a stray accept we aborted
    ++e->closed_calls;
    e->reason = r;
    e->last_state = std::string(to_string(c.state()));
    e->conn = nullptr;
  }

  static Handlers handlers() {
    Handlers h;
    h.on_accept = &on_accept;
    h.on_connected = &on_connected;
    h.on_data = &on_data;
    h.on_writable = &on_writable;
    h.on_peer_closed = &on_peer_closed;
    h.on_closed = &on_closed;
    return h;
  }
};

void Endpoint::pump() {
  if (conn == nullptr || finished_sending || !established) return;
  if (close_on_establish) {
    finished_sending = true;
    conn->close();
    return;
  }
  std::uint8_t buf[16384];
  while (sent < to_send) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, to_send - sent));
    fill_pattern(send_key, sent, buf, n);
    const std::size_t k = conn->send(buf, n);
    sent += k;
    if (conn == nullptr) return;
    if (k < n) return;  // wait for on_writable
  }
  if (style == Style::kShutdown) {
    finished_sending = true;
    conn->shutdown();
  } else if (style == Style::kCloseAfterPeerFin && peer_closed_calls > 0) {
    finished_sending = true;
    conn->close();
  }
}

void Endpoint::on_bytes(ByteView v) {
  std::uint8_t want[4096];
  std::size_t done = 0;
  while (done < v.size) {
    const std::size_t n = std::min(sizeof want, v.size - done);
    fill_pattern(recv_key, received, want, n);
    if (std::memcmp(want, v.data + done, n) != 0 || received + n > expect_recv) {
      for (std::size_t i = 0; i < n; ++i) {
        if (want[i] != v.data[done + i] || received + i >= expect_recv) {
          if (first_bad == ~0ull) first_bad = received + i;
          ++mismatches;
        }
      }
    }
    received += n;
    done += n;
  }
  if (received >= abort_after && conn != nullptr) conn->abort();
  if (pause_after_data && conn != nullptr) conn->set_receive_paused(true);
}

// ---- Sim --------------------------------------------------------------------------

Sim::Sim(const TcpConfig& cfg_client, const TcpConfig& cfg_server, const LinkProfile& link,
         std::uint64_t seed, TimeUs start)
    : cfg_{cfg_client, cfg_server}, link_(link), rng_(splitmix64(seed)), now_(start) {
  seed_ = seed;
  for (int i = 0; i < 2; ++i) {
    ctr_[i] = new TcpCounters();
    stacks_[i] = new Stack(cfg_[i], *ctr_[i], 0, now_);
  }
  const Handlers h = Callbacks::handlers();
  listening_ = stacks_[1]->listen(kServerPort, h, this, kIp[1]);
  drain(1);
}

Sim::~Sim() {
  for (int i = 0; i < 2; ++i) {
    delete stacks_[i];
    delete ctr_[i];
  }
}

Endpoint* Sim::server_endpoint(std::uint16_t client_port) {
  const std::size_t i = static_cast<std::uint16_t>(client_port - kFirstPort);
  return i < by_port_.size() ? by_port_[i] : nullptr;
}

Endpoint* Sim::new_endpoint(int side, std::uint64_t send_key, std::uint64_t recv_key,
                            std::uint64_t to_send, std::uint64_t expect_recv, Endpoint::Style st) {
  auto e = std::make_unique<Endpoint>();
  e->sim = this;
  e->side = side;
  e->send_key = send_key;
  e->recv_key = recv_key;
  e->to_send = to_send;
  e->expect_recv = expect_recv;
  e->style = st;
  Endpoint* p = e.get();
  eps_.push_back(p);
  own_.push_back(std::move(e));
  return p;
}

Endpoint* Sim::add_connection(std::uint64_t c2s, std::uint64_t s2c, Endpoint::Style client_style,
                              Endpoint::Style server_style, std::uint16_t port,
                              std::uint16_t client_port) {
  const std::uint16_t cport = client_port != 0 ? client_port : next_port_++;
  const std::size_t slot = static_cast<std::uint16_t>(cport - kFirstPort);
  if (by_port_.size() <= slot) by_port_.resize(slot + 1, nullptr);
  const std::uint64_t k1 = splitmix64(seed_ * 1000003u + cport + 65536u * eps_.size());
  const std::uint64_t k2 = splitmix64(k1);
  Endpoint* c = new_endpoint(0, k1, k2, c2s, s2c, client_style);
  // Nobody listens on other ports: no server endpoint then.
  by_port_[slot] = port == kServerPort ? new_endpoint(1, k2, k1, s2c, c2s, server_style) : nullptr;
  const FourTuple t{kIp[0], kIp[1], cport, port};
  const Handlers h = Callbacks::handlers();
  c->conn = stacks_[0]->connect(t, h, c, now_);
  if (c->conn == nullptr) ++connect_failures;
  drain(0);
  return c;
}

void Sim::add_simultaneous_open(std::uint64_t a2b, std::uint64_t b2a) {
  const std::uint16_t pa = next_port_++;
  const std::size_t slot = static_cast<std::uint16_t>(pa - kFirstPort);
  if (by_port_.size() <= slot) by_port_.resize(slot + 1, nullptr);  // no listener involved
  const std::uint16_t pb = 7000;
  const std::uint64_t k1 = splitmix64(seed_ * 1000003u + pa);
  const std::uint64_t k2 = splitmix64(k1);
  Endpoint* a = new_endpoint(0, k1, k2, a2b, b2a, Endpoint::Style::kShutdown);
  Endpoint* b = new_endpoint(1, k2, k1, b2a, a2b, Endpoint::Style::kShutdown);
  const Handlers h = Callbacks::handlers();
  a->conn = stacks_[0]->connect(FourTuple{kIp[0], kIp[1], pa, pb}, h, a, now_);
  b->conn = stacks_[1]->connect(FourTuple{kIp[1], kIp[0], pb, pa}, h, b, now_);
  if (a->conn == nullptr || b->conn == nullptr) ++connect_failures;
  drain(0);
  drain(1);
}

void Sim::drain(int side) {
  Stack& s = *stacks_[side];
  for (const OutSegment& seg : s.output()) transmit(side, seg);
  s.clear_output();
}

void Sim::record(const TraceLine& l) {
  ++trace_total_;
  if (trace_all) {
    std::string s = format(l);
    std::fprintf(stderr, "%s\n", s.c_str());
  }
  trace_.push_back(l);
  if (trace_.size() > kTraceKeep) trace_.pop_front();
}

void Sim::transmit(int from, const OutSegment& seg) {
  ++sent_pkts;
  const std::size_t hl = tcp_header_len(seg);
  std::vector<std::uint8_t> b(hl + seg.payload_len);
  write_tcp_header(seg, b.data());
  if (seg.payload_len > 0) copy_payload(seg, b.data() + hl);
  const std::uint16_t ck =
      tcp_checksum(seg.tuple.local_ip, seg.tuple.remote_ip, b.data(), b.size());
  std::memcpy(b.data() + 16, &ck, 2);

  TraceLine l{};
  l.t = now_;
  l.from = from;
  l.seq = seg.seq;
  l.ack = seg.ack;
  l.len = seg.payload_len;
  l.win = seg.window;
  l.port = from == 0 ? seg.tuple.local_port : seg.tuple.remote_port;
  l.flags = seg.flags;
  l.num_sack = seg.opts.num_sack;
  for (int i = 0; i < 4 && i < seg.opts.num_sack; ++i) l.sack[i] = seg.opts.sack[i];
  l.fate = "";

  if ((seg.flags & kSyn) && !syn_seen[from]) {
    syn_seen[from] = true;
    first_syn_seq[from] = seg.seq;
  }
  // Addressing as the dataplane would route it.
  const int to = 1 - from;
  if (seg.tuple.local_ip != kIp[from] || seg.tuple.remote_ip != kIp[to]) {
    ++misaddressed;
    l.fate = "MISADDRESSED";
    record(l);
    return;
  }

  // Random draws happen in a fixed order for every packet, so one packet's
  // fate does not shift the random stream of the next.
  const double r_loss = uniform(), r_dup = uniform(), r_reorder = uniform(), r_corrupt = uniform();
  const std::uint64_t r1 = rng_(), r2 = rng_(), r3 = rng_(), r4 = rng_();

  if (link_down_ || r_loss < link_.loss) {
    ++lost;
    l.fate = "LOST";
    record(l);
    return;
  }
  TimeUs depart = now_;
  std::uint8_t ip_ecn = seg.ip_ecn;
  if (link_.bandwidth > 0) {
    const TimeUs start = std::max(now_, busy_until_[from]);
    const std::uint64_t backlog = (start - now_) * link_.bandwidth / kUsPerSec;
    if (link_.ecn_mark_bytes > 0 && backlog > link_.ecn_mark_bytes &&
        (ip_ecn == kEct0 || ip_ecn == kEct1)) {
      ip_ecn = kCe;
      ++ce_marked;
      l.fate = "CE";
    }
    if (link_.queue_bytes > 0 && backlog + b.size() > link_.queue_bytes) {
      ++queue_drops;
      l.fate = "QUEUE-DROP";
      record(l);
      return;
    }
    busy_until_[from] = start + std::max<TimeUs>(1, b.size() * kUsPerSec / link_.bandwidth);
    depart = busy_until_[from];
  }
  TimeUs at = depart + link_.delay + (link_.jitter > 0 ? r1 % link_.jitter : 0);
  if (r_reorder < link_.reorder && link_.reorder_delay > 0) {
    ++reordered;
    at += r2 % link_.reorder_delay;
    l.fate = "delayed";
  }
  std::vector<std::uint8_t> copy;
  const bool dup = r_dup < link_.dup;
  if (dup) copy = b;
  if (r_corrupt < link_.corrupt) {
    ++corrupted;
    const std::size_t bit = r3 % (b.size() * 8);
    b[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    l.fate = "CORRUPTED";
  }
  enqueue(to, std::move(b), at, ip_ecn);
  if (dup) {
    ++duplicated;
    enqueue(to, std::move(copy), at + r4 % (link_.delay + 1), ip_ecn);
    l.fate = *l.fate != '\0' ? (l.fate[0] == 'C' ? "CORRUPTED+dup" : "delayed+dup") : "dup";
  }
  record(l);
}

void Sim::enqueue(int to, std::vector<std::uint8_t> bytes, TimeUs at, std::uint8_t ip_ecn) {
  q_.push(Packet{at, order_++, to, std::move(bytes), ip_ecn});
}

void Sim::deliver(Packet& p) {
  const int to = p.to;
  const int from = 1 - to;
  // The dataplane verifies the checksum before the engine sees anything.
  if (tcp_checksum(kIp[from], kIp[to], p.bytes.data(), p.bytes.size()) != 0) {
    ++bad_checksum;
    return;
  }
  Segment seg;
  if (parse_segment(p.bytes.data(), p.bytes.size(), seg) != ParseStatus::kOk) {
    ++parse_errors;
    return;
  }
  seg.tuple.local_ip = kIp[to];
  seg.tuple.remote_ip = kIp[from];
  seg.ip_ecn = p.ip_ecn;
  ++delivered;
  stacks_[to]->input(seg, now_);
  drain(to);
}

bool Sim::all_done() const {
  for (const Endpoint* e : eps_) {
    if (e->closed_calls == 0) return false;
  }
  for (int i = 0; i < 2; ++i) {
    if (stacks_[i]->connection_count() != 0 || stacks_[i]->time_wait_count() != 0) return false;
  }
  return q_.empty();
}

bool Sim::run(TimeUs limit) {
  const TimeUs end = now_ + limit;
  while (now_ < end) {
    if (all_done()) return true;
    TimeUs next = now_ + tick;
    if (!q_.empty() && q_.top().at < next) next = std::max(q_.top().at, now_);
    now_ = next;
    while (!q_.empty() && q_.top().at <= now_) {
      Packet p = std::move(const_cast<Packet&>(q_.top()));
      q_.pop();
      deliver(p);
    }
    for (int i = 0; i < 2; ++i) {
      stacks_[i]->poll(now_);
      drain(i);
    }
    if (hook) hook();
  }
  return all_done();
}

// Every connection ended normally, all bytes verified, nothing left behind.
std::string Sim::verify(bool finished) {
  std::string err;
  if (!listening()) err += "listen() failed\n";
  if (connect_failures) err += "connect() returned nullptr\n";
  if (!finished) err += "did not finish within the virtual time limit\n";
  if (misaddressed) err += "segments with wrong addresses in OutSegment::tuple\n";
  if (parse_errors) err += "our own segments failed parse_segment\n";
  if (stray_accepts) err += "on_accept for a connection nobody opened\n";
  if (bad_checksum != corrupted) {
    err += "checksum failures != corrupted packets (bad serialization or undetected corruption)\n";
  }
  for (const Endpoint* e : eps_) {
    const char* who = e->side == 0 ? "client" : "server";
    if (e->mismatches) err += std::string(who) + ": received bytes differ from what was sent\n";
    if (e->received != e->expect_recv)
      err += std::string(who) + ": wrong number of bytes received\n";
    if (e->sent != e->to_send) err += std::string(who) + ": could not queue all its bytes\n";
    if (e->closed_calls != 1) err += std::string(who) + ": on_closed not called exactly once\n";
    if (e->closed_calls && e->reason != CloseReason::kNormal) {
      err += std::string(who) + ": closed with reason " + to_string(e->reason) + "\n";
    }
    if (e->peer_closed_calls != 1)
      err += std::string(who) + ": on_peer_closed not called exactly once\n";
    if (!e->established) err += std::string(who) + ": never established\n";
  }
  for (int s = 0; s < 2; ++s) {
    if (stack(s).connection_count() != 0)
      err += "stack " + std::to_string(s) + ": connections left\n";
    if (stack(s).time_wait_count() != 0) err += "stack " + std::to_string(s) + ": TIME-WAIT left\n";
    TcpCounters& c = counters(s);
    for (int i = 0; i < kNumStates; ++i) {
      const State st = state_from_index(i);
      const std::int64_t want = (s == 1 && st == State::kListen) ? 1 : 0;
      if (st != State::kClosed && c.state[i].get() != want) {
        err += "stack " + std::to_string(s) + ": gauge " + std::string(to_string(st)) + " = " +
               std::to_string(c.state[i].get()) + "\n";
      }
    }
  }
  if (!err.empty()) err += summary() + trace_tail(120);
  return err;
}

std::string Sim::format(const TraceLine& l) const {
  char flags[8] = {};
  int k = 0;
  if (l.flags & kSyn) flags[k++] = 'S';
  if (l.flags & kFin) flags[k++] = 'F';
  if (l.flags & kRst) flags[k++] = 'R';
  if (l.flags & kPsh) flags[k++] = 'P';
  if (l.flags & kAck) flags[k++] = '.';
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "%10.6f %s:%u [%-4s] seq=%u ack=%u len=%u win=%u",
                        static_cast<double>(l.t) / 1e6, l.from == 0 ? "C>S" : "S>C",
                        static_cast<unsigned>(l.port), flags, l.seq, l.ack, l.len, l.win);
  std::string s(buf, static_cast<std::size_t>(n));
  for (int i = 0; i < l.num_sack && i < 4; ++i) {
    n = std::snprintf(buf, sizeof buf, " sack=%u-%u", l.sack[i].left, l.sack[i].right);
    s.append(buf, static_cast<std::size_t>(n));
  }
  if (*l.fate != '\0') {
    s += "  ";
    s += l.fate;
  }
  return s;
}

std::string Sim::trace_tail(std::size_t lines) const {
  std::string out;
  const std::size_t start = trace_.size() > lines ? trace_.size() - lines : 0;
  char buf[96];
  std::snprintf(buf, sizeof buf, "--- last %zu of %" PRIu64 " segments ---\n",
                trace_.size() - start, trace_total_);
  out += buf;
  for (std::size_t i = start; i < trace_.size(); ++i) {
    out += format(trace_[i]);
    out += '\n';
  }
  return out;
}

std::string Sim::summary() const {
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "seed=%" PRIu64 " link=%s t=%.3fs pkts=%" PRIu64 " lost=%" PRIu64 " dup=%" PRIu64
                " reordered=%" PRIu64 " corrupted=%" PRIu64 " bad_csum=%" PRIu64 " qdrop=%" PRIu64
                " misaddressed=%" PRIu64 "\n",
                seed_, link_.name, static_cast<double>(now_) / 1e6 - 1000.0, sent_pkts, lost,
                duplicated, reordered, corrupted, bad_checksum, queue_drops, misaddressed);
  out += buf;
  for (int i = 0; i < 2; ++i) {
    std::snprintf(buf, sizeof buf, "stack %d: connections=%zu time_wait=%zu\n", i,
                  stacks_[i]->connection_count(), stacks_[i]->time_wait_count());
    out += buf;
  }
  for (const Endpoint* e : eps_) {
    std::snprintf(
        buf, sizeof buf,
        "%s: sent=%" PRIu64 "/%" PRIu64 " recv=%" PRIu64 "/%" PRIu64 " mismatches=%" PRIu64
        " first_bad=%" PRId64
        " established=%d peer_closed=%d closed=%d reason=%s state_at_close=%s"
        " now_state=%s\n",
        e->side == 0 ? "client" : "server", e->sent, e->to_send, e->received, e->expect_recv,
        e->mismatches,
        e->first_bad == ~0ull ? std::int64_t{-1} : static_cast<std::int64_t>(e->first_bad),
        e->established, e->peer_closed_calls, e->closed_calls,
        e->closed_calls ? to_string(e->reason) : "-", e->last_state.c_str(),
        e->conn ? std::string(to_string(e->conn->state())).c_str() : "-");
    out += buf;
  }
  return out;
}

}  // namespace shardtcp::tcp::sim
