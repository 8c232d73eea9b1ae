// shardtcp-echo's idle timeout on a real tcp::Stack (the engine harness:
// virtual clock, the client's segments synthesized, the server's read back).
#include <gtest/gtest.h>

#include <string>

#include "echo_server.h"
#include "engine_harness.h"

namespace shardtcp::app {
namespace {

using tcp::kAck;
using tcp::kFin;
using tcp::kRst;
using tcp::kSyn;
using tcp::testing::Harness;
constexpr tcp::TimeUs kSec = tcp::kUsPerSec;
constexpr tcp::TimeUs kMs = tcp::kUsPerMs;

class EchoIdle : public ::testing::Test {
 protected:
  EchoIdle() : server_(5 * kSec) {
    EXPECT_TRUE(h_.stack->listen(tcp::testing::kPort, EchoServer::handlers(), &server_));
    h_.in(kSyn, p_ - 1, 0, "", 65535, Harness::mss_only());
    const tcp::testing::Out sa = h_.take_one();
    u_ = sa.seg.seq + 1;
    h_.in(kAck, p_, u_);
  }
  ~EchoIdle() override { server_.teardown(); }
  // Client data at our next sequence number; returns what the server sent.
  std::vector<tcp::testing::Out> send(const std::string& d) {
    h_.in(kAck, p_, u_, d);
    p_ += static_cast<std::uint32_t>(d.size());
    auto v = h_.take();
    for (const auto& o : v) u_ += static_cast<std::uint32_t>(o.payload.size());
    return v;
  }
  static bool has(const std::vector<tcp::testing::Out>& v, std::uint8_t flag) {
    for (const auto& o : v) {
      if (o.flags() & flag) return true;
    }
    return false;
  }

  EchoServer server_;
  Harness h_;
  std::uint32_t p_ = 0xFFFFFFF0u;
  std::uint32_t u_ = 0;
};

TEST_F(EchoIdle, SilentConnectionClosedWithFinAfterTheIdleTimeout) {
  h_.advance(5 * kSec - kMs);
  EXPECT_TRUE(h_.take().empty());
  h_.advance(kMs);
  auto v = h_.take();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].flags(), kAck | kFin);
  EXPECT_EQ(server_.idle_timeouts().get(), 1u);
}

TEST_F(EchoIdle, TrafficMovesTheDeadline) {
  h_.advance(4 * kSec);
  auto v = send("ping");
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[0].payload, "ping");
  h_.in(kAck, p_, u_);  // our echo acknowledged
  h_.advance(kSec);     // the first deadline (accept + 5 s) finds activity
  EXPECT_FALSE(has(h_.take(), kFin));
  h_.advance(4 * kSec - kMs);  // 5 s after the last byte, less 1 ms
  EXPECT_FALSE(has(h_.take(), kFin));
  h_.advance(kMs);
  EXPECT_TRUE(has(h_.take(), kFin));
  EXPECT_EQ(server_.idle_timeouts().get(), 1u);
}

TEST_F(EchoIdle, CloseThatNeverCompletesIsAbortedOnePeriodLater) {
  // The client never acknowledges our FIN: one idle period later, RST.
  h_.advance(5 * kSec);
  ASSERT_TRUE(has(h_.take(), kFin));
  h_.advance(5 * kSec - kMs);
  EXPECT_FALSE(has(h_.take(), kRst));
  h_.advance(kMs);
  EXPECT_TRUE(has(h_.take(), kRst));
  EXPECT_EQ(h_.stack->connection_count(), 0u);
}

TEST(EchoIdleOff, ZeroNeverCloses) {
  EchoServer server(0);
  Harness h;
  ASSERT_TRUE(h.stack->listen(tcp::testing::kPort, EchoServer::handlers(), &server));
  h.in(kSyn, 100, 0, "", 65535, Harness::mss_only());
  const auto sa = h.take_one();
  h.in(kAck, 101, sa.seg.seq + 1);
  h.advance(24 * 3600 * kSec);
  for (const auto& o : h.take()) EXPECT_EQ(o.flags() & (kFin | kRst), 0);
  EXPECT_EQ(h.stack->connection_count(), 1u);
  server.teardown();
}

}  // namespace
}  // namespace shardtcp::app
