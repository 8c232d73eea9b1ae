// The one body pattern of the project: shardtcp-httpd serves it on
// /bytes/N, the lab's Linux servers serve it (refserver.py /bytes/N; the file
// test_client_netem.sh writes with `shardtcp-loadgen --write-pattern`), and
// shardtcp-loadgen checks every received body byte against it.
//
// Byte i of a body is 'a' + i % 26: printable (curl output stays readable),
// and a body that starts at a wrong offset, or has a range lost, duplicated or
// moved by a distance that is not a multiple of 26, differs at that byte.
// Full-size segments (1460, 1448 bytes) are not multiples of 26, so a segment
// delivered in the wrong place shows up.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace shardtcp::app {

inline constexpr std::size_t kBodyPatternPeriod = 26;
// Table length: 64 KiB plus one period, so the bytes at any body offset up to
// 64 KiB long are one contiguous slice (send and compare without a loop).
inline constexpr std::size_t kBodyPatternChunk = std::size_t{64} * 1024;

constexpr std::uint8_t body_pattern_byte(std::uint64_t i) {
  return static_cast<std::uint8_t>('a' + i % kBodyPatternPeriod);
}

inline const std::array<std::uint8_t, kBodyPatternChunk + kBodyPatternPeriod>& body_pattern() {
  static const auto table = [] {
    std::array<std::uint8_t, kBodyPatternChunk + kBodyPatternPeriod> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = body_pattern_byte(i);
    return t;
  }();
  return table;
}

// Pointer to the pattern bytes starting at body offset `off`; at least
// kBodyPatternChunk bytes are readable from it.
inline const std::uint8_t* body_pattern_at(std::uint64_t off) {
  return body_pattern().data() + off % kBodyPatternPeriod;
}

// Offset within [p, p + n) of the first byte that differs from the pattern
// for body offset `off`, or -1 when all n bytes match.
inline std::int64_t body_pattern_mismatch(std::uint64_t off, const std::uint8_t* p, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const std::size_t len = n - done < kBodyPatternChunk ? n - done : kBodyPatternChunk;
    const std::uint8_t* want = body_pattern_at(off + done);
    if (std::memcmp(p + done, want, len) != 0) {
      for (std::size_t i = 0; i < len; ++i) {
        if (p[done + i] != want[i]) return static_cast<std::int64_t>(done + i);
      }
    }
    done += len;
  }
  return -1;
}

}  // namespace shardtcp::app
