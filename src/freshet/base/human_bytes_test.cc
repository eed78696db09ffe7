#include "freshet/base/human_bytes.h"

#include <gtest/gtest.h>

namespace freshet {
namespace {

TEST(HumanBytesTest, BytesThenOneDecimalInBinaryUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3ULL << 20), "3.0 MiB");
  EXPECT_EQ(HumanBytes((5ULL << 30) + (1ULL << 29)), "5.5 GiB");
  EXPECT_EQ(HumanBytes(1ULL << 40), "1.0 TiB");
  // TiB is the largest unit.
  EXPECT_EQ(HumanBytes(1ULL << 51), "2048.0 TiB");
  EXPECT_EQ(HumanBytes(UINT64_MAX), "16777216.0 TiB");
}

}  // namespace
}  // namespace freshet
