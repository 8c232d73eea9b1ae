// HTTP/1.0 so the server answers with a plain body and closes: no chunked
// decoding or keep-alive needed (RFC 1945). Bounded by a timeout throughout.
#include "http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace shardtcp::stat {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string where(const Url& u) {
  const bool v6 = u.host.find(':') != std::string::npos;
  return (v6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
}

[[noreturn]] void fail(const std::string& what, const Url& u, const std::string& why) {
  throw std::runtime_error(what + " " + where(u) + ": " + why);
}

void wait_for(int fd, short events, std::chrono::milliseconds timeout, const Url& u,
              const char* what) {
  pollfd p{fd, events, 0};
  const int rc = poll(&p, 1, static_cast<int>(timeout.count()));
  if (rc == 0) fail(what, u, "timed out");
  if (rc < 0) fail(what, u, std::strerror(errno));
}

}  // namespace

Url parse_url(const std::string& text) {
  std::string rest = text;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.find("://") != std::string::npos) {
    throw std::invalid_argument("only http:// URLs are supported (got \"" + text + "\")");
  }
  Url u;
  u.path = "/metrics";
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    u.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad URL \"" + text + "\"");
    u.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw std::invalid_argument("bad URL \"" + text + "\"");
      port = rest.substr(close + 2);
    }
  } else {
    const auto colon = rest.find(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (u.host.empty()) throw std::invalid_argument("bad URL \"" + text + "\": no host");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) == 0 || std::stoul(port) > 65535) {
      throw std::invalid_argument("bad URL \"" + text + "\": port must be 1..65535");
    }
    u.port = static_cast<std::uint16_t>(std::stoul(port));
  }
  return u;
}

HttpResponse http_get(const Url& url, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  if (const int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    fail("resolve", url, gai_strerror(rc));
  }
  Fd fd(socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    freeaddrinfo(res);
    fail("socket", url, std::strerror(errno));
  }
  const int rc = connect(fd.get(), res->ai_addr, res->ai_addrlen);
  const int connect_errno = errno;
  freeaddrinfo(res);
  if (rc != 0) {
    if (connect_errno != EINPROGRESS) fail("connect", url, std::strerror(connect_errno));
    wait_for(fd.get(), POLLOUT, timeout, url, "connect");
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) fail("connect", url, std::strerror(err));
  }

  const std::string request = "GET " + url.path + " HTTP/1.0\r\nHost: " + where(url) +
                              "\r\nAccept: text/plain\r\nUser-Agent: shardtcp-stat\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    wait_for(fd.get(), POLLOUT, timeout, url, "send to");
    const ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) fail("send to", url, std::strerror(errno));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }

  // Read to EOF, bounded: a /metrics page is far below this.
  constexpr std::size_t kMaxResponse = 64u << 20;
  std::string raw;
  char buf[16384];
  while (true) {
    wait_for(fd.get(), POLLIN, timeout, url, "read from");
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail("read from", url, std::strerror(errno));
    }
    raw.append(buf, static_cast<std::size_t>(n));
    if (raw.size() > kMaxResponse) fail("read from", url, "response larger than 64 MiB");
  }

  // Status line "HTTP/1.x NNN reason", headers, blank line, body.
  const auto header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12 || header_end == std::string::npos) {
    fail("read from", url, "not an HTTP response");
  }
  HttpResponse out;
  out.status = std::atoi(raw.substr(9, 3).c_str());
  out.body = raw.substr(header_end + 4);
  return out;
}

}  // namespace shardtcp::stat
