// Segment parse / serialize / checksum. Known-answer packets were built with
// scapy (an independent implementation) and are pasted here as bytes.
#include "shardtcp/tcp/segment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace shardtcp::tcp {
namespace {

constexpr Ipv4 kPeer = 0xC6120002;  // 198.18.0.2
constexpr Ipv4 kUs = 0xC6120001;    // 198.18.0.1

// A Linux-shaped SYN 198.18.0.2:40000 -> 198.18.0.1:80, seq 0xfffffff0, win
// 64240, options MSS 1460, SACK-perm + TS(12345, 0), NOP, WS 7. Checksum 0xf42c.
const std::vector<std::uint8_t> kLinuxSyn = {
    0x9c, 0x40, 0x00, 0x50, 0xff, 0xff, 0xff, 0xf0, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
    0xfa, 0xf0, 0xf4, 0x2c, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
    0x00, 0x00, 0x30, 0x39, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07};

// 198.18.0.1:80 -> 198.18.0.2:40000 PSH|ACK seq 0x10 ack 0xfffffff1 win 502,
// NOP NOP TS(0xdeadbeef, 12345), NOP NOP SACK(100-200, 300-400), "hello".
// Odd total length (57 bytes) exercises the padded last byte. Checksum 0xe047.
const std::vector<std::uint8_t> kDataWithSack = {
    0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x10, 0xff, 0xff, 0xff, 0xf1, 0xd0, 0x18, 0x01,
    0xf6, 0xe0, 0x47, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
    0x30, 0x39, 0x01, 0x01, 0x05, 0x12, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0xc8, 0x00,
    0x00, 0x01, 0x2c, 0x00, 0x00, 0x01, 0x90, 0x68, 0x65, 0x6c, 0x6c, 0x6f};

std::uint16_t stored(std::uint16_t csum) {  // the two bytes as they sit on the wire
  std::uint8_t b[2];
  std::memcpy(b, &csum, 2);
  return static_cast<std::uint16_t>((b[0] << 8) | b[1]);
}

TEST(Segment, ParsesLinuxSyn) {
  Segment s;
  ASSERT_EQ(parse_segment(kLinuxSyn.data(), kLinuxSyn.size(), s), ParseStatus::kOk);
  EXPECT_EQ(s.tuple.remote_port, 40000);  // the packet's source is the remote end
  EXPECT_EQ(s.tuple.local_port, 80);
  EXPECT_EQ(s.seq, 0xfffffff0u);
  EXPECT_EQ(s.ack, 0u);
  EXPECT_EQ(s.flags, kSyn);
  EXPECT_EQ(s.window, 64240);
  EXPECT_TRUE(s.opts.has_mss);
  EXPECT_EQ(s.opts.mss, 1460);
  EXPECT_TRUE(s.opts.sack_permitted);
  EXPECT_TRUE(s.opts.has_timestamps);
  EXPECT_EQ(s.opts.ts_val, 12345u);
  EXPECT_EQ(s.opts.ts_ecr, 0u);
  EXPECT_TRUE(s.opts.has_wscale);
  EXPECT_EQ(s.opts.wscale, 7);
  EXPECT_EQ(s.opts.num_sack, 0);
  EXPECT_EQ(s.payload_len, 0u);
  EXPECT_EQ(s.seg_len(), 1u);
}

TEST(Segment, ParsesDataWithSackAndPayload) {
  Segment s;
  ASSERT_EQ(parse_segment(kDataWithSack.data(), kDataWithSack.size(), s), ParseStatus::kOk);
  EXPECT_EQ(s.flags, kPsh | kAck);
  EXPECT_EQ(s.ack, 0xfffffff1u);
  EXPECT_EQ(s.opts.ts_val, 0xdeadbeefu);
  EXPECT_EQ(s.opts.ts_ecr, 12345u);
  ASSERT_EQ(s.opts.num_sack, 2);
  EXPECT_EQ(s.opts.sack[0].left, 100u);
  EXPECT_EQ(s.opts.sack[0].right, 200u);
  EXPECT_EQ(s.opts.sack[1].left, 300u);
  EXPECT_EQ(s.opts.sack[1].right, 400u);
  ASSERT_EQ(s.payload_len, 5u);
  EXPECT_EQ(std::memcmp(s.payload, "hello", 5), 0);
  EXPECT_FALSE(s.opts.has_mss);
}

TEST(Segment, ChecksumKnownVectors) {
  // Received segments verify to 0.
  EXPECT_EQ(tcp_checksum(kPeer, kUs, kLinuxSyn.data(), kLinuxSyn.size()), 0);
  EXPECT_EQ(tcp_checksum(kUs, kPeer, kDataWithSack.data(), kDataWithSack.size()), 0);
  // With the field zeroed, the computed value is scapy's.
  auto syn = kLinuxSyn;
  syn[16] = syn[17] = 0;
  EXPECT_EQ(stored(tcp_checksum(kPeer, kUs, syn.data(), syn.size())), 0xf42c);
  auto data = kDataWithSack;
  data[16] = data[17] = 0;
  EXPECT_EQ(stored(tcp_checksum(kUs, kPeer, data.data(), data.size())), 0xe047);
  // One flipped bit anywhere is caught.
  data = kDataWithSack;
  data[54] ^= 0x01;
  EXPECT_NE(tcp_checksum(kUs, kPeer, data.data(), data.size()), 0);
  // Pseudo header matters: wrong destination address.
  EXPECT_NE(tcp_checksum(kPeer, kUs + 1, kLinuxSyn.data(), kLinuxSyn.size()), 0);
}

TEST(Segment, Rfc1071Example) {
  // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; checksum 220d.
  const std::uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(stored(checksum_fold(checksum_partial(b, 8))), 0x220d);
  // Chaining over even-length pieces gives the same result.
  EXPECT_EQ(checksum_fold(checksum_partial(b + 2, 6, checksum_partial(b, 2))),
            checksum_fold(checksum_partial(b, 8)));
  // All-zero data: checksum 0xffff.
  const std::uint8_t z[3] = {};
  EXPECT_EQ(checksum_fold(checksum_partial(z, 3)), 0xffff);
}

TEST(Segment, WritesLinuxSynLayoutByteForByte) {
  OutSegment o;
  o.tuple = FourTuple{kPeer, kUs, 40000, 80};  // from the SYN sender's side
  o.seq = 0xfffffff0;
  o.flags = kSyn;
  o.window = 64240;
  o.opts.has_mss = true;
  o.opts.mss = 1460;
  o.opts.sack_permitted = true;
  o.opts.has_timestamps = true;
  o.opts.ts_val = 12345;
  o.opts.has_wscale = true;
  o.opts.wscale = 7;
  ASSERT_EQ(tcp_header_len(o), 40u);
  std::uint8_t buf[60];
  std::memset(buf, 0xee, sizeof(buf));
  ASSERT_EQ(write_tcp_header(o, buf), 40u);
  auto want = kLinuxSyn;
  want[16] = want[17] = 0;  // write leaves the checksum 0
  EXPECT_EQ(std::vector<std::uint8_t>(buf, buf + 40), want);
  const std::uint16_t c = tcp_checksum(kPeer, kUs, buf, 40);
  std::memcpy(buf + 16, &c, 2);
  EXPECT_EQ(std::vector<std::uint8_t>(buf, buf + 40), kLinuxSyn);
}

TEST(Segment, WritesTimestampAndSackLayout) {
  OutSegment o;
  o.tuple = FourTuple{kUs, kPeer, 80, 40000};
  o.seq = 0x10;
  o.ack = 0xfffffff1;
  o.flags = kPsh | kAck;
  o.window = 502;
  o.opts.has_timestamps = true;
  o.opts.ts_val = 0xdeadbeef;
  o.opts.ts_ecr = 12345;
  o.opts.num_sack = 2;
  o.opts.sack[0] = {100, 200};
  o.opts.sack[1] = {300, 400};
  std::uint8_t buf[64];
  const std::size_t n = write_tcp_header(o, buf);
  ASSERT_EQ(n, 52u);
  std::memcpy(buf + n, "hello", 5);
  auto want = kDataWithSack;
  want[16] = want[17] = 0;
  EXPECT_EQ(std::vector<std::uint8_t>(buf, buf + n + 5), want);
}

TEST(Segment, SackBlocksTrimmedToFortyOptionBytes) {
  OutSegment o;
  o.flags = kAck;
  o.opts.num_sack = 4;
  for (std::uint32_t i = 0; i < 4; ++i) o.opts.sack[i] = {i * 100, i * 100 + 50};
  EXPECT_EQ(tcp_header_len(o), 20u + 4 + 32);  // 4 blocks fit without timestamps
  o.opts.has_timestamps = true;
  EXPECT_EQ(tcp_header_len(o), 60u);  // TS (12) + 3 blocks (28) = 40
  std::uint8_t buf[60];
  ASSERT_EQ(write_tcp_header(o, buf), 60u);
  Segment s;
  ASSERT_EQ(parse_segment(buf, 60, s), ParseStatus::kOk);
  EXPECT_EQ(s.opts.num_sack, 3);  // the first (most recent, RFC 2018 §4) blocks kept
  EXPECT_EQ(s.opts.sack[2].left, 200u);
}

TEST(Segment, RoundTripRandomHeaders) {
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    OutSegment o;
    o.tuple.local_port = static_cast<std::uint16_t>(rng());
    o.tuple.remote_port = static_cast<std::uint16_t>(rng());
    o.seq = rng();
    o.ack = rng();
    o.flags = static_cast<std::uint8_t>(rng());
    o.window = static_cast<std::uint16_t>(rng());
    o.opts.has_mss = rng() & 1;
    o.opts.mss = o.opts.has_mss ? static_cast<std::uint16_t>(rng()) : 0;
    o.opts.has_wscale = rng() & 1;
    o.opts.wscale = o.opts.has_wscale ? static_cast<std::uint8_t>(rng() % 15) : 0;
    o.opts.sack_permitted = rng() & 1;
    o.opts.has_timestamps = rng() & 1;
    if (o.opts.has_timestamps) {
      o.opts.ts_val = rng();
      o.opts.ts_ecr = rng();
    }
    o.opts.num_sack = static_cast<std::uint8_t>(rng() % 5);
    for (auto& b : o.opts.sack)
      b = {static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
    std::uint8_t buf[80];
    const std::size_t n = write_tcp_header(o, buf);
    ASSERT_EQ(n, tcp_header_len(o));
    ASSERT_EQ(n % 4, 0u);
    ASSERT_LE(n, 60u);
    buf[n] = 0xab;  // one payload byte
    Segment s;
    ASSERT_EQ(parse_segment(buf, n + 1, s), ParseStatus::kOk);
    EXPECT_EQ(s.tuple.remote_port, o.tuple.local_port);
    EXPECT_EQ(s.tuple.local_port, o.tuple.remote_port);
    EXPECT_EQ(s.seq, o.seq);
    EXPECT_EQ(s.ack, o.ack);
    EXPECT_EQ(s.flags, o.flags);
    EXPECT_EQ(s.window, o.window);
    EXPECT_EQ(s.opts.has_mss, o.opts.has_mss);
    EXPECT_EQ(s.opts.mss, o.opts.mss);
    EXPECT_EQ(s.opts.has_wscale, o.opts.has_wscale);
    EXPECT_EQ(s.opts.wscale, o.opts.wscale);
    EXPECT_EQ(s.opts.sack_permitted, o.opts.sack_permitted);
    EXPECT_EQ(s.opts.has_timestamps, o.opts.has_timestamps);
    EXPECT_EQ(s.opts.ts_val, o.opts.ts_val);
    EXPECT_EQ(s.opts.ts_ecr, o.opts.ts_ecr);
    // SACK blocks get what is left of the 40 option bytes (4 + 8n each).
    const unsigned base = (o.opts.has_mss ? 4 : 0) +
                          (o.opts.has_timestamps ? 12 : (o.opts.sack_permitted ? 4 : 0)) +
                          (o.opts.has_wscale ? 4 : 0);
    const unsigned fit = base + 12 > 40 ? 0 : (36 - base) / 8;
    ASSERT_EQ(s.opts.num_sack, std::min<unsigned>(o.opts.num_sack, fit));
    for (unsigned b = 0; b < s.opts.num_sack; ++b) {
      EXPECT_EQ(s.opts.sack[b].left, o.opts.sack[b].left);
      EXPECT_EQ(s.opts.sack[b].right, o.opts.sack[b].right);
    }
    EXPECT_EQ(s.payload_len, 1u);
    if (HasFailure()) return;
  }
}

// A bare 20-byte header followed by the given option bytes (padded by caller).
std::vector<std::uint8_t> with_options(std::vector<std::uint8_t> opts) {
  std::vector<std::uint8_t> b(20, 0);
  b[0] = 0x9c;
  b[1] = 0x40;
  b[3] = 0x50;
  b[13] = kSyn;
  while (opts.size() % 4 != 0) opts.push_back(0);  // EOL padding
  b[12] = static_cast<std::uint8_t>(((20 + opts.size()) / 4) << 4);
  b.insert(b.end(), opts.begin(), opts.end());
  return b;
}

ParseStatus parse(const std::vector<std::uint8_t>& b, Segment& s) {
  return parse_segment(b.data(), b.size(), s);
}

TEST(Segment, OptionEdgeCases) {
  Segment s;
  // EOL ends the list: what follows is not parsed.
  ASSERT_EQ(parse(with_options({0, 2, 4, 5, 0xb4}), s), ParseStatus::kOk);
  EXPECT_FALSE(s.opts.has_mss);
  // Unknown options (kind 254, experimental, and 30 = MPTCP) are skipped.
  ASSERT_EQ(parse(with_options({254, 4, 0xf9, 0x89, 30, 3, 0, 2, 4, 2, 0}), s), ParseStatus::kOk);
  EXPECT_TRUE(s.opts.has_mss);
  EXPECT_EQ(s.opts.mss, 512);
  // Known option with a wrong length is ignored (as Linux), parsing goes on.
  ASSERT_EQ(parse(with_options({2, 3, 5, 3, 3, 7}), s), ParseStatus::kOk);
  EXPECT_FALSE(s.opts.has_mss);
  EXPECT_TRUE(s.opts.has_wscale);
  EXPECT_EQ(s.opts.wscale, 7);
  // RFC 7323 §2.3: shift > 14 is treated as 14.
  ASSERT_EQ(parse(with_options({1, 3, 3, 15}), s), ParseStatus::kOk);
  EXPECT_EQ(s.opts.wscale, 14);
  // SACK length not 2 + 8n: ignored.
  ASSERT_EQ(parse(with_options({5, 6, 0, 0, 0, 1}), s), ParseStatus::kOk);
  EXPECT_EQ(s.opts.num_sack, 0);
  // Many NOPs then EOL at the very last byte.
  ASSERT_EQ(parse(with_options({1, 1, 1, 1, 1, 1, 1, 0}), s), ParseStatus::kOk);
  // A previously parsed segment's options do not leak into the next parse.
  ASSERT_EQ(parse(with_options({}), s), ParseStatus::kOk);
  EXPECT_FALSE(s.opts.has_wscale);
}

TEST(Segment, MalformedInputsRejected) {
  Segment s;
  EXPECT_EQ(parse_segment(nullptr, 0, s), ParseStatus::kTooShort);
  EXPECT_EQ(parse_segment(kLinuxSyn.data(), 19, s), ParseStatus::kTooShort);
  auto b = kLinuxSyn;
  b[12] = 0x40;  // data offset 4 words < 5
  EXPECT_EQ(parse(b, s), ParseStatus::kBadDataOffset);
  b[12] = 0xf0;  // 60 bytes > 40 available
  EXPECT_EQ(parse(b, s), ParseStatus::kBadDataOffset);
  // Option length 0 and 1: the parser could loop or misread; rejected.
  EXPECT_EQ(parse(with_options({254, 0}), s), ParseStatus::kBadOption);
  EXPECT_EQ(parse(with_options({254, 1}), s), ParseStatus::kBadOption);
  // Length runs past the header.
  EXPECT_EQ(parse(with_options({1, 1, 8, 10, 0, 0, 0, 0}), s), ParseStatus::kBadOption);
  // A kind byte with no room for its length byte at the end of the header.
  EXPECT_EQ(parse(with_options({1, 1, 1, 2}), s), ParseStatus::kBadOption);
  // Data offset says options, but the bytes are truncated: header > len.
  auto t = with_options({2, 4, 5, 0xb4});
  EXPECT_EQ(parse_segment(t.data(), t.size() - 1, s), ParseStatus::kBadDataOffset);
}

}  // namespace
}  // namespace shardtcp::tcp
