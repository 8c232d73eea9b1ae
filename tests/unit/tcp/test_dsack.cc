// RFC 2883 D-SACK, receiver side: one test per example of RFC 2883 §4
// (4.1.1-4.1.3, 4.2.1-4.2.3). Sequence numbers are the RFC's, shifted so
// that the example's first segment starts at the peer's ISN + 1 (near
// 2^32, so every example crosses the wrap). Segments are 500 bytes, as in
// the RFC; no timestamps, so up to four SACK blocks fit.
#include <initializer_list>
#include <utility>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

class Dsack : public ::testing::Test {
 protected:
  // Opens a SACK-permitted connection; RFC sequence number `base` is the
  // first byte the peer sends.
  void start(std::uint32_t base) {
    base_ = base;
    h.listen();
    TcpOptions o = mss_option();
    o.sack_permitted = true;
    c = h.open(kPeerIsn, kOurIss, o);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(h.tcb(c).sack_ok);
    h.take();
  }
  std::uint32_t R(std::uint32_t rfc_seq) const { return h.peer_nxt + (rfc_seq - base_); }
  // The peer's data [from, to) in RFC numbers ("3000-3499" is (3000, 3500)).
  void data(std::uint32_t from, std::uint32_t to) {
    h.in(kAck, R(from), h.our_nxt,
         std::string(to - from, static_cast<char>('a' + from / 500 % 26)));
  }
  // Exactly one ACK goes out at once: ACK field `ack` and these SACK blocks,
  // in this order (RFC numbers).
  void expect_ack(std::uint32_t ack,
                  std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> sacks) {
    Out a = h.take_one();
    EXPECT_EQ(a.seg.flags, kAck);
    EXPECT_EQ(a.payload, "");
    EXPECT_EQ(a.seg.ack, R(ack));
    ASSERT_EQ(a.seg.opts.num_sack, static_cast<int>(sacks.size()));
    int i = 0;
    for (const auto& [l, r] : sacks) {
      EXPECT_EQ(a.seg.opts.sack[i].left, R(l)) << "block " << i;
      EXPECT_EQ(a.seg.opts.sack[i].right, R(r)) << "block " << i;
      ++i;
    }
  }
  Harness h;
  Connection* c = nullptr;
  std::uint32_t base_ = 0;
};

// §4.1.1 Example 1: reporting a duplicate segment (ACKs lost, the sender
// retransmits what the receiver already has).
TEST_F(Dsack, Example1DuplicateSegment) {
  start(3000);
  data(3000, 3500);
  data(3500, 4000);
  h.advance(h.cfg.delayed_ack);
  expect_ack(4000, {});  // lost
  data(3000, 3500);      // the retransmission
  expect_ack(4000, {{3000, 3500}});
}

// §4.1.2 Example 2: an out-of-order segment, then a duplicate below the
// cumulative ACK: the D-SACK block first, then the SACK block.
TEST_F(Dsack, Example2OutOfOrderAndDuplicate) {
  start(3000);
  data(3000, 3500);
  data(3500, 4000);
  h.advance(h.cfg.delayed_ack);
  expect_ack(4000, {});  // lost
  // 4000-4499 lost.
  data(4500, 5000);
  expect_ack(4000, {{4500, 5000}});
  data(3000, 3500);
  expect_ack(4000, {{3000, 3500}, {4500, 5000}});
}

// §4.1.3 Example 3: a duplicate of an out-of-order segment, above RCV.NXT:
// the D-SACK block, then the block that contains it.
TEST_F(Dsack, Example3DuplicateOfOutOfOrderSegment) {
  start(3500);
  data(3500, 4000);
  h.take();  // ACK 4000 (delayed)
  // 4000-4499 lost.
  data(4500, 5000);
  expect_ack(4000, {{4500, 5000}});
  data(5000, 5500);
  expect_ack(4000, {{4500, 5500}});
  data(5000, 5500);  // duplicated by the network
  expect_ack(4000, {{5000, 5500}, {4500, 5500}});
  EXPECT_EQ(h.app.data.size(), 500u);  // nothing delivered twice or early
}

// §4.2.1 Example 4: a 1000-byte segment of which one 500-byte half was
// already received: only that half is reported.
TEST_F(Dsack, Example4SingleDuplicateSubsegment) {
  start(500);
  data(500, 1000);
  h.take();  // ACK 1000 (delayed)
  // 1000-1499 delayed, 1500-1999 lost.
  data(2000, 2500);
  expect_ack(1000, {{2000, 2500}});
  data(1000, 1500);  // the delayed one
  expect_ack(1500, {{2000, 2500}});
  data(1000, 2000);  // the 1000-byte retransmission
  expect_ack(2500, {{1000, 1500}});
  EXPECT_EQ(h.app.data.size(), 2000u);
}

// §4.2.2 Example 5: two non-contiguous duplicate subsegments, both covered
// by the cumulative ACK: only the first is reported.
TEST_F(Dsack, Example5TwoDuplicatesCoveredByAck) {
  start(500);
  data(500, 1000);
  h.take();
  // 1000-1499 and 2000-2499 delayed, 1500-1999 and 2500-2999 lost.
  data(3000, 3500);
  expect_ack(1000, {{3000, 3500}});
  data(1000, 1500);
  expect_ack(1500, {{3000, 3500}});
  data(2000, 2500);
  expect_ack(1500, {{2000, 2500}, {3000, 3500}});
  data(1000, 2500);  // the 1500-byte retransmission
  expect_ack(2500, {{1000, 1500}, {3000, 3500}});
  EXPECT_EQ(h.app.data.size(), 2000u);
}

// §4.2.3 Example 6: two non-contiguous duplicate subsegments above the
// cumulative ACK: the first duplicate, then the block containing it.
// Deviation, as Linux: the receiver keeps contiguous bytes as one range,
// so 1500-1999 and 2000-2499 (received separately) form one block
// 1500-2500 (the RFC's table lists them as two), and the duplicate
// contiguous sequence of the retransmission 1500-2999 is 1500-2500 (RFC
// 2883 §4: "the first sequence number of the duplicate contiguous
// sequence" to the one after its last); the RFC's table shows 1500-2000.
TEST_F(Dsack, Example6TwoDuplicatesNotCoveredByAck) {
  start(500);
  data(500, 1000);
  h.take();
  // 1000-1499 lost (twice), 1500-1999 and 2500-2999 delayed, 2000-2499 and 3000-3499 lost.
  data(3500, 4000);
  expect_ack(1000, {{3500, 4000}});
  data(1500, 2000);
  expect_ack(1000, {{1500, 2000}, {3500, 4000}});
  data(2000, 2500);
  expect_ack(1000, {{1500, 2500}, {3500, 4000}});
  data(1500, 3000);
  expect_ack(1000, {{1500, 2500}, {1500, 3000}, {3500, 4000}});
  EXPECT_EQ(h.app.data.size(), 500u);
}

// A partly old segment that fills no hole: the D-SACK goes at once, not
// with the delayed ACK (the sender needs it to judge its retransmission).
TEST_F(Dsack, PartlyOldSegmentIsAnsweredAtOnce) {
  start(1000);
  data(1000, 1500);
  h.take();  // delayed ACK not yet due: nothing
  data(1000, 2000);
  expect_ack(2000, {{1000, 1500}});
  EXPECT_EQ(h.app.data.size(), 1000u);
}

// Without SACK negotiated nothing changes: no option, the usual delayed ACK.
TEST(DsackOff, PartlyOldSegmentWithoutSackIsDelayedAckedPlain) {
  Harness h;
  h.listen();
  Connection* c = h.open();
  ASSERT_NE(c, nullptr);
  h.take();
  const std::uint32_t p = h.peer_nxt;
  h.in(kAck, p, h.our_nxt, "abc");
  h.in(kAck, p + 1, h.our_nxt, "bcd");
  h.expect_none();
  h.advance(h.cfg.delayed_ack);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p + 4);
  EXPECT_EQ(a.seg.opts.num_sack, 0);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
