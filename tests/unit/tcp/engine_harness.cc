#include "engine_harness.h"

namespace shardtcp::tcp::testing {

std::string flags_str(std::uint8_t f) {
  std::string s;
  if (f & kSyn) s += "S";
  if (f & kFin) s += "F";
  if (f & kRst) s += "R";
  if (f & kPsh) s += "P";
  if (f & kAck) s += ".";
  return s;
}

namespace {
AppLog& log_of(Connection& c) { return *static_cast<AppLog*>(c.user()); }

void on_accept(Connection& c, void* listener_user) {
  auto* app = static_cast<AppLog*>(listener_user);
  c.set_user(app);
  app->accepted.push_back(&c);
  if (!app->send_on_accept.empty()) c.send(app->send_on_accept.data(), app->send_on_accept.size());
  if (app->close_on_accept) c.close();
}
void on_connected(Connection& c) { log_of(c).connected.push_back(&c); }
void on_data(Connection& c, ByteView v) {
  AppLog& app = log_of(c);
  app.data.append(reinterpret_cast<const char*>(v.data), v.size);
  ++app.data_calls;
  app.events += 'D';
  if (app.echo) c.send(v.data, v.size);
  if (app.abort_on_data) c.abort();
  if (app.pause_on_data) c.set_receive_paused(true);
}
void on_writable(Connection& c) { ++log_of(c).writable; }
void on_peer_closed(Connection& c) {
  AppLog& app = log_of(c);
  ++app.peer_closed;
  app.events += 'P';
  if (app.close_on_peer_fin) c.close();
}
void on_closed(Connection& c, CloseReason r) {
  log_of(c).closed.push_back(r);
  log_of(c).events += 'C';
  log_of(c).closed_conns.push_back(&c);
}
}  // namespace

TcpConfig Harness::default_config() {
  TcpConfig c;
  c.isn_secret[0] = 1;
  c.isn_secret[1] = 2;
  c.msl = 30 * kUsPerSec;
  c.rto_initial = 1 * kUsPerSec;
  c.rto_min = 200 * kUsPerMs;
  c.rcv_buf = 65535;  // no window scaling needed unless a test asks
  return c;
}

Harness::Harness(TcpConfig c) : cfg(c) {
  stack = std::make_unique<Stack>(cfg, counters, 0, now);
  handlers.on_accept = on_accept;
  handlers.on_connected = on_connected;
  handlers.on_data = on_data;
  handlers.on_writable = on_writable;
  handlers.on_peer_closed = on_peer_closed;
  handlers.on_closed = on_closed;
}

void Harness::listen(std::uint16_t port, ListenOptions opts) {
  ASSERT_TRUE(stack->listen(port, handlers, &app, 0, opts));
}

Connection* Harness::connect(FourTuple t) {
  if (t.local_port == 0) t = tuple;
  Connection* c = stack->connect(t, handlers, &app, now);
  collect();
  return c;
}

Segment Harness::seg(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                     const std::string& data, std::uint16_t window, const TcpOptions& opts) const {
  Segment s;
  s.tuple = tuple;
  s.seq = seq;
  s.ack = ack;
  s.flags = flags;
  s.window = window;
  s.opts = opts;
  s.payload = reinterpret_cast<const std::uint8_t*>(data.data());
  s.payload_len = static_cast<std::uint32_t>(data.size());
  return s;
}

void Harness::in(const Segment& s) {
  stack->input(s, now);
  collect();
}

void Harness::in(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, const std::string& data,
                 std::uint16_t window, const TcpOptions& opts) {
  // `data` must outlive input() only: the engine copies what it keeps.
  in(seg(flags, seq, ack, data, window, opts));
}

void Harness::advance(TimeUs dt) { advance_to(now + dt); }

void Harness::advance_to(TimeUs t) {
  now = t;
  stack->poll(now);
  collect();
}

::testing::AssertionResult serialize_frame(const OutSegment& o, std::size_t room,
                                           std::vector<std::uint8_t>& frame, Segment& back) {
  // The buffer is sized from the MTU, never from the segment's own lengths:
  // what does not fit is a failure, not a bigger buffer.
  const std::size_t thl = tcp_header_len(o);
  const std::size_t len = thl + std::size_t{o.payload_len};
  if (len > room) {
    return ::testing::AssertionFailure()
           << "segment of " << thl << " header + " << o.payload_len << " payload bytes exceeds the "
           << room << " bytes an MTU-sized frame leaves for TCP";
  }
  frame.assign(room, 0);
  const std::size_t written = write_tcp_header(o, frame.data());
  if (written != thl) {
    return ::testing::AssertionFailure() << "header wrote " << written << " of " << thl;
  }
  if (o.payload_len > 0) copy_payload(o, frame.data() + thl);
  // The receiver's view: parse the frame back and check that it holds what
  // its header says (RFC 9293 §3.1: data offset, then payload to the end).
  back = Segment{};
  if (parse_segment(frame.data(), len, back) != ParseStatus::kOk) {
    return ::testing::AssertionFailure() << "frame does not parse";
  }
  if (back.payload_len != o.payload_len || back.seq != o.seq || back.ack != o.ack ||
      back.flags != o.flags || back.window != o.window) {
    return ::testing::AssertionFailure() << "frame header disagrees with the segment (payload "
                                         << back.payload_len << " vs " << o.payload_len << ")";
  }
  return ::testing::AssertionSuccess();
}

void Harness::collect() {
  std::vector<std::uint8_t> frame;
  for (const OutSegment& o : stack->output()) {
    Out r;
    r.seg = o;
    // Every segment the engine emits must fit the frame a dataplane builds
    // for the configured MTU (tcp.mss + 40; TCP gets all but the 20-byte
    // IPv4 header) and read back as itself.
    Segment back;
    const auto fits = serialize_frame(o, std::size_t{cfg.mss} + 20, frame, back);
    EXPECT_TRUE(fits) << flags_str(o.flags) << " seq " << o.seq;
    if (fits && back.payload_len > 0) {
      r.payload.assign(reinterpret_cast<const char*>(back.payload), back.payload_len);
    }
    r.seg.payload_src = nullptr;  // dead after clear_output()
    out_.push_back(std::move(r));
  }
  stack->clear_output();
}

std::vector<Out> Harness::take() {
  collect();  // segments produced by API calls outside input()/poll()
  std::vector<Out> r;
  r.swap(out_);
  return r;
}

Out Harness::take_one() {
  auto v = take();
  EXPECT_EQ(v.size(), 1u) << "expected exactly one segment";
  if (v.empty()) return Out{};
  return v.front();
}

void Harness::expect_none() {
  auto v = take();
  EXPECT_TRUE(v.empty()) << "unexpected segment: " << flags_str(v.front().seg.flags)
                         << " seq=" << v.front().seg.seq << " ack=" << v.front().seg.ack;
}

Connection* Harness::open(std::uint32_t peer_isn, std::uint32_t our_iss,
                          const TcpOptions& syn_opts) {
  impl().isn_override_ = true;
  impl().isn_override_value_ = our_iss;
  in(kSyn, peer_isn, 0, "", 65535, syn_opts);
  Out sa = take_one();
  EXPECT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(sa.seg.seq, our_iss);
  EXPECT_EQ(sa.seg.ack, peer_isn + 1);
  TcpOptions ack_opts;
  if (syn_opts.has_timestamps) {
    ack_opts.has_timestamps = true;
    ack_opts.ts_val = syn_opts.ts_val + 1;
    ack_opts.ts_ecr = sa.seg.opts.ts_val;
  }
  const std::size_t before = app.accepted.size();
  in(kAck, peer_isn + 1, our_iss + 1, "", 65535, ack_opts);
  EXPECT_EQ(app.accepted.size(), before + 1);
  peer_nxt = peer_isn + 1;
  our_nxt = our_iss + 1;
  return app.accepted.empty() ? nullptr : app.accepted.back();
}

}  // namespace shardtcp::tcp::testing
