// Per-stack free list of heap objects that connections borrow only while
// they need them (reassembly queues, SACK scoreboards): steady state
// allocates nothing, an idle connection holds nothing. One core, no locking.
//
// Nothing here throws (issue 9): get() allocates with nothrow new and
// returns nullptr when memory is refused; the free list is reserved up front
// and keeps at most `ceiling` objects, the rest are deleted when returned,
// so memory borrowed during a burst goes back once the connections are gone.
// Objects in use belong to their borrowers, who return them with put().
#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace shardtcp::tcp {

template <class T>
class Recycler {
 public:
  explicit Recycler(std::size_t ceiling = 1024) : ceiling_(ceiling) {
    free_.reserve(ceiling_);  // start-up: push_back below never reallocates
  }
  ~Recycler() {
    for (T* p : free_) delete p;
  }
  Recycler(const Recycler&) = delete;
  Recycler& operator=(const Recycler&) = delete;

  // A cleared object: a recycled one, or a new T(args...); nullptr when
  // memory is refused.
  template <class... Args>
  T* get(Args&&... args) {
    if (free_.empty()) {
      T* p = new (std::nothrow) T(std::forward<Args>(args)...);
      if (p != nullptr) ++live_;
      return p;
    }
    T* p = free_.back();
    free_.pop_back();
    return p;
  }
  // Clears `p` and keeps it for the next get() (or deletes it above the
  // ceiling).
  void put(T* p) {
    p->clear();
    if (free_.size() < ceiling_) {
      free_.push_back(p);
    } else {
      delete p;
      --live_;
    }
  }
  // Objects that exist (in use + free).
  std::size_t size() const { return live_; }
  std::size_t cached() const { return free_.size(); }

 private:
  std::size_t ceiling_;
  std::size_t live_ = 0;
  std::vector<T*> free_;
};

}  // namespace shardtcp::tcp
