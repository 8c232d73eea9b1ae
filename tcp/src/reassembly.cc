// Out-of-order reassembly; see reassembly.h for the memory model.
#include "reassembly.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace shardtcp::tcp {

// ---- ReassemblyQueue --------------------------------------------------------

ReassemblyQueue::ReassemblyQueue(ReassemblyQueue&& o) noexcept
    : pool_(o.pool_),
      ranges_(std::move(o.ranges_)),
      pages_(std::move(o.pages_)),
      fin_(o.fin_),
      bytes_(o.bytes_),
      held_in_order_(o.held_in_order_),
      stamp_(o.stamp_) {
  o.fin_.reset();
  o.bytes_ = 0;
  o.held_in_order_ = 0;
}

ReassemblyQueue& ReassemblyQueue::operator=(ReassemblyQueue&& o) noexcept {
  if (this != &o) {
    release_all();
    pool_ = o.pool_;
    ranges_ = std::move(o.ranges_);
    pages_ = std::move(o.pages_);
    fin_ = o.fin_;
    bytes_ = o.bytes_;
    held_in_order_ = o.held_in_order_;
    stamp_ = o.stamp_;
    o.fin_.reset();
    o.bytes_ = 0;
    o.held_in_order_ = 0;
  }
  return *this;
}

std::uint8_t* ReassemblyQueue::alloc_page() {
  if (pool_ != nullptr) return static_cast<std::uint8_t*>(pool_->get(may_reclaim_));
  return new (std::nothrow) std::uint8_t[kPageSize];
}

void ReassemblyQueue::free_page(std::uint8_t* p) {
  if (pool_ != nullptr) {
    pool_->put(p);
  } else {
    delete[] p;
  }
}

std::size_t ReassemblyQueue::page_lower_bound(std::uint32_t pseq) const {
  // All pages lie within one receive window (< 2^31), so seq_lt is a strict
  // weak order over them even across 2^32.
  const Page* it =
      std::lower_bound(pages_.begin(), pages_.end(), pseq,
                       [](const Page& p, std::uint32_t s) { return seq_lt(p.seq, s); });
  return static_cast<std::size_t>(it - pages_.begin());
}

bool ReassemblyQueue::ensure_pages(std::uint32_t s, std::uint32_t e) {
  const std::uint32_t last = page_of(e - 1);
  std::size_t i = page_lower_bound(page_of(s));
  for (std::uint32_t p = page_of(s);; p += kPageSize) {
    if (i == pages_.size() || pages_[i].seq != p) {
      std::uint8_t* d = alloc_page();
      if (d == nullptr) return false;
      if (!pages_.insert(i, Page{p, d})) {
        free_page(d);
        return false;
      }
    }
    ++i;
    if (p == last) break;
  }
  return true;
}

void ReassemblyQueue::copy_in(std::uint32_t seq, const std::uint8_t* src, std::uint32_t n) {
  std::size_t i = page_lower_bound(page_of(seq));
  while (n > 0) {
    const std::uint32_t off = seq - pages_[i].seq;
    const std::uint32_t k = std::min(kPageSize - off, n);
    std::memcpy(pages_[i].data + off, src, k);
    src += k;
    seq += k;
    n -= k;
    ++i;
  }
}

// Frees every page that holds no byte of any range (after delivery, or to
// roll back a failed insert).
void ReassemblyQueue::free_pages_unused() {
  if (ranges_.empty()) {
    release_all();
    return;
  }
  std::size_t out = 0;
  std::size_t r = 0;
  for (std::size_t i = 0; i < pages_.size(); ++i) {
    const std::uint32_t ps = pages_[i].seq;
    const std::uint32_t pe = ps + kPageSize;
    // Skip ranges that end at or before this page.
    while (r < ranges_.size() && seq_le(ranges_[r].right, ps)) ++r;
    const bool used = r < ranges_.size() && seq_lt(ranges_[r].left, pe);
    if (used) {
      pages_[out++] = pages_[i];
    } else {
      free_page(pages_[i].data);
    }
  }
  pages_.truncate(out);
}

void ReassemblyQueue::release_all() {
  for (const Page& p : pages_) free_page(p.data);
  // Give the index memory back too: an idle queue holds nothing.
  pages_.release();
  ranges_.release();
  bytes_ = 0;
  held_in_order_ = 0;
}

void ReassemblyQueue::trim_below(std::uint32_t rcv_nxt) {
  std::size_t drop = 0;
  while (drop < ranges_.size() && seq_le(ranges_[drop].right, rcv_nxt)) {
    bytes_ -= ranges_[drop].right - ranges_[drop].left;
    ++drop;
  }
  if (drop > 0) ranges_.erase(0, drop);
  if (!ranges_.empty() && seq_lt(ranges_.front().left, rcv_nxt)) {
    bytes_ -= rcv_nxt - ranges_.front().left;
    ranges_.front().left = rcv_nxt;
  }
  if (drop > 0 || ranges_.empty()) free_pages_unused();
}

bool ReassemblyQueue::insert(std::uint32_t seq, const std::uint8_t* data, std::uint32_t len,
                             std::uint32_t rcv_nxt, std::uint32_t rcv_wnd_limit, bool may_reclaim) {
  if (len == 0 || rcv_wnd_limit == 0) return true;
  std::uint32_t s = seq;
  std::uint32_t e = seq + len;
  const std::uint32_t wl = rcv_nxt;
  const std::uint32_t wr = rcv_nxt + rcv_wnd_limit;
  // Keep only [rcv_nxt, rcv_nxt + limit): RFC 9293 §3.10.7.4 trims segments
  // to the window; bytes below RCV.NXT are duplicates.
  if (seq_lt(s, wl)) {
    if (seq_le(e, wl)) return true;
    data += wl - s;
    s = wl;
  }
  if (seq_gt(e, wr)) {
    if (seq_le(wr, s)) return true;
    e = wr;
  }
  if (s == e) return true;
  // Forget bytes the caller already consumed in order.
  trim_below(rcv_nxt);

  // Ranges [i, j) overlap or touch [s, e) and merge with it.
  std::size_t i = 0;
  while (i < ranges_.size() && seq_lt(ranges_[i].right, s)) ++i;
  std::size_t j = i;
  while (j < ranges_.size() && seq_le(ranges_[j].left, e)) ++j;
  const std::size_t after = ranges_.size() - (j - i) + 1;
  if (after > static_cast<std::size_t>(kMaxRanges)) return false;

  if (ranges_.capacity() == 0) {
    // Once per reordering episode (the queue was empty), not per segment:
    // room for every range at once, so merging below cannot fail.
    if (!ranges_.reserve(kMaxRanges)) return false;
    if (!pages_.reserve(std::min<std::size_t>(rcv_wnd_limit / kPageSize + 2, 64))) {
      release_all();
      return false;
    }
  }
  inserting_ = true;  // a reclaimer run from alloc_page() leaves this queue alone
  may_reclaim_ = may_reclaim;
  const bool ok = ensure_pages(s, e);
  inserting_ = false;
  if (!ok) {
    free_pages_unused();  // roll back pages allocated for this insert
    return false;
  }
  // Copy only the gaps: bytes already held are never rewritten.
  std::uint32_t cur = s;
  for (std::size_t k = i; k < j; ++k) {
    if (seq_lt(cur, ranges_[k].left)) {
      const std::uint32_t stop = seq_min(ranges_[k].left, e);
      copy_in(cur, data + (cur - s), stop - cur);
      bytes_ += stop - cur;
    }
    cur = seq_max(cur, ranges_[k].right);
  }
  if (seq_lt(cur, e)) {
    copy_in(cur, data + (cur - s), e - cur);
    bytes_ += e - cur;
  }

  const Range merged{i < j ? seq_min(s, ranges_[i].left) : s,
                     i < j ? seq_max(e, ranges_[j - 1].right) : e, ++stamp_};
  if (i < j) {
    ranges_[i] = merged;
    ranges_.erase(i + 1, j);
  } else {
    ranges_.insert(i, merged);  // capacity is kMaxRanges (reserved above)
  }
  return true;
}

std::uint32_t ReassemblyQueue::ooo_bytes(std::uint32_t rcv_nxt) const {
  std::uint32_t n = 0;
  for (const Range& r : ranges_) {
    if (seq_gt(r.left, rcv_nxt)) n += r.right - r.left;
  }
  return n;
}

std::uint32_t ReassemblyQueue::prune_ooo(std::uint32_t rcv_nxt) {
  if (busy()) return 0;
  // Ranges are sorted; out-of-order ones start beyond rcv_nxt (one that
  // reached it was merged into the held bytes by the owner).
  std::size_t keep = 0;
  while (keep < ranges_.size() && seq_le(ranges_[keep].left, rcv_nxt)) ++keep;
  std::uint32_t dropped = 0;
  for (std::size_t k = keep; k < ranges_.size(); ++k) dropped += ranges_[k].right - ranges_[k].left;
  ranges_.truncate(keep);
  bytes_ -= dropped;
  fin_.reset();  // a FIN beyond rcv_nxt is out of order too
  free_pages_unused();
  return dropped;
}

bool ReassemblyQueue::contains(std::uint32_t seq) const {
  for (const Range& r : ranges_) {
    if (seq_in(seq, r.left, r.right)) return true;
  }
  return false;
}

void ReassemblyQueue::requeue_front(std::uint32_t left, std::uint32_t right) {
  // deliver() removed the front range, so there is room (capacity kMaxRanges).
  ranges_.insert(0, Range{left, right, ++stamp_});
}

std::uint32_t ReassemblyQueue::contiguous_end(std::uint32_t seq) const {
  for (const Range& r : ranges_) {
    if (seq_in(seq, r.left, r.right)) return r.right;
  }
  return seq;
}

int ReassemblyQueue::sack_blocks(SackBlock* out, int max, std::uint32_t rcv_nxt) const {
  // Selection by descending stamp; at most kMaxRanges x max (64 x 4) steps.
  int n = 0;
  std::uint32_t prev = ~0u;  // stamps are unique; pick the next lower each time
  bool first = true;
  while (n < max) {
    const Range* best = nullptr;
    for (const Range& r : ranges_) {
      if (seq_le(r.left, rcv_nxt)) continue;
      const bool below_prev = first || static_cast<std::int32_t>(r.stamp - prev) < 0;
      if (below_prev && (best == nullptr || static_cast<std::int32_t>(r.stamp - best->stamp) > 0)) {
        best = &r;
      }
    }
    if (best == nullptr) break;
    out[n++] = SackBlock{best->left, best->right};
    prev = best->stamp;
    first = false;
  }
  return n;
}

std::optional<SackBlock> ReassemblyQueue::first_overlap(std::uint32_t seq, std::uint32_t end,
                                                        std::uint32_t rcv_nxt) const {
  // Ranges are sorted and disjoint: the first one that overlaps is the lowest.
  for (const Range& r : ranges_) {
    if (seq_le(r.right, rcv_nxt) || seq_le(r.right, seq)) continue;
    if (seq_ge(r.left, end)) break;
    const std::uint32_t l = seq_max(seq_max(r.left, seq), rcv_nxt);
    const std::uint32_t e = seq_min(r.right, end);
    if (seq_lt(l, e)) return SackBlock{l, e};
  }
  return std::nullopt;
}

void ReassemblyQueue::clear() {
  fin_.reset();
  if (delivering_) {
    // Called from inside deliver()'s callback: the view being delivered
    // must stay valid until the callback returns; deliver() frees.
    clear_pending_ = true;
    ranges_.clear();
    bytes_ = 0;
    held_in_order_ = 0;
    return;
  }
  release_all();
}

}  // namespace shardtcp::tcp
