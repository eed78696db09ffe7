#include "freshet/table/admission_filter.h"

#include <map>
#include <string>
#include <string_view>

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

// A filter without a sketch (min_count 1, admission by probability only)
// saves and restores its draw counter. Restoring it used to hand memcpy the
// empty counter vector's null data pointer (UBSan, in every checkpoint
// restore of such a table).
TEST(AdmissionFilterTest, StateWithoutASketchRoundTrips) {
  AdmissionSpec spec;
  spec.min_count = 1;
  spec.probability = 0.5;
  AdmissionFilter filter(spec, 64, 3);
  ASSERT_EQ(filter.bytes(), 0u);
  int admitted = 0;
  for (uint64_t k = 1; k <= 100; ++k) admitted += filter.Admit(Mix64(k), 0);
  std::string state;
  filter.SaveState(&state);
  AdmissionFilter restored(spec, 64, 3);
  std::string_view in = state;
  ASSERT_TRUE(restored.LoadState(&in));
  EXPECT_TRUE(in.empty());
  // The same draws follow.
  for (uint64_t k = 101; k <= 200; ++k) {
    EXPECT_EQ(restored.Admit(Mix64(k), 0), filter.Admit(Mix64(k), 0)) << k;
  }
  EXPECT_GT(admitted, 0);
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
