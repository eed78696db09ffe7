#include "freshet/model/metrics.h"

#include <cmath>
#include <limits>
#include <vector>

#include "freshet/model/loss.h"
#include "freshet/model/rng.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

TEST(AucTest, HandComputedCases) {
  // Perfect, inverted, and one swapped pair out of 4.
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.2f, 0.8f, 0.9f}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(Auc({0.9f, 0.8f, 0.2f, 0.1f}, {0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(Auc({0.1f, 0.8f, 0.2f, 0.9f}, {0, 0, 1, 1}), 0.75);
  // Order of the input does not matter.
  EXPECT_DOUBLE_EQ(Auc({0.9f, 0.2f, 0.8f, 0.1f}, {1, 1, 0, 0}), 0.75);
}

TEST(AucTest, TiesCountHalf) {
  // All scores equal: every pair is a tie.
  EXPECT_DOUBLE_EQ(Auc({0.5f, 0.5f, 0.5f}, {1, 0, 0}), 0.5);
  // Pairs (p1,n1)=1 (p1,n2)=0.5 (p2,n1)=0.5 (p2,n2)=0:
  // p1=0.7 n1=0.3 n2=0.7 p2=0.3.
  EXPECT_DOUBLE_EQ(Auc({0.7f, 0.3f, 0.7f, 0.3f}, {1, 0, 0, 1}), 0.5);
  // p=0.6 vs n={0.2, 0.6, 0.9}: 1 + 0.5 + 0 = 1.5 of 3.
  EXPECT_DOUBLE_EQ(Auc({0.6f, 0.2f, 0.6f, 0.9f}, {1, 0, 0, 0}), 0.5);
  // p={0.4,0.4} vs n={0.1,0.4}: (1 + 0.5) * 2 = 3 of 4.
  EXPECT_DOUBLE_EQ(Auc({0.4f, 0.4f, 0.1f, 0.4f}, {1, 1, 0, 0}), 0.75);
}

TEST(AucTest, WeightsCountPairs) {
  // Positive 0.8 (w 3), negatives 0.5 (w 1) and 0.9 (w 1): 3 / (3 · 2).
  EXPECT_DOUBLE_EQ(Auc({0.8f, 0.5f, 0.9f}, {1, 0, 0}, {3, 1, 1}), 0.5);
  // Two positives: 0.8 (w 3) beats 0.5 only; 0.95 (w 1) beats both.
  EXPECT_DOUBLE_EQ(Auc({0.8f, 0.5f, 0.9f, 0.95f}, {1, 0, 0, 1}, {3, 1, 1, 1}),
                   (3.0 * 1 + 1.0 * 2) / (4.0 * 2));
}

TEST(AucTest, UndefinedWithoutBothClasses) {
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {1, 1})));
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {0, 0})));
  EXPECT_TRUE(std::isnan(Auc({}, {})));
}

TEST(MetricsTest, LogLossAndCalibration) {
  const std::vector<float> p = {0.9f, 0.2f, 0.5f};
  const std::vector<float> y = {1, 0, 1};
  const double expected =
      -(std::log(0.9) + std::log(0.8) + std::log(0.5)) / 3.0;
  EXPECT_NEAR(LogLoss(p, y), expected, 1e-6);
  const std::vector<float> w = {2, 1, 1};
  EXPECT_NEAR(LogLoss(p, y, w),
              -(2 * std::log(0.9) + std::log(0.8) + std::log(0.5)) / 4.0, 1e-6);
  // Clipped: a confident mistake costs −log(1e-7), not infinity.
  EXPECT_NEAR(LogLoss({0.0f}, {1.0f}), -std::log(1e-7), 1e-3);
  EXPECT_NEAR(Calibration(p, y), (0.9 + 0.2 + 0.5) / 2.0, 1e-6);
  EXPECT_NEAR(Calibration(p, y, w), (1.8 + 0.2 + 0.5) / 3.0, 1e-6);
  EXPECT_TRUE(std::isnan(Calibration({0.3f}, {0.0f})));
  EXPECT_TRUE(std::isnan(LogLoss({}, {})));
}

// A stream whose scores carry signal: logit = a·label + noise.
struct Stream {
  std::vector<float> logits, labels, weights;
};
Stream MakeStream(int n, uint64_t seed, bool weighted, bool coarse = false) {
  Stream s;
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const float label = rng.Uniform() < 0.2 ? 1.0f : 0.0f;
    // Sum of uniforms ≈ normal noise.
    double noise = 0;
    for (int k = 0; k < 4; ++k) noise += rng.Symmetric(1.0);
    float logit = static_cast<float>(-2.0 + 1.2 * label + noise);
    if (coarse) logit = std::round(logit * 4) / 4;  // many exact ties
    s.logits.push_back(logit);
    s.labels.push_back(label);
    s.weights.push_back(weighted ? static_cast<float>(0.5 + rng.Uniform())
                                 : 1.0f);
  }
  return s;
}

TEST(ProgressiveMetricsTest, CumulativeMatchesExactWithinBound) {
  for (bool weighted : {false, true}) {
    for (int buckets : {1 << 16, 1 << 10, 64}) {
      const Stream s = MakeStream(20000, 31, weighted);
      ProgressiveMetricsOptions options;
      options.num_buckets = buckets;
      options.window = 0;
      ProgressiveMetrics m(options);
      m.AddBatch(s.logits, s.labels, s.weights);
      EXPECT_EQ(m.count(), 20000);
      const double exact = Auc(s.logits, s.labels, s.weights);
      const double bound = m.AucErrorBound();
      EXPECT_LE(std::abs(m.Auc() - exact), bound + 1e-12)
          << "buckets " << buckets << " weighted " << weighted;
      if (buckets == 1 << 16) {
        EXPECT_LT(bound, 1e-3);
      }
      // The stream has signal.
      EXPECT_GT(exact, 0.7);

      std::vector<float> probs;
      for (float z : s.logits) probs.push_back(Sigmoid(z));
      EXPECT_NEAR(m.LogLoss(), LogLoss(probs, s.labels, s.weights), 1e-5);
      EXPECT_NEAR(m.Calibration(), Calibration(probs, s.labels, s.weights),
                  1e-5);
    }
  }
}

TEST(ProgressiveMetricsTest, ExactTiesAreNotCountedAsErrors) {
  // With coarse (tied) scores and fine buckets, ties in a bucket are real
  // ties; the histogram AUC equals the exact AUC.
  const Stream s = MakeStream(5000, 37, false, /*coarse=*/true);
  ProgressiveMetrics m;
  m.AddBatch(s.logits, s.labels);
  EXPECT_NEAR(m.Auc(), Auc(s.logits, s.labels), 1e-12);
  EXPECT_LE(std::abs(m.Auc() - Auc(s.logits, s.labels)), m.AucErrorBound());
}

TEST(ProgressiveMetricsTest, OutOfRangeLogitsLandInEndBuckets) {
  ProgressiveMetricsOptions options;
  options.logit_range = 4.0;
  ProgressiveMetrics m(options);
  m.Add(-50.0f, 0.0f);
  m.Add(-6.0f, 1.0f);
  m.Add(50.0f, 1.0f);
  m.Add(std::nanf(""), 0.0f);  // counted apart, not added
  EXPECT_EQ(m.count(), 3);
  EXPECT_EQ(m.non_finite(), 1);
  // -50 and -6 share the lowest bucket: that pair is a tie.
  EXPECT_GE(m.AucErrorBound(), 0.5 * 1.0 / (2 * 1));
  EXPECT_LE(std::abs(m.Auc() - Auc({-50.0f, -6.0f, 50.0f}, {0, 1, 1})),
            m.AucErrorBound());
}

TEST(ProgressiveMetricsTest, WindowCoversTheLastNExamples) {
  const Stream s = MakeStream(2500, 41, true);
  ProgressiveMetricsOptions options;
  options.window = 1000;
  ProgressiveMetrics m(options);
  for (int i = 0; i < 2500; ++i) {
    m.Add(s.logits[i], s.labels[i], s.weights[i]);
    if (i == 499 || i == 999 || i == 1733 || i == 2499) {
      const int n = std::min(i + 1, 1000);
      const int first = i + 1 - n;
      auto tail = [&](const std::vector<float>& v) {
        return std::vector<float>(v.begin() + first, v.begin() + i + 1);
      };
      const std::vector<float> z = tail(s.logits), y = tail(s.labels),
                               w = tail(s.weights);
      std::vector<float> p;
      for (float x : z) p.push_back(Sigmoid(x));
      EXPECT_EQ(m.window_count(), n);
      EXPECT_DOUBLE_EQ(m.WindowAuc(), Auc(z, y, w)) << i;
      EXPECT_NEAR(m.WindowLogLoss(), LogLoss(p, y, w), 1e-5) << i;
      EXPECT_NEAR(m.WindowCalibration(), Calibration(p, y, w), 1e-5) << i;
    }
  }
  // The window forgets: a drift in the stream shows in the window first.
  for (int i = 0; i < 1000; ++i) {
    m.Add(s.logits[i], 1.0f - s.labels[i]);  // labels flipped: AUC < 0.5
  }
  EXPECT_LT(m.WindowAuc(), 0.5);
  EXPECT_GT(m.Auc(), 0.5);
}

TEST(ProgressiveMetricsTest, ResetAndEmpty) {
  ProgressiveMetrics m;
  EXPECT_TRUE(std::isnan(m.Auc()));
  EXPECT_TRUE(std::isnan(m.LogLoss()));
  EXPECT_TRUE(std::isnan(m.WindowAuc()));
  m.Add(1.0f, 1.0f);
  m.Add(-1.0f, 0.0f);
  EXPECT_DOUBLE_EQ(m.Auc(), 1.0);
  EXPECT_DOUBLE_EQ(m.WindowAuc(), 1.0);
  m.Reset();
  EXPECT_EQ(m.count(), 0);
  EXPECT_EQ(m.window_count(), 0);
  EXPECT_TRUE(std::isnan(m.Auc()));
}

}  // namespace
}  // namespace freshet

namespace freshet {
namespace {

// NaN scores used to make the tie loop spin forever (a NaN equals nothing)
// and break std::sort's ordering. Now: any input terminates, NaNs are one
// group of ties ranked last.
TEST(AucTest, TerminatesOnNonFiniteScores) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> scores, labels;
  for (int i = 0; i < 1000; ++i) {
    scores.push_back(i % 3 == 0 ? nan : (i % 7 == 0 ? -inf : 0.001f * i));
    labels.push_back(i % 2 == 0 ? 1.0f : 0.0f);
  }
  const double auc = Auc(scores, labels);
  EXPECT_GE(auc, 0.0);
  EXPECT_LE(auc, 1.0);
  // All NaN: one tie group, AUC one half.
  EXPECT_DOUBLE_EQ(Auc({nan, nan, nan, nan}, {1, 0, 1, 0}), 0.5);
}

TEST(ProgressiveMetricsTest, NonFiniteExamplesAreCountedNotAdded) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  ProgressiveMetricsOptions opt;
  opt.window = 8;
  ProgressiveMetrics m(opt);
  m.Add(1.0f, 1.0f);
  m.Add(-1.0f, 0.0f);
  m.Add(nan, 1.0f);
  m.Add(inf, 0.0f);
  m.Add(0.5f, nan);
  m.Add(0.5f, 1.0f, inf);
  EXPECT_EQ(m.count(), 2);
  EXPECT_EQ(m.non_finite(), 4);
  EXPECT_TRUE(std::isfinite(m.LogLoss()));
  EXPECT_DOUBLE_EQ(m.Auc(), 1.0);
  EXPECT_DOUBLE_EQ(m.WindowAuc(), 1.0);
  EXPECT_EQ(m.window_count(), 2);
  m.Reset();
  EXPECT_EQ(m.non_finite(), 0);
}

}  // namespace
}  // namespace freshet
