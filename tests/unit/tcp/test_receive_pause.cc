// Receive flow control: Connection::set_receive_paused() holds in-order
// bytes in the engine, the advertised window closes as they accumulate
// (RFC 9293 §3.8.6.2.2: the right edge never moves left), zero-window probes
// are answered with a zero window, and resuming delivers every held byte in
// order and sends a window update only when the window opens by a
// receiver-SWS step (RFC 1122 §4.2.3.3). Sequence numbers cross 2^32.
#include <gtest/gtest.h>

#include <string>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

constexpr std::uint32_t kBuf = 8192;

TcpConfig small_buffer() {
  TcpConfig c = Harness::default_config();
  c.rcv_buf = kBuf;
  return c;
}

std::string pattern(std::size_t n, std::size_t from = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (from + i) % 26);
  return s;
}

// Callback order "D...DPC": every on_data, then on_peer_closed, then on_closed.
bool data_then_fin_then_closed(const std::string& events) {
  return events.size() >= 3 && events.find_first_not_of('D') == events.size() - 2 &&
         events.compare(events.size() - 2, 2, "PC") == 0;
}

class ReceivePauseTest : public EstablishedWith<small_buffer> {
 protected:
  // Sends `n` bytes of the pattern in 1000-byte segments; returns the output.
  std::vector<Out> send(std::size_t n) {
    std::vector<Out> all;
    for (std::size_t off = 0; off < n; off += 1000) {
      const std::string d = pattern(std::min<std::size_t>(1000, n - off), sent + off);
      h.in(kAck, p, u, d);
      p += static_cast<std::uint32_t>(d.size());
      for (Out& o : h.take()) all.push_back(o);
    }
    sent += n;
    return all;
  }
  std::size_t sent = 0;
};

TEST_F(ReceivePauseTest, HeldBytesCloseTheWindowAndResumeDeliversThemInOrder) {
  c->set_receive_paused(true);
  EXPECT_TRUE(c->receive_paused());
  std::vector<Out> acks = send(kBuf);
  h.advance(h.cfg.delayed_ack);  // the last ACK may be a delayed one
  for (Out& o : h.take()) acks.push_back(o);
  EXPECT_EQ(h.app.data, "");
  EXPECT_EQ(c->received_unread(), kBuf);
  // ACKs every second segment; the window shrinks with each, to 0.
  ASSERT_FALSE(acks.empty());
  for (const Out& o : acks) EXPECT_EQ(o.flags(), kAck);
  EXPECT_EQ(acks.back().seg.ack, p);
  EXPECT_EQ(acks.back().seg.window, 0u);
  for (std::size_t i = 1; i < acks.size(); ++i) {
    // Right edge fixed: window + ack constant.
    EXPECT_EQ(acks[i].seg.ack + acks[i].seg.window, acks[0].seg.ack + acks[0].seg.window);
  }

  // A zero-window probe: not acceptable (RCV.WND = 0), answered with an ACK
  // that still offers a zero window; the byte is not taken.
  h.in(kAck, p, u, "z");
  Out probe_ack = h.take_one();
  EXPECT_EQ(probe_ack.flags(), kAck);
  EXPECT_EQ(probe_ack.seg.ack, p);
  EXPECT_EQ(probe_ack.seg.window, 0u);
  EXPECT_EQ(c->received_unread(), kBuf);

  // Resume: every byte, in order, inside the call; then one window update.
  c->set_receive_paused(false);
  EXPECT_EQ(h.app.data, pattern(kBuf));
  EXPECT_EQ(c->received_unread(), 0u);
  Out upd = h.take_one();
  EXPECT_EQ(upd.flags(), kAck);
  EXPECT_EQ(upd.seg.ack, p);
  EXPECT_EQ(upd.seg.window, kBuf);
  EXPECT_EQ(c->state(), State::kEstablished);

  // And the connection goes on zero-copy.
  send(2000);
  EXPECT_EQ(h.app.data, pattern(kBuf + 2000));
  EXPECT_EQ(c->received_unread(), 0u);
}

TEST_F(ReceivePauseTest, ResumingWithNothingHeldSendsNothing) {
  c->set_receive_paused(true);
  c->set_receive_paused(false);
  h.expect_none();
  EXPECT_FALSE(c->receive_paused());
}

TEST_F(ReceivePauseTest, PauseInsideOnDataKeepsTheRestAndNoTinyWindowUpdate) {
  // Paused, the peer fills the window; then the application reads one piece
  // and pauses again. The first piece ends at the reassembly page boundary
  // (the peer's stream starts just below 2^32), so it is only a few bytes:
  // a window that opens by less than min(rcv_buf/2, MSS) is not announced.
  c->set_receive_paused(true);
  send(kBuf);
  h.app.pause_on_data = true;
  c->set_receive_paused(false);
  ASSERT_EQ(h.app.data_calls, 1);
  const std::size_t first = h.app.data.size();
  ASSERT_GT(first, 0u);
  ASSERT_LT(first, 1460u);
  EXPECT_EQ(h.app.data, pattern(first));
  EXPECT_EQ(c->received_unread(), kBuf - first);
  EXPECT_TRUE(c->receive_paused());
  h.expect_none();  // receiver SWS avoidance: no window update for `first` bytes

  // The next piece opens the window by more than the step: announced.
  c->set_receive_paused(false);
  ASSERT_EQ(h.app.data_calls, 2);
  const std::size_t second = h.app.data.size() - first;
  EXPECT_GE(first + second, 1460u);
  Out upd = h.take_one();
  EXPECT_EQ(upd.seg.ack, p);
  EXPECT_EQ(upd.seg.window, first + second);

  h.app.pause_on_data = false;
  c->set_receive_paused(false);
  EXPECT_EQ(h.app.data, pattern(kBuf));
  EXPECT_EQ(h.take_one().seg.window, kBuf);
}

TEST_F(ReceivePauseTest, PeerFinWaitsForHeldBytes) {
  c->set_receive_paused(true);
  send(3000);
  h.take();
  h.in(kAck | kFin, p, u);
  Out a = h.take_one();
  EXPECT_EQ(a.flags(), kAck);
  EXPECT_EQ(a.seg.ack, p + 1);  // the FIN is acknowledged
  EXPECT_EQ(c->state(), State::kCloseWait);
  EXPECT_EQ(h.app.peer_closed, 0);  // but the application hears of it after the data
  c->set_receive_paused(false);
  EXPECT_EQ(h.app.data, pattern(3000));
  EXPECT_EQ(h.app.peer_closed, 1);
  h.expect_none();  // nothing more to receive: no window update in CLOSE-WAIT
  c->close();
  Out fin = h.take_one();
  EXPECT_EQ(fin.flags(), kAck | kFin);
  EXPECT_EQ(fin.seg.seq, u);
  EXPECT_EQ(fin.seg.ack, p + 1);
  EXPECT_EQ(c->state(), State::kLastAck);
}

TEST_F(ReceivePauseTest, CloseWithUnreadBytesResets) {  // RFC 9293 §3.10.4, RFC 2525 §2.17
  c->set_receive_paused(true);
  send(1500);
  h.take();
  c->close();
  Out r = h.take_one();
  EXPECT_EQ(r.flags() & kRst, kRst);
  EXPECT_EQ(r.seg.seq, u);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
  EXPECT_EQ(h.counters.close_unread_resets.get(), 1u);
  EXPECT_EQ(h.gauge(State::kEstablished), 0);
  EXPECT_EQ(h.app.data, "");
}

TEST_F(ReceivePauseTest, TimeWaitDeliversHeldBytesBeforeOnClosed) {
  // Half-closed by us (FIN-WAIT-2), paused; the peer's data and FIN arrive.
  c->shutdown();
  Out fin = h.take_one();
  ASSERT_EQ(fin.flags(), kAck | kFin);
  h.in(kAck, p, u + 1);
  h.take();
  ASSERT_EQ(c->state(), State::kFinWait2);
  c->set_receive_paused(true);
  send(2500);
  h.take();
  EXPECT_EQ(h.app.data, "");
  h.in(kAck | kFin, p, u + 1);
  Out a = h.take_one();
  EXPECT_EQ(a.seg.ack, p + 1);
  // TIME-WAIT keeps no data: it went to the application first, then the
  // FIN, then on_closed(kNormal).
  EXPECT_EQ(h.app.data, pattern(2500));
  EXPECT_TRUE(data_then_fin_then_closed(h.app.events)) << h.app.events;
  EXPECT_EQ(h.app.peer_closed, 1);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kNormal);
  EXPECT_EQ(h.gauge(State::kTimeWait), 1);
}

TEST_F(ReceivePauseTest, LastAckDeliversHeldBytesBeforeOnClosed) {
  // Paused; the peer's data and FIN arrive (CLOSE-WAIT, on_peer_closed
  // owed); we half-close (LAST-ACK) without reading; the peer ACKs our FIN.
  c->set_receive_paused(true);
  send(2500);
  h.in(kAck | kFin, p, u);
  h.take();
  ASSERT_EQ(c->state(), State::kCloseWait);
  c->shutdown();
  Out fin = h.take_one();
  ASSERT_EQ(fin.flags(), kAck | kFin);
  ASSERT_EQ(c->state(), State::kLastAck);
  EXPECT_EQ(h.app.events, "");
  h.in(kAck, p + 1, u + 1);
  EXPECT_EQ(h.app.data, pattern(2500));
  EXPECT_TRUE(data_then_fin_then_closed(h.app.events)) << h.app.events;
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kNormal);
  EXPECT_EQ(h.gauge(State::kLastAck), 0);
}

TEST_F(ReceivePauseTest, ZeroWindowStillTakesAcks) {
  // RFC 9293 §3.10.7.4: with RCV.WND = 0 valid ACKs are still accepted. Our
  // window is closed; the peer's next segment (a probe carrying one byte)
  // also acknowledges data we sent: the ACK counts, the byte does not.
  c->set_receive_paused(true);
  send(kBuf);
  h.advance(h.cfg.delayed_ack);
  h.take();
  ASSERT_EQ(h.tcb(c).rcv_wnd(), 0u);
  ASSERT_EQ(c->send("response", 8), 8u);
  Out d = h.take_one();
  ASSERT_EQ(d.payload, "response");
  EXPECT_EQ(d.seg.window, 0u);
  h.in(kAck, p, u + 8, "z");
  EXPECT_EQ(h.tcb(c).snd_una, u + 8);  // the ACK was taken
  Out a = h.take_one();                // the byte was not: ACK, window still 0
  EXPECT_EQ(a.flags(), kAck);
  EXPECT_EQ(a.seg.ack, p);
  EXPECT_EQ(a.seg.window, 0u);
  EXPECT_EQ(c->received_unread(), kBuf);
  EXPECT_EQ(h.drops(DropReason::kUnacceptable), 1u);
}

TEST_F(ReceivePauseTest, CoveredOutOfOrderBytesAreForgotten) {
  // Not paused. [100, 200) arrives out of order; the peer then resends
  // [0, 200) as one segment (repacketized). The queued range is stale: the
  // queue is released and the delayed-ACK policy is back to normal.
  const std::string all = pattern(200);
  h.in(kAck, p + 100, u, all.substr(100));
  h.take();
  ASSERT_NE(h.tcb(c).reasm, nullptr);
  h.in(kAck, p, u, all);
  EXPECT_EQ(h.app.data, all);
  EXPECT_EQ(h.take_one().seg.ack, p + 200);  // filled the hole: immediate
  EXPECT_EQ(h.tcb(c).reasm, nullptr);
  h.in(kAck, p + 200, u, "x");
  h.expect_none();  // one small segment: the ACK is delayed again
  h.advance(h.cfg.delayed_ack);
  EXPECT_EQ(h.take_one().seg.ack, p + 201);
}

TEST_F(ReceivePauseTest, SackBlocksReportOnlyOutOfOrderBytes) {
  // A connection with SACK: held in-order bytes are below RCV.NXT and are
  // never reported as SACK blocks (RFC 2018 §4: blocks lie above the ACK).
  Harness hs{small_buffer()};
  hs.listen();
  TcpOptions o = mss_option();
  o.sack_permitted = true;
  Connection* cs = hs.open(kPeerIsn, kOurIss, o);
  ASSERT_NE(cs, nullptr);
  hs.take();
  std::uint32_t q = hs.peer_nxt;
  const std::uint32_t us = hs.our_nxt;
  cs->set_receive_paused(true);
  hs.in(kAck, q, us, pattern(1000));
  hs.take();
  // 1000 bytes gap, then 500 bytes out of order.
  hs.in(kAck, q + 2000, us, pattern(500, 2000));
  Out d = hs.take_one();
  EXPECT_EQ(d.seg.ack, q + 1000);
  ASSERT_EQ(d.seg.opts.num_sack, 1);
  EXPECT_EQ(d.seg.opts.sack[0].left, q + 2000);
  EXPECT_EQ(d.seg.opts.sack[0].right, q + 2500);
  // Fill the gap: everything is contiguous and held; no SACK blocks left.
  hs.in(kAck, q + 1000, us, pattern(1000, 1000));
  Out f = hs.take_one();
  EXPECT_EQ(f.seg.ack, q + 2500);
  EXPECT_EQ(f.seg.opts.num_sack, 0);
  EXPECT_EQ(hs.app.data, "");
  EXPECT_EQ(cs->received_unread(), 2500u);
  cs->set_receive_paused(false);
  EXPECT_EQ(hs.app.data, pattern(2500));
  q += 2500;
  (void)q;
}

TEST_F(ReceivePauseTest, AbortInsideResumedDeliveryStopsIt) {
  c->set_receive_paused(true);
  send(5000);
  h.take();
  h.app.abort_on_data = true;
  c->set_receive_paused(false);
  EXPECT_EQ(h.app.data_calls, 1);
  ASSERT_EQ(h.app.closed.size(), 1u);
  EXPECT_EQ(h.app.closed[0], CloseReason::kAborted);
  Out r = h.take_one();
  EXPECT_EQ(r.flags() & kRst, kRst);
  EXPECT_EQ(h.gauge(State::kEstablished), 0);
}

}  // namespace
}  // namespace shardtcp::tcp::testing
