#include "freshet/table/row_arena.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace freshet {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

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
    // Large slabs start on a 2 MiB boundary and ask for transparent huge
    // pages: rows are reached at random, and with 4 KiB pages nearly every
    // row access of a large table is also a TLB miss.
    const bool huge = slab_bytes >= kHugePage;
    void* slab = std::aligned_alloc(huge ? kHugePage : 64,
                                    (slab_bytes + 4095) / 4096 * 4096);
    if (slab == nullptr) throw std::bad_alloc();
    if (huge) {
      madvise(slab, slab_bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
    }
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
