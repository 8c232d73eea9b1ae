// Transmission log and RACK loss detection (RFC 8985 §6), with the per-
// segment state that SACK loss recovery, tail loss probes (RFC 8985 §7) and
// proportional rate reduction (RFC 6937) need.
//
// The log holds one record per transmitted segment of [SND.UNA, SND.MAX):
// its sequence range, the time of its latest transmission and whether it is
// SACKed, deemed lost, or retransmitted (RFC 8985 §6.1 "per-segment
// variables"; Linux keeps the same state on its retransmission queue). From
// it come the RACK RTT and the time-ordered loss test, the detection of lost
// retransmissions (a retransmission carries its own send time, so a later
// delivery shows it lost exactly as an original), and a pipe estimate in
// the manner of RFC 6675 SetPipe(): unSACKed bytes not deemed lost, plus
// retransmitted bytes.
//
// Fixed capacity (kCap records, inline): no allocation, ever. Records split
// when a SACK block or a retransmission covers part of one; when the log is
// full a new transmission is merged into the last record (its time becomes
// the later one: such bytes are deemed lost later, never earlier) and a
// split that finds no room leaves the record whole (a SACK is then not
// recorded, which only makes the sender more conservative).
//
// Pooled like the SACK scoreboard: a connection borrows one while it has
// data in flight and the peer SACKs (RFC 8985 §6: RACK needs SACK).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/seq.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

struct TxRecord {
  std::uint32_t start = 0;
  std::uint32_t end = 0;  // one past the last sequence number (a FIN counts)
  TimeUs xmit = 0;        // latest transmission (RFC 8985 Segment.xmit_ts)
  std::uint8_t flags = 0;
};

class TxLog {
 public:
  static constexpr int kCap = 256;
  static constexpr std::uint8_t kSacked = 1;       // RFC 8985 Segment.sacked
  static constexpr std::uint8_t kLost = 2;         // deemed lost, not yet repaired
  static constexpr std::uint8_t kRetrans = 4;      // retransmitted since deemed lost (in flight)
  static constexpr std::uint8_t kEverRetrans = 8;  // RFC 8985 Segment.retransmitted
  static constexpr std::uint32_t kDupThresh = 3;   // RFC 8985 §6.2 step 4

  // What one ACK did (RFC 6937 DeliveredData and the RFC 6298 sample).
  struct AckInfo {
    std::uint32_t delivered = 0;  // bytes newly cumulatively acked or SACKed
    bool rtt_valid = false;       // rtt below is a Karn-clean sample
    TimeUs rtt = 0;               // from the most recently sent, never retransmitted, delivered
    bool dsack = false;           // a block at or below the ACK (RFC 2883)
  };

  void clear();
  bool empty() const { return n_ == 0; }
  int size() const { return n_; }
  const TxRecord& at(int i) const { return r_[i]; }
  // Next sequence number after the logged range.
  std::uint32_t end() const { return n_ > 0 ? r_[n_ - 1].end : 0; }

  // [start, end) was transmitted at `now`: new data when start is the end of
  // the log (or the log is empty), else a retransmission of logged bytes.
  void on_send(std::uint32_t start, std::uint32_t end, TimeUs now);

  // An ACK: everything below `una` is gone; `blocks` are the SACK blocks
  // (invalid ones are ignored as in SackScoreboard). Updates the RACK state
  // (RFC 8985 §6.2 steps 1-3) and returns what was delivered.
  AckInfo on_ack(std::uint32_t una, const SackBlock* blocks, int n, TimeUs now);

  // RFC 8985 §6.2 step 4: the reordering window.
  TimeUs reo_wnd(bool in_recovery, TimeUs srtt) const;

  // RFC 8985 §6.2 step 5 (RACK_detect_loss): marks segments sent before the
  // RACK segment and older than RACK.rtt + reo_wnd lost. Returns how many
  // were marked (lost_rtx: how many of them were retransmissions); *wait is
  // the time until the next one would be (0 = none pending).
  int detect_loss(TimeUs now, TimeUs reo_wnd, int* lost_rtx, TimeUs* wait);

  // RTO (RFC 8985 §6.3, as Linux's tcp_enter_loss): every unSACKed segment
  // is lost. forget_sacks: SACK information is dropped too (RFC 6675 §5.1,
  // for a peer that may have reneged).
  void mark_all_lost(bool forget_sacks);

  // RFC 6675 SetPipe() over the log (Linux packets_in_flight, in bytes).
  std::uint32_t pipe() const;
  // The first segment deemed lost and not yet retransmitted: (seq, len),
  // len <= mss.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> next_lost(std::uint32_t mss) const;
  // The last <= mss bytes sent (the TLP retransmission, RFC 8985 §7.3).
  std::optional<std::pair<std::uint32_t, std::uint32_t>> last_segment(std::uint32_t mss) const;
  bool any_lost() const;
  std::uint32_t sacked_bytes() const;

  // RACK state (RFC 8985 §6.1).
  TimeUs rack_xmit = 0;        // RACK.xmit_ts
  std::uint32_t rack_end = 0;  // RACK.end_seq
  TimeUs rack_rtt = 0;         // RACK.rtt
  TimeUs min_rtt = kNever;     // RACK.min_RTT (minimum over the connection's samples)
  std::uint32_t fack = 0;      // RACK.fack: highest delivered end
  bool rack_valid = false;     // a segment was delivered since the log began
  bool reord = false;          // RACK.reord: reordering was observed

  // PRR (RFC 6937 §3) and TLP (RFC 8985 §7) episode state.
  std::uint32_t prr_delivered = 0;
  std::uint32_t prr_out = 0;
  std::uint32_t recover_fs = 0;
  std::uint32_t tlp_end = 0;  // TLP.end_seq
  bool tlp_out = false;       // a probe is outstanding
  bool tlp_rtx = false;       // TLP.is_retrans
  bool rto_recovery = false;  // the recovery in progress began with an RTO (no PRR)
  bool prr_active = false;

 private:
  // Index of the record containing seq, or -1.
  int find(std::uint32_t seq) const;
  // Splits record i at seq (strictly inside it); false when full.
  bool split(int i, std::uint32_t seq);
  // Merges adjacent SACKed records (their send times no longer matter):
  // frees slots without losing anything. True if a slot was freed.
  bool compact();
  // Ensures a record boundary at seq (if seq is inside a record).
  bool boundary(std::uint32_t seq);
  void delivered(const TxRecord& r, TimeUs now, AckInfo& info);

  TxRecord r_[kCap];  // in sequence order, contiguous
  int n_ = 0;
};

}  // namespace shardtcp::tcp
