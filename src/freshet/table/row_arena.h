// RowArena: fixed-stride row storage of one table stripe.
//
// Rows live in slabs that never move, so a row's address is stable for its
// lifetime. Slabs double from 16 rows up to 16384 rows and stay at 16384, so a
// small table stays small and a large one wastes at most one slab; slabs of
// 2 MiB or more are aligned for transparent huge pages. A freed
// row goes on an intrusive free list (the next free id is written into the
// row) and is handed out again by the next Allocate(): memory freed by expiry
// and eviction is reused at once, not at a restart.
//
// Row ids are dense 32-bit integers; ids below high_water() have been handed
// out at least once. Not thread-safe: the owning stripe's lock guards it.
#ifndef FRESHET_TABLE_ROW_ARENA_H_
#define FRESHET_TABLE_ROW_ARENA_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace freshet {

class RowArena {
 public:
  static constexpr uint32_t kNoRow = 0xFFFFFFFFu;

  // REQUIRES: stride is a multiple of 8 and >= 8.
  explicit RowArena(size_t stride);
  ~RowArena();

  RowArena(const RowArena&) = delete;
  RowArena& operator=(const RowArena&) = delete;

  // Returns a row id whose bytes are unspecified; reuses freed rows first.
  uint32_t Allocate();

  // Returns `id` to the free list. Overwrites the row's first 8 bytes.
  void Free(uint32_t id);

  char* Row(uint32_t id) const {
    uint32_t slab, offset;
    Locate(id, &slab, &offset);
    return slabs_[slab] + static_cast<size_t>(offset) * stride_;
  }

  size_t stride() const { return stride_; }
  // Rows handed out and not freed.
  size_t live() const { return live_; }
  // Ids handed out at least once (the sweep range of expiry and eviction).
  uint32_t high_water() const { return high_water_; }
  // Rows the allocated slabs can hold.
  size_t capacity() const { return capacity_; }
  // Bytes of the allocated slabs.
  size_t bytes() const { return bytes_; }
  // Bytes after the next Allocate().
  size_t BytesAfterAllocate() const;

 private:
  static constexpr uint32_t kFirstShift = 4;  // first slab: 16 rows
  static constexpr uint32_t kMaxShift = 14;   // largest slab: 16384 rows
  static constexpr uint32_t kDoublingSlabs = kMaxShift - kFirstShift;
  static constexpr uint32_t kDoublingRows =
      (1u << kFirstShift) * ((1u << kDoublingSlabs) - 1);

  static void Locate(uint32_t id, uint32_t* slab, uint32_t* offset) {
    if (id < kDoublingRows) {
      const uint32_t x = id + (1u << kFirstShift);
      *slab = static_cast<uint32_t>(std::bit_width(x)) - 1 - kFirstShift;
      *offset = x - (1u << (*slab + kFirstShift));
    } else {
      const uint32_t y = id - kDoublingRows;
      *slab = kDoublingSlabs + (y >> kMaxShift);
      *offset = y & ((1u << kMaxShift) - 1);
    }
  }
  static size_t SlabBytes(size_t rows, size_t stride) {
    return (rows * stride + 63) / 64 * 64;
  }
  static size_t SlabRows(size_t slab) {
    return slab < kDoublingSlabs ? (size_t{1} << (slab + kFirstShift))
                                 : (size_t{1} << kMaxShift);
  }

  size_t stride_;
  std::vector<char*> slabs_;
  size_t capacity_ = 0;
  size_t bytes_ = 0;
  size_t live_ = 0;
  uint32_t high_water_ = 0;
  uint32_t free_head_ = kNoRow;
};

}  // namespace freshet

#endif  // FRESHET_TABLE_ROW_ARENA_H_
