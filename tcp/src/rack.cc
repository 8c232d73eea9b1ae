// Transmission log and RACK loss detection; see rack.h.
#include "rack.h"

#include <algorithm>
#include <cstring>

namespace shardtcp::tcp {

namespace {
constexpr std::uint8_t kNew = 16;  // newly delivered by the ACK being processed

std::uint32_t len_of(const TxRecord& r) { return r.end - r.start; }
}  // namespace

void TxLog::clear() {
  n_ = 0;
  rack_xmit = 0;
  rack_end = 0;
  rack_rtt = 0;
  min_rtt = kNever;
  fack = 0;
  rack_valid = false;
  reord = false;
  prr_delivered = 0;
  prr_out = 0;
  recover_fs = 0;
  tlp_end = 0;
  tlp_out = false;
  tlp_rtx = false;
  rto_recovery = false;
  prr_active = false;
}

int TxLog::find(std::uint32_t seq) const {
  for (int i = 0; i < n_; ++i) {
    if (seq_in(seq, r_[i].start, r_[i].end)) return i;
  }
  return -1;
}

bool TxLog::compact() {
  int w = 0;
  for (int i = 0; i < n_; ++i) {
    if (w > 0 && (r_[w - 1].flags & kSacked) && (r_[i].flags & kSacked) &&
        r_[w - 1].end == r_[i].start) {
      r_[w - 1].end = r_[i].end;
      r_[w - 1].flags |= r_[i].flags & kEverRetrans;
      continue;
    }
    r_[w++] = r_[i];
  }
  const bool freed = w < n_;
  n_ = w;
  return freed;
}

bool TxLog::split(int i, std::uint32_t seq) {
  if (n_ == kCap) {
    if (!compact()) return false;
    i = find(seq);  // indexes moved; seq may now start a merged record
    if (i < 0) return false;
    if (r_[i].start == seq) return true;
  }
  std::memmove(&r_[i + 1], &r_[i], sizeof(TxRecord) * static_cast<std::size_t>(n_ - i));
  ++n_;
  r_[i].end = seq;
  r_[i + 1].start = seq;
  return true;
}

bool TxLog::boundary(std::uint32_t seq) {
  const int i = find(seq);
  if (i < 0 || r_[i].start == seq) return true;
  return split(i, seq);
}

void TxLog::on_send(std::uint32_t start, std::uint32_t end, TimeUs now) {
  if (!seq_lt(start, end)) return;
  // The part below the log's end is a retransmission.
  if (n_ > 0 && seq_lt(start, this->end())) {
    const std::uint32_t rend = seq_min(end, this->end());
    if (boundary(start) && boundary(rend)) {
      for (int i = find(start); i >= 0 && i < n_ && seq_le(r_[i].end, rend); ++i) {
        r_[i].xmit = now;
        r_[i].flags |= kRetrans | kEverRetrans;
      }
    } else {
      // No room to split: mark the covering records (their untransmitted
      // bytes now look in flight; the RTO still covers them).
      for (int i = 0; i < n_; ++i) {
        if (seq_lt(r_[i].start, rend) && seq_gt(r_[i].end, start)) {
          r_[i].xmit = now;
          r_[i].flags |= kRetrans | kEverRetrans;
        }
      }
    }
    start = rend;
    if (!seq_lt(start, end)) return;
  }
  // New data.
  if (n_ == kCap) compact();
  if (n_ == kCap) {
    TxRecord& last = r_[n_ - 1];
    last.end = end;
    last.xmit = now;  // later, never earlier: the merged bytes are deemed lost no sooner
    return;
  }
  r_[n_++] = TxRecord{start, end, now, 0};
}

void TxLog::delivered(const TxRecord& r, TimeUs now, AckInfo& info) {
  info.delivered += len_of(r);
  const TimeUs rtt = now - r.xmit;
  const bool rtx = (r.flags & kEverRetrans) != 0;
  // RFC 8985 §6.2 step 2: a retransmitted segment delivered sooner than the
  // minimum RTT after its retransmission is the original's delivery (or a
  // spurious retransmission): it says nothing about what was sent later.
  if (rtx && min_rtt != kNever && rtt < min_rtt) return;
  if (!rtx) {
    // Karn (RFC 6298 §3): only never-retransmitted segments give samples;
    // the most recently sent one has the least ACK delay in it.
    if (!info.rtt_valid || rtt < info.rtt) info.rtt = rtt;
    info.rtt_valid = true;
    min_rtt = std::min(min_rtt, rtt);
    // Step 3: delivered below the highest delivered end, never
    // retransmitted: the network reordered it.
    if (rack_valid && seq_lt(r.end, fack)) reord = true;
  }
  if (!rack_valid || seq_gt(r.end, fack)) fack = r.end;
  // Step 2: RACK follows the most recently sent delivered segment.
  if (!rack_valid || r.xmit > rack_xmit || (r.xmit == rack_xmit && seq_gt(r.end, rack_end))) {
    rack_xmit = r.xmit;
    rack_end = r.end;
    rack_rtt = rtt;
    rack_valid = true;
  }
}

TxLog::AckInfo TxLog::on_ack(std::uint32_t una, const SackBlock* blocks, int n, TimeUs now) {
  AckInfo info;
  // Newly SACKed records are flagged first and delivered below in sequence
  // order, so that blocks listed most recent first do not look reordered.
  for (int b = 0; b < n; ++b) {
    std::uint32_t left = blocks[b].left;
    std::uint32_t right = blocks[b].right;
    if (!seq_lt(left, right) || seq_le(right, una)) {
      if (seq_lt(left, right)) info.dsack = true;  // RFC 2883: below the ACK
      continue;
    }
    if (n_ == 0 || seq_gt(right, this->end())) continue;  // beyond what was sent: invalid
    if (seq_lt(left, una)) left = una;
    if (seq_lt(left, r_[0].start)) left = r_[0].start;
    if (!boundary(left) || !boundary(right)) continue;  // full: ignore (conservative)
    for (int i = find(left); i >= 0 && i < n_ && seq_le(r_[i].end, right); ++i) {
      if (!(r_[i].flags & kSacked)) r_[i].flags = static_cast<std::uint8_t>(r_[i].flags | kNew);
    }
  }
  // Cumulatively acknowledged records leave the log.
  int gone = 0;
  while (gone < n_ && seq_le(r_[gone].end, una)) {
    if (!(r_[gone].flags & kSacked)) delivered(r_[gone], now, info);
    ++gone;
  }
  if (gone > 0) {
    std::memmove(&r_[0], &r_[gone], sizeof(TxRecord) * static_cast<std::size_t>(n_ - gone));
    n_ -= gone;
  }
  if (n_ > 0 && seq_lt(r_[0].start, una)) {
    // A segment acknowledged in part (repacketized by the peer or a partial
    // retransmission): the acked part counts as delivered.
    TxRecord part = r_[0];
    part.end = una;
    if (!(part.flags & kSacked)) delivered(part, now, info);
    r_[0].start = una;
  }
  for (int i = 0; i < n_; ++i) {
    if (r_[i].flags & kNew) {
      r_[i].flags = kSacked | (r_[i].flags & kEverRetrans);
      delivered(r_[i], now, info);
    }
  }
  return info;
}

TimeUs TxLog::reo_wnd(bool in_recovery, TimeUs srtt) const {
  if (!reord) {
    if (in_recovery) return 0;
    std::uint32_t sacked = 0;
    for (int i = 0; i < n_ && sacked < kDupThresh; ++i) sacked += (r_[i].flags & kSacked) ? 1 : 0;
    if (sacked >= kDupThresh) return 0;
  }
  // RFC 8985 §6.2 step 4: min(reo_wnd_mult * min_RTT / 4, SRTT), mult = 1.
  const TimeUs base = min_rtt != kNever ? min_rtt / 4 : srtt / 4;
  return srtt > 0 ? std::min(base, srtt) : base;
}

int TxLog::detect_loss(TimeUs now, TimeUs reo_wnd, int* lost_rtx, TimeUs* wait) {
  int marked = 0;
  *lost_rtx = 0;
  *wait = 0;
  if (!rack_valid) return 0;
  for (int i = 0; i < n_; ++i) {
    TxRecord& r = r_[i];
    if (r.flags & kSacked) continue;
    if ((r.flags & kLost) && !(r.flags & kRetrans)) continue;  // lost, waiting to be resent
    // Only segments sent before the RACK segment are judged.
    if (!(r.xmit < rack_xmit || (r.xmit == rack_xmit && seq_le(r.end, rack_end)))) continue;
    const TimeUs deadline = r.xmit + rack_rtt + reo_wnd;
    if (deadline <= now) {
      if (r.flags & kRetrans) ++*lost_rtx;  // a lost retransmission
      r.flags = static_cast<std::uint8_t>((r.flags & ~kRetrans) | kLost);
      ++marked;
    } else if (*wait == 0 || deadline - now < *wait) {
      *wait = deadline - now;
    }
  }
  return marked;
}

void TxLog::mark_all_lost(bool forget_sacks) {
  for (int i = 0; i < n_; ++i) {
    if (forget_sacks) r_[i].flags = static_cast<std::uint8_t>(r_[i].flags & ~kSacked);
    if (r_[i].flags & kSacked) continue;
    r_[i].flags = static_cast<std::uint8_t>((r_[i].flags & ~kRetrans) | kLost);
  }
}

std::uint32_t TxLog::pipe() const {
  std::uint32_t p = 0;
  for (int i = 0; i < n_; ++i) {
    const TxRecord& r = r_[i];
    if (r.flags & kSacked) continue;
    if (!(r.flags & kLost)) p += len_of(r);  // RFC 6675 SetPipe (a): not lost
    if (r.flags & kRetrans) p += len_of(r);  // (b): a retransmission in flight
  }
  return p;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> TxLog::next_lost(std::uint32_t mss) const {
  for (int i = 0; i < n_; ++i) {
    const TxRecord& r = r_[i];
    if ((r.flags & (kSacked | kLost | kRetrans)) == kLost) {
      return std::make_pair(r.start, std::min(len_of(r), mss));
    }
  }
  return std::nullopt;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> TxLog::last_segment(
    std::uint32_t mss) const {
  if (n_ == 0) return std::nullopt;
  const TxRecord& r = r_[n_ - 1];
  const std::uint32_t len = std::min(len_of(r), mss);
  return std::make_pair(r.end - len, len);
}

bool TxLog::any_lost() const { return next_lost(0xFFFFFFFFu).has_value(); }

std::uint32_t TxLog::sacked_bytes() const {
  std::uint32_t s = 0;
  for (int i = 0; i < n_; ++i) {
    if (r_[i].flags & kSacked) s += len_of(r_[i]);
  }
  return s;
}

}  // namespace shardtcp::tcp
