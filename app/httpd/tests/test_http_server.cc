// shardtcp-httpd's HttpServer on a real tcp::Stack (the engine harness:
// virtual clock, the client's segments synthesized, the server's read back):
// the behaviour that needs the engine, receive flow control with pipelined
// requests and closing while requests are still held.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine_harness.h"
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
  HttpOverStack() : server_(false), h_(small_buffers()) {
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

}  // namespace
}  // namespace shardtcp::app
