#include "freshet/table/row_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>

namespace freshet {

void RowIndex::FreeSlots::operator()(Slot* p) const { std::free(p); }

RowIndex::SlotArray RowIndex::AllocateSlots(size_t n) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t bytes = n * sizeof(Slot);
  const bool huge = bytes >= kHugePage;
  void* p =
      std::aligned_alloc(huge ? kHugePage : 64, (bytes + 4095) / 4096 * 4096);
  if (p == nullptr) throw std::bad_alloc();
  if (huge) madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
  Slot* slots = static_cast<Slot*>(p);
  std::fill_n(slots, n, Slot{0, kNoRow});
  return SlotArray(slots);
}

RowIndex::RowIndex(size_t initial_capacity) {
  capacity_ = std::max<size_t>(initial_capacity, 4);
  slots_ = AllocateSlots(capacity_);
}

void RowIndex::Place(uint32_t hash, uint32_t row) {
  size_t i = Home(hash);
  while (slots_[i].row != kNoRow) {
    if (++i == capacity_) i = 0;
  }
  slots_[i] = Slot{hash, row};
}

void RowIndex::Rehash(size_t new_capacity) {
  SlotArray old = std::move(slots_);
  const size_t old_capacity = capacity_;
  capacity_ = new_capacity;
  slots_ = AllocateSlots(capacity_);
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].row != kNoRow) Place(old[i].hash, old[i].row);
  }
}

void RowIndex::Insert(uint32_t hash, uint32_t row) {
  if (NeedsGrow(size_ + 1)) Rehash(GrownCapacity());
  Place(hash, row);
  ++size_;
}

bool RowIndex::Erase(uint32_t hash, uint32_t row) {
  size_t i = Home(hash);
  while (true) {
    const Slot& s = slots_[i];
    if (s.row == kNoRow) return false;
    if (s.row == row && s.hash == hash) break;
    if (++i == capacity_) i = 0;
  }
  // Backward-shift deletion: move later slots of the probe run into the hole
  // when the hole lies between their home and their position.
  size_t j = i;
  while (true) {
    if (++j == capacity_) j = 0;
    const Slot s = slots_[j];
    if (s.row == kNoRow) break;
    const size_t home = Home(s.hash);
    const size_t dist_home = (j + capacity_ - home) % capacity_;
    const size_t dist_hole = (j + capacity_ - i) % capacity_;
    if (dist_home >= dist_hole) {
      slots_[i] = s;
      i = j;
    }
  }
  slots_[i] = Slot{0, kNoRow};
  --size_;
  return true;
}

}  // namespace freshet
