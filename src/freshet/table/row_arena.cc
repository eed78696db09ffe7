#include "freshet/table/row_arena.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace freshet {

RowArena::RowArena(size_t stride) : stride_(stride) {}

RowArena::~RowArena() {
  for (char* slab : slabs_) std::free(slab);
}

size_t RowArena::BytesAfterAllocate() const {
  if (free_head_ != kNoRow || high_water_ < capacity_) return bytes();
  return bytes() + SlabBytes(SlabRows(slabs_.size()), stride_);
}

uint32_t RowArena::Allocate() {
  ++live_;
  if (free_head_ != kNoRow) {
    const uint32_t id = free_head_;
    uint64_t next;
    std::memcpy(&next, Row(id), sizeof(next));
    free_head_ = static_cast<uint32_t>(next);
    return id;
  }
  if (high_water_ == capacity_) {
    const size_t rows = SlabRows(slabs_.size());
    const size_t slab_bytes = SlabBytes(rows, stride_);
    void* slab = std::aligned_alloc(64, slab_bytes);
    if (slab == nullptr) throw std::bad_alloc();
    slabs_.push_back(static_cast<char*>(slab));
    capacity_ += rows;
    bytes_ += slab_bytes;
  }
  return high_water_++;
}

void RowArena::Free(uint32_t id) {
  const uint64_t next = free_head_;
  std::memcpy(Row(id), &next, sizeof(next));
  free_head_ = id;
  --live_;
}

}  // namespace freshet
