// NewReno and CUBIC window arithmetic; see congestion.h for the contract.
#include "congestion.h"

#include <algorithm>
#include <cmath>

namespace shardtcp::tcp {
namespace cc {

std::uint32_t sat_add(std::uint32_t a, std::uint32_t b) {
  const std::uint64_t s = std::uint64_t{a} + b;
  return s > Common::kMaxCwnd ? Common::kMaxCwnd : static_cast<std::uint32_t>(s);
}

// ---- Common -----------------------------------------------------------------

std::uint32_t Common::initial_window(std::uint32_t mss_bytes, std::uint32_t iw_segments) {
  const std::uint32_t m = std::max<std::uint32_t>(mss_bytes, 1);
  if (iw_segments == 10) {
    // RFC 6928 §2: IW = min(10*MSS, max(2*MSS, 14600)).
    return std::min(10 * m, std::max(2 * m, 14600u));
  }
  if (m > 2190) return 2 * m;  // RFC 5681 §3.1: IW = 2 segments for SMSS > 2190 ...
  if (m > 1095) return 3 * m;  // ... 3 for 1095 < SMSS <= 2190 ...
  return 4 * m;                // ... 4 for SMSS <= 1095.
}

void Common::init(std::uint32_t mss_bytes, std::uint32_t iw_segments) {
  mss = std::max<std::uint32_t>(mss_bytes, 1);
  cwnd = initial_window(mss, iw_segments);
  ssthresh = kInfiniteSsthresh;
  abc_acc = 0;
  in_recovery = false;
  after_rto = false;
}

std::uint32_t Common::slow_start(std::uint32_t acked) {
  // RFC 3465 §2.2: cwnd += min(bytes_acked, L*SMSS), L = 2 (1 after RTO, §2.3).
  const std::uint32_t limit = (after_rto ? 1u : 2u) * mss;
  const std::uint32_t inc = std::min(acked, limit);
  const std::uint32_t room = ssthresh - std::min(cwnd, ssthresh);
  // Stop at ssthresh (RFC 5681 §3.1: slow start while cwnd < ssthresh); the
  // rest of this ACK counts toward congestion avoidance.
  if (inc >= room) {
    cwnd = sat_add(cwnd, room);
    after_rto = false;
    return acked - room;
  }
  cwnd = sat_add(cwnd, inc);
  return 0;
}

std::uint32_t Common::half_flight(std::uint32_t flight_size) const {
  return std::max(flight_size / 2, 2 * mss);
}

// ---- NewReno ----------------------------------------------------------------

void NewReno::on_ack(std::uint32_t acked, TimeUs /*now*/, TimeUs /*srtt*/) {
  if (c.cwnd < c.ssthresh) {
    acked = c.slow_start(acked);
    if (acked == 0) return;
  }
  // RFC 3465 §2.1 / RFC 5681 §3.1 (byte counting in congestion avoidance):
  // cwnd grows by one SMSS once a full cwnd of bytes has been acknowledged.
  c.abc_acc += acked;
  if (c.abc_acc >= c.cwnd) {
    c.abc_acc -= c.cwnd;
    c.cwnd = sat_add(c.cwnd, c.mss);
  }
}

void NewReno::on_congestion(std::uint32_t flight_size, TimeUs /*now*/) {
  c.ssthresh = c.half_flight(flight_size);  // RFC 5681 (4)
  c.abc_acc = 0;
}

// ---- CUBIC ------------------------------------------------------------------

double Cubic::w_cubic(double t_sec) const {
  // RFC 9438 Figure 1: W_cubic(t) = C*(t-K)^3 + W_max.
  const double d = t_sec - k;
  return kC * d * d * d + w_epoch_max;
}

void Cubic::start_epoch(TimeUs now) {
  // RFC 9438 §4.2: a congestion avoidance stage begins; K from Figure 2
  // with cwnd_epoch = the window now.
  epoch_start = now;
  const double cwnd_seg = static_cast<double>(c.cwnd) / c.mss;
  if (w_max > cwnd_seg) {
    w_epoch_max = w_max;
    k = std::cbrt((w_max - cwnd_seg) / kC);
  } else {
    // No reduction to recover from (e.g. slow start ended at ssthresh): the
    // curve starts at its plateau (K = 0, origin = cwnd), as Linux does.
    w_epoch_max = cwnd_seg;
    k = 0;
  }
  w_est = cwnd_seg;  // §4.3: W_est = cwnd at the start of the stage
  frac = 0;
}

void Cubic::on_ack(std::uint32_t acked, TimeUs now, TimeUs srtt) {
  if (c.cwnd < c.ssthresh) {
    acked = c.slow_start(acked);
    if (acked == 0) return;
  }
  if (epoch_start == kNever) start_epoch(now);
  const double mss = c.mss;
  const double cwnd_seg = static_cast<double>(c.cwnd) / mss;
  const double segs_acked = static_cast<double>(acked) / mss;
  const double t = static_cast<double>(now - epoch_start) / static_cast<double>(kUsPerSec);
  const double rtt = static_cast<double>(srtt) / static_cast<double>(kUsPerSec);

  // §4.3 Reno-friendly estimate; alpha becomes 1 once W_est reaches the
  // window before the last reduction.
  const double alpha = w_est >= cwnd_prior ? 1.0 : kAlpha;
  w_est += alpha * segs_acked / cwnd_seg;

  double next;
  if (w_cubic(t) < w_est) {
    next = w_est;  // §4.3 Reno-friendly region: cwnd = W_est
  } else {
    // §4.4 / §4.5 concave and convex regions: target = W_cubic(t + RTT),
    // bounded to [cwnd, 1.5*cwnd]; cwnd += (target - cwnd) / cwnd per segment.
    double target = w_cubic(t + rtt);
    target = std::clamp(target, cwnd_seg, 1.5 * cwnd_seg);
    next = cwnd_seg + (target - cwnd_seg) / cwnd_seg * segs_acked;
  }
  if (next <= cwnd_seg) return;
  frac += (next - cwnd_seg) * mss;
  const double whole = std::floor(frac);
  if (whole >= 1.0) {
    frac -= whole;
    const double capped = std::min(whole, static_cast<double>(Common::kMaxCwnd));
    c.cwnd = sat_add(c.cwnd, static_cast<std::uint32_t>(capped));
  }
}

void Cubic::on_congestion(std::uint32_t /*flight_size*/, TimeUs /*now*/) {
  const double cwnd_seg = static_cast<double>(c.cwnd) / c.mss;
  // §4.7 fast convergence: release bandwidth to new flows when the window
  // keeps shrinking.
  if (kFastConvergence && cwnd_seg < w_max) {
    w_max = cwnd_seg * (1.0 + kBeta) / 2.0;
  } else {
    w_max = cwnd_seg;
  }
  cwnd_prior = cwnd_seg;
  // §4.6: ssthresh = cwnd * beta_cubic, at least 2 segments.
  const double ss = static_cast<double>(c.cwnd) * kBeta;
  c.ssthresh = std::max(static_cast<std::uint32_t>(ss), 2 * c.mss);
  epoch_start = kNever;
  c.abc_acc = 0;
}

}  // namespace cc

// ---- CongestionController ---------------------------------------------------

CongestionController::CongestionController(CongestionControl algo) {
  if (algo == CongestionControl::kNewReno) {
    algo_.emplace<cc::NewReno>();
  } else {
    algo_.emplace<cc::Cubic>();
  }
  init(536, 10);
}

void CongestionController::init(std::uint32_t mss, std::uint32_t iw_segments) {
  std::visit(
      [&](auto& a) {
        using A = std::decay_t<decltype(a)>;
        a = A{};
        a.c.init(mss, iw_segments);
      },
      algo_);
}

void CongestionController::on_ack(std::uint32_t bytes_acked, TimeUs now, TimeUs srtt) {
  if (bytes_acked == 0 || common().in_recovery) return;
  std::visit([&](auto& a) { a.on_ack(bytes_acked, now, srtt); }, algo_);
}

void CongestionController::on_enter_recovery(std::uint32_t flight_size, TimeUs now) {
  std::visit([&](auto& a) { a.on_congestion(flight_size, now); }, algo_);
  cc::Common& c = common();
  c.cwnd = c.ssthresh;  // RFC 6675 §5 step (4.2) / RFC 9438 §4.6
  c.in_recovery = true;
}

void CongestionController::on_exit_recovery() {
  cc::Common& c = common();
  // RFC 6582 §3.2 step 6 (full ACK): cwnd = ssthresh (deflate).
  if (c.in_recovery) c.cwnd = c.ssthresh;
  c.in_recovery = false;
}

void CongestionController::on_rto(std::uint32_t flight_size, TimeUs now, bool first_timeout) {
  if (first_timeout) std::visit([&](auto& a) { a.on_congestion(flight_size, now); }, algo_);
  cc::Common& c = common();
  c.cwnd = c.mss;  // RFC 5681 §3.1: loss window LW = 1 SMSS
  c.in_recovery = false;
  c.after_rto = true;
  c.abc_acc = 0;
}

void CongestionController::on_idle_restart(std::uint32_t iw_segments) {
  cc::Common& c = common();
  if (c.in_recovery) return;
  const std::uint32_t rw = std::min(cc::Common::initial_window(c.mss, iw_segments), c.cwnd);
  if (rw == c.cwnd) return;  // already at or below the restart window
  // RFC 2861 §3: remember 3/4 of the window in ssthresh before reducing it.
  c.ssthresh = std::max(c.ssthresh == cc::Common::kInfiniteSsthresh ? 0u : c.ssthresh,
                        static_cast<std::uint32_t>((std::uint64_t{c.cwnd} * 3) / 4));
  c.cwnd = rw;  // RFC 5681 §4.1: cwnd = RW = min(IW, cwnd)
  c.abc_acc = 0;
  std::visit([](auto& a) { a.on_idle(); }, algo_);
}

void CongestionController::restore(std::uint32_t cwnd, std::uint32_t ssthresh) {
  cc::Common& c = common();
  c.cwnd = std::clamp(cwnd, c.mss, cc::Common::kMaxCwnd);
  c.ssthresh = std::max(ssthresh, 2 * c.mss);
  c.in_recovery = false;
  c.after_rto = false;
  c.abc_acc = 0;
}

void CongestionController::inflate(std::uint32_t bytes) {
  cc::Common& c = common();
  c.cwnd = cc::sat_add(c.cwnd, bytes);
}

void CongestionController::deflate(std::uint32_t bytes) {
  cc::Common& c = common();
  // Never below one segment.
  c.cwnd = std::uint64_t{c.cwnd} > std::uint64_t{bytes} + c.mss ? c.cwnd - bytes : c.mss;
}

const char* CongestionController::name() const {
  return std::visit([](const auto& a) { return a.name(); }, algo_);
}

}  // namespace shardtcp::tcp
