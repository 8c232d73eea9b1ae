// Congestion control: RFC 5681 slow start / congestion avoidance with
// appropriate byte counting (RFC 3465), initial window per RFC 6928, NewReno
// (RFC 6582 window rules) and CUBIC (RFC 9438).
//
// The algorithm is chosen once per connection from TcpConfig and held in a
// std::variant: every call is a std::visit over two alternatives (a switch),
// never a virtual call (STYLE.md: modes chosen once, not per packet).
//
// The class is named CongestionController because config.h already uses
// `CongestionControl` for the enum that selects the algorithm.
//
// Division of work with the engine:
// * on_ack() for every ACK that advances SND.UNA (bytes_acked = the advance).
//   It does nothing while in recovery: RFC 6582 / RFC 6675 govern the window
//   then, and the engine calls on_exit_recovery() when "recover" is acked.
// * on_enter_recovery() on the third duplicate ACK (or RFC 6675 loss
//   detection). It sets ssthresh and cwnd = ssthresh (RFC 6675 §5 step 4).
//   A sender without SACK following RFC 6582 then calls inflate(3 * MSS) and
//   inflate(MSS) per further duplicate ACK, deflate(acked) + inflate(MSS) on
//   a partial ACK (RFC 6582 §3.2 steps 2, 3, 5).
// * on_rto() when the retransmission timer fires. Pass first_timeout = false
//   for a repeated timeout of the same segment: ssthresh is then kept
//   (RFC 5681 §3.1, note on equation (4)).
// * Application-limited periods: RFC 9438 §4.6 — implementations deriving
//   ssthresh from cwnd (as this one does, like Linux) must not grow cwnd while
//   the flight is below it; the engine should skip on_ack() when it was not
//   cwnd-limited (RFC 7661 spirit).
#pragma once

#include <cstdint>
#include <variant>

#include "shardtcp/tcp/config.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

namespace cc {

// State and rules shared by both algorithms (no virtual functions: the
// algorithms embed this and call it directly).
struct Common {
  static constexpr std::uint32_t kInfiniteSsthresh = 0x7FFFFFFFu;  // RFC 5681 "arbitrarily high"
  static constexpr std::uint32_t kMaxCwnd = 0x3FFFFFFFu;  // 1 GiB: the largest scaled window

  std::uint32_t mss = 536;
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = kInfiniteSsthresh;
  std::uint32_t abc_acc = 0;  // RFC 3465 bytes_acked in congestion avoidance
  bool in_recovery = false;
  bool after_rto = false;  // slow start after RTO: L = 1 SMSS (RFC 3465 §2.3)

  void init(std::uint32_t mss_bytes, std::uint32_t iw_segments);
  // IW in bytes: RFC 6928 for iw_segments == 10, RFC 5681 §3.1 otherwise.
  static std::uint32_t initial_window(std::uint32_t mss_bytes, std::uint32_t iw_segments);
  // RFC 5681 (2) with RFC 3465 L: returns acked bytes left over once cwnd
  // reached ssthresh (to be used by congestion avoidance).
  std::uint32_t slow_start(std::uint32_t acked);
  // RFC 5681 (4): max(FlightSize / 2, 2*SMSS).
  std::uint32_t half_flight(std::uint32_t flight_size) const;
};

// a + b, saturating at Common::kMaxCwnd.
std::uint32_t sat_add(std::uint32_t a, std::uint32_t b);

// RFC 5681 + RFC 3465 + RFC 6582 window rules.
struct NewReno {
  Common c;
  void on_ack(std::uint32_t acked, TimeUs now, TimeUs srtt);
  void on_congestion(std::uint32_t flight_size, TimeUs now);
  void on_idle() {}
  static const char* name() { return "newreno"; }
};

// RFC 9438.
struct Cubic {
  static constexpr double kC = 0.4;                                      // RFC 9438 §5.1
  static constexpr double kBeta = 0.7;                                   // RFC 9438 §4.6
  static constexpr double kAlpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);  // §4.3
  static constexpr bool kFastConvergence = true;                         // §4.7

  Common c;
  double w_max = 0;             // segments, window before the last reduction (§4.7 adjusted)
  double cwnd_prior = 0;        // segments, cwnd when ssthresh was last set (§4.3)
  double k = 0;                 // seconds (§4.2, Figure 2)
  double w_est = 0;             // segments, Reno-friendly estimate (§4.3)
  double w_epoch_max = 0;       // W_max used by the current epoch's curve
  double frac = 0;              // fractional bytes of increase not yet in cwnd
  TimeUs epoch_start = kNever;  // start of the current congestion avoidance stage

  void on_ack(std::uint32_t acked, TimeUs now, TimeUs srtt);
  void on_congestion(std::uint32_t flight_size, TimeUs now);
  // W_cubic(t) of RFC 9438 Figure 1, in segments, for the current epoch.
  double w_cubic(double t_sec) const;
  void on_idle() { epoch_start = kNever; }  // the curve restarts with the next ACK
  static const char* name() { return "cubic"; }

 private:
  void start_epoch(TimeUs now);
};

}  // namespace cc

class CongestionController {
 public:
  explicit CongestionController(const TcpConfig& cfg)
      : CongestionController(cfg.congestion_control) {}
  explicit CongestionController(CongestionControl algo);

  // Initial window (RFC 6928 for iw_segments == 10, RFC 5681 §3.1 otherwise);
  // also the reset for a reused TCB. mss = SMSS in bytes.
  void init(std::uint32_t mss, std::uint32_t iw_segments);
  // An ACK advanced SND.UNA by bytes_acked. srtt = current smoothed RTT (0 if
  // none yet; CUBIC then uses its t alone).
  void on_ack(std::uint32_t bytes_acked, TimeUs now, TimeUs srtt);
  // Loss detected by duplicate ACKs / SACK: ssthresh = max(flight/2, 2*MSS)
  // (NewReno, RFC 5681 (4)) or beta*cwnd (CUBIC, RFC 9438 §4.6); cwnd = ssthresh.
  void on_enter_recovery(std::uint32_t flight_size, TimeUs now);
  // Recovery ended (RFC 6582 §3.2 step 6 / RFC 6675): cwnd = ssthresh.
  void on_exit_recovery();
  // RFC 5681 §3.1 (4): ssthresh as on a congestion event, cwnd = 1 SMSS.
  void on_rto(std::uint32_t flight_size, TimeUs now = 0, bool first_timeout = true);
  // RFC 5681 §4.1: the connection sent nothing for longer than the RTO;
  // cwnd = RW = min(IW, cwnd) before transmission restarts. ssthresh keeps
  // max(ssthresh, 3/4 cwnd) (RFC 2861 §3, as Linux's tcp_cwnd_restart) so
  // slow start climbs back to the old rate within a few RTTs. CUBIC starts
  // a new epoch. No effect during recovery.
  void on_idle_restart(std::uint32_t iw_segments);
  // A congestion response shown needless (undo.cc: RFC 4015 / RFC 3708):
  // cwnd and ssthresh set as given, out of recovery and of post-RTO slow start.
  void restore(std::uint32_t cwnd, std::uint32_t ssthresh);
  // RFC 6582 window inflation / deflation during non-SACK fast recovery.
  void inflate(std::uint32_t bytes);
  void deflate(std::uint32_t bytes);
  // The path MTU went down (RFC 1191 / RFC 4821): SMSS follows; cwnd is kept
  // (a smaller MTU is not a congestion signal).
  void set_mss(std::uint32_t mss) { common().mss = mss; }

  std::uint32_t cwnd() const { return common().cwnd; }
  std::uint32_t ssthresh() const { return common().ssthresh; }
  std::uint32_t mss() const { return common().mss; }
  bool in_slow_start() const { return common().cwnd < common().ssthresh; }
  bool in_recovery() const { return common().in_recovery; }
  const char* name() const;

  // The algorithm state, for tests and diagnostics.
  const cc::Cubic* cubic() const { return std::get_if<cc::Cubic>(&algo_); }

 private:
  const cc::Common& common() const {
    return std::visit([](const auto& a) -> const cc::Common& { return a.c; }, algo_);
  }
  cc::Common& common() {
    return std::visit([](auto& a) -> cc::Common& { return a.c; }, algo_);
  }

  std::variant<cc::NewReno, cc::Cubic> algo_;
};

}  // namespace shardtcp::tcp
