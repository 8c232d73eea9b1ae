// Per-stack free list of heap objects that connections borrow only while
// they need them (reassembly queues, SACK scoreboards): steady state
// allocates nothing, an idle connection holds nothing. One core, no locking.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace shardtcp::tcp {

template <class T>
class Recycler {
 public:
  // A cleared object: a recycled one, or a new T(args...).
  template <class... Args>
  T* get(Args&&... args) {
    if (free_.empty()) {
      all_.push_back(std::make_unique<T>(std::forward<Args>(args)...));
      return all_.back().get();
    }
    T* p = free_.back();
    free_.pop_back();
    return p;
  }
  // Clears `p` and keeps it for the next get().
  void put(T* p) {
    p->clear();
    free_.push_back(p);
  }
  // Objects ever created (in use + free).
  std::size_t size() const { return all_.size(); }

 private:
  std::vector<std::unique_ptr<T>> all_;
  std::vector<T*> free_;
};

}  // namespace shardtcp::tcp
