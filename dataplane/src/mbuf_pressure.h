// Mbuf pool pressure with hysteresis (issue 4: "stop accepting, shed
// gracefully, recover when freed"). Below 1/8 of the pool free, new SYNs are
// dropped (tcp drop reason no_memory) so established connections keep the
// mbufs they need to make progress; accepting resumes only above 1/4 free, so
// the state does not flap around one threshold. Plain C++ (no EAL) so it is
// unit-tested directly; the core feeds it rte_mempool_avail_count() every
// housekeeping tick (about 10 ms).
#pragma once

#include <cstdint>

namespace shardtcp::dataplane {

class MbufPressure {
 public:
  // Returns true while new connections must be refused.
  bool update(std::uint32_t available, std::uint32_t pool_size) {
    if (!shedding_ && available < pool_size / 8) {
      shedding_ = true;
      ++episodes_;
    } else if (shedding_ && available > pool_size / 4) {
      shedding_ = false;
    }
    return shedding_;
  }
  bool shedding() const { return shedding_; }
  std::uint64_t episodes() const { return episodes_; }

 private:
  bool shedding_ = false;
  std::uint64_t episodes_ = 0;
};

}  // namespace shardtcp::dataplane
