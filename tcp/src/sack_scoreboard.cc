// RFC 6675 scoreboard; see sack_scoreboard.h.
#include "sack_scoreboard.h"

namespace shardtcp::tcp {

void SackScoreboard::trim_below(std::uint32_t snd_una) {
  int drop = 0;
  while (drop < n_ && seq_le(r_[drop].right, snd_una)) {
    sacked_ -= r_[drop].right - r_[drop].left;
    ++drop;
  }
  if (drop > 0) {
    for (int i = drop; i < n_; ++i) r_[i - drop] = r_[i];
    n_ -= drop;
  }
  if (n_ > 0 && seq_lt(r_[0].left, snd_una)) {
    sacked_ -= snd_una - r_[0].left;
    r_[0].left = snd_una;
  }
}

void SackScoreboard::add(std::uint32_t left, std::uint32_t right) {
  // [i, j) are the ranges overlapping or touching [left, right].
  int i = 0;
  while (i < n_ && seq_lt(r_[i].right, left)) ++i;
  int j = i;
  while (j < n_ && seq_le(r_[j].left, right)) ++j;
  if (i == j) {
    if (n_ == kMaxRanges) return;  // full: ignore (conservative)
    for (int k = n_; k > i; --k) r_[k] = r_[k - 1];
    r_[i] = SackBlock{left, right};
    ++n_;
    sacked_ += right - left;
    return;
  }
  std::uint32_t removed = 0;
  for (int k = i; k < j; ++k) removed += r_[k].right - r_[k].left;
  const SackBlock m{seq_min(left, r_[i].left), seq_max(right, r_[j - 1].right)};
  r_[i] = m;
  const int gone = j - i - 1;
  if (gone > 0) {
    for (int k = j; k < n_; ++k) r_[k - gone] = r_[k];
    n_ -= gone;
  }
  sacked_ = sacked_ - removed + (m.right - m.left);
}

void SackScoreboard::on_ack(std::uint32_t snd_una, const SackBlock* blocks, int n,
                            std::uint32_t snd_nxt) {
  trim_below(snd_una);
  for (int b = 0; b < n; ++b) {
    std::uint32_t left = blocks[b].left;
    const std::uint32_t right = blocks[b].right;
    // Invalid: empty, inverted, beyond what we sent, or wholly at/below
    // SND.UNA (a D-SACK, RFC 2883 §4, reports a duplicate, not a hole).
    if (!seq_lt(left, right) || seq_gt(right, snd_nxt) || seq_le(right, snd_una)) continue;
    if (seq_lt(left, snd_una)) left = snd_una;
    add(left, right);
  }
}

bool SackScoreboard::is_sacked(std::uint32_t seq) const {
  for (int i = 0; i < n_; ++i) {
    if (seq_in(seq, r_[i].left, r_[i].right)) return true;
  }
  return false;
}

bool SackScoreboard::is_lost(std::uint32_t seq, std::uint32_t mss) const {
  std::uint32_t ranges = 0;
  std::uint32_t bytes = 0;
  for (int i = 0; i < n_; ++i) {
    if (seq_in(seq, r_[i].left, r_[i].right)) return false;
    if (seq_gt(r_[i].left, seq)) {
      ++ranges;
      bytes += r_[i].right - r_[i].left;
    }
  }
  // RFC 6675 §4 IsLost.
  return ranges >= kDupThresh || bytes > (kDupThresh - 1) * mss;
}

std::uint32_t SackScoreboard::pipe(std::uint32_t snd_una, std::uint32_t snd_nxt,
                                   std::uint32_t high_rxt, std::uint32_t mss) const {
  // Walk the holes (unSACKed runs). Every byte of one hole has the same
  // SACKed ranges above it, so IsLost() is constant over a hole.
  std::uint32_t above_bytes = 0;
  std::uint32_t above_ranges = 0;
  int first = 0;
  while (first < n_ && seq_le(r_[first].right, snd_una)) ++first;
  for (int i = first; i < n_; ++i) {
    const std::uint32_t l = seq_max(r_[i].left, snd_una);
    if (seq_ge(l, snd_nxt)) break;
    above_bytes += seq_min(r_[i].right, snd_nxt) - l;
    ++above_ranges;
  }
  std::uint32_t pipe = 0;
  std::uint32_t cur = snd_una;
  auto count_hole = [&](std::uint32_t hs, std::uint32_t he) {
    if (!seq_lt(hs, he)) return;
    const bool lost = above_ranges >= kDupThresh || above_bytes > (kDupThresh - 1) * mss;
    if (!lost) pipe += he - hs;  // (a) not lost: still in the network
    // (b) retransmitted: the retransmission is in the network.
    if (seq_lt(hs, high_rxt)) pipe += seq_min(he, high_rxt) - hs;
  };
  for (int i = first; i < n_; ++i) {
    const std::uint32_t l = seq_max(r_[i].left, snd_una);
    if (seq_ge(l, snd_nxt)) break;
    count_hole(cur, l);
    above_bytes -= seq_min(r_[i].right, snd_nxt) - l;
    --above_ranges;
    cur = seq_max(cur, r_[i].right);
  }
  count_hole(cur, snd_nxt);
  return pipe;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> SackScoreboard::first_hole_at_or_above(
    std::uint32_t snd_una, std::uint32_t snd_nxt, std::uint32_t from, std::uint32_t mss,
    bool need_lost) const {
  if (n_ == 0 || mss == 0) return std::nullopt;
  std::uint32_t s = seq_max(from, snd_una);
  // Skip SACKed bytes: S2 is the oldest unSACKed sequence number >= from.
  for (int i = 0; i < n_; ++i) {
    if (seq_in(s, r_[i].left, r_[i].right)) s = r_[i].right;
  }
  // (1.b) S2 must be below the highest SACKed byte.
  if (!seq_lt(s, r_[n_ - 1].right) || !seq_lt(s, snd_nxt)) return std::nullopt;
  // (1.c) IsLost(S2), rule 1 only.
  if (need_lost && !is_lost(s, mss)) return std::nullopt;
  // The segment ends at the next SACKed byte (or after mss bytes).
  std::uint32_t end = s + mss;
  for (int i = 0; i < n_; ++i) {
    if (seq_gt(r_[i].left, s)) {
      end = seq_min(end, r_[i].left);
      break;
    }
  }
  end = seq_min(end, snd_nxt);
  return std::make_pair(s, end - s);
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> SackScoreboard::next_seg(
    std::uint32_t snd_una, std::uint32_t snd_nxt, std::uint32_t high_rxt, std::uint32_t mss) const {
  return first_hole_at_or_above(snd_una, snd_nxt, high_rxt, mss, true);
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> SackScoreboard::next_seg_rule3(
    std::uint32_t snd_una, std::uint32_t snd_nxt, std::uint32_t high_rxt, std::uint32_t mss) const {
  return first_hole_at_or_above(snd_una, snd_nxt, high_rxt, mss, false);
}

}  // namespace shardtcp::tcp
