// Two engines back to back (client active open, server passive) over an
// in-memory link with a fixed delay and seeded loss. Transfers are checked
// byte for byte; afterwards both stacks must be empty (no Tcb, no timer,
// no buffer). The full randomized simulation lives in tests/sim (recovery).
#include <cstdio>
#include <map>
#include <random>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

struct Packet {
  TimeUs at;
  Segment seg;
  std::string payload;
};

struct Peer {
  std::string rx;
  std::string tx;        // what to send
  std::size_t sent = 0;  // bytes of tx handed to send()
  Connection* conn = nullptr;
  int closed = 0;
  CloseReason reason = CloseReason::kNormal;
  bool peer_fin = false;
  bool close_when_done = true;
};

Peer& peer_of(Connection& c) { return *static_cast<Peer*>(c.user()); }

void pump(Peer& p) {
  while (p.conn != nullptr && p.sent < p.tx.size()) {
    const std::size_t n = p.conn->send(p.tx.data() + p.sent, p.tx.size() - p.sent);
    if (n == 0) return;
    p.sent += n;
  }
  if (p.conn != nullptr && p.sent == p.tx.size() && p.close_when_done) {
    // Half-close: our FIN after the data, and keep receiving.
    p.close_when_done = false;
    p.conn->shutdown();
  }
}

class Loop {
 public:
  Loop(TcpConfig cfg, double loss, std::uint32_t seed)
      : client_(cfg, cc_, 0, now_), server_(cfg, sc_, 0, now_), loss_(loss), rng_(seed) {
    Handlers h;
    h.on_accept = [](Connection& c, void* u) {
      auto* p = static_cast<Peer*>(u);
      c.set_user(p);
      p->conn = &c;
      pump(*p);
    };
    h.on_connected = [](Connection& c) { pump(peer_of(c)); };
    h.on_data = [](Connection& c, ByteView v) {
      peer_of(c).rx.append(reinterpret_cast<const char*>(v.data), v.size);
    };
    h.on_writable = [](Connection& c) { pump(peer_of(c)); };
    h.on_peer_closed = [](Connection& c) { peer_of(c).peer_fin = true; };
    h.on_closed = [](Connection& c, CloseReason r) {
      Peer& p = peer_of(c);
      ++p.closed;
      p.reason = r;
      p.conn = nullptr;
    };
    handlers_ = h;
    EXPECT_TRUE(server_.listen(80, h, &srv_));
  }

  void start() {
    FourTuple t{kRemoteIp, kLocalIp, kPeerPort, 80};
    cli_.conn = client_.connect(t, handlers_, &cli_, now_);
    cli_.conn->set_user(&cli_);
    drain(client_, true);
  }

  // Runs until both sides reported on_closed and TIME-WAIT expired, or the
  // virtual deadline passes.
  void run(TimeUs limit) {
    const TimeUs end = now_ + limit;
    while (now_ < end) {
      now_ += kUsPerMs;
      while (!wire_.empty() && wire_.begin()->first <= now_) {
        Packet p = std::move(wire_.begin()->second);
        wire_.erase(wire_.begin());
        p.seg.payload = reinterpret_cast<const std::uint8_t*>(p.payload.data());
        Stack& dst = p.seg.tuple.local_port == 80 ? server_ : client_;
        dst.input(p.seg, now_);
        drain(dst, &dst == &client_);
      }
      client_.poll(now_);
      drain(client_, true);
      server_.poll(now_);
      drain(server_, false);
      check_gauges(cc_, client_);
      check_gauges(sc_, server_);
      if (cli_.closed && srv_.closed && client_.time_wait_count() == 0 &&
          server_.time_wait_count() == 0 && wire_.empty()) {
        return;
      }
    }
  }

  // After every step: the gauges match the tables exactly.
  static void check_gauges(const TcpCounters& c, const Stack& s) {
    std::int64_t live = 0;
    for (int i = 0; i < kNumStates; ++i) {
      const State st = state_from_index(i);
      ASSERT_GE(c.state[i].get(), 0) << to_string(st);
      if (st != State::kListen && st != State::kTimeWait) live += c.state[i].get();
    }
    ASSERT_EQ(live, static_cast<std::int64_t>(s.connection_count()));
    ASSERT_EQ(c.state[state_index(State::kTimeWait)].get(),
              static_cast<std::int64_t>(s.time_wait_count()));
    if (c.state[state_index(State::kCloseWait)].get() == 0) {
      ASSERT_EQ(c.oldest_close_wait_since.get(), 0);
    } else {
      ASSERT_NE(c.oldest_close_wait_since.get(), 0);
    }
  }

  void drain(Stack& s, bool from_client) {
    for (const OutSegment& o : s.output()) {
      Packet p;
      // Fixed delay plus jitter: packets overtake each other (reordering).
      p.at = now_ + 5 * kUsPerMs + (jitter_ ? (rng_() % 4) * kUsPerMs : 0);
      p.seg.tuple =
          FourTuple{o.tuple.remote_ip, o.tuple.local_ip, o.tuple.remote_port, o.tuple.local_port};
      p.seg.seq = o.seq;
      p.seg.ack = o.ack;
      p.seg.flags = o.flags;
      p.seg.window = o.window;
      p.seg.opts = o.opts;
      p.payload.resize(o.payload_len);
      if (o.payload_len > 0) copy_payload(o, reinterpret_cast<std::uint8_t*>(p.payload.data()));
      p.seg.payload_len = o.payload_len;
      (void)from_client;
      if (loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) {
        ++lost_;
        continue;
      }
      if (dup_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < dup_) {
        wire_.emplace(p.at + kUsPerMs, p);  // duplicated
      }
      wire_.emplace(p.at, std::move(p));
    }
    s.clear_output();
  }

  TcpCounters cc_;
  TcpCounters sc_;
  TimeUs now_ = 1000 * kUsPerSec;
  Stack client_;
  Stack server_;
  Peer cli_;
  Peer srv_;
  Handlers handlers_;
  std::multimap<TimeUs, Packet> wire_;
  double loss_;
  double dup_ = 0;
  bool jitter_ = false;
  std::mt19937 rng_;
  int lost_ = 0;
};

std::string pattern(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed;
  for (auto& ch : s) {
    x = x * 1664525u + 1013904223u;
    ch = static_cast<char>(x >> 24);
  }
  return s;
}

TcpConfig loop_config() {
  TcpConfig cfg;
  cfg.isn_secret[0] = 7;
  cfg.isn_secret[1] = 9;
  cfg.msl = 1 * kUsPerSec;
  cfg.max_retries = 30;
  cfg.rto_max = 2 * kUsPerSec;
  return cfg;
}

void check_clean(Loop& l) {
  EXPECT_EQ(l.client_.connection_count(), 0u);
  EXPECT_EQ(l.server_.connection_count(), 0u);
  EXPECT_EQ(l.client_.time_wait_count(), 0u);
  EXPECT_EQ(l.server_.time_wait_count(), 0u);
  for (int i = 0; i < kNumStates; ++i) {
    const State s = state_from_index(i);
    if (s == State::kListen) continue;
    EXPECT_EQ(l.cc_.state[i].get(), 0) << to_string(s);
    EXPECT_EQ(l.sc_.state[i].get(), 0) << to_string(s);
  }
  EXPECT_EQ(l.client_.impl_for_testing().chunks_in_use(), 0u);
  EXPECT_EQ(l.server_.impl_for_testing().chunks_in_use(), 0u);
}

TEST(Loopback, BothDirectionsNoLoss) {
  Loop l(loop_config(), 0.0, 1);
  l.cli_.tx = pattern(300000, 1);
  l.srv_.tx = pattern(500000, 2);
  l.start();
  l.run(120 * kUsPerSec);
  EXPECT_EQ(l.srv_.rx.size(), l.cli_.tx.size());
  EXPECT_TRUE(l.srv_.rx == l.cli_.tx);
  EXPECT_EQ(l.cli_.rx.size(), l.srv_.tx.size());
  EXPECT_TRUE(l.cli_.rx == l.srv_.tx);
  EXPECT_EQ(l.cli_.closed, 1);
  EXPECT_EQ(l.srv_.closed, 1);
  EXPECT_EQ(l.cli_.reason, CloseReason::kNormal);
  EXPECT_EQ(l.srv_.reason, CloseReason::kNormal);
  EXPECT_EQ(l.cc_.retrans_segs.get() + l.sc_.retrans_segs.get(), 0u);
  check_clean(l);
}

TEST(Loopback, EmptyTransfer) {
  Loop l(loop_config(), 0.0, 1);
  l.start();
  l.run(60 * kUsPerSec);
  EXPECT_EQ(l.cli_.closed, 1);
  EXPECT_EQ(l.srv_.closed, 1);
  check_clean(l);
}

class LossyLoopback : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(LossyLoopback, TransfersSurviveLoss) {
  TcpConfig cfg = loop_config();
  cfg.sack = (GetParam() % 2) == 0;  // SACK recovery on even seeds, NewReno on odd
  Loop l(cfg, 0.03, GetParam());
  l.cli_.tx = pattern(200000, GetParam());
  l.srv_.tx = pattern(400000, GetParam() + 100);
  l.start();
  l.run(600 * kUsPerSec);
  EXPECT_GT(l.lost_, 0);
  EXPECT_EQ(static_cast<int>(l.cli_.reason), 0);
  EXPECT_EQ(static_cast<int>(l.srv_.reason), 0);
  EXPECT_EQ(l.srv_.rx.size(), l.cli_.tx.size());
  EXPECT_TRUE(l.srv_.rx == l.cli_.tx);
  EXPECT_EQ(l.cli_.rx.size(), l.srv_.tx.size());
  EXPECT_TRUE(l.cli_.rx == l.srv_.tx);
  EXPECT_EQ(l.cli_.closed, 1);
  EXPECT_EQ(l.srv_.closed, 1);
  check_clean(l);
}

INSTANTIATE_TEST_SUITE_P(Seeds, LossyLoopback, ::testing::Range<std::uint32_t>(1, 9));

class NastyLoopback : public ::testing::TestWithParam<std::uint32_t> {};

// 10% loss, reordering and duplication, 1 MB one way and 64 KiB back.
TEST_P(NastyLoopback, TransfersSurvive) {
  TcpConfig cfg = loop_config();
  cfg.sack = (GetParam() % 2) == 0;
  cfg.timestamps = (GetParam() % 3) != 0;
  Loop l(cfg, 0.10, GetParam() * 7919);
  l.dup_ = 0.02;
  l.jitter_ = true;
  l.cli_.tx = pattern(64 * 1024, GetParam());
  l.srv_.tx = pattern(1 << 20, GetParam() + 1);
  l.start();
  const TimeUs t0 = l.now_;
  l.run(3600 * kUsPerSec);
  std::printf("seed %u: lost %d, retrans %lu/%lu, fast %lu/%lu, rto %lu/%lu, %.1f s virtual\n",
              GetParam(), l.lost_, static_cast<unsigned long>(l.cc_.retrans_segs.get()),
              static_cast<unsigned long>(l.sc_.retrans_segs.get()),
              static_cast<unsigned long>(l.cc_.fast_retransmits.get()),
              static_cast<unsigned long>(l.sc_.fast_retransmits.get()),
              static_cast<unsigned long>(l.cc_.rto_expirations.get()),
              static_cast<unsigned long>(l.sc_.rto_expirations.get()),
              static_cast<double>(l.now_ - t0) / kUsPerSec);
  EXPECT_EQ(l.srv_.rx.size(), l.cli_.tx.size());
  EXPECT_TRUE(l.srv_.rx == l.cli_.tx);
  EXPECT_EQ(l.cli_.rx.size(), l.srv_.tx.size());
  EXPECT_TRUE(l.cli_.rx == l.srv_.tx);
  EXPECT_EQ(l.cli_.closed, 1);
  EXPECT_EQ(l.srv_.closed, 1);
  check_clean(l);
}

INSTANTIATE_TEST_SUITE_P(Seeds, NastyLoopback, ::testing::Range<std::uint32_t>(1, 7));

}  // namespace
}  // namespace shardtcp::tcp::testing
