// A growable array of trivially copyable elements whose growth never throws:
// reserve()/insert()/push_back() return false when memory is refused, and
// the caller degrades (issue 9: no allocation on the data path may throw).
// std::vector cannot report a failed allocation other than by throwing.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace shardtcp::tcp {

template <class T>
class NothrowVec {
  static_assert(std::is_trivially_copyable_v<T>, "moved with memmove");

 public:
  NothrowVec() = default;
  ~NothrowVec() { std::free(p_); }
  NothrowVec(const NothrowVec&) = delete;
  NothrowVec& operator=(const NothrowVec&) = delete;
  NothrowVec(NothrowVec&& o) noexcept : p_(o.p_), size_(o.size_), cap_(o.cap_) {
    o.p_ = nullptr;
    o.size_ = o.cap_ = 0;
  }
  NothrowVec& operator=(NothrowVec&& o) noexcept {
    if (this != &o) {
      std::free(p_);
      p_ = o.p_;
      size_ = o.size_;
      cap_ = o.cap_;
      o.p_ = nullptr;
      o.size_ = o.cap_ = 0;
    }
    return *this;
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return cap_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }
  T& front() { return p_[0]; }
  const T& front() const { return p_[0]; }
  T* begin() { return p_; }
  T* end() { return p_ + size_; }
  const T* begin() const { return p_; }
  const T* end() const { return p_ + size_; }

  bool reserve(std::size_t n) {
    if (n <= cap_) return true;
    void* q = std::realloc(p_, n * sizeof(T));
    if (q == nullptr) return false;
    p_ = static_cast<T*>(q);
    cap_ = n;
    return true;
  }
  // Inserts `v` before index i; false (nothing changed) if memory is refused.
  bool insert(std::size_t i, const T& v) {
    if (size_ == cap_ && !reserve(cap_ == 0 ? 8 : 2 * cap_)) return false;
    std::memmove(p_ + i + 1, p_ + i, (size_ - i) * sizeof(T));
    p_[i] = v;
    ++size_;
    return true;
  }
  bool push_back(const T& v) { return insert(size_, v); }
  // Removes [first, last).
  void erase(std::size_t first, std::size_t last) {
    std::memmove(p_ + first, p_ + last, (size_ - last) * sizeof(T));
    size_ -= last - first;
  }
  void truncate(std::size_t n) {
    if (n < size_) size_ = n;
  }
  void clear() { size_ = 0; }
  // Empties and gives the memory back.
  void release() {
    std::free(p_);
    p_ = nullptr;
    size_ = cap_ = 0;
  }

 private:
  T* p_ = nullptr;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

}  // namespace shardtcp::tcp
