// The application deadline (Connection::set_deadline / Handlers::on_deadline):
// one per connection, on the connection's single timer-wheel slot together
// with RTO, delayed ACK, persist and keep-alive (DESIGN.md "Timers":
// application timers live on the same wheel and fire on the owning core;
// they never fire early). Exact to the segment: a deadline by itself sends
// nothing; what the callback does (abort -> RST) is all that goes out.
#include <vector>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

enum class OnDeadline { kNothing, kAbort, kClose, kRearmNow, kRearmLater };

// on_deadline is a plain function pointer: the fixture it reports to.
struct DeadlineLog {
  std::vector<TimeUs> fired;  // engine time of each call
  std::vector<TimeUs> deadline_seen;
  OnDeadline action = OnDeadline::kNothing;
  TimeUs later = 0;
};
DeadlineLog* g_log = nullptr;

void on_deadline(Connection& c) {
  g_log->fired.push_back(c.now());
  g_log->deadline_seen.push_back(c.deadline());
  switch (g_log->action) {
    case OnDeadline::kNothing:
      break;
    case OnDeadline::kAbort:
      c.abort();
      break;
    case OnDeadline::kClose:
      c.close();
      break;
    case OnDeadline::kRearmNow:
      c.set_deadline(c.now());
      break;
    case OnDeadline::kRearmLater:
      c.set_deadline(c.now() + g_log->later);
      break;
  }
}

class AppDeadline : public ::testing::Test {
 protected:
  void SetUp() override {
    g_log = &log;
    h.handlers.on_deadline = on_deadline;
    h.listen();
    c = h.open();
    ASSERT_NE(c, nullptr);
    h.take();
    p = h.peer_nxt;
    u = h.our_nxt;
    ASSERT_FALSE(h.tcb(c).timer.armed());  // an idle connection has no timer
  }
  void TearDown() override { g_log = nullptr; }

  DeadlineLog log;
  Harness h;
  Connection* c = nullptr;
  std::uint32_t p = 0;
  std::uint32_t u = 0;
};

TEST_F(AppDeadline, FiresAtTheDeadlineNeverBeforeAndOnce) {
  const TimeUs at = h.now + 5 * kUsPerMs;  // on a tick boundary (1 ms)
  EXPECT_EQ(c->deadline(), kNever);
  c->set_deadline(at);
  EXPECT_EQ(c->deadline(), at);
  EXPECT_EQ(h.stack->next_expiry(), at);
  h.advance_to(at - 1);
  EXPECT_TRUE(log.fired.empty());
  h.advance_to(at);
  ASSERT_EQ(log.fired.size(), 1u);
  EXPECT_EQ(log.fired[0], at);
  EXPECT_EQ(log.deadline_seen[0], kNever);  // cleared before the call
  h.expect_none();                          // a deadline by itself sends nothing
  EXPECT_FALSE(h.tcb(c).timer.armed());
  h.advance(60 * kUsPerSec);
  EXPECT_EQ(log.fired.size(), 1u);
  EXPECT_EQ(c->state(), State::kEstablished);
  EXPECT_TRUE(h.app.closed.empty());
}

TEST_F(AppDeadline, BetweenTicksFiresAtTheNextTickNotBefore) {
  const TimeUs at = h.now + 4 * kUsPerMs + 500;
  c->set_deadline(at);
  h.advance_to(at - 1);
  h.advance_to(at);  // due, but the wheel's tick (1 ms) ends at at + 500
  h.advance_to(at + 499);
  EXPECT_TRUE(log.fired.empty());
  h.advance_to(at + 500);
  ASSERT_EQ(log.fired.size(), 1u);
  EXPECT_GE(log.fired[0], at);
}

TEST_F(AppDeadline, CancelledDeadlineNeverFiresAndFreesTheSlot) {
  c->set_deadline(h.now + 10 * kUsPerMs);
  EXPECT_TRUE(h.tcb(c).timer.armed());
  c->set_deadline(kNever);
  EXPECT_EQ(c->deadline(), kNever);
  EXPECT_FALSE(h.tcb(c).timer.armed());
  EXPECT_EQ(h.stack->next_expiry(), kNever);
  h.advance(60 * kUsPerSec);
  EXPECT_TRUE(log.fired.empty());
  h.expect_none();
}

TEST_F(AppDeadline, RearmEarlierFiresAtTheEarlierTimeOnly) {
  const TimeUs t0 = h.now;
  c->set_deadline(t0 + 100 * kUsPerMs);
  c->set_deadline(t0 + 20 * kUsPerMs);
  h.advance_to(t0 + 19 * kUsPerMs);
  EXPECT_TRUE(log.fired.empty());
  h.advance_to(t0 + 20 * kUsPerMs);
  ASSERT_EQ(log.fired.size(), 1u);
  h.advance_to(t0 + 200 * kUsPerMs);
  EXPECT_EQ(log.fired.size(), 1u);  // the replaced deadline is gone
}

TEST_F(AppDeadline, RearmLaterDoesNotFireAtTheEarlierTime) {
  const TimeUs t0 = h.now;
  c->set_deadline(t0 + 20 * kUsPerMs);
  h.advance_to(t0 + 10 * kUsPerMs);
  c->set_deadline(t0 + 100 * kUsPerMs);
  h.advance_to(t0 + 99 * kUsPerMs);
  EXPECT_TRUE(log.fired.empty());
  h.advance_to(t0 + 100 * kUsPerMs);
  ASSERT_EQ(log.fired.size(), 1u);
  EXPECT_EQ(log.fired[0], t0 + 100 * kUsPerMs);
}

TEST_F(AppDeadline, RearmInsideTheCallbackFiresAgainLater) {
  log.action = OnDeadline::kRearmLater;
  log.later = 30 * kUsPerMs;
  const TimeUs t0 = h.now;
  c->set_deadline(t0 + 10 * kUsPerMs);
  h.advance_to(t0 + 10 * kUsPerMs);
  h.advance_to(t0 + 39 * kUsPerMs);
  ASSERT_EQ(log.fired.size(), 1u);
  h.advance_to(t0 + 40 * kUsPerMs);
  ASSERT_EQ(log.fired.size(), 2u);
  EXPECT_EQ(log.fired[1], t0 + 40 * kUsPerMs);
  h.expect_none();
}

TEST_F(AppDeadline, RearmAtNowInsideTheCallbackWaitsForTheNextPoll) {
  // A deadline not after now fires on the NEXT poll: never a loop inside one.
  log.action = OnDeadline::kRearmNow;
  const TimeUs at = h.now + 10 * kUsPerMs;
  c->set_deadline(at);
  h.advance_to(at);
  EXPECT_EQ(log.fired.size(), 1u);
  h.advance_to(at);
  EXPECT_EQ(log.fired.size(), 2u);
  log.action = OnDeadline::kNothing;
  h.advance_to(at);
  EXPECT_EQ(log.fired.size(), 3u);
  h.advance(kUsPerSec);
  EXPECT_EQ(log.fired.size(), 3u);
}

TEST_F(AppDeadline, SharesTheSlotWithTheRtoBeforeIt) {
  // Data in flight arms the RTO (rto_min after the handshake's sample); a
  // deadline half-way pulls the slot earlier, fires alone (no
  // retransmission), and the slot goes back to the RTO, which fires at its
  // own time without a second call.
  const TimeUs t0 = h.now;
  ASSERT_EQ(c->send("hello", 5), 5u);
  Out d = h.take_one();
  EXPECT_EQ(d.payload, "hello");
  const TimeUs rto_at = h.tcb(c).rtx_at;
  ASSERT_EQ(rto_at, t0 + h.cfg.rto_min);
  const TimeUs at = t0 + h.cfg.rto_min / 2;
  c->set_deadline(at);
  EXPECT_EQ(h.tcb(c).timer.deadline, at);
  h.advance_to(at);
  EXPECT_EQ(log.fired.size(), 1u);
  h.expect_none();
  EXPECT_EQ(h.tcb(c).timer.deadline, rto_at);
  h.advance_to(rto_at - 1);
  h.expect_none();
  h.advance_to(rto_at);
  Out r = h.take_one();  // RFC 6298 (5.4): the retransmission
  EXPECT_EQ(r.payload, "hello");
  EXPECT_EQ(r.seg.seq, u);
  EXPECT_EQ(log.fired.size(), 1u);
}

TEST_F(AppDeadline, ADeadlineAfterTheRtoWaitsForItsOwnTime) {
  ASSERT_EQ(c->send("hello", 5), 5u);
  h.take();
  const TimeUs rto_at = h.tcb(c).rtx_at;
  const TimeUs at = rto_at + 100 * kUsPerMs;
  c->set_deadline(at);
  EXPECT_EQ(h.tcb(c).timer.deadline, rto_at);  // the RTO is earlier
  h.advance_to(rto_at);
  Out r = h.take_one();
  EXPECT_EQ(r.payload, "hello");
  EXPECT_TRUE(log.fired.empty());
  EXPECT_EQ(h.tcb(c).timer.deadline, at);  // the backed-off RTO is later
  h.advance_to(at - 1);
  EXPECT_TRUE(log.fired.empty());
  h.advance_to(at);
  EXPECT_EQ(log.fired.size(), 1u);
  h.expect_none();
}

TEST_F(AppDeadline, SameTimeAsTheDelayedAckBothRunAckFirst) {
  // One byte from the peer: an ACK is owed, delayed (RFC 1122 §4.2.3.2).
  h.in(kAck, p, u, "x");
  h.expect_none();
  const TimeUs ack_at = h.tcb(c).delack_at;
  ASSERT_NE(ack_at, kNever);
  log.action = OnDeadline::kAbort;
  c->set_deadline(ack_at);
  h.advance_to(ack_at);
  // The engine's timers run first: the delayed ACK, then on_deadline's RST.
  auto v = h.take();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].flags(), kAck);
  EXPECT_EQ(v[0].seg.ack, p + 1);
  EXPECT_EQ(v[1].flags() & kRst, kRst);
  EXPECT_EQ(v[1].seg.seq, u);
  EXPECT_EQ(log.fired.size(), 1u);
}

TEST_F(AppDeadline, AbortInsideTheCallbackSendsOneRstAndCloses) {
  log.action = OnDeadline::kAbort;
  const TimeUs at = h.now + 50 * kUsPerMs;
  c->set_deadline(at);
  h.advance_to(at);
  Out r = h.take_one();
  EXPECT_EQ(r.flags() & kRst, kRst);  // RFC 9293 §3.10.5 ABORT
  EXPECT_EQ(r.seg.seq, u);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
  EXPECT_EQ(h.stack->connection_count(), 0u);
  EXPECT_EQ(h.gauge(State::kEstablished), 0);
  h.advance(60 * kUsPerSec);
  h.expect_none();
  EXPECT_EQ(log.fired.size(), 1u);
}

TEST_F(AppDeadline, FiresAfterCloseUntilOnClosedSoASendTimeoutCanAbort) {
  // close() with data unacknowledged: FIN-WAIT-1, the application still owns
  // the connection until on_closed, so its deadline may still end it.
  ASSERT_EQ(c->send("hello", 5), 5u);
  c->close();
  auto v = h.take();
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(c->state(), State::kFinWait1);
  log.action = OnDeadline::kAbort;
  const TimeUs at = h.now + h.cfg.rto_min / 2;  // before the RTO
  c->set_deadline(at);
  h.advance_to(at);
  Out r = h.take_one();
  EXPECT_EQ(r.flags() & kRst, kRst);
  EXPECT_EQ(r.seg.seq, u + 5 + 1);  // after the data and the FIN sent
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
  EXPECT_EQ(h.stack->connection_count(), 0u);
}

TEST_F(AppDeadline, ConnectionResetFirstNeverFires) {
  c->set_deadline(h.now + kUsPerSec);
  h.in(kRst, p, 0);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kReset);
  h.advance(10 * kUsPerSec);
  EXPECT_TRUE(log.fired.empty());
  h.expect_none();
}

TEST_F(AppDeadline, ConnectionEndingInTimeWaitNeverFires) {
  c->set_deadline(h.now + 5 * kUsPerSec);
  c->close();
  h.take();
  h.in(kAck, p, u + 1);         // FIN-WAIT-2
  h.in(kAck | kFin, p, u + 1);  // TIME-WAIT: on_closed(kNormal)
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kNormal);
  h.take();
  h.advance(10 * kUsPerSec);
  EXPECT_TRUE(log.fired.empty());
  h.expect_none();
  EXPECT_EQ(h.stack->time_wait_count(), 1u);
}

TEST_F(AppDeadline, CloseInsideTheCallbackSendsFin) {
  log.action = OnDeadline::kClose;
  const TimeUs at = h.now + 10 * kUsPerMs;
  c->set_deadline(at);
  h.advance_to(at);
  Out f = h.take_one();
  EXPECT_EQ(f.flags(), kAck | kFin);
  EXPECT_EQ(f.seg.seq, u);
  EXPECT_EQ(c->state(), State::kFinWait1);
  EXPECT_TRUE(h.app.closed.empty());
}

TEST_F(AppDeadline, AbortOfAZeroWindowReaderSendsTheRstAtTheWindowEdge) {
  // A reader that stopped reading: window 0, our zero-window probe octet
  // went past it (SND.MAX = SND.UNA + 1). The RST must carry a sequence
  // number the peer accepts (RFC 5961 §3: exactly its RCV.NXT, here SND.UNA),
  // not SND.MAX, or the peer ignores it and keeps the connection.
  h.in(kAck, p, u, "", 0);
  ASSERT_EQ(c->send("abc", 3), 3u);
  h.expect_none();
  h.advance(h.tcb(c).rtt.rto());
  Out probe = h.take_one();
  ASSERT_EQ(probe.payload, "a");
  h.in(kAck, p, u, "", 0);  // probe not taken
  ASSERT_EQ(h.tcb(c).snd_max, u + 1);
  log.action = OnDeadline::kAbort;
  c->set_deadline(h.now + kUsPerMs);
  h.advance(kUsPerMs);
  Out r = h.take_one();
  EXPECT_EQ(r.flags(), kRst | kAck);
  EXPECT_EQ(r.seg.seq, u);
  EXPECT_EQ(r.seg.ack, p);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
}

TEST_F(AppDeadline, StackNowIsTheLatestCallsTime) {
  h.advance(1234);
  EXPECT_EQ(h.stack->now(), h.now);
  EXPECT_EQ(c->now(), h.now);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
