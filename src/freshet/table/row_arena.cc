#include "freshet/table/row_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

namespace freshet {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
// Address space reserved at a time for slabs (more when one slab needs it).
constexpr size_t kChunkBytes = size_t{64} << 20;
#ifdef MADV_COLLAPSE
constexpr int kMadviseCollapse = MADV_COLLAPSE;
#else
constexpr int kMadviseCollapse = 25;  // Linux 6.1
#endif

size_t RoundUp(size_t x, size_t to) { return (x + to - 1) / to * to; }
}  // namespace

RowArena::RowArena(size_t stride) : stride_(stride) {}

RowArena::~RowArena() {
  for (const Chunk& c : chunks_) munmap(c.base, c.bytes);
}

char* RowArena::CarveSlab(size_t slab_bytes) {
  slab_bytes = RoundUp(slab_bytes, 4096);
  if (chunks_.empty() ||
      chunks_.back().used + slab_bytes > chunks_.back().bytes) {
    const size_t bytes = std::max(kChunkBytes, RoundUp(slab_bytes, kHugePage));
    // Over-map by a huge page and trim, so that the chunk starts on a 2 MiB
    // boundary. Pages are touched (and count as resident) only as slabs are
    // used.
    const size_t mapped = bytes + kHugePage;
    void* m = mmap(nullptr, mapped, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    char* raw = static_cast<char*>(m);
    char* base = reinterpret_cast<char*>(
        RoundUp(reinterpret_cast<uintptr_t>(raw), kHugePage));
    if (base != raw) munmap(raw, base - raw);
    const size_t tail = (raw + mapped) - (base + bytes);
    if (tail > 0) munmap(base + bytes, tail);
    chunks_.push_back(Chunk{base, bytes, 0});
  }
  Chunk& c = chunks_.back();
  char* slab = c.base + c.used;
  const size_t old_used = c.used;
  c.used += slab_bytes;
  // Each 2 MiB of a chunk that slabs fill completely asks for a transparent
  // huge page (rows are reached at random, and with 4 KiB pages nearly every
  // row access of a large table is also a TLB miss); the partly filled last
  // one stays on 4 KiB pages, so memory is resident only for rows in use and
  // a small stripe never takes a whole huge page. Pages of the range that
  // were touched before it was full (the small slabs at the start, the
  // straddling page) are collapsed into a huge page at once (Linux 6.1+;
  // without it they are collapsed later by khugepaged, or not at all).
  const size_t from = old_used / kHugePage * kHugePage;
  const size_t to = c.used / kHugePage * kHugePage;
  if (to > from) {
    madvise(c.base + from, to - from, MADV_HUGEPAGE);
    if (old_used > from) {
      madvise(c.base + from, kHugePage, kMadviseCollapse);
    }
  }
  return slab;
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
    slabs_.push_back(CarveSlab(slab_bytes));
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
