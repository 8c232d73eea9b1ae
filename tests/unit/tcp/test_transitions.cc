// Table-driven transition tests: one row per arrow of RFC 9293's state
// diagram and per check of §3.10.7 SEGMENT ARRIVES. Each row: from-state,
// incoming segment, the exact segment(s) out (or none), to-state, RFC clause.
// Sequence numbers sit just below 2^32 so every row crosses the wrap.
// Every row also checks the per-state gauges: consistent with the tables,
// and moved by exactly the expected number of single-unit steps.
#include <array>

#include "engine_harness.h"

namespace shardtcp::tcp::testing {
namespace {

// Where the expected seq/ack values come from.
enum class Base { kZero, kU, kP, kSegAck, kSegSeq };

struct Expect {
  std::uint8_t flags;
  Base seq_base;
  std::int64_t seq_off;
  Base ack_base;
  std::int64_t ack_off;
};

struct Row {
  const char* clause;
  State from;  // kClosed means "no listener"
  std::uint8_t flags;
  std::int64_t seq_off;  // from P (the peer's next sequence number)
  std::int64_t ack_off;  // from U (our next sequence number)
  const char* data;
  std::vector<Expect> out;
  State to;   // kListen = back to the listener with no Tcb
  int steps;  // gauge moves (single-unit transitions) the row causes
};

// Brings a fresh harness to `from`; sets P and U.
struct Fixture {
  Harness h;
  std::uint32_t P = 0;
  std::uint32_t U = 0;
  Connection* c = nullptr;

  void reach(State from) {
    if (from == State::kClosed) {
      P = kPeerIsn;
      U = 0;
      return;
    }
    h.listen();
    if (from == State::kListen) {
      P = kPeerIsn;
      return;
    }
    if (from == State::kSynSent) {
      h.impl().isn_override_ = true;
      h.impl().isn_override_value_ = kOurIss;
      c = h.connect();
      h.take();
      P = kPeerIsn;
      U = kOurIss + 1;
      return;
    }
    if (from == State::kSynReceived) {
      h.impl().isn_override_ = true;
      h.impl().isn_override_value_ = kOurIss;
      h.in(kSyn, kPeerIsn, 0, "", 65535, mss_option());
      h.take();
      P = kPeerIsn + 1;
      U = kOurIss + 1;
      return;
    }
    c = h.open();
    P = h.peer_nxt;
    U = h.our_nxt;
    switch (from) {
      case State::kEstablished:
        break;
      case State::kFinWait1:
        c->close();
        U += 1;  // our FIN is sent
        break;
      case State::kFinWait2:
        c->close();
        h.in(kAck, P, U + 1);
        U += 1;
        break;
      case State::kCloseWait:
        h.in(kAck | kFin, P, U);
        P += 1;
        break;
      case State::kLastAck:
        h.in(kAck | kFin, P, U);
        c->close();
        P += 1;
        U += 1;
        break;
      case State::kClosing:
        c->close();
        h.in(kAck | kFin, P, U);  // crosses our FIN
        P += 1;
        U += 1;
        break;
      case State::kTimeWait:
        c->close();
        h.in(kAck | kFin, P, U + 1);
        P += 1;
        U += 1;
        break;
      default:
        ADD_FAILURE() << "unsupported from-state";
    }
    h.take();
  }

  std::uint32_t val(Base b, std::int64_t off, const Segment& in) const {
    std::uint32_t base = 0;
    switch (b) {
      case Base::kZero:
        base = 0;
        break;
      case Base::kU:
        base = U;
        break;
      case Base::kP:
        base = P;
        break;
      case Base::kSegAck:
        base = in.ack;
        break;
      case Base::kSegSeq:
        base = in.seq;
        break;
    }
    return base + static_cast<std::uint32_t>(off);
  }

  State current() {
    if (h.stack->connection_count() == 1 && c != nullptr) return c->state();
    if (h.stack->connection_count() == 1) {
      // A Tcb we have no handle for (passive SYN-RECEIVED).
      for (int i = 0; i < kNumStates; ++i) {
        const State s = state_from_index(i);
        if (s != State::kListen && s != State::kTimeWait && h.gauge(s) == 1) return s;
      }
    }
    if (h.stack->time_wait_count() == 1) return State::kTimeWait;
    // No Tcb: a connection the application held is CLOSED; a half-open one
    // went back to the listener.
    return c == nullptr && h.gauge(State::kListen) > 0 ? State::kListen : State::kClosed;
  }
};

std::array<std::int64_t, kNumStates> gauges(const Harness& h) {
  std::array<std::int64_t, kNumStates> g{};
  for (int i = 0; i < kNumStates; ++i) g[i] = h.gauge(state_from_index(i));
  return g;
}

constexpr std::uint8_t A = kAck;
constexpr std::uint8_t S = kSyn;
constexpr std::uint8_t F = kFin;
constexpr std::uint8_t R = kRst;

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      // --- CLOSED (no listener), §3.10.7.1 ---
      {"9293 3.10.7.1 SYN, no ACK -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>",
       State::kClosed,
       S,
       0,
       0,
       "",
       {{R | A, Base::kZero, 0, Base::kSegSeq, 1}},
       State::kClosed,
       0},
      {"9293 3.10.7.1 ACK -> <SEQ=SEG.ACK><RST>",
       State::kClosed,
       A,
       0,
       77,
       "x",
       {{R, Base::kSegAck, 0, Base::kZero, 0}},
       State::kClosed,
       0},
      {"9293 3.10.7.1 RST is dropped", State::kClosed, R, 0, 0, "", {}, State::kClosed, 0},
      // --- LISTEN, §3.10.7.2 ---
      {"9293 3.10.7.2 first: RST ignored", State::kListen, R, 0, 0, "", {}, State::kListen, 0},
      {"9293 3.10.7.2 second: ACK -> <SEQ=SEG.ACK><RST>",
       State::kListen,
       A,
       0,
       5,
       "",
       {{R, Base::kSegAck, 0, Base::kZero, 0}},
       State::kListen,
       0},
      {"9293 3.10.7.2 third: SYN -> SYN-RECEIVED, <SYN,ACK>",
       State::kListen,
       S,
       0,
       0,
       "",
       {{S | A, Base::kZero, 0, Base::kSegSeq, 1}},
       State::kSynReceived,
       1},
      {"9293 3.10.7.2 fourth: no SYN/RST/ACK -> drop",
       State::kListen,
       F,
       0,
       0,
       "",
       {},
       State::kListen,
       0},
      // --- SYN-SENT, §3.10.7.3 ---
      {"9293 3.10.7.3 SYN,ACK -> ESTABLISHED, <ACK>",
       State::kSynSent,
       S | A,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kSegSeq, 1}},
       State::kEstablished,
       1},
      {"9293 3.10.7.3 SYN -> SYN-RECEIVED (simultaneous open), <SYN,ACK>",
       State::kSynSent,
       S,
       0,
       0,
       "",
       {{S | A, Base::kU, -1, Base::kSegSeq, 1}},
       State::kSynReceived,
       1},
      {"9293 3.10.7.3 RST,ACK acceptable -> CLOSED (refused)",
       State::kSynSent,
       R | A,
       0,
       0,
       "",
       {},
       State::kClosed,
       1},
      {"9293 3.10.7.3 RST without ACK -> drop",
       State::kSynSent,
       R,
       0,
       0,
       "",
       {},
       State::kSynSent,
       0},
      {"9293 3.10.7.3 first: bad ACK -> <SEQ=SEG.ACK><RST>",
       State::kSynSent,
       A,
       0,
       100,
       "",
       {{R, Base::kSegAck, 0, Base::kZero, 0}},
       State::kSynSent,
       0},
      {"9293 3.10.7.3 first: SYN,ACK with bad ACK -> RST",
       State::kSynSent,
       S | A,
       0,
       -1,
       "",
       {{R, Base::kSegAck, 0, Base::kZero, 0}},
       State::kSynSent,
       0},
      {"9293 3.10.7.3 fifth: neither SYN nor RST -> drop",
       State::kSynSent,
       F,
       0,
       0,
       "",
       {},
       State::kSynSent,
       0},
      // --- SYN-RECEIVED, §3.10.7.4 ---
      {"9293 3.10.7.4 fifth: acceptable ACK -> ESTABLISHED",
       State::kSynReceived,
       A,
       0,
       0,
       "",
       {},
       State::kEstablished,
       1},
      {"9293 3.10.7.4 fifth: unacceptable ACK -> <SEQ=SEG.ACK><RST>",
       State::kSynReceived,
       A,
       0,
       9,
       "",
       {{R, Base::kSegAck, 0, Base::kZero, 0}},
       State::kSynReceived,
       0},
      {"9293 3.10.7.4 second: RST -> LISTEN",
       State::kSynReceived,
       R,
       0,
       0,
       "",
       {},
       State::kListen,
       1},
      {"9293 3.8.1 retransmitted SYN -> SYN,ACK again",
       State::kSynReceived,
       S,
       -1,
       0,
       "",
       {{S | A, Base::kU, -1, Base::kP, 0}},
       State::kSynReceived,
       0},
      {"9293 3.10.7.4 fourth: other SYN (passive) -> LISTEN",
       State::kSynReceived,
       S,
       5,
       0,
       "",
       {},
       State::kListen,
       1},
      {"9293 3.10.7.4 ACK+FIN -> ESTABLISHED -> CLOSE-WAIT",
       State::kSynReceived,
       A | F,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 1}},
       State::kCloseWait,
       2},
      {"9293 3.10.7.4 fifth: no ACK -> drop",
       State::kSynReceived,
       0,
       0,
       0,
       "x",
       {},
       State::kSynReceived,
       0},
      // --- ESTABLISHED ---
      {"9293 3.10.7.4 eighth: FIN -> CLOSE-WAIT, <ACK>",
       State::kEstablished,
       A | F,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 1}},
       State::kCloseWait,
       1},
      {"9293 3.10.7.4 eighth: data+FIN -> CLOSE-WAIT, <ACK>",
       State::kEstablished,
       A | F,
       0,
       0,
       "bye",
       {{A, Base::kU, 0, Base::kP, 4}},
       State::kCloseWait,
       1},
      {"5961 3.2: RST at RCV.NXT -> CLOSED",
       State::kEstablished,
       R,
       0,
       0,
       "",
       {},
       State::kClosed,
       1},
      {"5961 3.2: in-window RST -> challenge ACK",
       State::kEstablished,
       R,
       1000,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kEstablished,
       0},
      {"5961 3.2: RST outside window -> drop",
       State::kEstablished,
       R,
       -1,
       0,
       "",
       {},
       State::kEstablished,
       0},
      {"5961 4.2: SYN -> challenge ACK",
       State::kEstablished,
       S,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kEstablished,
       0},
      {"9293 3.10.7.4 first: beyond window -> <ACK>",
       State::kEstablished,
       A,
       70000,
       0,
       "x",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kEstablished,
       0},
      {"9293 3.10.7.4 first: old duplicate -> <ACK>",
       State::kEstablished,
       A,
       -10,
       0,
       "dup",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kEstablished,
       0},
      {"9293 3.10.7.4 fifth: no ACK bit -> drop",
       State::kEstablished,
       0,
       0,
       0,
       "x",
       {},
       State::kEstablished,
       0},
      {"5961 5.2: ACK beyond SND.NXT -> <ACK>, drop",
       State::kEstablished,
       A,
       0,
       10,
       "x",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kEstablished,
       0},
      {"9293 3.10.7.4 seventh: out-of-order -> queue, immediate <ACK>",
       State::kEstablished,
       A,
       10,
       0,
       "ooo",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kEstablished,
       0},
      // --- FIN-WAIT-1 ---
      {"9293 3.10.7.4 fifth: FIN acked -> FIN-WAIT-2",
       State::kFinWait1,
       A,
       0,
       0,
       "",
       {},
       State::kFinWait2,
       1},
      {"9293 3.10.7.4 eighth: FIN -> CLOSING (simultaneous close)",
       State::kFinWait1,
       A | F,
       0,
       -1,
       "",
       {{A, Base::kU, 0, Base::kP, 1}},
       State::kClosing,
       1},
      {"9293 3.10.7.4 FIN acking our FIN -> FIN-WAIT-2 -> TIME-WAIT",
       State::kFinWait1,
       A | F,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 1}},
       State::kTimeWait,
       2},
      {"5961 3.2: RST -> CLOSED", State::kFinWait1, R, 0, 0, "", {}, State::kClosed, 1},
      {"5961 4.2: SYN -> challenge ACK",
       State::kFinWait1,
       S,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kFinWait1,
       0},
      // --- FIN-WAIT-2 ---
      {"9293 3.10.7.4 eighth: FIN -> TIME-WAIT, <ACK>",
       State::kFinWait2,
       A | F,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 1}},
       State::kTimeWait,
       1},
      {"5961 3.2: RST -> CLOSED", State::kFinWait2, R, 0, 0, "", {}, State::kClosed, 1},
      {"5961 4.2: SYN -> challenge ACK",
       State::kFinWait2,
       S,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kFinWait2,
       0},
      {"9293 3.10.4: data after close() -> RST",
       State::kFinWait2,
       A,
       0,
       0,
       "late",
       {{R | A, Base::kU, 0, Base::kP, 0}},
       State::kClosed,
       1},
      // --- CLOSE-WAIT ---
      {"5961 3.2: RST -> CLOSED", State::kCloseWait, R, 0, 0, "", {}, State::kClosed, 1},
      {"9293 3.10.7.4 first: retransmitted FIN -> <ACK>",
       State::kCloseWait,
       A | F,
       -1,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kCloseWait,
       0},
      {"5961 4.2: SYN -> challenge ACK",
       State::kCloseWait,
       S,
       0,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kCloseWait,
       0},
      // --- LAST-ACK ---
      {"9293 3.10.7.4 fifth: FIN acked -> CLOSED",
       State::kLastAck,
       A,
       0,
       0,
       "",
       {},
       State::kClosed,
       1},
      {"5961 3.2: RST -> CLOSED", State::kLastAck, R, 0, 0, "", {}, State::kClosed, 1},
      {"9293 3.10.7.4 first: retransmitted FIN -> <ACK>",
       State::kLastAck,
       A | F,
       -1,
       -1,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kLastAck,
       0},
      // --- CLOSING ---
      {"9293 3.10.7.4 fifth: FIN acked -> TIME-WAIT",
       State::kClosing,
       A,
       0,
       0,
       "",
       {},
       State::kTimeWait,
       1},
      {"5961 3.2: RST -> CLOSED", State::kClosing, R, 0, 0, "", {}, State::kClosed, 1},
      // --- TIME-WAIT (compact entry) ---
      {"9293 3.10.7.4 eighth: retransmitted FIN -> <ACK>, restart",
       State::kTimeWait,
       A | F,
       -1,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kTimeWait,
       0},
      {"1337: RST ignored", State::kTimeWait, R, 0, 0, "", {}, State::kTimeWait, 0},
      {"6191: old SYN -> <ACK>",
       State::kTimeWait,
       S,
       -5,
       0,
       "",
       {{A, Base::kU, 0, Base::kP, 0}},
       State::kTimeWait,
       0},
      {"6191: SYN beyond RCV.NXT reopens -> <SYN,ACK>",
       State::kTimeWait,
       S,
       1000,
       0,
       "",
       {{S | A, Base::kZero, 0, Base::kSegSeq, 1}},
       State::kSynReceived,
       2},
      {"9293 3.10.7.4: bare in-window ACK absorbed",
       State::kTimeWait,
       A,
       0,
       0,
       "",
       {},
       State::kTimeWait,
       0},
  };
  return r;
}

class Transition : public ::testing::TestWithParam<std::size_t> {};

TEST_P(Transition, Row) {
  const Row& row = rows()[GetParam()];
  SCOPED_TRACE(std::string(row.clause) + " from " + std::string(to_string(row.from)));
  Fixture fx;
  fx.reach(row.from);
  ASSERT_EQ(fx.current(), row.from == State::kListen ? State::kListen : row.from);
  const auto before = gauges(fx.h);
  const std::string data = row.data;
  TcpOptions opts;
  if (row.flags & kSyn) opts = mss_option();
  Segment s = fx.h.seg(row.flags, fx.P + static_cast<std::uint32_t>(row.seq_off),
                       (row.flags & kAck) ? fx.U + static_cast<std::uint32_t>(row.ack_off) : 0,
                       data, 65535, opts);
  fx.h.in(s);
  auto out = fx.h.take();
  ASSERT_EQ(out.size(), row.out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Expect& e = row.out[i];
    EXPECT_EQ(flags_str(out[i].seg.flags), flags_str(e.flags)) << "segment " << i;
    if (e.flags & kSyn) {
      // Our ISN is not the table's business unless it comes from kU.
      if (e.seq_base != Base::kZero) {
        EXPECT_EQ(out[i].seg.seq, fx.val(e.seq_base, e.seq_off, s));
      }
    } else {
      EXPECT_EQ(out[i].seg.seq, fx.val(e.seq_base, e.seq_off, s)) << "segment " << i;
    }
    if (e.flags & kAck) {
      EXPECT_EQ(out[i].seg.ack, fx.val(e.ack_base, e.ack_off, s)) << "segment " << i;
    }
  }
  EXPECT_EQ(fx.current(), row.to);

  // Gauges: consistent with the tables, and moved by exactly `steps` units.
  const auto after = gauges(fx.h);
  std::int64_t live = 0;
  for (int i = 0; i < kNumStates; ++i) {
    const State st = state_from_index(i);
    EXPECT_GE(after[i], 0) << to_string(st);
    if (st != State::kListen && st != State::kTimeWait && st != State::kClosed) live += after[i];
  }
  EXPECT_EQ(live, static_cast<std::int64_t>(fx.h.stack->connection_count()));
  EXPECT_EQ(after[state_index(State::kTimeWait)],
            static_cast<std::int64_t>(fx.h.stack->time_wait_count()));
  std::int64_t moved = 0;
  std::int64_t net = 0;
  for (int i = 0; i < kNumStates; ++i) {
    moved += std::abs(after[i] - before[i]);
    net += after[i] - before[i];
  }
  if (row.steps <= 1) {
    // One transition: -1 in one gauge, +1 in another (or a single +-1 when
    // one end is CLOSED, which is not gauged).
    const bool closed_end = row.to == State::kClosed || row.to == State::kListen ||
                            row.from == State::kListen || row.from == State::kClosed;
    if (row.steps == 0) {
      EXPECT_EQ(moved, 0);
    } else if (closed_end) {
      EXPECT_EQ(moved, 1);
    } else {
      EXPECT_EQ(moved, 2);
      EXPECT_EQ(net, 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc9293, Transition, ::testing::Range<std::size_t>(0, rows().size()));

}  // namespace
}  // namespace shardtcp::tcp::testing
