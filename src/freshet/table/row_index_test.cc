#include "freshet/table/row_index.h"

#include <map>
#include <random>
#include <vector>

#include "freshet/table/row_arena.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

// Random inserts and erases against a std::map model, with many equal
// hashes to exercise probe runs, wrap-around and backward shifts.
TEST(RowIndexTest, MatchesModelUnderInsertAndErase) {
  RowIndex index(4);
  std::multimap<uint32_t, uint32_t> model;  // hash -> row
  std::mt19937_64 rng(7);
  uint32_t next_row = 0;
  for (int step = 0; step < 20000; ++step) {
    const bool insert = model.empty() || rng() % 3 != 0;
    if (insert) {
      // Few distinct hashes, some near the top of the range (wrap-around).
      const uint32_t hash = rng() % 2 ? static_cast<uint32_t>(rng() % 64)
                                      : 0xFFFFFFFFu - rng() % 64;
      index.Insert(hash, next_row);
      model.emplace(hash, next_row);
      ++next_row;
    } else {
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      ASSERT_TRUE(index.Erase(it->first, it->second));
      model.erase(it);
    }
    ASSERT_EQ(index.size(), model.size());
    ASSERT_LE(index.size(), index.capacity() * 0.8 + 1);
  }
  for (const auto& [hash, row] : model) {
    const uint32_t r = row;
    EXPECT_EQ(index.Find(hash, [&](uint32_t cand) { return cand == r; }), r);
  }
  EXPECT_FALSE(index.Erase(12345, 999999999));
}

// FindFirst returns the row of the first slot holding the hash, whether the
// probe ends in the home slot's cache line, runs past it, or wraps around
// the end of the slots; kNoRow for an absent hash.
TEST(RowIndexTest, FindFirstFindsEveryHashAcrossLinesAndWrapAround) {
  std::mt19937_64 rng(11);
  for (size_t n : {3, 50, 1000, 20000}) {
    RowIndex index(4);
    std::map<uint32_t, uint32_t> model;  // distinct hashes -> row
    for (uint32_t row = 0; model.size() < n; ++row) {
      // Clusters at both ends of the hash range make long probe runs that
      // cross cache lines and wrap around.
      const uint32_t r = static_cast<uint32_t>(rng());
      const uint32_t hash = row % 3 == 0   ? r % 4096
                            : row % 3 == 1 ? 0xFFFFFFFFu - r % 4096
                                           : r;
      if (model.emplace(hash, row).second) index.Insert(hash, row);
    }
    for (const auto& [hash, row] : model) {
      ASSERT_EQ(index.FindFirst(hash), row) << "n " << n << " hash " << hash;
    }
    for (int i = 0; i < 2000; ++i) {
      const uint32_t hash = static_cast<uint32_t>(rng());
      if (model.count(hash) == 0) {
        ASSERT_EQ(index.FindFirst(hash), RowIndex::kNoRow) << hash;
      }
    }
  }
}

TEST(RowArenaTest, ReusesFreedRowsAndKeepsAddressesStable) {
  RowArena arena(24);
  std::vector<uint32_t> ids;
  std::vector<char*> addrs;
  // 40000 rows: the doubling slabs (16368 rows) and two fixed-size ones.
  constexpr int kRows = 40000;
  for (int i = 0; i < kRows; ++i) {
    ids.push_back(arena.Allocate());
    addrs.push_back(arena.Row(ids.back()));
    addrs.back()[8] = static_cast<char>(i);
  }
  for (int i = 0; i < kRows; ++i) {
    EXPECT_EQ(ids[i], static_cast<uint32_t>(i));
    EXPECT_EQ(arena.Row(ids[i]), addrs[i]);
    EXPECT_EQ(addrs[i][8], static_cast<char>(i));
  }
  // Rows of one slab are contiguous at the stride.
  EXPECT_EQ(arena.Row(1) - arena.Row(0), 24);
  EXPECT_EQ(arena.Row(16368 + 16383) - arena.Row(16368), 16383 * 24);
  const size_t bytes = arena.bytes();
  EXPECT_GE(bytes, size_t{kRows} * 24);
  for (int i = 0; i < 5000; ++i) arena.Free(ids[i]);
  EXPECT_EQ(arena.live(), size_t{kRows} - 5000);
  for (int i = 0; i < 5000; ++i) {
    EXPECT_LT(arena.Allocate(), 5000u);  // a freed id, not a new one
  }
  EXPECT_EQ(arena.bytes(), bytes);
  EXPECT_EQ(arena.high_water(), uint32_t{kRows});
}

}  // namespace
}  // namespace freshet
