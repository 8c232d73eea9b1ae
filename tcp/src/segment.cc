// TCP header parse (checked view of untrusted bytes), serialization and the
// Internet checksum. RFC 9293 §3.1 (header format), §3.2 (options), RFC 7323
// (window scale, timestamps), RFC 2018 (SACK), RFC 1071 (checksum).
// copy_payload() is the engine's (it owns SendBuffer): see send_buffer.cc.
#include <bit>
#include <cstring>

#include "shardtcp/tcp/segment.h"

namespace shardtcp::tcp {

namespace {

// Option kinds (IANA "TCP Option Kind Numbers").
constexpr std::uint8_t kOptEol = 0;
constexpr std::uint8_t kOptNop = 1;
constexpr std::uint8_t kOptMss = 2;
constexpr std::uint8_t kOptWscale = 3;
constexpr std::uint8_t kOptSackPerm = 4;
constexpr std::uint8_t kOptSack = 5;
constexpr std::uint8_t kOptTimestamps = 8;

constexpr std::uint8_t kLenMss = 4;
constexpr std::uint8_t kLenWscale = 3;
constexpr std::uint8_t kLenSackPerm = 2;
constexpr std::uint8_t kLenTimestamps = 10;
constexpr std::size_t kMinHeader = 20;
constexpr std::size_t kMaxOptions = 40;  // data offset is 4 bits: 60-byte header
constexpr std::uint8_t kMaxWscale = 14;  // RFC 7323 §2.3

std::uint16_t rd16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t rd32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
std::uint8_t* wr16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
  return p + 2;
}
std::uint8_t* wr32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
  return p + 4;
}
std::uint8_t* wr_bytes(std::uint8_t* p, std::uint8_t a, std::uint8_t b, std::uint8_t c,
                       std::uint8_t d) {
  p[0] = a;
  p[1] = b;
  p[2] = c;
  p[3] = d;
  return p + 4;
}

// Options are parsed as the sender wrote them; the engine decides which ones
// apply (e.g. MSS and window scale only on a SYN, RFC 9293 §3.7.1 / RFC 7323
// §2.2). A known option with the wrong length is ignored, as Linux does
// (tcp_parse_options); a length that is < 2 or runs past the header makes
// the whole segment invalid, since the rest of the header cannot be trusted.
ParseStatus parse_options(const std::uint8_t* p, std::size_t n, TcpOptions& o) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t kind = p[i];
    if (kind == kOptEol) break;  // RFC 9293 §3.2: end of option list
    if (kind == kOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= n) return ParseStatus::kBadOption;  // no room for the length byte
    const std::uint8_t len = p[i + 1];
    if (len < 2 || len > n - i) return ParseStatus::kBadOption;
    const std::uint8_t* v = p + i + 2;
    switch (kind) {
      case kOptMss:
        if (len == kLenMss) {
          o.has_mss = true;
          o.mss = rd16(v);
        }
        break;
      case kOptWscale:
        if (len == kLenWscale) {
          o.has_wscale = true;
          // RFC 7323 §2.3: a shift above 14 MUST be treated as 14.
          o.wscale = v[0] > kMaxWscale ? kMaxWscale : v[0];
        }
        break;
      case kOptSackPerm:
        if (len == kLenSackPerm) o.sack_permitted = true;
        break;
      case kOptSack:
        // RFC 2018 §3: 2 + 8n bytes. More blocks than we keep: the first
        // (most recent, §4) ones are kept.
        if (len > 2 && (len - 2) % 8 == 0) {
          const std::size_t blocks = (len - 2u) / 8u;
          o.num_sack = 0;
          for (std::size_t b = 0; b < blocks && b < 4; ++b) {
            o.sack[b].left = rd32(v + 8 * b);
            o.sack[b].right = rd32(v + 8 * b + 4);
            ++o.num_sack;
          }
        }
        break;
      case kOptTimestamps:
        if (len == kLenTimestamps) {
          o.has_timestamps = true;
          o.ts_val = rd32(v);
          o.ts_ecr = rd32(v + 4);
        }
        break;
      default:
        break;  // unknown option: skip by its length (RFC 9293 §3.2)
    }
    i += len;
  }
  return ParseStatus::kOk;
}

// How many SACK blocks fit next to the other options (40 bytes of options).
unsigned sack_blocks_that_fit(const TcpOptions& o, std::size_t other) {
  if (o.num_sack == 0 || other + 4 + 8 > kMaxOptions) return 0;
  const std::size_t fit = (kMaxOptions - other - 4) / 8;
  const unsigned n = o.num_sack > 4 ? 4u : o.num_sack;
  return fit < n ? static_cast<unsigned>(fit) : n;
}

// Option bytes without SACK blocks (each part is already 4-byte aligned).
std::size_t base_options_len(const TcpOptions& o) {
  std::size_t n = 0;
  if (o.has_mss) n += 4;
  if (o.has_timestamps) {
    n += 12;  // SACK-perm + TS, or NOP NOP TS
  } else if (o.sack_permitted) {
    n += 4;  // NOP NOP SACK-perm
  }
  if (o.has_wscale) n += 4;  // NOP WS
  return n;
}

}  // namespace

ParseStatus parse_segment(const std::uint8_t* tcp, std::size_t len, Segment& out) {
  if (tcp == nullptr || len < kMinHeader) return ParseStatus::kTooShort;
  const std::size_t hdr = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  if (hdr < kMinHeader || hdr > len) return ParseStatus::kBadDataOffset;

  // The packet's source is the remote end (FourTuple is from our side).
  out.tuple.remote_port = rd16(tcp);
  out.tuple.local_port = rd16(tcp + 2);
  out.seq = rd32(tcp + 4);
  out.ack = rd32(tcp + 8);
  out.flags = tcp[13];
  out.window = rd16(tcp + 14);
  out.urgent = rd16(tcp + 18);
  out.opts = TcpOptions{};
  const ParseStatus st = parse_options(tcp + kMinHeader, hdr - kMinHeader, out.opts);
  if (st != ParseStatus::kOk) return st;
  out.payload = tcp + hdr;
  // len is bounded by the IPv4 total length (< 2^16), so this never narrows.
  out.payload_len = static_cast<std::uint32_t>(len - hdr);
  return ParseStatus::kOk;
}

std::size_t tcp_header_len(const OutSegment& seg) {
  const std::size_t base = base_options_len(seg.opts);
  const unsigned sacks = sack_blocks_that_fit(seg.opts, base);
  return kMinHeader + base + (sacks != 0 ? 4 + 8 * sacks : 0);
}

std::size_t write_tcp_header(const OutSegment& seg, std::uint8_t* dst) {
  const TcpOptions& o = seg.opts;
  const std::size_t len = tcp_header_len(seg);
  std::uint8_t* p = dst;
  p = wr16(p, seg.tuple.local_port);
  p = wr16(p, seg.tuple.remote_port);
  p = wr32(p, seg.seq);
  p = wr32(p, seg.ack);
  // len <= 60: 20 + at most 40 option bytes (sack_blocks_that_fit keeps the
  // options within kMaxOptions), so len / 4 fits the 4-bit data offset.
  *p++ = static_cast<std::uint8_t>((len / 4) << 4);
  *p++ = seg.flags;
  p = wr16(p, seg.window);
  p = wr16(p, 0);  // checksum: filled by the caller (or the NIC)
  p = wr16(p, 0);  // urgent pointer: we never send urgent data

  // Same layout as Linux's tcp_options_write(), so captures of both stacks
  // look alike and middleboxes see a familiar shape.
  if (o.has_mss) {
    p = wr_bytes(p, kOptMss, kLenMss, 0, 0);
    wr16(p - 2, o.mss);
  }
  if (o.has_timestamps) {
    if (o.sack_permitted) {
      p = wr_bytes(p, kOptSackPerm, kLenSackPerm, kOptTimestamps, kLenTimestamps);
    } else {
      p = wr_bytes(p, kOptNop, kOptNop, kOptTimestamps, kLenTimestamps);
    }
    p = wr32(p, o.ts_val);
    p = wr32(p, o.ts_ecr);
  } else if (o.sack_permitted) {
    p = wr_bytes(p, kOptNop, kOptNop, kOptSackPerm, kLenSackPerm);
  }
  if (o.has_wscale) {
    p = wr_bytes(p, kOptNop, kOptWscale, kLenWscale, o.wscale > kMaxWscale ? kMaxWscale : o.wscale);
  }
  const unsigned sacks = sack_blocks_that_fit(o, base_options_len(o));
  if (sacks != 0) {
    p = wr_bytes(p, kOptNop, kOptNop, kOptSack, static_cast<std::uint8_t>(2 + 8 * sacks));
    for (unsigned b = 0; b < sacks; ++b) {
      p = wr32(p, o.sack[b].left);
      p = wr32(p, o.sack[b].right);
    }
  }
  return static_cast<std::size_t>(p - dst);
}

// RFC 1071 §2: one's complement sum of 16-bit words. Loading the words in
// native byte order yields the byte-swapped sum on little-endian hosts, and
// the byte-swapped sum is exactly what must be stored (§2(B)), so no swap is
// ever needed. 32-bit words go into a 64-bit accumulator ("deferred carries",
// §2(C)) and are folded once at the end.
std::uint32_t checksum_partial(const void* data, std::size_t len, std::uint32_t sum) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::uint64_t acc = sum;
  while (len >= 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    acc += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the high-order byte of a zero-padded word (§4.1); only
    // the last chunk of a chained computation may have odd length.
    acc +=
        std::endian::native == std::endian::little ? std::uint64_t{p[0]} : std::uint64_t{p[0]} << 8;
  }
  // Fold 64 -> 32 bits with end-around carries.
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  return static_cast<std::uint32_t>(acc);
}

std::uint16_t checksum_fold(std::uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::uint16_t tcp_checksum(Ipv4 src, Ipv4 dst, const std::uint8_t* tcp, std::size_t len) {
  // RFC 9293 §3.1: pseudo header = source, destination, zero, protocol 6,
  // TCP length (header + data), all in network byte order.
  std::uint8_t ph[12];
  wr32(ph, src);
  wr32(ph + 4, dst);
  ph[8] = 0;
  ph[9] = 6;
  // An IPv4 datagram is at most 65535 bytes (16-bit total length, RFC 791),
  // so a TCP segment's length fits the 16-bit field; the dataplane checks the
  // total length before it calls this (rx: against the frame; tx: <= 0xFFFF).
  wr16(ph + 10, static_cast<std::uint16_t>(len));
  return checksum_fold(checksum_partial(tcp, len, checksum_partial(ph, sizeof(ph))));
}

}  // namespace shardtcp::tcp
