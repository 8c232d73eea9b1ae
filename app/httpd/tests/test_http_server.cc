// shardtcp-httpd's HttpServer on a real tcp::Stack (virtual clock; the
// client's segments are synthesized here and the server's read back): the
// behaviour that needs the engine, receive flow control with pipelined
// requests and closing while requests are still held.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "http_server.h"
#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/stack.h"

namespace shardtcp::app {
namespace {

using tcp::kAck;
using tcp::kFin;
using tcp::kRst;
using tcp::kSyn;

constexpr tcp::Ipv4 kServerIp = 0xC6120001;  // 198.18.0.1
constexpr tcp::Ipv4 kClientIp = 0xC6120002;  // 198.18.0.2

tcp::TcpConfig small_buffers() {
  tcp::TcpConfig c;
  c.isn_secret[0] = 7;
  c.isn_secret[1] = 9;
  c.rcv_buf = 8192;
  c.snd_buf = 8192;
  return c;
}

// One client connection to the server's port 80, driven segment by segment.
class HttpOverStack : public ::testing::Test {
 protected:
  HttpOverStack() : server_(false), stack_(small_buffers(), counters_, 0, now_) {
    EXPECT_TRUE(stack_.listen(80, HttpServer::handlers(), &server_));
  }
  ~HttpOverStack() override { server_.teardown(); }

  void in(std::uint8_t flags, const std::string& data = "", std::uint16_t window = 65535) {
    tcp::Segment s;
    s.tuple = tuple_;
    s.seq = snd_nxt_;
    s.ack = rcv_nxt_;
    s.flags = flags;
    s.window = window;
    if (flags & kSyn) {
      s.opts.has_mss = true;
      s.opts.mss = 1460;
    }
    s.payload = reinterpret_cast<const std::uint8_t*>(data.data());
    s.payload_len = static_cast<std::uint32_t>(data.size());
    stack_.input(s, now_);
    snd_nxt_ += s.seg_len();
    collect();
  }
  // Reads the server's segments: payload into rx_, FIN and RST noted.
  void collect() {
    for (const tcp::OutSegment& o : stack_.output()) {
      if (o.flags & kRst) ++rsts_;
      if (!(o.flags & (kSyn | kRst))) min_window_ = std::min<int>(min_window_, o.window);
      if (o.flags & kSyn) rcv_nxt_ = o.seq + 1;
      // New bytes at RCV.NXT (a window probe may have sent the first one).
      const std::uint32_t skip = rcv_nxt_ - o.seq;
      if (o.payload_len > 0 && skip < o.payload_len) {
        std::string p(o.payload_len, '\0');
        tcp::copy_payload(o, reinterpret_cast<std::uint8_t*>(p.data()));
        rx_ += p.substr(skip);
        rcv_nxt_ += o.payload_len - skip;
      }
      if ((o.flags & kFin) && o.seq + o.payload_len == rcv_nxt_) {
        fin_ = true;
        rcv_nxt_ += 1;
      }
    }
    stack_.clear_output();
  }
  void advance(tcp::TimeUs dt) {
    now_ += dt;
    stack_.poll(now_);
    collect();
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
  tcp::TcpCounters counters_;
  tcp::TimeUs now_ = 1000 * tcp::kUsPerSec;
  tcp::Stack stack_;
  tcp::FourTuple tuple_{kServerIp, kClientIp, 80, 40000};
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
