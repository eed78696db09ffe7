#include "freshet/table/admission_filter.h"

#include <map>

#include "freshet/base/hash.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

// Count-min never under-counts; with conservative update and a sketch much
// wider than the number of ids, most estimates are exact.
TEST(AdmissionFilterTest, EstimatesNeverUnderCount) {
  AdmissionSpec spec;
  spec.min_count = 1000;  // never admits here; only counting matters
  AdmissionFilter filter(spec, 4096, 17);
  std::map<uint64_t, uint32_t> truth;
  // Skewed counts: id k is seen 200 / k + 1 times, rounds interleaved.
  for (int round = 0; round <= 200; ++round) {
    for (uint64_t k = 1; k <= 3000; ++k) {
      if (static_cast<uint64_t>(round) > 200 / k) continue;
      const uint64_t id = Mix64(k);
      EXPECT_FALSE(filter.Admit(id, 0));
      ++truth[id];
    }
  }
  int exact = 0;
  for (const auto& [id, count] : truth) {
    const uint32_t est = filter.Estimate(id);
    ASSERT_GE(est, count);
    exact += est == count;
  }
  EXPECT_GT(exact, static_cast<int>(truth.size() * 9 / 10));
  EXPECT_EQ(filter.bytes(), 4u * 4096 * sizeof(uint16_t));
}

TEST(AdmissionFilterTest, CountersSaturateAt65535) {
  AdmissionSpec spec;
  spec.min_count = 65535;
  AdmissionFilter filter(spec, 64, 1);
  for (int i = 0; i < 65534; ++i) ASSERT_FALSE(filter.Admit(42, 0));
  EXPECT_TRUE(filter.Admit(42, 0));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(filter.Admit(42, 0));
  EXPECT_EQ(filter.Estimate(42), 65535u);
}

TEST(AdmissionFilterTest, AdmitsAllWithoutThresholdOrProbability) {
  AdmissionSpec spec;
  AdmissionFilter filter(spec, 4096, 1);
  EXPECT_TRUE(filter.AdmitsAll());
  EXPECT_EQ(filter.bytes(), 0u);
  EXPECT_TRUE(filter.Admit(1, 0));
}

}  // namespace
}  // namespace freshet
