// Sender-side SACK scoreboard, RFC 6675 (conservative SACK-based loss
// recovery): which bytes above SND.UNA the peer has SACKed, IsLost(), the
// pipe estimate (SetPipe) and NextSeg() rules 1 and 3.
//
// Fixed capacity (kMaxRanges ranges, inline): no allocation, ever. When full,
// a block that would need a new slot is ignored — that only makes the sender
// more conservative (fewer bytes deemed SACKed/lost), never unsafe.
//
// HighRxt convention: `high_rxt` is the sequence number FOLLOWING the highest
// byte retransmitted in the current recovery (so "S <= HighRxt" of RFC 6675
// reads seq_lt(S, high_rxt) here). At the start of recovery the engine sets
// high_rxt = SND.UNA (nothing retransmitted yet).
//
// Reneging (RFC 6675 §5.1 / RFC 2018 §8): SACKed data is only advisory; the
// engine still retransmits on RTO from SND.UNA and may clear() the board then.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "shardtcp/tcp/segment.h"
#include "shardtcp/tcp/seq.h"

namespace shardtcp::tcp {

class SackScoreboard {
 public:
  static constexpr int kMaxRanges = 32;
  static constexpr std::uint32_t kDupThresh = 3;  // RFC 6675 §2 DupThresh

  // Updates the board from an ACK: forgets everything below snd_una and adds
  // the valid SACK blocks. Blocks outside (snd_una, snd_nxt], empty or
  // inverted blocks, and D-SACK blocks (RFC 2883: entirely below snd_una) are
  // ignored; a block straddling snd_una is trimmed to it.
  void on_ack(std::uint32_t snd_una, const SackBlock* blocks, int n, std::uint32_t snd_nxt);

  // RFC 6675 §4 IsLost(SeqNum): DupThresh discontiguous SACKed ranges above
  // seq, or more than (DupThresh - 1) * SMSS SACKed bytes above it. A SACKed
  // byte is never lost.
  bool is_lost(std::uint32_t seq, std::uint32_t mss) const;
  bool is_sacked(std::uint32_t seq) const;

  // RFC 6675 §4 SetPipe(): unSACKed bytes in [snd_una, snd_nxt) that are not
  // lost, plus unSACKed bytes below high_rxt (retransmitted); a byte can count
  // twice, as in the RFC. Octet-granular.
  std::uint32_t pipe(std::uint32_t snd_una, std::uint32_t snd_nxt, std::uint32_t high_rxt,
                     std::uint32_t mss) const;

  // RFC 6675 §4 NextSeg() rule 1: the lowest unSACKed byte S2 >= high_rxt
  // that is below the highest SACKed byte and IsLost(S2). Returns (seq, len)
  // with len <= mss, stopping at the next SACKed byte.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> next_seg(std::uint32_t snd_una,
                                                                  std::uint32_t snd_nxt,
                                                                  std::uint32_t high_rxt,
                                                                  std::uint32_t mss) const;
  // NextSeg() rule 3: as rule 1 without the IsLost condition (the engine uses
  // it only when rule 2, new data, cannot send).
  std::optional<std::pair<std::uint32_t, std::uint32_t>> next_seg_rule3(std::uint32_t snd_una,
                                                                        std::uint32_t snd_nxt,
                                                                        std::uint32_t high_rxt,
                                                                        std::uint32_t mss) const;

  // Total SACKed bytes above the last snd_una.
  std::uint32_t sacked_bytes() const { return sacked_; }
  // Sequence number following the highest SACKed byte (RFC 6675 "HighACK"
  // side of (1.b)); nullopt when nothing is SACKed.
  std::optional<std::uint32_t> highest_sacked() const {
    if (n_ == 0) return std::nullopt;
    return r_[n_ - 1].right;
  }
  int range_count() const { return n_; }
  SackBlock range(int i) const { return r_[i]; }
  bool empty() const { return n_ == 0; }
  void clear() {
    n_ = 0;
    sacked_ = 0;
  }

 private:
  std::optional<std::pair<std::uint32_t, std::uint32_t>> first_hole_at_or_above(
      std::uint32_t snd_una, std::uint32_t snd_nxt, std::uint32_t from, std::uint32_t mss,
      bool need_lost) const;
  void trim_below(std::uint32_t snd_una);
  void add(std::uint32_t left, std::uint32_t right);

  SackBlock r_[kMaxRanges];  // sorted, disjoint, non-adjacent
  int n_ = 0;
  std::uint32_t sacked_ = 0;
};

}  // namespace shardtcp::tcp
