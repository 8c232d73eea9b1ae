// A blocking HTTP GET through libcurl: fetches /metrics from the exporter.
// IPv4, IPv6 and host names.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace shardtcp::stat {

struct Url {
  std::string host;  // without brackets
  std::uint16_t port = 80;
  std::string path = "/";
};

// "http://127.0.0.1:9100/metrics", "127.0.0.1:9100" (path defaults to
// /metrics), "[::1]:9100/metrics". Throws std::invalid_argument.
Url parse_url(const std::string& text);

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Throws std::runtime_error with one line ("GET 127.0.0.1:9100/metrics:
// Failed to connect ...") on network errors, a malformed response or a body
// over 64 MiB. The timeout bounds the whole transfer.
HttpResponse http_get(const Url& url, std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace shardtcp::stat
