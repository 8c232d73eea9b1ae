// Fair under a full table: at tcp.max_connections the connection idle
// longest (ESTABLISHED / CLOSE-WAIT, nothing in flight, by last segment
// received) is reset so that a new peer gets in; with SYN cookies only a peer
// that completes the handshake can cause that.
#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

struct Peer {
  FourTuple t;
  std::uint32_t p;  // peer's next sequence number
  std::uint32_t u;  // ours
  Connection* c;
};

class Evict : public ::testing::Test {
 protected:
  explicit Evict(bool cookies = true) : h(config(cookies)) {}
  static TcpConfig config(bool cookies) {
    TcpConfig cfg = Harness::default_config();
    cfg.max_connections = 3;
    cfg.syn_cookies = cookies;
    return cfg;
  }
  // Three connections opened 1 s apart (ports 40000, 40001, 40002).
  void SetUp() override {
    h.listen();
    for (std::uint16_t i = 0; i < 3; ++i) {
      h.tuple.remote_port = static_cast<std::uint16_t>(kPeerPort + i);
      Connection* c = h.open(1000u + 100000u * i, 5000u + 100000u * i);
      ASSERT_NE(c, nullptr);
      peers.push_back({h.tuple, h.peer_nxt, h.our_nxt, c});
      h.advance(kUsPerSec);
    }
    h.take();
  }
  void send(const Peer& k, std::uint8_t flags, const std::string& data = "") {
    h.tuple = k.t;
    h.in(flags, k.p, k.u, data);
  }
  // A new client's SYN from port 50000.
  FourTuple newcomer() const {
    FourTuple t = peers[0].t;
    t.remote_port = 50000;
    return t;
  }
  Harness h;
  std::vector<Peer> peers;
};

// With cookies: the SYN is answered statelessly and evicts no one; the
// handshake's ACK proves the address, then the longest idle goes (RST) and
// the newcomer is accepted.
TEST_F(Evict, CookieAckEvictsTheLongestIdle) {
  send(peers[0], kAck | kPsh, "hi");  // peer 0 is heard from: peer 1 is now idle longest
  h.advance(100 * kUsPerMs);
  h.take();
  h.tuple = newcomer();
  h.in(kSyn, 77, 0, "", 65535, Harness::mss_only());
  Out sa = h.take_one();
  EXPECT_EQ(sa.seg.flags, kSyn | kAck);
  EXPECT_EQ(sa.seg.ack, 78u);
  EXPECT_EQ(h.stack->connection_count(), 3u);
  EXPECT_EQ(h.counters.idle_evictions.get(), 0u);
  EXPECT_EQ(h.counters.syncookies_sent.get(), 1u);

  h.in(kAck, 78, sa.seg.seq + 1, "GET");
  std::vector<Out> outs = h.take();
  ASSERT_GE(outs.size(), 1u);
  // RFC 9293 §3.10.5 (as ABORT): <SEQ=SND.NXT><CTL=RST,ACK> to the victim.
  EXPECT_EQ(outs[0].seg.flags, kRst | kAck);
  EXPECT_EQ(outs[0].seg.tuple, peers[1].t);
  EXPECT_EQ(outs[0].seg.seq, peers[1].u);
  for (std::size_t i = 1; i < outs.size(); ++i) EXPECT_EQ(outs[i].seg.tuple, newcomer());
  EXPECT_EQ(h.counters.idle_evictions.get(), 1u);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kEvicted);
  EXPECT_EQ(h.app.closed_conns[0], peers[1].c);
  EXPECT_EQ(h.app.accepted.size(), 4u);
  EXPECT_EQ(h.app.data, "hiGET");
  EXPECT_EQ(h.stack->connection_count(), 3u);
  EXPECT_EQ(h.gauge(State::kEstablished), 3);
  EXPECT_EQ(h.counters.conn_limit_drops.get(), 0u);
}

// A spoofed SYN flood at a full table evicts nothing: SYN cookies only.
TEST_F(Evict, SynFloodEvictsNoOne) {
  for (std::uint16_t i = 0; i < 1000; ++i) {
    FourTuple t = newcomer();
    t.remote_port = static_cast<std::uint16_t>(10000 + i);
    h.tuple = t;
    h.in(kSyn, 1000u * i, 0, "", 65535, Harness::mss_only());
  }
  EXPECT_EQ(h.take().size(), 1000u);  // SYN-ACKs, stateless
  EXPECT_EQ(h.counters.idle_evictions.get(), 0u);
  EXPECT_TRUE(h.app.closed.empty());
  EXPECT_EQ(h.stack->connection_count(), 3u);
}

// CLOSE-WAIT counts as idle too; connections with data in flight are not idle.
TEST_F(Evict, InFlightDataIsNotIdle) {
  ASSERT_EQ(peers[0].c->send("x", 1), 1u);  // oldest, but waiting for an ACK
  h.take();
  send(peers[1], kAck | kFin);  // CLOSE-WAIT, idle since now
  EXPECT_EQ(peers[1].c->state(), State::kCloseWait);
  h.advance(kUsPerSec);
  h.take();
  h.tuple = newcomer();
  h.in(kSyn, 77, 0, "", 65535, Harness::mss_only());
  Out sa = h.take_one();
  h.in(kAck, 78, sa.seg.seq + 1);
  std::vector<Out> outs = h.take();
  ASSERT_GE(outs.size(), 1u);
  // Peer 2 last spoke at its handshake (1 s before peer 1's FIN): it goes.
  EXPECT_EQ(outs[0].seg.flags, kRst | kAck);
  EXPECT_EQ(outs[0].seg.tuple, peers[2].t);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed_conns[0], peers[2].c);
  EXPECT_EQ(h.app.closed[0], CloseReason::kEvicted);
  EXPECT_EQ(h.counters.idle_evictions.get(), 1u);
}

// Nothing idle (all have data in flight): the SYN is dropped as before, not
// answered with a cookie that could never be honoured.
TEST_F(Evict, NoIdleConnectionMeansTheLimitHolds) {
  for (const Peer& k : peers) ASSERT_EQ(k.c->send("x", 1), 1u);
  h.take();
  h.tuple = newcomer();
  h.in(kSyn, 77, 0, "", 65535, Harness::mss_only());
  h.expect_none();
  EXPECT_EQ(h.counters.conn_limit_drops.get(), 1u);
  EXPECT_EQ(h.drops(DropReason::kConnLimit), 1u);
  EXPECT_EQ(h.counters.idle_evictions.get(), 0u);
  EXPECT_TRUE(h.app.closed.empty());
}

// tcp.evict_idle_on_full = false: the old behaviour, the SYN is dropped.
TEST(EvictOff, FullTableDropsSyn) {
  TcpConfig cfg = Harness::default_config();
  cfg.max_connections = 1;
  cfg.evict_idle_on_full = false;
  Harness h(cfg);
  h.listen();
  h.open();
  h.take();
  h.advance(10 * kUsPerSec);
  h.tuple.remote_port = 50001;
  h.in(kSyn, 100, 0, "", 65535, Harness::mss_only());
  h.expect_none();
  EXPECT_EQ(h.counters.conn_limit_drops.get(), 1u);
  EXPECT_EQ(h.counters.idle_evictions.get(), 0u);
}

// Without SYN cookies the SYN itself makes the room: RST to the longest
// idle, then the SYN-ACK.
class EvictNoCookies : public Evict {
 protected:
  EvictNoCookies() : Evict(false) {}
};

TEST_F(EvictNoCookies, SynEvictsTheLongestIdle) {
  send(peers[0], kAck | kPsh, "hi");
  send(peers[1], kAck | kPsh, "hi");  // peer 2 is now idle longest
  h.advance(kUsPerSec);
  h.take();
  h.tuple = newcomer();
  h.in(kSyn, 77, 0, "", 65535, Harness::mss_only());
  std::vector<Out> outs = h.take();
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].seg.flags, kRst | kAck);
  EXPECT_EQ(outs[0].seg.tuple, peers[2].t);
  EXPECT_EQ(outs[1].seg.flags, kSyn | kAck);
  EXPECT_EQ(outs[1].seg.tuple, newcomer());
  EXPECT_EQ(h.counters.idle_evictions.get(), 1u);
  EXPECT_EQ(h.app.closed_conns.at(0), peers[2].c);
  EXPECT_EQ(h.stack->connection_count(), 3u);
}

// The LRU order follows received segments (to within its 100 ms step) over
// many evictions: each newcomer evicts the one idle longest at that moment.
TEST_F(EvictNoCookies, OrderFollowsLastSegmentReceived) {
  // Heard from in the order 2, 0, 1: evicted in that order.
  for (int k : {2, 0, 1}) {
    send(peers[static_cast<std::size_t>(k)], kAck | kPsh, "x");
    h.advance(kUsPerSec);
  }
  h.take();
  for (std::uint16_t i = 0; i < 3; ++i) {
    FourTuple t = newcomer();
    t.remote_port = static_cast<std::uint16_t>(50000 + i);
    h.tuple = t;
    h.in(kSyn, 77, 0, "", 65535, Harness::mss_only());
  }
  h.take();
  ASSERT_EQ(h.app.closed_conns.size(), 3u);
  EXPECT_EQ(h.app.closed_conns[0], peers[2].c);
  EXPECT_EQ(h.app.closed_conns[1], peers[0].c);
  EXPECT_EQ(h.app.closed_conns[2], peers[1].c);
  EXPECT_EQ(h.counters.idle_evictions.get(), 3u);
  EXPECT_EQ(h.stack->connection_count(), 3u);
  EXPECT_EQ(h.gauge(State::kSynReceived), 3);
  // SYN-RECEIVED connections are never victims: the next SYN is dropped.
  h.tuple.remote_port = 60000;
  h.in(kSyn, 77, 0, "", 65535, Harness::mss_only());
  h.expect_none();
  EXPECT_EQ(h.counters.conn_limit_drops.get(), 1u);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
