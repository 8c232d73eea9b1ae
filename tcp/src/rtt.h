// Round-trip time estimation and the retransmission timeout, RFC 6298.
//
// KARN'S ALGORITHM IS THE CALLER'S JOB (RFC 6298 §3, RFC 7323 §4): only call
// sample() with an RTT measured on a segment that was NOT retransmitted
// (or, with timestamps, from the TSecr of an ACK that acknowledges new data,
// which RFC 7323 §4.2 makes unambiguous). Never sample a retransmission
// without timestamps.
//
// Backoff: backoff() doubles the timer on each expiry (RFC 6298 (5.5)); the
// caller resets it with reset_backoff() when an ACK acknowledges new data.
// A new valid sample also clears the backoff, since RTO is then recomputed
// from fresh measurements (RFC 6298 §5, note after (5.7)).
//
// RFC 6298 (5.7) — "if the timer expires while waiting for the SYN-ACK and
// the initial RTO is < 3 s, RTO is set to 3 s when data transmission begins"
// — is also left to the caller (it knows about the handshake).
//
// All arithmetic is in integer microseconds; no allocation, no virtual calls.
#pragma once

#include <algorithm>
#include <cstdint>

#include "shardtcp/tcp/config.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

class RttEstimator {
 public:
  // Clock granularity G of RFC 6298 (2.2)/(2.3): our timer wheel ticks in ms.
  static constexpr TimeUs kGranularity = 1 * kUsPerMs;
  // K of RFC 6298 (2.2)/(2.3).
  static constexpr TimeUs kK = 4;
  // Shifts beyond this always saturate at rto_max (keeps the shift defined).
  static constexpr unsigned kMaxBackoffShift = 30;

  // The limits (rto_min/max/initial) are read from `cfg`, which must outlive
  // the estimator (the Stack's config; one copy per core, not per TCB).
  explicit RttEstimator(const TcpConfig& cfg) : cfg_(&cfg), base_rto_(clamp_rto(cfg.rto_initial)) {}
  explicit RttEstimator(const TcpConfig&& cfg) = delete;

  // One valid RTT measurement (Karn's rule already applied by the caller).
  void sample(TimeUs rtt) {
    if (!has_sample_) {
      // RFC 6298 (2.2): first measurement R.
      srtt_ = rtt;
      rttvar_ = rtt / 2;
      has_sample_ = true;
    } else {
      // RFC 6298 (2.3), beta = 1/4 then alpha = 1/8; RTTVAR uses the old SRTT.
      const TimeUs err = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
      rttvar_ = (3 * rttvar_ + err) / 4;
      srtt_ = (7 * srtt_ + rtt) / 8;
    }
    // RFC 6298 (2.2)/(2.3): RTO = SRTT + max(G, K*RTTVAR), then (2.4)/(2.5).
    base_rto_ = clamp_rto(srtt_ + std::max(kGranularity, kK * rttvar_));
    backoffs_ = 0;
  }

  // Current RTO with exponential backoff applied, never above rto_max
  // (RFC 6298 (5.5) and (2.5)).
  TimeUs rto() const {
    const TimeUs max = rto_max();
    if (backoffs_ >= kMaxBackoffShift) return max;
    const TimeUs limit = max >> backoffs_;
    if (base_rto_ > limit) return max;
    return std::min(base_rto_ << backoffs_, max);
  }

  // RFC 6298 (5.5): the retransmission timer expired; double the RTO.
  void backoff() {
    if (backoffs_ < ~0u) ++backoffs_;
  }
  // An ACK acknowledged new data: stop backing off.
  void reset_backoff() { backoffs_ = 0; }

  // Forget every measurement (e.g. a reused TCB): back to rto_initial.
  void reset() {
    srtt_ = 0;
    rttvar_ = 0;
    has_sample_ = false;
    backoffs_ = 0;
    base_rto_ = clamp_rto(cfg_->rto_initial);
  }

  TimeUs srtt() const { return srtt_; }
  TimeUs rttvar() const { return rttvar_; }
  bool has_sample() const { return has_sample_; }
  unsigned backoffs() const { return backoffs_; }
  // RTO without backoff (for diagnostics and tests).
  TimeUs base_rto() const { return base_rto_; }

 private:
  // RFC 6298 (2.4): round up to rto_min; (2.5): cap at rto_max.
  TimeUs clamp_rto(TimeUs r) const { return std::clamp(r, cfg_->rto_min, rto_max()); }
  TimeUs rto_max() const { return std::max(cfg_->rto_max, cfg_->rto_min); }

  const TcpConfig* cfg_;
  TimeUs base_rto_;
  TimeUs srtt_ = 0;
  TimeUs rttvar_ = 0;
  unsigned backoffs_ = 0;
  bool has_sample_ = false;
};

}  // namespace shardtcp::tcp
