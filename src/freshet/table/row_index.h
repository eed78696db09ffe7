// RowIndex: the open-addressing hash index of one table stripe, mapping a
// key's 32-bit index hash to the arena row that holds the key.
//
// A slot is 8 bytes: the key's 32-bit index hash and the row id. The full
// 64-bit key is not in the index; it lives in the row's metadata, where the
// caller compares it (the row is read anyway), so two keys with equal index
// hashes (or equal low bits) still get different rows. Positions come from
// the hash by multiply-shift (any capacity, not only powers of two), probing
// is linear, deletion shifts later slots back (no tombstones), and the table
// grows by 1.5x past a load factor of 0.8, so the load stays in (0.53, 0.8]
// and the index costs 10 to 15 bytes per row.
//
// Not thread-safe: the owning stripe's lock guards it.
#ifndef FRESHET_TABLE_ROW_INDEX_H_
#define FRESHET_TABLE_ROW_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace freshet {

class RowIndex {
 public:
  static constexpr uint32_t kNoRow = 0xFFFFFFFFu;

  struct Slot {
    uint32_t hash;
    uint32_t row;  // kNoRow: empty
  };

  explicit RowIndex(size_t initial_capacity = 16);

  RowIndex(const RowIndex&) = delete;
  RowIndex& operator=(const RowIndex&) = delete;

  // Returns the row of the first slot holding `hash`, or kNoRow. A hint for
  // batched lookups: the caller must check the row's key and fall back to
  // Find() on a mismatch.
  uint32_t FindFirst(uint32_t hash) const {
    size_t i = Home(hash);
    while (true) {
      const Slot& s = slots_[i];
      if (s.row == kNoRow) return kNoRow;
      if (s.hash == hash) return s.row;
      if (++i == capacity_) i = 0;
    }
  }

  // Returns the row holding the key, or kNoRow. `is_key(row)` says whether
  // `row` holds the key being looked up.
  template <typename IsKey>
  uint32_t Find(uint32_t hash, IsKey&& is_key) const {
    size_t i = Home(hash);
    while (true) {
      const Slot& s = slots_[i];
      if (s.row == kNoRow) return kNoRow;
      if (s.hash == hash && is_key(s.row)) return s.row;
      if (++i == capacity_) i = 0;
    }
  }

  // Adds (hash, row). REQUIRES: the row's key is not in the index.
  void Insert(uint32_t hash, uint32_t row);

  // Removes the slot (hash, row). Returns false if there is none.
  bool Erase(uint32_t hash, uint32_t row);

  // Prefetches the cache line of the home slot of `hash`.
  void Prefetch(uint32_t hash) const {
    __builtin_prefetch(&slots_[Home(hash)]);
  }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  size_t bytes() const { return capacity_ * sizeof(Slot); }
  // Bytes the index would take after the next Insert().
  size_t BytesAfterInsert() const {
    return NeedsGrow(size_ + 1) ? GrownCapacity() * sizeof(Slot) : bytes();
  }

 private:
  static constexpr double kMaxLoad = 0.8;

  size_t Home(uint32_t hash) const {
    return static_cast<size_t>((static_cast<uint64_t>(hash) * capacity_) >> 32);
  }
  bool NeedsGrow(size_t n) const {
    return static_cast<double>(n) > kMaxLoad * static_cast<double>(capacity_);
  }
  size_t GrownCapacity() const { return capacity_ + capacity_ / 2 + 1; }
  void Rehash(size_t new_capacity);
  void Place(uint32_t hash, uint32_t row);

  struct FreeSlots {
    void operator()(Slot* p) const;
  };
  using SlotArray = std::unique_ptr<Slot[], FreeSlots>;
  // An array of n empty slots; 2 MiB-aligned with huge pages when large.
  static SlotArray AllocateSlots(size_t n);

  SlotArray slots_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace freshet

#endif  // FRESHET_TABLE_ROW_INDEX_H_
