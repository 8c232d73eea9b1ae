// shardtcp-httpd's HttpServer on a real tcp::Stack (the engine harness:
// virtual clock, the client's segments synthesized, the server's read back):
// the behaviour that needs the engine, receive flow control with pipelined
// requests and closing while requests are still held.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine_harness.h"
#include "http_parser.h"
#include "http_server.h"

namespace shardtcp::app {
namespace {

using tcp::kAck;
using tcp::kFin;
using tcp::kRst;
using tcp::kSyn;
using tcp::testing::Harness;

tcp::TcpConfig small_buffers() {
  tcp::TcpConfig c = Harness::default_config();
  c.rcv_buf = 8192;
  c.snd_buf = 8192;
  return c;
}

// One client connection to the server's port 80, driven segment by segment.
class HttpOverStack : public ::testing::Test {
 protected:
  HttpOverStack() : HttpOverStack(HttpTimeouts{}) {}
  explicit HttpOverStack(const HttpTimeouts& t) : server_(false, t), h_(small_buffers()) {
    EXPECT_TRUE(h_.stack->listen(tcp::testing::kPort, HttpServer::handlers(), &server_));
  }
  ~HttpOverStack() override { server_.teardown(); }

  // A client segment at our next sequence number, acknowledging all we read.
  void in(std::uint8_t flags, const std::string& data = "", std::uint16_t window = 65535) {
    h_.in(flags, snd_nxt_, rcv_nxt_, data, window,
          flags & kSyn ? Harness::mss_only() : tcp::TcpOptions{});
    snd_nxt_ += static_cast<std::uint32_t>(data.size()) + ((flags & kSyn) ? 1u : 0u);
    collect();
  }
  void advance(tcp::TimeUs dt) {
    h_.advance(dt);
    collect();
  }
  // Reads the server's segments: new payload into rx_, FIN and RST noted.
  void collect() {
    for (const tcp::testing::Out& o : h_.take()) {
      const std::uint8_t f = o.flags();
      if (f & kRst) ++rsts_;
      if (!(f & (kSyn | kRst))) min_window_ = std::min<int>(min_window_, o.seg.window);
      if (f & kSyn) rcv_nxt_ = o.seg.seq + 1;
      // New bytes at RCV.NXT (a window probe may have sent the first one).
      const auto len = static_cast<std::uint32_t>(o.payload.size());
      const std::uint32_t skip = rcv_nxt_ - o.seg.seq;
      if (len > 0 && skip < len) {
        rx_ += o.payload.substr(skip);
        rcv_nxt_ += len - skip;
      }
      if ((f & kFin) && o.seg.seq + len == rcv_nxt_) {
        fin_ = true;
        rcv_nxt_ += 1;
      }
    }
  }
  void open() {
    in(kSyn);
    in(kAck);
  }
  // ACKs everything until the server sends nothing more (bounded).
  void read_all() {
    for (int i = 0; i < 10000; ++i) {
      const std::size_t before = rx_.size();
      const bool fin_before = fin_;
      in(kAck);
      if (rx_.size() == before && fin_ == fin_before) break;
    }
  }
  static int count(const std::string& s, const std::string& what) {
    int n = 0;
    for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
  }

  HttpServer server_;
  Harness h_;
  std::uint32_t snd_nxt_ = 0xFFFFF000u;  // crosses 2^32
  std::uint32_t rcv_nxt_ = 0;
  std::string rx_;
  bool fin_ = false;
  int rsts_ = 0;
  int min_window_ = 65535;  // smallest window the server advertised
};

TEST_F(HttpOverStack, PipelinedRequestsBeyondTheWindowAreHeldBackNotAborted) {
  open();
  // A large response first: it fills the 8 KB send buffer, so the server
  // pauses reading and the requests behind it wait in the engine.
  in(kAck, "GET /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n", 0);  // client window 0: nothing moves
  const std::string req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  std::string more;
  for (int i = 0; i < 250; ++i) more += req;  // 6.75 KB, inside the 8 KB window
  in(kAck, more, 0);
  advance(500 * tcp::kUsPerMs);  // the delayed ACK (and a window probe)
  EXPECT_EQ(rsts_, 0);
  // The server did not read them: they count against its 8 KB window.
  EXPECT_LE(min_window_, 8192 - static_cast<int>(more.size()));
  read_all();
  EXPECT_EQ(count(rx_, "HTTP/1.1 200 OK"), 251);
  EXPECT_EQ(rsts_, 0);
  EXPECT_FALSE(fin_);
}

TEST_F(HttpOverStack, ConnectionCloseWithRequestsStillHeldEndsWithFinNotRst) {
  // While a response is blocked, the client pipelines a `Connection: close`
  // request and more than a page of further requests behind it. When the
  // server reads again, the close request arrives in the first piece and
  // the rest is still held: the server must read (and ignore) the rest
  // and close with FIN after its response, not RST (closing with unread
  // data would reset and lose the response).
  open();
  in(kAck, "GET /bytes/20000 HTTP/1.1\r\nHost: t\r\n\r\n", 0);
  std::string rest = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 150; ++i) rest += "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  in(kAck, rest, 0);
  read_all();
  EXPECT_EQ(rsts_, 0);
  EXPECT_TRUE(fin_);
  EXPECT_EQ(count(rx_, "HTTP/1.1 200 OK"), 2);  // the /bytes response and the close one
  EXPECT_GT(rx_.size(), 20000u);
}

// --- bare LF (RFC 9112 §2.2) ------------------------------------------------------

TEST_F(HttpOverStack, BareLfRequestsPipelinedAndMixedAreAllAnswered) {
  open();
  in(kAck,
     "GET / HTTP/1.1\nHost: t\n\n"
     "GET /bytes/3 HTTP/1.1\r\nHost: t\n\r\n"
     "GET /bytes/4 HTTP/1.1\nHost: t\r\n\n"
     "GET / HTTP/1.1\nHost: t\nConnection: close\n\n");
  read_all();
  EXPECT_EQ(count(rx_, "HTTP/1.1 200 OK"), 4);
  EXPECT_NE(rx_.find("\r\n\r\nabc"), std::string::npos);
  EXPECT_NE(rx_.find("\r\n\r\nabcd"), std::string::npos);
  EXPECT_TRUE(fin_);  // the last one asked to close
  EXPECT_EQ(rsts_, 0);
}

TEST_F(HttpOverStack, TooLargeHeadGets431AndFin) {
  open();
  std::string head = "GET / HTTP/1.1\r\nX: ";
  head += std::string(kMaxRequestHead, 'x');
  for (std::size_t off = 0; off < head.size() && !fin_; off += 1000)
    in(kAck, head.substr(off, 1000));
  read_all();
  EXPECT_EQ(rx_.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u);
  EXPECT_NE(rx_.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(fin_);
  EXPECT_EQ(rsts_, 0);
}

// --- timeouts (virtual clock; short values so each phase is distinct) ---------------

constexpr tcp::TimeUs kSec = tcp::kUsPerSec;
constexpr tcp::TimeUs kMs = tcp::kUsPerMs;

HttpTimeouts short_timeouts() {
  HttpTimeouts t;
  t.header = 2 * kSec;
  t.keepalive = 3 * kSec;
  t.send = 4 * kSec;
  return t;
}

class HttpTimeoutsTest : public HttpOverStack {
 protected:
  HttpTimeoutsTest() : HttpOverStack(short_timeouts()) {}
  std::uint64_t timeouts(HttpTimeout k) const { return server_.timeout_count(k).get(); }
  void expect_counts(std::uint64_t header, std::uint64_t keepalive, std::uint64_t send) const {
    EXPECT_EQ(timeouts(HttpTimeout::kHeader), header);
    EXPECT_EQ(timeouts(HttpTimeout::kKeepalive), keepalive);
    EXPECT_EQ(timeouts(HttpTimeout::kSend), send);
  }
};

TEST_F(HttpTimeoutsTest, SilentConnectionClosedWithFinAfterTheHeaderTimeout) {
  open();
  advance(2 * kSec - kMs);
  EXPECT_FALSE(fin_);
  expect_counts(0, 0, 0);
  advance(kMs);
  EXPECT_TRUE(fin_);  // FIN, no response (nginx: 408 logged, not sent)
  EXPECT_TRUE(rx_.empty());
  EXPECT_EQ(rsts_, 0);
  expect_counts(1, 0, 0);
  // The client closes too: the connection ends normally.
  in(kAck | kFin);
  EXPECT_EQ(h_.stack->connection_count(), 0u);
}

TEST_F(HttpTimeoutsTest, DribbledHeadIsNotGivenMoreTimeByEachByte) {
  open();
  const std::string head = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  // One byte every 250 ms: 8 bytes in the 2 s; the deadline stays where
  // accept put it.
  std::size_t sent = 0;
  for (; sent < head.size() && !fin_; ++sent) {
    in(kAck, head.substr(sent, 1));
    advance(250 * kMs);
  }
  EXPECT_TRUE(fin_);
  EXPECT_EQ(sent, 8u);
  EXPECT_TRUE(rx_.empty());
  EXPECT_EQ(rsts_, 0);
  expect_counts(1, 0, 0);
}

TEST_F(HttpTimeoutsTest, AnsweredConnectionClosedAfterTheKeepaliveTimeout) {
  open();
  advance(1500 * kMs);
  in(kAck, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  read_all();
  EXPECT_EQ(count(rx_, "HTTP/1.1 200 OK"), 1);
  // The header deadline (accept + 2 s) is gone; idle time counts from the
  // end of the response.
  advance(3 * kSec - kMs);
  EXPECT_FALSE(fin_);
  advance(kMs);
  EXPECT_TRUE(fin_);
  EXPECT_EQ(rsts_, 0);
  expect_counts(0, 1, 0);
}

TEST_F(HttpTimeoutsTest, ANewRequestOnAnIdleConnectionGetsTheHeaderTimeout) {
  open();
  in(kAck, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  read_all();
  advance(2500 * kMs);   // idle, under the 3 s keep-alive timeout
  in(kAck, "GET / HT");  // first bytes of the next head: header timeout from now
  advance(2 * kSec - kMs);
  EXPECT_FALSE(fin_);  // (the keep-alive deadline would have passed by now)
  advance(kMs);
  EXPECT_TRUE(fin_);
  EXPECT_EQ(count(rx_, "HTTP/1.1 200 OK"), 1);
  expect_counts(1, 0, 0);
}

TEST_F(HttpTimeoutsTest, ReaderThatNeverReadsIsAbortedWithRstAfterTheSendTimeout) {
  open();
  // Window 0 from the start: nothing of the response can move; the server
  // fills its 8 KB send buffer and waits (zero-window probes unanswered).
  in(kAck, "GET /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n", 0);
  advance(4 * kSec - kMs);
  EXPECT_EQ(rsts_, 0);
  EXPECT_FALSE(fin_);
  advance(kMs);
  EXPECT_EQ(rsts_, 1);
  EXPECT_FALSE(fin_);
  expect_counts(0, 0, 1);
  EXPECT_EQ(h_.stack->connection_count(), 0u);  // memory freed at once
}

TEST_F(HttpTimeoutsTest, SendProgressRestartsTheSendTimeout) {
  open();
  in(kAck, "GET /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n", 1000);
  // The client reads 1000 bytes every 3 s (< the 4 s send timeout): alive.
  tcp::TimeUs last_ack = h_.now;
  for (int i = 0; i < 4; ++i) {
    advance(3 * kSec);
    in(kAck, "", 1000);
    last_ack = h_.now;
  }
  EXPECT_EQ(rsts_, 0);
  EXPECT_GE(rx_.size(), 4000u);
  // Then it stops: the abort comes 4 s after the last progress.
  advance(last_ack + 4 * kSec - kMs - h_.now);
  EXPECT_EQ(rsts_, 0);
  advance(kMs);
  EXPECT_EQ(rsts_, 1);
  expect_counts(0, 0, 1);
}

TEST_F(HttpTimeoutsTest, ClosingResponseThatNeverDrainsIsAborted) {
  // The whole response fits the send buffer and the server closes (FIN
  // queued behind it), but the client's window stays 0: the send timeout
  // still ends the closing connection.
  open();
  in(kAck, "GET /bytes/5000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0);
  EXPECT_EQ(h_.stack->connection_count(), 1u);
  advance(4 * kSec - kMs);
  EXPECT_EQ(rsts_, 0);
  advance(kMs);
  EXPECT_EQ(rsts_, 1);
  expect_counts(0, 0, 1);
  EXPECT_EQ(h_.stack->connection_count(), 0u);
}

TEST_F(HttpOverStack, TimeoutsOfZeroNeverFire) {
  HttpServer never(false, HttpTimeouts{0, 0, 0});
  tcp::testing::Harness h(small_buffers());
  ASSERT_TRUE(h.stack->listen(tcp::testing::kPort, HttpServer::handlers(), &never));
  h.in(kSyn, 1000, 0, "", 65535, Harness::mss_only());
  const tcp::OutSegment sa = h.take_one().seg;
  h.in(kAck, 1001, sa.seq + 1);
  h.in(kAck, 1001, sa.seq + 1, "GET / HT");
  h.take();
  h.advance(24 * 3600 * kSec);
  for (const auto& o : h.take()) EXPECT_EQ(o.flags() & (kFin | kRst), 0);
  EXPECT_EQ(h.stack->connection_count(), 1u);
  never.teardown();
}

}  // namespace
}  // namespace shardtcp::app
