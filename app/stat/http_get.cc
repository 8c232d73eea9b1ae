// GET through libcurl (easy interface, one transfer per call): curl owns
// name resolution, IPv4/IPv6, HTTP framing (chunked, keep-alive or close)
// and the timeout; we only bound the body and turn errors into one line.
#include "http_get.h"

#include <curl/curl.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace shardtcp::stat {
namespace {

// A scrape larger than this is refused rather than held in memory.
constexpr std::size_t kMaxBody = std::size_t{64} * 1024 * 1024;

std::string where(const Url& u) {
  const bool v6 = u.host.find(':') != std::string::npos;
  return (v6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
}

struct Sink {
  std::string body;
  bool too_big = false;
};

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  const std::size_t len = size * n;  // curl guarantees size == 1
  if (len > kMaxBody - s->body.size()) {
    s->too_big = true;
    return 0;  // makes curl fail the transfer (CURLE_WRITE_ERROR)
  }
  s->body.append(p, len);
  return len;
}

void global_init() {
  // curl_global_init is not thread-safe before 7.84 and must run once.
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) throw std::runtime_error(std::string("libcurl: ") + curl_easy_strerror(rc));
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
  global_init();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) throw std::runtime_error("libcurl: curl_easy_init failed");
  const std::string target = "http://" + where(url) + url.path;
  Sink sink;
  char err[CURL_ERROR_SIZE] = {};
  const long ms = static_cast<long>(timeout.count());
  curl_easy_setopt(h.get(), CURLOPT_URL, target.c_str());
  curl_easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(h.get(), CURLOPT_NOPROXY, "*");  // scrape the endpoint itself, never a proxy
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT_MS, ms);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "shardtcp-stat");
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h.get(), CURLOPT_ERRORBUFFER, err);
  const CURLcode rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK) {
    // One line naming the step, as before libcurl: "connect 127.0.0.1:1:
    // Connection refused" (the OS error when curl has one).
    long os_errno = 0;
    curl_easy_getinfo(h.get(), CURLINFO_OS_ERRNO, &os_errno);
    std::string why = sink.too_big     ? "response larger than 64 MiB"
                      : os_errno != 0  ? std::strerror(static_cast<int>(os_errno))
                      : err[0] != '\0' ? std::string(err)
                                       : std::string(curl_easy_strerror(rc));
    const char* step = rc == CURLE_COULDNT_CONNECT        ? "connect"
                       : rc == CURLE_COULDNT_RESOLVE_HOST ? "resolve"
                       : rc == CURLE_OPERATION_TIMEDOUT   ? "timeout"
                                                          : "GET";
    throw std::runtime_error(std::string(step) + " " + where(url) + ": " + why);
  }
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  HttpResponse r;
  r.status = static_cast<int>(status);
  r.body = std::move(sink.body);
  return r;
}

}  // namespace shardtcp::stat
