// Per-core connection table: 4-tuple -> V (a Tcb* or a uint32_t index).
//
// Open addressing with Robin Hood linear probing and backward-shift deletion
// (no tombstones, so lookups never degrade under churn). Buckets are found by
// a keyed hash, siphash_tuple(tuple, key): a peer who does not know the key
// cannot choose 4-tuples that collide (hash flooding), unlike with a plain
// Toeplitz/CRC hash whose collisions can be computed offline.
//
// Growth without a stop-the-world pause: when the table passes its load
// limit, a new array twice the size is allocated and the old one is drained
// into it a few buckets per insert()/erase() (incremental rehash). Lookups
// consult both arrays while the migration runs. With kMigrateBudget slots per
// mutation the old array is empty long before the new one can fill up.
//
// Each slot stores 32 bits of the hash (top bit forced to 1; 0 = empty): a
// cheap reject before comparing tuples, the home bucket without re-hashing
// during migration and backward shift, and the "occupied" flag.
//
// Not thread-safe by design (one table per core). Pointers returned by find()
// stay valid until the next insert() or erase().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

#include "shardtcp/tcp/isn.h"
#include "shardtcp/tcp/types.h"

namespace shardtcp::tcp {

template <class V>
class FlowTable {
  static_assert(std::is_trivially_copyable_v<V>, "slots are moved with plain copies");

 public:
  explicit FlowTable(const std::uint64_t key[2], std::size_t initial_capacity = 1024)
      : key_{key[0], key[1]} {
    // initial_capacity is a number of entries that fit without growing.
    std::size_t slots = kMinSlots;
    while (slots * kLoadNum < initial_capacity * kLoadDen) slots *= 2;
    cur_ = make_array(slots);
    if (cur_.slots == nullptr) throw std::bad_alloc();  // start-up only, not the data path
  }
  ~FlowTable() {
    std::free(cur_.slots);
    std::free(old_.slots);
  }
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  V* find(const FourTuple& t) {
    const std::uint32_t tag = tag_of(t);
    if (Slot* s = find_in(cur_, tag, t)) return &s->value;
    if (old_.slots != nullptr) {
      if (Slot* s = find_in(old_, tag, t)) return &s->value;
    }
    return nullptr;
  }

  // False when the tuple is already present (or, only if memory for growth
  // was refused and the array is full, when there is no room).
  bool insert(const FourTuple& t, V v) {
    const std::uint32_t tag = tag_of(t);
    if (find_in(cur_, tag, t) != nullptr) return false;
    if (old_.slots != nullptr) {
      if (find_in(old_, tag, t) != nullptr) return false;
      migrate(kMigrateBudget);
    }
    if (cur_.size + 1 >= cur_.mask) {  // keep one empty slot: probes must end
      if (!grow()) return false;
      if (cur_.size + 1 >= cur_.mask) return false;
    }
    insert_in(cur_, Slot{tag, t, v});
    if (old_.slots == nullptr && size() * kLoadDen > (cur_.mask + 1) * kLoadNum) grow();
    return true;
  }

  bool erase(const FourTuple& t) {
    const std::uint32_t tag = tag_of(t);
    bool found = erase_in(cur_, tag, t);
    if (!found && old_.slots != nullptr) found = erase_in(old_, tag, t);
    if (old_.slots != nullptr) migrate(kMigrateBudget);
    return found;
  }

  std::size_t size() const { return cur_.size + old_.size; }
  std::size_t capacity() const { return cur_.mask + 1; }  // slots in the current array
  bool migrating() const { return old_.slots != nullptr; }
  std::size_t memory_bytes() const {
    std::size_t n = sizeof(*this) + (cur_.mask + 1) * sizeof(Slot);
    if (old_.slots != nullptr) n += (old_.mask + 1) * sizeof(Slot);
    return n;
  }

  // f(const FourTuple&, V&) for every entry, in no particular order. The
  // table must not be modified from inside f.
  template <class F>
  void for_each(F&& f) {
    for_each_in(cur_, f);
    if (old_.slots != nullptr) for_each_in(old_, f);
  }

 private:
  struct Slot {
    std::uint32_t tag;  // 0 = empty, else hash bits with the top bit set
    FourTuple key;
    V value;
  };
  struct Array {
    Slot* slots = nullptr;
    std::size_t mask = 0;  // slot count - 1 (a power of two minus one)
    std::size_t size = 0;
  };

  static constexpr std::size_t kMinSlots = 16;
  // Load limit 3/4: Robin Hood keeps probe lengths short up to ~0.9, but 0.75
  // leaves headroom for the entries inserted while a migration runs.
  static constexpr std::size_t kLoadNum = 3;
  static constexpr std::size_t kLoadDen = 4;
  // Slots of the old array visited (or entries moved) per insert/erase while
  // migrating. Migration costs <= old slots + old entries <= 1.75 x old
  // slots; the new array (2x) reaches its limit only after 0.75 x old slots
  // more inserts, so any budget >= 3 finishes first; 8 leaves a wide margin.
  static constexpr std::size_t kMigrateBudget = 8;

  std::uint32_t tag_of(const FourTuple& t) const {
    return static_cast<std::uint32_t>(siphash_tuple(t, key_)) | 0x80000000u;
  }
  // Distance of the entry in slot `pos` from its home bucket.
  static std::size_t dist_of(const Array& a, std::size_t pos) {
    return (pos - (a.slots[pos].tag & a.mask)) & a.mask;
  }

  static Array make_array(std::size_t slots) {
    Array a;
    // calloc: tag 0 = empty, and large arrays come zeroed from the kernel
    // without a memset pass.
    a.slots = static_cast<Slot*>(std::calloc(slots, sizeof(Slot)));
    a.mask = slots - 1;
    return a;
  }

  static Slot* find_in(Array& a, std::uint32_t tag, const FourTuple& t) {
    std::size_t pos = tag & a.mask;
    for (std::size_t dist = 0;; ++dist, pos = (pos + 1) & a.mask) {
      Slot& s = a.slots[pos];
      if (s.tag == 0) return nullptr;
      // Robin Hood invariant: had the key been here, it would have displaced
      // any entry closer to its own home than we are to ours.
      if (dist_of(a, pos) < dist) return nullptr;
      if (s.tag == tag && s.key == t) return &s;
    }
  }

  // `e` must not be present.
  static void insert_in(Array& a, Slot e) {
    std::size_t pos = e.tag & a.mask;
    for (std::size_t dist = 0;; ++dist, pos = (pos + 1) & a.mask) {
      Slot& s = a.slots[pos];
      if (s.tag == 0) {
        s = e;
        ++a.size;
        return;
      }
      const std::size_t d = dist_of(a, pos);
      if (d < dist) {  // take from the rich: the poorer entry gets this slot
        std::swap(s, e);
        dist = d;
      }
    }
  }

  // Backward-shift deletion: pull the following entries of the cluster one
  // slot back until an empty slot or an entry already at its home.
  static void erase_at(Array& a, std::size_t pos) {
    for (;;) {
      const std::size_t next = (pos + 1) & a.mask;
      if (a.slots[next].tag == 0 || dist_of(a, next) == 0) break;
      a.slots[pos] = a.slots[next];
      pos = next;
    }
    a.slots[pos].tag = 0;
    --a.size;
  }

  static bool erase_in(Array& a, std::uint32_t tag, const FourTuple& t) {
    Slot* s = find_in(a, tag, t);
    if (s == nullptr) return false;
    erase_at(a, static_cast<std::size_t>(s - a.slots));
    return true;
  }

  template <class F>
  static void for_each_in(Array& a, F& f) {
    for (std::size_t i = 0; i <= a.mask; ++i) {
      if (a.slots[i].tag != 0) f(std::as_const(a.slots[i].key), a.slots[i].value);
    }
  }

  // Starts a migration into an array twice the size. If memory is refused the
  // table keeps working in place (at a higher load) and retries next time.
  bool grow() {
    if (old_.slots != nullptr) {
      migrate(~std::size_t{0});  // pathological: finish the running migration first
    }
    Array bigger = make_array((cur_.mask + 1) * 2);
    if (bigger.slots == nullptr) return false;
    old_ = cur_;
    cur_ = bigger;
    migrate_pos_ = 0;
    return true;
  }

  // Moves up to `budget` entries/slots from old_ to cur_. Removing a migrated
  // entry from old_ by backward shift keeps old_ a valid Robin Hood array at
  // every step, so lookups there need no special case. Slots before
  // migrate_pos_ are empty and stay empty (a shift never moves an entry
  // backwards across an empty slot).
  void migrate(std::size_t budget) {
    while (old_.size != 0 && budget-- != 0) {
      if (migrate_pos_ > old_.mask) migrate_pos_ = 0;  // defensive; see above
      Slot& s = old_.slots[migrate_pos_];
      if (s.tag == 0) {
        ++migrate_pos_;
        continue;
      }
      insert_in(cur_, s);
      erase_at(old_, migrate_pos_);  // may pull the next entry into this slot
    }
    if (old_.size == 0) {
      std::free(old_.slots);
      old_ = Array{};
    }
  }

  std::uint64_t key_[2];
  Array cur_;
  Array old_;  // being drained into cur_; slots == nullptr when not migrating
  std::size_t migrate_pos_ = 0;
};

}  // namespace shardtcp::tcp
