// A minimal HTTP/1.x request-head parser (RFC 9112): request line + header
// fields, enough for GET/HEAD with keep-alive. Pure function over a buffer:
// the caller feeds whatever bytes it has; kIncomplete means "need more".
// Lines end in CRLF or, as RFC 9112 §2.2 allows a recipient (and nginx
// does), in a bare LF; a CR anywhere else in the head is invalid (kBad).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shardtcp::app {

struct HttpRequest {
  std::string_view method;
  std::string_view target;   // path, query stripped
  int version_minor = 1;     // HTTP/1.<minor>
  bool keep_alive = true;    // after the version default and Connection tokens
  bool has_body = false;     // Content-Length > 0 or Transfer-Encoding present
  std::size_t head_len = 0;  // bytes consumed (request line + headers + empty line)
};

// kTooLarge: no complete head within kMaxRequestHead bytes (answered 431,
// RFC 6585 §5, and closed).
enum class ParseResult : std::uint8_t { kOk, kIncomplete, kBad, kTooLarge };

inline constexpr std::size_t kMaxRequestHead = 8192;  // larger heads -> 431

ParseResult parse_request(std::string_view buf, HttpRequest& out);

// "/bytes/N" -> N (0..kMaxBytes); -1 when not numeric or too large.
// 10 MB read as 10 MiB, so both 10'000'000 and 10'485'760 are served.
inline constexpr std::uint64_t kMaxBytes = std::uint64_t{10} * 1024 * 1024;
std::int64_t parse_bytes_path(std::string_view rest);

}  // namespace shardtcp::app
