// TCP segments on the wire: a checked parse of untrusted bytes into a Segment
// (the "Repr"), and serialization of an OutSegment. RFC 9293 §3.1, RFC 7323,
// RFC 2018. Implementation: tcp/src/segment.cc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

enum TcpFlags : std::uint8_t {
  kFin = 0x01,
  kSyn = 0x02,
  kRst = 0x04,
  kPsh = 0x08,
  kAck = 0x10,
  kUrg = 0x20,
  kEce = 0x40,
  kCwr = 0x80,
};

// The IPv4 ECN field's codepoints (RFC 3168 §5).
enum IpEcn : std::uint8_t {
  kNotEct = 0,
  kEct1 = 1,
  kEct0 = 2,
  kCe = 3,
};

struct SackBlock {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // sequence number following the block
};

struct TcpOptions {
  bool has_mss = false;
  bool has_wscale = false;
  bool sack_permitted = false;
  bool has_timestamps = false;
  std::uint8_t wscale = 0;
  std::uint8_t num_sack = 0;
  std::uint16_t mss = 0;
  std::uint32_t ts_val = 0;
  std::uint32_t ts_ecr = 0;
  SackBlock sack[4];
};

// An incoming segment after validation. `payload` points into the packet
// buffer and is valid only while the engine's input() call runs.
struct Segment {
  FourTuple tuple;  // local = destination of the packet
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // raw 16-bit field, not yet scaled
  std::uint16_t urgent = 0;
  TcpOptions opts;
  const std::uint8_t* payload = nullptr;
  std::uint32_t payload_len = 0;
  std::uint8_t ip_ecn = 0;  // the IP header's ECN field (RFC 3168 §5), set by the IP layer

  // Segment length (RFC 9293 §3.4): payload plus one for SYN and one for FIN.
  std::uint32_t seg_len() const {
    return payload_len + ((flags & kSyn) ? 1u : 0u) + ((flags & kFin) ? 1u : 0u);
  }
};

enum class ParseStatus : std::uint8_t {
  kOk,
  kTooShort,       // fewer than 20 bytes
  kBadDataOffset,  // data offset < 5 or beyond the segment
  kBadOption,      // option length runs past the header or is < 2
};

// Parses a TCP header + payload (`len` bytes starting at the TCP header).
// Fills everything except tuple.local_ip / tuple.remote_ip (the IP layer
// knows those). Unknown options are skipped; malformed ones reject the segment.
ParseStatus parse_segment(const std::uint8_t* tcp, std::size_t len, Segment& out);

// Where an outgoing segment's payload bytes come from: the engine's send
// buffer. copy_payload() copies them into the transmit buffer.
class SendBuffer;

struct OutSegment {
  FourTuple tuple;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // the on-wire 16-bit value (already scaled down)
  TcpOptions opts;           // options to emit (SACK blocks, timestamps, ...)
  std::uint32_t payload_len = 0;
  const SendBuffer* payload_src = nullptr;  // null iff payload_len == 0
  std::uint32_t payload_offset = 0;         // offset within payload_src
  std::uint8_t ip_ecn = 0;  // ECN field for the IP header (RFC 3168 §5): kEct0 on new data
};

// Length of the TCP header (with options, padded to 4 bytes) for `seg`.
std::size_t tcp_header_len(const OutSegment& seg);
// Writes the TCP header with options at `dst` (checksum field left 0).
// Returns the number of bytes written (== tcp_header_len(seg)).
std::size_t write_tcp_header(const OutSegment& seg, std::uint8_t* dst);
// Copies seg.payload_len payload bytes to dst.
void copy_payload(const OutSegment& seg, std::uint8_t* dst);

// Internet checksum helpers (RFC 1071). Results are in network byte order
// ready to be stored with memcpy.
std::uint32_t checksum_partial(const void* data, std::size_t len, std::uint32_t sum = 0);
std::uint16_t checksum_fold(std::uint32_t sum);
// Full TCP checksum over pseudo header + segment (`tcp` points at the header,
// checksum field included; returns 0 when a received segment verifies).
std::uint16_t tcp_checksum(Ipv4 src, Ipv4 dst, const std::uint8_t* tcp, std::size_t len);

}  // namespace shardtcp::tcp
