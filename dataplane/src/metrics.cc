// MetricsExporter: a small HTTP/1.1 server for /metrics on one poll() event
// loop thread that is not a dataplane lcore, serving the scrape-time
// Collector through prometheus-cpp's TextSerializer.
//
// Why not prometheus-cpp's Exposer (civetweb): civetweb gives each
// connection a worker thread until it closes. With its 2 default workers, two
// clients that send half a request line blocked every scrape indefinitely
// (issue 9). Its options only move the threshold: with num_threads = 8 and
// request_timeout_ms = 5000, 16 such clients that reconnect when cut off held
// every scrape for 5 to 10 s, longer than a Prometheus scrape timeout. Here a
// waiting connection costs a pollfd and a buffer, never a thread, so a scrape
// is served as soon as its request has arrived, whatever else is connected.
#include "shardtcp/dataplane/metrics.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <latch>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "metrics_collector.h"

namespace shardtcp::dataplane {

namespace {

using Clock = std::chrono::steady_clock;

// Connections the exporter closes before the client does, by reason (the
// `reason` label of shardtcp_metrics_http_closed_total).
enum class CloseReason : std::uint8_t {
  kTimeout,     // request head or response not done within request_timeout_ms
  kEvicted,     // oldest waiting connection, closed to admit a new one
  kRefused,     // new connection at the cap with nothing to evict
  kTooLarge,    // request head over max_request_bytes (after a 431)
  kBadRequest,  // unparsable request (after a 400)
  kCount
};
constexpr std::array<const char*, static_cast<std::size_t>(CloseReason::kCount)> kCloseReasonNames =
    {"timeout", "evicted", "refused", "too_large", "bad_request"};

// Status codes the exporter sends (the `code` label of
// shardtcp_metrics_http_requests_total).
constexpr std::array<int, 6> kCodes = {200, 400, 404, 405, 431, 500};

std::size_t code_index(int code) {
  for (std::size_t i = 0; i < kCodes.size(); ++i)
    if (kCodes[i] == code) return i;
  return kCodes.size() - 1;  // unreachable: every response uses one of kCodes
}

const char* reason_phrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Internal Server Error";
  }
}

// The thread calling start() is usually the EAL main lcore, pinned to a
// dataplane CPU, and a new thread inherits its affinity. So the server thread
// pins itself to every other online CPU: the exporter then never competes
// with a polling loop.
void pin_away_from(const std::vector<unsigned>& avoid) {
  if (avoid.empty()) return;
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  CPU_ZERO(&set);
  int count = 0;
  for (long cpu = 0; cpu < n && cpu < CPU_SETSIZE; ++cpu) {
    if (std::find(avoid.begin(), avoid.end(), static_cast<unsigned>(cpu)) != avoid.end()) continue;
    CPU_SET(static_cast<std::size_t>(cpu), &set);
    ++count;
  }
  // No spare CPU (or a cpuset that forbids them): keep the caller's affinity.
  if (count != 0) pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// Binds and listens on cfg.listen ("host:port"; names resolved once here).
// Returns the socket (non-blocking) and sets *host_for_url to the numeric
// host ("[::1]" for IPv6). Throws a one-line std::runtime_error.
int open_listener(const std::string& spec, std::string* host_for_url) {
  const auto hp = config::parse_host_port(spec);
  if (!hp) {
    throw std::runtime_error(
        "metrics.listen: expected \"host:port\" like \"127.0.0.1:9100\" (got \"" + spec + "\")");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp->port);
  const int rc = getaddrinfo(hp->host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    throw std::runtime_error("metrics.listen: cannot resolve \"" + hp->host + "\" (" +
                             gai_strerror(rc) + ")");
  }
  char buf[NI_MAXHOST];
  if (getnameinfo(res->ai_addr, res->ai_addrlen, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST) !=
      0) {
    freeaddrinfo(res);
    throw std::runtime_error("metrics.listen: cannot resolve \"" + hp->host + "\"");
  }
  *host_for_url = res->ai_family == AF_INET6 ? "[" + std::string(buf) + "]" : std::string(buf);
  std::string reason;
  const int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    reason = std::strerror(errno);
  } else {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      reason = std::strerror(errno);
      close(fd);
    }
  }
  freeaddrinfo(res);
  if (!reason.empty()) {
    throw std::runtime_error("metrics.listen: cannot listen on " + spec + " (" + reason + ")");
  }
  return fd;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Does a comma-separated header value (Connection) contain `token`?
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// End of a request head: just past the empty line. RFC 9112 §2.2 lets a
// recipient accept a bare LF as a line terminator, so "\n\n" ends a head as
// well as "\r\n\r\n". npos while incomplete.
std::size_t head_end(std::string_view in) {
  std::size_t pos = 0;
  while ((pos = in.find('\n', pos)) != std::string_view::npos) {
    ++pos;
    if (pos < in.size() && in[pos] == '\n') return pos + 1;
    if (pos + 1 < in.size() && in[pos] == '\r' && in[pos + 1] == '\n') return pos + 2;
  }
  return std::string_view::npos;
}

// What the exporter does with one request head.
struct Request {
  int code = 400;
  bool head_only = false;  // HEAD: headers without the body
  bool close = true;       // Connection: close after the response
};

// RFC 9112: request-line = method SP request-target SP HTTP-version; header
// fields name ":" OWS value OWS. Bodies are not accepted (nothing here takes
// one), so a request announcing one is a 400 and the connection closes: its
// body would otherwise be read as the next request.
Request parse_request(std::string_view head) {
  Request r;
  const auto line_end = head.find('\n');
  std::string_view line = head.substr(0, line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return r;
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || target.empty()) return r;
  const bool http11 = version == "HTTP/1.1";
  if (!http11 && version != "HTTP/1.0") return r;
  bool host = false, close = !http11;  // HTTP/1.0: no persistent connection
  std::string_view rest = head.substr(line_end + 1);
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    std::string_view field = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
    if (field.empty()) break;  // the empty line ending the head
    // Obsolete line folding (RFC 9112 §5.2) and fields without a name: 400.
    const auto colon = field.find(':');
    if (field.front() == ' ' || field.front() == '\t' || colon == 0 ||
        colon == std::string_view::npos) {
      return r;
    }
    const std::string_view name = field.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) return r;  // RFC 9112 §5.1
    const std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "host")) {
      if (host) return r;  // RFC 9112 §3.2: more than one Host is a 400
      host = true;
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) close = true;
    } else if (iequals(name, "transfer-encoding")) {
      return r;
    } else if (iequals(name, "content-length")) {
      if (value.empty() || value.find_first_not_of('0') != std::string_view::npos) return r;
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400.
  if (http11 && !host) return r;
  r.close = close;
  // Absolute form (RFC 9112 §3.2.2): "http://host:port/metrics".
  if (target.size() > 7 && iequals(target.substr(0, 7), "http://")) {
    const auto slash = target.find('/', 7);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const std::string_view path = target.substr(0, target.find('?'));
  if (method != "GET" && method != "HEAD") {
    r.code = 405;
  } else {
    r.code = path == "/metrics" ? 200 : 404;
    r.head_only = method == "HEAD";
  }
  return r;
}

}  // namespace

// Exporter HTTP statistics; the server thread writes, render() reads.
struct MetricsExporter::HttpStats {
  std::atomic<std::uint64_t> open{0};
  std::atomic<std::uint64_t> accepted{0};
  std::array<std::atomic<std::uint64_t>, kCodes.size()> responses{};
  std::array<std::atomic<std::uint64_t>, kCloseReasonNames.size()> closed{};

  void count(CloseReason r) { closed[static_cast<std::size_t>(r)].fetch_add(1); }
};

// The event loop. One thread; every socket is non-blocking; a connection is
// in one of three phases:
//   reading:   waiting for a complete request head (deadline: a whole head
//              within request_timeout_ms of connect or of the previous
//              response, however the bytes trickle in);
//   writing:   sending a response (deadline: request_timeout_ms); no reads;
//   lingering: response sent with Connection: close, our FIN sent; reads and
//              discards until the client's FIN so that a close() with unread
//              bytes cannot reset the response away (RFC 9112 §9.6).
// Memory is bounded: max_connections x (max_request_bytes + one response).
class MetricsExporter::HttpServer {
 public:
  HttpServer(const MetricsExporter& owner, int listen_fd)
      : owner_(owner),
        stats_(*owner.http_stats_),
        cfg_(owner.cfg_),
        timeout_(std::chrono::milliseconds(std::max<std::uint32_t>(1, cfg_.request_timeout_ms))),
        listen_fd_(listen_fd) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      const std::string err = std::strerror(errno);
      close(listen_fd_);
      throw std::runtime_error("metrics: eventfd: " + err);
    }
    conns_.reserve(std::max<std::uint32_t>(1, cfg_.max_connections));
    // start() returns once the thread is named and placed.
    std::latch placed(1);
    thread_ = std::thread([this, &placed, avoid = owner.collector_->hooks().avoid_cpus] {
      pin_away_from(avoid);
      pthread_setname_np(pthread_self(), "stcp-metrics");
      placed.count_down();
      run();
    });
    placed.wait();
  }

  ~HttpServer() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof(one));
    thread_.join();
    for (auto& c : conns_) close_conn(c, std::nullopt);
    close(wake_fd_);
    close(listen_fd_);
  }

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
    return 0;
  }

 private:
  enum class Phase : std::uint8_t { kReading, kWriting, kLingering };
  struct Conn {
    int fd = -1;
    Phase phase = Phase::kReading;
    bool close_after = false;
    bool ready = false;     // a buffered (pipelined) request may be complete
    std::uint64_t seq = 0;  // start order of the current wait: eviction order
    Clock::time_point deadline;
    std::string in;   // request bytes, at most max_request_bytes + 1
    std::string out;  // the response being sent
    std::size_t sent = 0;
  };

  void run() {
    std::vector<pollfd> pfds;
    Clock::time_point accept_paused_until{};
    for (;;) {
      pfds.clear();
      pfds.push_back({wake_fd_, POLLIN, 0});
      const bool accepting = Clock::now() >= accept_paused_until;
      pfds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});
      auto wait = std::chrono::milliseconds(1000);
      const auto now = Clock::now();
      for (const auto& c : conns_) {
        pfds.push_back(
            {c.fd, static_cast<short>(c.phase == Phase::kWriting ? POLLOUT : POLLIN), 0});
        if (c.ready) wait = std::chrono::milliseconds(0);
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(
            std::max(c.deadline - now, Clock::duration::zero()));
        wait = std::min(wait, left);
      }
      if (!accepting) wait = std::min(wait, std::chrono::milliseconds(100));
      if (poll(pfds.data(), pfds.size(), static_cast<int>(wait.count())) < 0 && errno != EINTR) {
        // Only EFAULT/EINVAL/ENOMEM: wait a little rather than spin.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (pfds[0].revents != 0) return;  // stop()
      // Connections first: a request that has arrived is answered before
      // this round's accepts can evict anything.
      for (std::size_t i = 0; i < conns_.size(); ++i) {
        Conn& c = conns_[i];
        const short ev = pfds[i + 2].revents;
        if (ev != 0) {
          if (c.phase == Phase::kWriting) {
            flush(c);
          } else if (c.phase == Phase::kLingering) {
            drain(c);
          } else {
            receive(c);
          }
        }
        // One request per connection per round: a client pipelining many
        // requests cannot starve the others.
        if (c.fd >= 0 && c.phase == Phase::kReading && (c.ready || ev != 0)) serve_one(c);
      }
      const auto after = Clock::now();
      for (auto& c : conns_) {
        if (c.fd < 0 || c.deadline > after) continue;
        close_conn(
            c, c.phase == Phase::kLingering ? std::nullopt : std::optional(CloseReason::kTimeout));
      }
      std::erase_if(conns_, [](const Conn& c) { return c.fd < 0; });
      if (accepting && (pfds[1].revents & POLLIN) != 0) {
        if (!accept_all()) accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
      }
    }
  }

  // Accepts what the backlog holds (bounded per round). False on EMFILE and
  // the like: the caller stops polling the listener for a while instead of
  // spinning on it.
  bool accept_all() {
    for (int i = 0; i < 256; ++i) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
      }
      stats_.accepted.fetch_add(1, std::memory_order_relaxed);
      if (conns_.size() >= cfg_.max_connections && !evict_one()) {
        close(fd);
        stats_.count(CloseReason::kRefused);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      Conn c;
      c.fd = fd;
      start_wait(c, Phase::kReading);
      conns_.push_back(std::move(c));
      stats_.open.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

  // Makes room for a new connection: a lingering one (its response is out)
  // or else the one that has waited longest for its request. A connection
  // sending a response is never evicted.
  bool evict_one() {
    Conn* victim = nullptr;
    for (auto& c : conns_) {
      if (c.fd < 0 || c.phase == Phase::kWriting) continue;
      if (c.phase == Phase::kLingering) {
        victim = &c;
        break;
      }
      if (victim == nullptr || c.seq < victim->seq) victim = &c;
    }
    if (victim == nullptr) return false;
    const bool lingering = victim->phase == Phase::kLingering;
    close_conn(*victim, lingering ? std::nullopt : std::optional(CloseReason::kEvicted));
    std::erase_if(conns_, [](const Conn& c) { return c.fd < 0; });
    return true;
  }

  void start_wait(Conn& c, Phase phase) {
    c.phase = phase;
    c.seq = ++seq_;
    c.deadline = Clock::now() + timeout_;
  }

  void close_conn(Conn& c, std::optional<CloseReason> why) {
    if (c.fd < 0) return;
    // Counted before the close a client can see.
    stats_.open.fetch_sub(1, std::memory_order_relaxed);
    if (why) stats_.count(*why);
    close(c.fd);
    c.fd = -1;
  }

  // Reads what has arrived, keeping at most max_request_bytes + 1 bytes (one
  // more than allowed is enough to know the head is too large).
  void receive(Conn& c) {
    const std::size_t cap = std::size_t{cfg_.max_request_bytes} + 1;
    char buf[4096];
    while (c.in.size() < cap) {
      const std::size_t want = std::min(sizeof(buf), cap - c.in.size());
      const ssize_t n = recv(c.fd, buf, want, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // EOF or an error: the client is gone (a half-close with a complete
      // request still in the buffer is answered first).
      if (n == 0 && head_end(c.in) != std::string::npos) {
        c.close_after = true;
        return;
      }
      close_conn(c, std::nullopt);
      return;
    }
  }

  // Answers the first complete request in c.in, if any.
  void serve_one(Conn& c) {
    c.ready = false;
    const std::size_t end = head_end(c.in);
    if (end == std::string::npos || end > cfg_.max_request_bytes) {
      if (c.in.size() > cfg_.max_request_bytes) {
        respond(c, Request{431, false, true}, CloseReason::kTooLarge);
      }
      return;
    }
    const Request r = parse_request(std::string_view(c.in).substr(0, end));
    c.in.erase(0, end);
    respond(c, r, r.code == 400 ? std::optional(CloseReason::kBadRequest) : std::nullopt);
  }

  void respond(Conn& c, const Request& r, std::optional<CloseReason> refusal) {
    int code = r.code;
    std::string body;
    if (code == 200) {
      try {
        body = owner_.render();
      } catch (const std::exception&) {
        code = 500;
      }
    }
    if (code != 200) body = std::string(reason_phrase(code)) + "\n";
    const bool close_after = r.close || c.close_after || refusal.has_value() || code == 500;
    c.out.clear();
    c.out += "HTTP/1.1 " + std::to_string(code) + " " + reason_phrase(code) + "\r\n";
    c.out += code == 200 ? "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                         : "Content-Type: text/plain; charset=utf-8\r\n";
    c.out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (code == 405) c.out += "Allow: GET, HEAD\r\n";
    if (close_after) c.out += "Connection: close\r\n";
    c.out += "\r\n";
    if (!r.head_only) c.out += body;
    c.sent = 0;
    c.close_after = close_after;
    stats_.responses[code_index(code)].fetch_add(1, std::memory_order_relaxed);
    if (refusal) {
      stats_.count(*refusal);
      c.in.clear();  // nothing after an unusable request is read
    }
    start_wait(c, Phase::kWriting);
    flush(c);
  }

  void flush(Conn& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      close_conn(c, std::nullopt);
      return;
    }
    c.out = std::string();  // give the response's memory back
    c.sent = 0;
    if (c.close_after) {
      shutdown(c.fd, SHUT_WR);
      c.in.clear();
      start_wait(c, Phase::kLingering);
      return;
    }
    start_wait(c, Phase::kReading);
    c.ready = !c.in.empty();  // a pipelined request, served next round
  }

  // Lingering: discard what the client still sends until its FIN.
  void drain(Conn& c) {
    char buf[4096];
    for (int i = 0; i < 16; ++i) {
      const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      break;
    }
    close_conn(c, std::nullopt);
  }

  const MetricsExporter& owner_;
  HttpStats& stats_;
  const config::MetricsConfig& cfg_;
  const Clock::duration timeout_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::uint64_t seq_ = 0;
  std::vector<Conn> conns_;
  std::thread thread_;
};

MetricsExporter::MetricsExporter(const config::MetricsConfig& cfg, std::vector<CoreSource> cores,
                                 MetricsHooks hooks)
    : cfg_(cfg),
      collector_(std::make_shared<Collector>(std::move(cores), std::move(hooks))),
      http_stats_(std::make_unique<HttpStats>()) {}

MetricsExporter::~MetricsExporter() { stop(); }

void MetricsExporter::start() {
  if (server_) return;
  const int fd = open_listener(cfg_.listen, &url_host_);
  server_ = std::make_unique<HttpServer>(*this, fd);
}

void MetricsExporter::stop() {
  // Wakes the loop, joins it (a scrape being rendered finishes first) and
  // closes every connection; the collector is not used afterwards.
  server_.reset();
}

std::uint16_t MetricsExporter::port() const { return server_ ? server_->port() : 0; }

std::string MetricsExporter::url() const {
  if (!server_) return "";
  return "http://" + url_host_ + ":" + std::to_string(port()) + "/metrics";
}

std::string MetricsExporter::render() const {
  auto families = collector_->Collect();
  // The exporter's own HTTP figures (no core label).
  using prometheus::ClientMetric;
  using prometheus::MetricFamily;
  using prometheus::MetricType;
  const HttpStats& st = *http_stats_;
  auto metric = [](double v, MetricType type, const char* label = nullptr, std::string value = {}) {
    ClientMetric m;
    if (label != nullptr) m.label.push_back(ClientMetric::Label{label, std::move(value)});
    if (type == MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    return m;
  };
  const auto load = [](const std::atomic<std::uint64_t>& a) {
    return static_cast<double>(a.load(std::memory_order_relaxed));
  };
  families.push_back(MetricFamily{"shardtcp_metrics_http_connections",
                                  "Connections open to the metrics exporter.",
                                  MetricType::Gauge,
                                  {metric(load(st.open), MetricType::Gauge)}});
  families.push_back(MetricFamily{"shardtcp_metrics_http_accepted_total",
                                  "Connections accepted by the metrics exporter.",
                                  MetricType::Counter,
                                  {metric(load(st.accepted), MetricType::Counter)}});
  MetricFamily responses{"shardtcp_metrics_http_responses_total",
                         "Responses sent by the metrics exporter, by status code.",
                         MetricType::Counter,
                         {}};
  for (std::size_t i = 0; i < kCodes.size(); ++i) {
    responses.metric.push_back(
        metric(load(st.responses[i]), MetricType::Counter, "code", std::to_string(kCodes[i])));
  }
  families.push_back(std::move(responses));
  MetricFamily closed{"shardtcp_metrics_http_closed_total",
                      "Connections the metrics exporter closed before the client did, by reason.",
                      MetricType::Counter,
                      {}};
  for (std::size_t i = 0; i < kCloseReasonNames.size(); ++i) {
    closed.metric.push_back(
        metric(load(st.closed[i]), MetricType::Counter, "reason", kCloseReasonNames[i]));
  }
  families.push_back(std::move(closed));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace shardtcp::dataplane
