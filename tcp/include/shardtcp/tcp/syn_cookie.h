// SYN cookies (RFC 4987 §3.6), in the style of Linux's syncookies.c.
//
// When a listener's SYN queue is full, the SYN-ACK's ISN is a cookie and no
// state is kept. The client's ACK (ack - 1 == cookie) proves it received our
// SYN-ACK; check() recovers what the SYN said.
//
// Cookie layout (32 bits, all arithmetic mod 2^32):
//   cookie = H1(tuple) + peer_isn + (count << 24)
//          + ((H2(tuple, count, peer_isn) + mss_index * S) mod 2^24)
//   count = minutes since the clock's epoch (now / 60 s); S an odd constant.
// H1, H2 are SipHash-2-4 with two keys derived from the stack's secret. The top
// 8 bits carry the minute counter; check() accepts count and count - 1 (a
// cookie lives 60-120 s, as Linux). The low 24 bits must decode to a valid
// 3-bit MSS index: a forged ACK passes with probability ~ 2 * 8 / 2^24.
// Unlike Linux, the index is multiplied by S, so an ACK number off by a
// small amount does not decode to a neighbouring valid index, and the peer's
// ISN is inside H2, so a changed SEG.SEQ fails too.
//
// Options a cookie cannot carry in 32 bits ride in our SYN-ACK's TSval when the
// client offered timestamps (the client echoes it in TSecr):
//   TSval bits 0-3: client's window scale (0-14); 15 = no window scale option
//   TSval bit 4   : client sent SACK-permitted
//   TSval bit 5   : reserved, 0 (ECN in Linux)
//   TSval bits 6-31: the clock, rounded DOWN so TSval never runs ahead of the
//                    real timestamp clock (RFC 7323 monotonicity).
// A valid ACK carrying timestamps then proves the client also agreed to them.
#pragma once

#include <cstdint>
#include <optional>

#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

struct CookieInfo {
  std::uint16_t mss = 0;    // from the cookie's MSS table index
  bool has_wscale = false;  // from the TS bits (decode_ts), if any
  std::uint8_t wscale = 0;  // client's window shift
  bool sack_permitted = false;
};

class SynCookies {
 public:
  static constexpr unsigned kMssTableSize = 8;
  // Common MSS values (IPv4 over Ethernet, PPPoE, tunnels, jumbo frames). A
  // client's MSS is rounded down to the nearest entry, never up.
  static constexpr std::uint16_t kMssTable[kMssTableSize] = {536,  1200, 1300, 1360,
                                                             1400, 1440, 1460, 8960};
  static constexpr TimeUs kPeriod = 60 * kUsPerSec;  // one counter step
  static constexpr std::uint32_t kMaxAge = 2;        // counters accepted: t, t-1

  explicit SynCookies(const std::uint64_t key[2]);

  // Our ISN for the SYN-ACK. `mss` is the client's MSS option (536 if none).
  std::uint32_t make(const FourTuple& t, std::uint32_t peer_isn, std::uint16_t mss,
                     TimeUs now) const;
  // For an ACK with no connection: peer_isn = seg.seq - 1, ack_minus_one =
  // seg.ack - 1. nullopt when the cookie is forged, for another tuple/ISN, or
  // older than two counter periods.
  std::optional<CookieInfo> check(const FourTuple& t, std::uint32_t peer_isn,
                                  std::uint32_t ack_minus_one, TimeUs now) const;

  static unsigned mss_index(std::uint16_t mss);
  // TSval for our cookie SYN-ACK (layout above). ts_now: our timestamp clock.
  static std::uint32_t encode_ts(std::uint32_t ts_now, bool has_wscale, std::uint8_t wscale,
                                 bool sack_permitted);
  // Fills has_wscale / wscale / sack_permitted from the echoed TSecr. False
  // when the bits cannot have come from encode_ts (reserved bit 5 set).
  static bool decode_ts(std::uint32_t ts_ecr, CookieInfo& info);

 private:
  std::uint32_t h1(const FourTuple& t) const;
  std::uint32_t h2(const FourTuple& t, std::uint32_t count, std::uint32_t peer_isn) const;

  std::uint64_t k1_[2];
  std::uint64_t k2_[2];
};

}  // namespace shardtcp::tcp
