#include "freshet/model/loss.h"

#include <cmath>
#include <limits>
#include <vector>

#include "freshet/model/gradient_check.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

TEST(LossTest, SigmoidIsStableAndSymmetric) {
  EXPECT_DOUBLE_EQ(Sigmoid(0.0), 0.5);
  EXPECT_NEAR(Sigmoid(2.0), 1.0 / (1.0 + std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(Sigmoid(-2.0) + Sigmoid(2.0), 1.0, 1e-15);
  EXPECT_EQ(Sigmoid(1000.0f), 1.0f);
  EXPECT_EQ(Sigmoid(-1000.0f), 0.0f);
  EXPECT_FALSE(std::isnan(Sigmoid(-1e30f)));
}

TEST(LossTest, LogisticLossMatchesDefinition) {
  for (double z : {-5.0, -0.7, 0.0, 0.3, 4.0}) {
    const double p = 1.0 / (1.0 + std::exp(-z));
    EXPECT_NEAR(LogisticLoss(z, 1.0), -std::log(p), 1e-12) << z;
    EXPECT_NEAR(LogisticLoss(z, 0.0), -std::log(1 - p), 1e-12) << z;
    EXPECT_NEAR(LogisticLoss(z, 0.25),
                -(0.25 * std::log(p) + 0.75 * std::log(1 - p)), 1e-12)
        << z;
  }
}

TEST(LossTest, LogisticLossIsFiniteForHugeLogits) {
  // The naive log(1 + e^z) overflows at z = 89 in float.
  EXPECT_FLOAT_EQ(LogisticLoss(100.0f, 0.0f), 100.0f);
  EXPECT_FLOAT_EQ(LogisticLoss(-100.0f, 1.0f), 100.0f);
  EXPECT_NEAR(LogisticLoss(100.0f, 1.0f), 0.0f, 1e-30f);
  EXPECT_NEAR(LogisticLoss(-40.0f, 0.0f), std::exp(-40.0), 1e-20);
  EXPECT_FLOAT_EQ(LogisticLossGradient(100.0f, 0.0f), 1.0f);
  EXPECT_FLOAT_EQ(LogisticLossGradient(-100.0f, 1.0f), -1.0f);
}

TEST(LossTest, GradientMatchesFiniteDifferences) {
  for (double y : {0.0, 1.0, 0.3}) {
    for (double z : {-6.0, -1.2, 0.0, 0.4, 3.5}) {
      double zz = z;
      auto f = [&] { return LogisticLoss(zz, y); };
      EXPECT_TRUE(
          GradientsAgree(LogisticLossGradient(z, y), CentralDifference(f, &zz)))
          << "z=" << z << " y=" << y;
    }
  }
}

TEST(LossTest, BatchLossWeightsAndScales) {
  const std::vector<float> logits = {0.5f, -1.0f, 2.0f};
  const std::vector<float> labels = {1.0f, 0.0f, 0.0f};
  const std::vector<float> weights = {1.0f, 2.0f, 0.5f};
  std::vector<float> grad(3);
  const double total = LogisticLossAndGradient<float>(
      logits, labels, weights, 0.5f, absl::MakeSpan(grad));
  double expected = 0;
  for (int i = 0; i < 3; ++i) {
    expected += weights[i] * LogisticLoss<double>(logits[i], labels[i]);
    EXPECT_NEAR(
        grad[i],
        0.5 * weights[i] * LogisticLossGradient<double>(logits[i], labels[i]),
        1e-6)
        << i;
  }
  EXPECT_NEAR(total, expected, 1e-6);

  std::vector<float> unweighted(3);
  const double plain = LogisticLossAndGradient<float>(
      logits, labels, {}, 1.0f, absl::MakeSpan(unweighted));
  double expected_plain = 0;
  for (int i = 0; i < 3; ++i) {
    expected_plain += LogisticLoss<double>(logits[i], labels[i]);
  }
  EXPECT_NEAR(plain, expected_plain, 1e-6);
}

TEST(LossTest, NegativeSamplingCorrectionRestoresCalibration) {
  // True CTR p; keeping negatives at rate r makes the trained odds p/(r(1-p)).
  const double p = 0.02, r = 0.1;
  const double trained_logit = std::log(p / (r * (1 - p)));
  EXPECT_NEAR(Sigmoid(CorrectNegativeSampling(trained_logit, r)), p, 1e-12);
  EXPECT_DOUBLE_EQ(CorrectNegativeSampling(1.5, 1.0), 1.5);
  std::vector<float> batch = {static_cast<float>(trained_logit), 0.0f};
  CorrectNegativeSampling(r, absl::MakeSpan(batch));
  EXPECT_NEAR(Sigmoid(batch[0]), p, 1e-6);
  EXPECT_NEAR(batch[1], std::log(r), 1e-6);
}

}  // namespace
}  // namespace freshet
