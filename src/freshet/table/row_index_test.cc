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

TEST(RowArenaTest, ReusesFreedRowsAndKeepsAddressesStable) {
  RowArena arena(24);
  std::vector<uint32_t> ids;
  std::vector<char*> addrs;
  for (int i = 0; i < 10000; ++i) {
    ids.push_back(arena.Allocate());
    addrs.push_back(arena.Row(ids.back()));
    addrs.back()[8] = static_cast<char>(i);
  }
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(ids[i], static_cast<uint32_t>(i));
    EXPECT_EQ(arena.Row(ids[i]), addrs[i]);
    EXPECT_EQ(addrs[i][8], static_cast<char>(i));
  }
  // Rows of one slab are contiguous at the stride.
  EXPECT_EQ(arena.Row(1) - arena.Row(0), 24);
  const size_t bytes = arena.bytes();
  EXPECT_GE(bytes, 10000u * 24);
  for (int i = 0; i < 5000; ++i) arena.Free(ids[i]);
  EXPECT_EQ(arena.live(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    EXPECT_LT(arena.Allocate(), 5000u);  // a freed id, not a new one
  }
  EXPECT_EQ(arena.bytes(), bytes);
  EXPECT_EQ(arena.high_water(), 10000u);
}

}  // namespace
}  // namespace freshet
