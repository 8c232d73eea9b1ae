// SYN cookies; see syn_cookie.h for the layout and its rationale.
#include "shardtcp/tcp/syn_cookie.h"

#include <cstring>

#include "shardtcp/tcp/isn.h"

namespace shardtcp::tcp {

namespace {

constexpr std::uint32_t kCountShift = 24;
constexpr std::uint32_t kLowMask = (1u << kCountShift) - 1;
// The MSS index is spread over the 24 low bits as index * kSpread (mod 2^24)
// instead of being added as a small number: a cookie changed by a small
// amount (ack + 1, say) then decodes to an index >= 8 and fails, where
// Linux's plain "hash + index" would yield a neighbouring valid index.
// kSpread is odd, hence invertible mod 2^24; kSpreadInv * kSpread == 1.
constexpr std::uint32_t kSpread = 0x9E3779u | 1u;
constexpr std::uint32_t inverse_mod_2_24(std::uint32_t a) {
  std::uint32_t x = a;  // Newton iteration: each step doubles the correct bits
  for (int i = 0; i < 5; ++i) x *= 2u - a * x;
  return x & kLowMask;
}
constexpr std::uint32_t kSpreadInv = inverse_mod_2_24(kSpread);
static_assert(((kSpread * kSpreadInv) & kLowMask) == 1u);

constexpr std::uint32_t kTsWscaleMask = 0x0f;   // bits 0-3
constexpr std::uint32_t kTsNoWscale = 0x0f;     // "client sent no window scale"
constexpr std::uint32_t kTsSackBit = 0x10;      // bit 4
constexpr std::uint32_t kTsReservedBit = 0x20;  // bit 5
constexpr std::uint32_t kTsBits = 6;

void derive(const std::uint64_t key[2], const char* label, std::uint64_t out[2]) {
  // Two independent keys per purpose, derived from the stack secret so the
  // cookie hashes reveal nothing about the ISN or table hashes.
  char buf[32] = {};
  const std::size_t n = std::strlen(label);
  std::memcpy(buf, label, n);
  buf[n] = '0';
  out[0] = siphash24(buf, n + 1, key);
  buf[n] = '1';
  out[1] = siphash24(buf, n + 1, key);
}

}  // namespace

SynCookies::SynCookies(const std::uint64_t key[2]) {
  derive(key, "shardtcp cookie h1", k1_);
  derive(key, "shardtcp cookie h2", k2_);
}

std::uint32_t SynCookies::h1(const FourTuple& t) const {
  return static_cast<std::uint32_t>(siphash_tuple(t, k1_));
}

std::uint32_t SynCookies::h2(const FourTuple& t, std::uint32_t count,
                             std::uint32_t peer_isn) const {
  // The counter and the peer's ISN go into the hash (RFC 4987 §3.6: t and the
  // client's sequence number mixed with the secret), so an old cookie cannot
  // be re-dated by editing its top byte and an ACK with another SEG.SEQ fails.
  std::uint8_t m[20];
  const std::uint32_t w[5] = {
      t.local_ip, t.remote_ip,
      static_cast<std::uint32_t>(t.local_port) | (std::uint32_t{t.remote_port} << 16), count,
      peer_isn};
  for (int i = 0; i < 5; ++i) {
    for (int b = 0; b < 4; ++b) m[4 * i + b] = static_cast<std::uint8_t>(w[i] >> (8 * b));
  }
  return static_cast<std::uint32_t>(siphash24(m, sizeof(m), k2_));
}

unsigned SynCookies::mss_index(std::uint16_t mss) {
  // Largest table entry not above the client's MSS: never send bigger
  // segments than it asked for. Below 536 we still use 536 (RFC 9293 §3.7.1
  // default; every IPv4 host must accept it).
  unsigned i = kMssTableSize - 1;
  while (i > 0 && kMssTable[i] > mss) --i;
  return i;
}

std::uint32_t SynCookies::make(const FourTuple& t, std::uint32_t peer_isn, std::uint16_t mss,
                               TimeUs now) const {
  const auto count = static_cast<std::uint32_t>(now / kPeriod);
  const std::uint32_t low = (h2(t, count, peer_isn) + mss_index(mss) * kSpread) & kLowMask;
  return h1(t) + peer_isn + (count << kCountShift) + low;
}

std::optional<CookieInfo> SynCookies::check(const FourTuple& t, std::uint32_t peer_isn,
                                            std::uint32_t ack_minus_one, TimeUs now) const {
  const auto count = static_cast<std::uint32_t>(now / kPeriod);
  const std::uint32_t c = ack_minus_one - h1(t) - peer_isn;
  // Age in counter periods, from the top byte (mod 256).
  const std::uint32_t age = (count - (c >> kCountShift)) & 0xff;
  if (age >= kMaxAge) return std::nullopt;
  const std::uint32_t idx = ((c - h2(t, count - age, peer_isn)) * kSpreadInv) & kLowMask;
  if (idx >= kMssTableSize) return std::nullopt;
  CookieInfo info;
  info.mss = kMssTable[idx];
  return info;
}

std::uint32_t SynCookies::encode_ts(std::uint32_t ts_now, bool has_wscale, std::uint8_t wscale,
                                    bool sack_permitted) {
  std::uint32_t opts = has_wscale ? (wscale > 14 ? 14u : wscale) : kTsNoWscale;
  if (sack_permitted) opts |= kTsSackBit;
  std::uint32_t ts = (ts_now & ~((1u << kTsBits) - 1)) | opts;
  // Never ahead of the clock: a TSval from the future would make our later
  // segments look old to the client's PAWS. Step back one 64-unit block.
  if (static_cast<std::int32_t>(ts - ts_now) > 0) ts -= 1u << kTsBits;
  return ts;
}

bool SynCookies::decode_ts(std::uint32_t ts_ecr, CookieInfo& info) {
  if ((ts_ecr & kTsReservedBit) != 0) return false;
  const std::uint32_t ws = ts_ecr & kTsWscaleMask;
  info.has_wscale = ws != kTsNoWscale;
  info.wscale = info.has_wscale ? static_cast<std::uint8_t>(ws) : 0;
  info.sack_permitted = (ts_ecr & kTsSackBit) != 0;
  return true;
}

}  // namespace shardtcp::tcp
