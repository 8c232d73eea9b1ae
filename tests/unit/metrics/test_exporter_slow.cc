// The exporter under hostile or slow HTTP clients (issue 9, "monitoring
// blackout"): idle connections holding half a request line, clients that
// trickle a header a byte at a time, oversized requests, more connections
// than the exporter admits. A scrape must still be answered while they are
// held, and the server must close them itself. Real loopback sockets against
// the real exporter (no DPDK).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http_get.h"
#include "prom_text.h"
#include "shardtcp/dataplane/metrics.h"

namespace shardtcp::dataplane {
namespace {

using namespace std::chrono_literals;

// Bounds every wait below. Never a pass/fail criterion on its own: a test
// only fails on a timeout if the awaited behaviour never happened.
constexpr int kPatienceMs = 30'000;

// One client TCP connection to 127.0.0.1:port, closed on destruction.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool send_all(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // True if the server has closed the connection (EOF or RST) within
  // `wait_ms`; any bytes received on the way are appended to `got`.
  bool closed_by_server(int wait_ms, std::string* got = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(std::max<long long>(left, 0))) <= 0) return false;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      if (got) got->append(buf, static_cast<std::size_t>(n));
    }
  }
  // Reads one response: the head, and unless `head_only` (the answer to a
  // HEAD) Content-Length bytes of body. "" on EOF or timeout. Bytes after it
  // stay buffered for the next call (pipelined responses).
  std::string read_response(int wait_ms, bool head_only = false) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      const auto head_end = in_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t len = 0;
        const auto cl = in_.find("Content-Length: ");
        if (!head_only && cl != std::string::npos && cl < head_end) {
          len = std::stoul(in_.substr(cl + 16));
        }
        if (in_.size() >= head_end + 4 + len) {
          std::string r = in_.substr(0, head_end + 4 + len);
          in_.erase(0, r.size());
          return r;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(std::max<long long>(left, 0))) <= 0) return "";
      char buf[65536];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string in_;
};

struct Counters {
  tcp::TcpCounters tcp;
  DataplaneCounters dp;
};

std::unique_ptr<MetricsExporter> start_exporter(Counters& c, const config::MetricsConfig& base) {
  config::MetricsConfig cfg = base;
  cfg.listen = "127.0.0.1:0";
  auto e = std::make_unique<MetricsExporter>(cfg, std::vector<CoreSource>{{0, &c.tcp, &c.dp}},
                                             MetricsHooks{});
  e->start();
  return e;
}

// One scrape attempt with a short per-read timeout: true on a 200 that
// carries the connection-state gauge.
bool scrape_ok(const MetricsExporter& e) {
  try {
    const auto r = stat::http_get(stat::parse_url(e.url()), 2s);
    return r.status == 200 && r.body.find("shardtcp_tcp_connections{") != std::string::npos;
  } catch (const std::exception&) {
    return false;
  }
}

double metric(const MetricsExporter& e, const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels) {
  return stat::parse_text(e.render()).get(name, labels).value_or(-1);
}

// The open-connection gauge once it reads `want`, or its last value after
// kPatienceMs: a client's close reaches the server thread asynchronously.
double open_connections_settled(const MetricsExporter& e, double want) {
  double v = -1;
  for (int i = 0; i < kPatienceMs / 10; ++i) {
    v = metric(e, "shardtcp_metrics_http_connections", {});
    if (v == want) break;
    std::this_thread::sleep_for(10ms);
  }
  return v;
}

// Half a request line, as in the test: never completed.
const std::string kHalfRequest = "GET /metr";

// The old exporter (civetweb, 2 worker threads, no request timeout) served
// nothing while two such connections were open. 16 is more than any worker
// pool the exporter ever had; with a 60 s request timeout none of them is
// closed while the scrapes run, so a scrape can only succeed if the server
// serves it alongside them.
TEST(ExporterSlowClients, IdleHalfRequestsDoNotBlockAScrape) {
  Counters c;
  config::MetricsConfig cfg;
  cfg.request_timeout_ms = 60'000;
  auto e = start_exporter(c, cfg);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 16; ++i) {
    idle.push_back(std::make_unique<Client>(e->port()));
    ASSERT_TRUE(idle.back()->connected());
    ASSERT_TRUE(idle.back()->send_all(kHalfRequest));
  }
  // At most 3 attempts of 2 s each: a blocked exporter fails all of them.
  int ok_at = 0;
  for (int attempt = 1; attempt <= 3 && ok_at == 0; ++attempt) {
    if (scrape_ok(*e)) ok_at = attempt;
  }
  EXPECT_NE(ok_at, 0) << "no scrape answered while 16 half-requests were held";
  // And again: the exporter keeps serving, not just once.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(scrape_ok(*e)) << "scrape " << i;
  // The idle connections were still held (not closed to make room).
  for (auto& cl : idle) EXPECT_FALSE(cl->closed_by_server(0));
  EXPECT_EQ(open_connections_settled(*e, 16), 16);
}

// request_timeout_ms bounds the whole request head, not each read: idle
// clients and a client that trickles one byte every 100 ms are all closed by
// the server, and counted.
TEST(ExporterSlowClients, TheServerClosesIdleAndTricklingRequests) {
  Counters c;
  config::MetricsConfig cfg;
  cfg.request_timeout_ms = 500;
  auto e = start_exporter(c, cfg);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 16; ++i) {
    idle.push_back(std::make_unique<Client>(e->port()));
    ASSERT_TRUE(idle.back()->connected());
    ASSERT_TRUE(idle.back()->send_all(kHalfRequest));
  }
  Client silent(e->port());  // connects and never sends a byte
  ASSERT_TRUE(silent.connected());
  Client trickle(e->port());
  ASSERT_TRUE(trickle.connected());
  const std::string slow = "GET /metrics HTTP/1.1\r\nX-Padding: " + std::string(400, 'a');
  bool trickle_closed = false;
  for (std::size_t i = 0; i < slow.size() && !trickle_closed; ++i) {
    if (!trickle.send_all(slow.substr(i, 1))) {
      trickle_closed = true;
      break;
    }
    trickle_closed = trickle.closed_by_server(100);
  }
  EXPECT_TRUE(trickle_closed) << "a request trickled over 40 s was never cut off";
  for (std::size_t i = 0; i < idle.size(); ++i) {
    EXPECT_TRUE(idle[i]->closed_by_server(kPatienceMs)) << "idle connection " << i;
  }
  EXPECT_TRUE(silent.closed_by_server(kPatienceMs));
  // 16 + silent + trickle.
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_closed_total", {{"reason", "timeout"}}), 18);
  EXPECT_EQ(open_connections_settled(*e, 0), 0);
  EXPECT_TRUE(scrape_ok(*e));
}

// More connections than metrics.max_connections: the oldest connection still
// waiting for its request is closed to admit a new one, so a scraper always
// gets in, and the number held stays at the cap.
TEST(ExporterSlowClients, AtTheConnectionCapTheOldestWaitingIsClosed) {
  Counters c;
  config::MetricsConfig cfg;
  cfg.request_timeout_ms = 60'000;
  cfg.max_connections = 8;
  auto e = start_exporter(c, cfg);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(std::make_unique<Client>(e->port()));
    ASSERT_TRUE(idle.back()->connected());
    ASSERT_TRUE(idle.back()->send_all(kHalfRequest));
  }
  EXPECT_TRUE(scrape_ok(*e));
  // The first 13 (20 + the scrape - 8) were closed oldest first; the newest
  // 7 are still held. The server accepts in order, so this is exact.
  for (int i = 0; i < 13; ++i) EXPECT_TRUE(idle[i]->closed_by_server(kPatienceMs)) << i;
  for (int i = 13; i < 20; ++i) EXPECT_FALSE(idle[i]->closed_by_server(0)) << i;
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_closed_total", {{"reason", "evicted"}}), 13);
  EXPECT_LE(metric(*e, "shardtcp_metrics_http_connections", {}), 8);
}

// A client that pipelines requests and never reads its responses: once the
// socket buffers are full the response cannot be sent, and the exporter
// closes the connection at request_timeout_ms (the deadline covers taking the
// response too) instead of keeping it, and its memory, forever.
TEST(ExporterSlowClients, AClientThatNeverReadsIsClosed) {
  Counters c;
  config::MetricsConfig cfg;
  cfg.request_timeout_ms = 500;
  auto e = start_exporter(c, cfg);
  Client sink(e->port());
  ASSERT_TRUE(sink.connected());
  const int small = 4096;
  setsockopt(sink.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  // Non-blocking sends until the server stops reading (it does not read
  // while a response is pending), at most 64 MiB of requests.
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string batch;
  while (batch.size() < 64 * 1024) batch += req;
  std::size_t sent = 0;
  for (int i = 0; i < 1024; ++i) {
    const ssize_t n = ::send(sink.fd(), batch.data(), batch.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  EXPECT_GT(sent, 0u);
  double timeouts = 0;
  for (int i = 0; i < kPatienceMs / 10 && timeouts < 1; ++i) {
    timeouts = metric(*e, "shardtcp_metrics_http_closed_total", {{"reason", "timeout"}});
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(timeouts, 1);
  EXPECT_EQ(open_connections_settled(*e, 0), 0);
  // Responses were sent until the buffers filled: more than one, and fewer
  // than the requests sent (so the connection was closed while a response
  // was pending, not as an idle keep-alive).
  const double answered = metric(*e, "shardtcp_metrics_http_responses_total", {{"code", "200"}});
  EXPECT_GT(answered, 1);
  EXPECT_LT(answered, static_cast<double>(sent / req.size())) << sent << " bytes of requests";
  EXPECT_TRUE(scrape_ok(*e));
}

// A request head larger than metrics.max_request_bytes is answered 431 and
// closed; nothing beyond the limit is buffered.
TEST(ExporterSlowClients, OversizedRequestIsRefused) {
  Counters c;
  config::MetricsConfig cfg;
  cfg.max_request_bytes = 1024;
  auto e = start_exporter(c, cfg);
  Client big(e->port());
  ASSERT_TRUE(big.connected());
  big.send_all("GET /metrics HTTP/1.1\r\nX-Big: " + std::string(2000, 'b'));
  std::string got;
  EXPECT_TRUE(big.closed_by_server(kPatienceMs, &got));
  EXPECT_EQ(got.rfind("HTTP/1.1 431 ", 0), 0u) << got;
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_closed_total", {{"reason", "too_large"}}), 1);
  EXPECT_TRUE(scrape_ok(*e));
}

// HTTP/1.1 keep-alive and pipelining (RFC 9112 §9.3): two requests sent
// back to back on one connection get two responses in order; HEAD gets the
// head only; an unknown path 404, another method 405, garbage 400 + close.
TEST(ExporterSlowClients, KeepAlivePipeliningAndErrors) {
  Counters c;
  auto e = start_exporter(c, config::MetricsConfig{});
  Client k(e->port());
  ASSERT_TRUE(k.connected());
  ASSERT_TRUE(k.send_all(
      "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    const std::string r = k.read_response(kPatienceMs);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << i << ": " << r.substr(0, 200);
    EXPECT_NE(r.find("text/plain; version=0.0.4"), std::string::npos);
    EXPECT_NE(r.find("shardtcp_tcp_connections{"), std::string::npos);
  }
  ASSERT_TRUE(
      k.send_all("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string head = k.read_response(kPatienceMs, /*head_only=*/true);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Length: "), std::string::npos) << head;
  // No body after a HEAD's head: the next bytes are the 404.
  const std::string nf = k.read_response(kPatienceMs);
  EXPECT_EQ(nf.rfind("HTTP/1.1 404 ", 0), 0u) << nf;

  Client post(e->port());
  ASSERT_TRUE(post.send_all("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(post.read_response(kPatienceMs).rfind("HTTP/1.1 405 ", 0), 0u);

  Client junk(e->port());
  ASSERT_TRUE(junk.send_all("\x16\x03\x01 not http\r\n\r\n"));
  std::string got;
  EXPECT_TRUE(junk.closed_by_server(kPatienceMs, &got));
  EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;

  // HTTP/1.0 (shardtcp-stat's client): answered, then closed by the server.
  Client old(e->port());
  ASSERT_TRUE(old.send_all("GET /metrics HTTP/1.0\r\n\r\n"));
  got.clear();
  EXPECT_TRUE(old.closed_by_server(kPatienceMs, &got));
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got.substr(0, 200);
  // GET, GET, HEAD, HTTP/1.0 GET.
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_responses_total", {{"code", "200"}}), 4);
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_responses_total", {{"code", "404"}}), 1);
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_responses_total", {{"code", "405"}}), 1);
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_responses_total", {{"code", "400"}}), 1);
  EXPECT_EQ(metric(*e, "shardtcp_metrics_http_closed_total", {{"reason", "bad_request"}}), 1);
}

}  // namespace
}  // namespace shardtcp::dataplane
