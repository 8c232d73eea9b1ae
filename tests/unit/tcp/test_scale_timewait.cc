// Issue 4, "done means": one core holds 1,000,000 TIME-WAIT entries (virtual
// clock) and expires them all on time. Driven through the public Stack API
// with synthesized segments: each connection is a passive open from its own
// 4-tuple in 198.19.0.0/16, we close first, the peer's FIN+ACK moves it to
// TIME-WAIT (RFC 9293 §3.10.7.4, FIN-WAIT-1/2 -> TIME-WAIT).
//
// Checked: never early (RFC 9293 §3.10.8: 2*MSL), gone by the first poll
// after 2*MSL + one tick, entries still answer until then, the TIME-WAIT
// gauge and counters track every step, and everything returns to zero.
//
// SHARDTCP_SCALE_TW_N overrides N (e.g. smaller under slow sanitizer runs);
// the normal run uses 1,000,000.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "shardtcp/tcp/stack.h"
#include "stack_driver.h"

namespace shardtcp::tcp {
namespace {

// N clients (198.19.0.0/16 x ports) of 198.18.0.1:80, ISNs across 2^32.
using stack_driver::kPort;
using stack_driver::kServerIp;
using stack_driver::peer_isn;
using stack_driver::tuple_of;
constexpr TimeUs kTick = 1 * kUsPerMs;  // the engine's timer resolution
constexpr TimeUs kT0 = 1000 * kUsPerSec;

std::uint64_t entries_wanted() {
  if (const char* s = std::getenv("SHARDTCP_SCALE_TW_N")) {
    const std::uint64_t n = std::strtoull(s, nullptr, 10);
    if (n > 0) return n;
  }
  return 1'000'000;
}

struct App {
  Connection* last = nullptr;
  std::uint64_t accepted = 0;
  std::uint64_t closed_normal = 0;
  std::uint64_t closed_other = 0;
};

void on_accept(Connection& c, void* user) {
  auto* app = static_cast<App*>(user);
  c.set_user(app);
  app->last = &c;
  ++app->accepted;
}
void on_closed(Connection& c, CloseReason r) {
  auto* app = static_cast<App*>(c.user());
  if (r == CloseReason::kNormal) {
    ++app->closed_normal;
  } else {
    ++app->closed_other;
  }
}

class ScaleTimeWait : public ::testing::Test {
 protected:
  // One Stack per test, with room for `tw_capacity` TIME-WAIT entries.
  void make(std::uint64_t tw_capacity) {
    cfg_.isn_secret[0] = 0xA11CE;
    cfg_.isn_secret[1] = 0xB0B;
    cfg_.msl = 30 * kUsPerSec;
    cfg_.time_wait_capacity = static_cast<std::uint32_t>(tw_capacity);
    stack_ = std::make_unique<Stack>(cfg_, ctr_, 0, kT0);
    Handlers h;
    h.on_accept = on_accept;
    h.on_closed = on_closed;
    ASSERT_TRUE(stack_->listen(kPort, h, &app_, kServerIp));
  }

  Segment seg(std::uint64_t i, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) const {
    return stack_driver::client_segment(tuple_of(i), flags, seq, ack, 65535);
  }

  // Exactly one segment came out; returns it and clears the output.
  bool take_one(OutSegment& o) { return stack_driver::take_one(*stack_, o); }

  // SYN, SYN-ACK, ACK, our close() -> FIN, peer FIN+ACK -> TIME-WAIT, our ACK.
  // Returns false on the first deviation (so a 1 M loop does not print 1 M
  // failures).
  bool to_time_wait(std::uint64_t i) {
    const std::uint32_t isn = peer_isn(i);
    OutSegment o;
    stack_->input(seg(i, kSyn, isn, 0), now_);
    if (!take_one(o) || o.flags != (kSyn | kAck) || o.ack != isn + 1) return false;
    app_.last = nullptr;
    stack_->input(seg(i, kAck, isn + 1, o.seq + 1), now_);
    if (!stack_->output().empty() || app_.last == nullptr) return false;
    Connection* c = app_.last;
    c->close();  // ESTABLISHED -> FIN-WAIT-1
    if (!take_one(o) || !(o.flags & kFin)) return false;
    stack_->input(seg(i, kFin | kAck, isn + 1, o.seq + 1), now_);  // -> TIME-WAIT
    if (!take_one(o) || o.flags != kAck || o.ack != isn + 2) return false;
    return true;
  }

  // An unacceptable ACK (seq beyond RCV.NXT): a TIME-WAIT entry answers with
  // an ACK (RFC 9293 §3.10.7.4 first check) and does not restart; without the
  // entry the listener answers RST (§3.10.7.2 second check).
  std::uint8_t probe(std::uint64_t i) {
    const std::uint32_t rcv_nxt = peer_isn(i) + 2;
    stack_->input(seg(i, kAck, rcv_nxt + 1000, 12345), now_);
    OutSegment o;
    return take_one(o) ? o.flags : std::uint8_t{0};
  }

  TcpConfig cfg_;
  TcpCounters ctr_;
  App app_;
  std::unique_ptr<Stack> stack_;
  TimeUs now_ = kT0;
};

TEST_F(ScaleTimeWait, MillionEntriesExpireOnTime) {
  const std::uint64_t n = entries_wanted();
  make(n);
  const TimeUs two_msl = 2 * cfg_.msl;
  // Entries are created 7 us apart (7 s of virtual time for 1 M), so their
  // expiries are spread over many wheel ticks and poll calls.
  constexpr TimeUs kStep = 7;
  for (std::uint64_t i = 0; i < n; ++i) {
    now_ = kT0 + i * kStep;
    ASSERT_TRUE(to_time_wait(i)) << "connection " << i;
    if (i % 4096 == 0) stack_->poll(now_);  // the loop polls; nothing is due yet
  }
  const auto tw = [&] { return ctr_.in(State::kTimeWait).get(); };
  ASSERT_EQ(stack_->time_wait_count(), n);
  ASSERT_EQ(tw(), static_cast<std::int64_t>(n));
  EXPECT_EQ(stack_->connection_count(), 0u);
  EXPECT_EQ(app_.accepted, n);
  EXPECT_EQ(app_.closed_normal, n);  // on_closed(kNormal) on entering TIME-WAIT
  EXPECT_EQ(app_.closed_other, 0u);
  EXPECT_EQ(ctr_.time_wait_recycled.get(), 0u);
  EXPECT_EQ(ctr_.time_wait_expired.get(), 0u);
  EXPECT_EQ(ctr_.in(State::kEstablished).get(), 0);
  EXPECT_EQ(ctr_.in(State::kFinWait1).get(), 0);
  EXPECT_EQ(ctr_.in(State::kFinWait2).get(), 0);

  // Sampled entries still answer as TIME-WAIT 1 us before their 2*MSL.
  const std::uint64_t sample = n > 1000 ? n / 1000 : 1;
  // Poll through the expiry window on an irregular grid (not tick aligned).
  const TimeUs first_expiry = kT0 + two_msl;
  const TimeUs last_expiry = kT0 + (n - 1) * kStep + two_msl;
  std::uint64_t next_probe = 0;
  for (TimeUs p = first_expiry - 3 * kTick; p <= last_expiry + 2 * kTick; p += 997) {
    // Probe sampled entries whose expiry falls just after this poll time.
    while (next_probe < n && kT0 + next_probe * kStep + two_msl <= p + 997) {
      const TimeUs expiry = kT0 + next_probe * kStep + two_msl;
      if (expiry - 1 > now_) {
        now_ = expiry - 1;
        stack_->poll(now_);
        ASSERT_EQ(probe(next_probe), kAck) << "entry " << next_probe << " gone before 2*MSL";
      }
      next_probe += sample;
    }
    now_ = std::max(now_, p);
    stack_->poll(now_);
    // No entry with expiry > now may be gone; every entry with
    // expiry + tick <= now must be gone.
    const std::uint64_t not_due =
        now_ < first_expiry ? n : n - std::min<std::uint64_t>(n, (now_ - first_expiry) / kStep + 1);
    const TimeUs late = now_ - kTick;
    const std::uint64_t must_be_gone =
        late < first_expiry ? 0 : std::min<std::uint64_t>(n, (late - first_expiry) / kStep + 1);
    const std::uint64_t left = stack_->time_wait_count();
    ASSERT_GE(left, not_due) << "early expiry at t=" << now_ - kT0;
    ASSERT_LE(left, n - must_be_gone) << "late expiry at t=" << now_ - kT0;
    ASSERT_EQ(tw(), static_cast<std::int64_t>(left));
    ASSERT_EQ(ctr_.time_wait_expired.get(), n - left);
  }
  // The first poll after the last 2*MSL + tick: all gone.
  now_ = last_expiry + kTick;
  stack_->poll(now_);
  EXPECT_EQ(stack_->time_wait_count(), 0u);
  EXPECT_EQ(tw(), 0);
  EXPECT_EQ(ctr_.time_wait_expired.get(), n);
  EXPECT_EQ(stack_->connection_count(), 0u);
  for (int s = 0; s < kNumStates; ++s) {
    const std::int64_t want = s == state_index(State::kListen) ? 1 : 0;
    EXPECT_EQ(ctr_.state[s].get(), want) << "state gauge " << s;
  }
  // A sampled tuple now reaches the listener: RST for the stray ACK.
  EXPECT_EQ(probe(0) & kRst, kRst) << "expired entry still answering";
  EXPECT_EQ(probe(n - 1) & kRst, kRst);
}

// Capacity reached: the oldest entry is recycled and counted, never more
// than `capacity` entries live, gauges exact (issue 4, compact TIME-WAIT).
TEST_F(ScaleTimeWait, CapacityRecyclesOldest) {
  constexpr std::uint64_t kCap = 1000;
  constexpr std::uint64_t kMore = 250;
  make(kCap);
  for (std::uint64_t i = 0; i < kCap + kMore; ++i) {
    now_ = kT0 + i;
    ASSERT_TRUE(to_time_wait(i)) << "connection " << i;
  }
  EXPECT_EQ(stack_->time_wait_count(), kCap);
  EXPECT_EQ(ctr_.in(State::kTimeWait).get(), static_cast<std::int64_t>(kCap));
  EXPECT_EQ(ctr_.time_wait_recycled.get(), kMore);
  EXPECT_EQ(probe(0) & kRst, kRst);  // recycled: the listener answers
  EXPECT_EQ(probe(kMore - 1) & kRst, kRst);
  EXPECT_EQ(probe(kMore), kAck);             // the oldest survivor
  EXPECT_EQ(probe(kCap + kMore - 1), kAck);  // the newest
  now_ += 2 * cfg_.msl + kTick;
  stack_->poll(now_);
  EXPECT_EQ(stack_->time_wait_count(), 0u);
  EXPECT_EQ(ctr_.in(State::kTimeWait).get(), 0);
  EXPECT_EQ(ctr_.time_wait_expired.get(), kCap);
}

}  // namespace
}  // namespace shardtcp::tcp
