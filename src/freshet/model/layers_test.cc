#include <vector>

#include "freshet/model/activation.h"
#include "freshet/model/cross_net.h"
#include "freshet/model/fm_interaction.h"
#include "freshet/model/gradient_check.h"
#include "freshet/model/linear.h"
#include "freshet/model/mlp.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

// Checks every element of `values` against the analytic gradient `analytic`
// of the objective f().
template <typename F>
void ExpectGradient(const char* what, std::vector<double>* values,
                    const std::vector<double>& analytic, const F& f) {
  ASSERT_EQ(values->size(), analytic.size());
  for (size_t i = 0; i < values->size(); ++i) {
    const double numeric = CentralDifference(f, &(*values)[i]);
    EXPECT_TRUE(GradientsAgree(analytic[i], numeric))
        << what << "[" << i << "]: analytic " << analytic[i] << ", numeric "
        << numeric;
  }
}

TEST(ActivationTest, ParsesNames) {
  EXPECT_EQ(*ParseActivation("relu"), Activation::kRelu);
  EXPECT_EQ(*ParseActivation("tanh"), Activation::kTanh);
  EXPECT_EQ(*ParseActivation("sigmoid"), Activation::kSigmoid);
  EXPECT_EQ(*ParseActivation("identity"), Activation::kIdentity);
  EXPECT_FALSE(ParseActivation("gelu").ok());
  EXPECT_EQ(ActivationName(Activation::kTanh), "tanh");
}

TEST(ActivationTest, ValuesAndDerivatives) {
  for (Activation a : {Activation::kIdentity, Activation::kRelu,
                       Activation::kSigmoid, Activation::kTanh}) {
    std::vector<double> x = {-2.0, -0.3, 0.4, 1.7, -30.0, 30.0};
    std::vector<double> y = x;
    ApplyActivation<double>(a, MatrixMap<double>(y.data(), 2, 3));
    for (size_t i = 0; i < x.size(); ++i) {
      double expected = x[i];
      if (a == Activation::kRelu) expected = x[i] > 0 ? x[i] : 0.0;
      if (a == Activation::kSigmoid) expected = 1.0 / (1.0 + std::exp(-x[i]));
      if (a == Activation::kTanh) expected = std::tanh(x[i]);
      EXPECT_NEAR(y[i], expected, 1e-12) << ActivationName(a) << " " << x[i];
    }
    std::vector<double> dy(x.size(), 1.0);
    ActivationBackward<double>(a, ConstMatrixMap<double>(y.data(), 2, 3),
                               MatrixMap<double>(dy.data(), 2, 3));
    for (size_t i = 0; i < x.size(); ++i) {
      double xi = x[i];
      auto f = [&] {
        std::vector<double> v = {xi};
        ApplyActivation<double>(a, MatrixMap<double>(v.data(), 1, 1));
        return v[0];
      };
      EXPECT_TRUE(GradientsAgree(dy[i], CentralDifference(f, &xi)))
          << ActivationName(a) << " at " << x[i] << ": " << dy[i];
    }
  }
}

TEST(LinearTest, ForwardIsAffine) {
  Linear<double> layer(2, 3, 0);
  // W = [[1, 2, 3], [4, 5, 6]], b = [0.5, -1, 2].
  std::vector<double> p = {1, 2, 3, 4, 5, 6, 0.5, -1, 2};
  std::vector<double> x = {1, -1, 2, 0.5};
  std::vector<double> y(6);
  layer.Forward(p.data(), 2, x.data(), y.data());
  const std::vector<double> expected = {1 - 4 + 0.5, 2 - 5 - 1,   3 - 6 + 2,
                                        2 + 2 + 0.5, 4 + 2.5 - 1, 6 + 3 + 2};
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(y[i], expected[i]) << i;
}

TEST(LinearTest, GradientsMatchFiniteDifferences) {
  constexpr int kBatch = 4, kIn = 5, kOut = 3;
  constexpr size_t kOffset = 2;  // parameters need not start at 0
  Linear<double> layer(kIn, kOut, kOffset);
  Rng rng(7);
  std::vector<double> params = RandomVector(kOffset + layer.num_params(), &rng);
  layer.Init(InitScheme::kXavier, &rng, params.data());
  // Biases start at 0; perturb them so that they matter.
  for (int j = 0; j < kOut; ++j) params[kOffset + kIn * kOut + j] = 0.1 * j;
  std::vector<double> x = RandomVector(kBatch * kIn, &rng);
  const std::vector<double> r = RandomVector(kBatch * kOut, &rng);
  std::vector<double> y(kBatch * kOut);
  auto objective = [&] {
    layer.Forward(params.data(), kBatch, x.data(), y.data());
    return Dot(r, y.data());
  };
  std::vector<double> dparams(params.size(), 0.0), dx(x.size());
  layer.Backward(params.data(), kBatch, x.data(), r.data(), dparams.data(),
                 dx.data());
  ExpectGradient("params", &params, dparams, objective);
  ExpectGradient("x", &x, dx, objective);
  // Gradients outside the layer's range are untouched.
  EXPECT_EQ(dparams[0], 0.0);
  EXPECT_EQ(dparams[1], 0.0);

  // Parameter gradients accumulate.
  std::vector<double> twice = dparams;
  layer.Backward(params.data(), kBatch, x.data(), r.data(), twice.data(),
                 nullptr);
  for (size_t i = 0; i < twice.size(); ++i) {
    EXPECT_NEAR(twice[i], 2 * dparams[i], 1e-12);
  }
}

TEST(LinearTest, InitIsSeededAndScaled) {
  Linear<float> layer(100, 50, 0);
  std::vector<float> a(layer.num_params()), b(layer.num_params()),
      c(layer.num_params());
  Rng r1(3), r2(3), r3(4);
  layer.Init(InitScheme::kHe, &r1, a.data());
  layer.Init(InitScheme::kHe, &r2, b.data());
  layer.Init(InitScheme::kHe, &r3, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const float range = std::sqrt(6.0f / 100);
  double sum_sq = 0;
  for (int i = 0; i < 100 * 50; ++i) {
    EXPECT_LE(std::abs(a[i]), range);
    sum_sq += a[i] * a[i];
  }
  // Uniform(-a, a) has variance a²/3 = 2 / fan_in.
  EXPECT_NEAR(sum_sq / (100 * 50), 2.0 / 100, 0.002);
  for (int j = 0; j < 50; ++j) EXPECT_EQ(a[100 * 50 + j], 0.0f);
}

struct MlpCase {
  Activation activation;
  bool activate_last;
};

class MlpGradientTest : public ::testing::TestWithParam<MlpCase> {};

TEST_P(MlpGradientTest, GradientsMatchFiniteDifferences) {
  constexpr int kBatch = 3, kIn = 4;
  const std::vector<int> dims = {6, 5, 2};
  Mlp<double> mlp(kIn, dims, GetParam().activation, GetParam().activate_last,
                  1);
  ASSERT_EQ(mlp.out(), 2);
  Rng rng(11);
  std::vector<double> params(1 + mlp.num_params());
  mlp.Init(&rng, params.data());
  for (double& p : params) p += 0.05 * rng.Symmetric(1.0);  // nonzero biases
  std::vector<double> x = RandomVector(kBatch * kIn, &rng);
  const std::vector<double> r = RandomVector(kBatch * mlp.out(), &rng);
  std::vector<double> acts(kBatch * mlp.ActivationFloats());
  auto objective = [&] {
    mlp.Forward(params.data(), kBatch, x.data(), acts.data());
    return Dot(r, mlp.Output(kBatch, acts.data()));
  };
  objective();
  std::vector<double> scratch(kBatch * mlp.BackwardScratchFloats());
  std::vector<double> dparams(params.size(), 0.0), dx(x.size());
  mlp.Backward(params.data(), kBatch, x.data(), acts.data(), r.data(),
               scratch.data(), dparams.data(), dx.data());
  ExpectGradient("params", &params, dparams, objective);
  ExpectGradient("x", &x, dx, objective);
}

INSTANTIATE_TEST_SUITE_P(Activations, MlpGradientTest,
                         ::testing::Values(MlpCase{Activation::kRelu, false},
                                           MlpCase{Activation::kRelu, true},
                                           MlpCase{Activation::kTanh, false},
                                           MlpCase{Activation::kSigmoid, true},
                                           MlpCase{Activation::kIdentity,
                                                   false}));

class CrossNetGradientTest : public ::testing::TestWithParam<int> {};

TEST_P(CrossNetGradientTest, GradientsMatchFiniteDifferences) {
  constexpr int kBatch = 3, kDim = 5;
  CrossNetV2<double> net(kDim, GetParam(), 0);
  Rng rng(13);
  std::vector<double> params(net.num_params());
  net.Init(&rng, params.data());
  for (double& p : params) p += 0.05 * rng.Symmetric(1.0);
  std::vector<double> x0 = RandomVector(kBatch * kDim, &rng);
  const std::vector<double> r = RandomVector(kBatch * kDim, &rng);
  std::vector<double> state(kBatch * net.StateFloats());
  auto objective = [&] {
    net.Forward(params.data(), kBatch, x0.data(), state.data());
    return Dot(r, net.Output(kBatch, x0.data(), state.data()));
  };
  objective();
  std::vector<double> scratch(kBatch * net.BackwardScratchFloats());
  std::vector<double> dparams(params.size(), 0.0), dx0(x0.size());
  net.Backward(params.data(), kBatch, x0.data(), state.data(), r.data(),
               scratch.data(), dparams.data(), dx0.data());
  ExpectGradient("params", &params, dparams, objective);
  ExpectGradient("x0", &x0, dx0, objective);
}

INSTANTIATE_TEST_SUITE_P(Depths, CrossNetGradientTest,
                         ::testing::Values(0, 1, 3));

TEST(CrossNetTest, OneLayerMatchesFormula) {
  // d = 2: x1 = x0 ⊙ (x0 W + b) + x0.
  CrossNetV2<double> net(2, 1, 0);
  std::vector<double> p = {1, 2, 3, 4, 0.5, -0.5};
  std::vector<double> x0 = {1, -2};
  std::vector<double> state(net.StateFloats());
  net.Forward(p.data(), 1, x0.data(), state.data());
  const double* x1 = net.Output(1, x0.data(), state.data());
  const double u0 = 1 * 1 + -2 * 3 + 0.5, u1 = 1 * 2 + -2 * 4 - 0.5;
  EXPECT_DOUBLE_EQ(x1[0], 1 * u0 + 1);
  EXPECT_DOUBLE_EQ(x1[1], -2 * u1 - 2);
}

TEST(FmInteractionTest, MatchesPairwiseSum) {
  constexpr int kBatch = 3, kFields = 4, kDim = 3;
  FmInteraction<double> fm(kFields, kDim);
  Rng rng(17);
  const std::vector<double> v = RandomVector(kBatch * kFields * kDim, &rng);
  std::vector<double> y(kBatch), sums(kBatch * fm.StateFloats());
  fm.Forward(kBatch, v.data(), y.data(), sums.data());
  for (int b = 0; b < kBatch; ++b) {
    double expected = 0;
    for (int i = 0; i < kFields; ++i) {
      for (int j = i + 1; j < kFields; ++j) {
        for (int f = 0; f < kDim; ++f) {
          expected +=
              v[(b * kFields + i) * kDim + f] * v[(b * kFields + j) * kDim + f];
        }
      }
    }
    EXPECT_NEAR(y[b], expected, 1e-12) << b;
  }
}

TEST(FmInteractionTest, GradientsMatchFiniteDifferences) {
  constexpr int kBatch = 3, kFields = 4, kDim = 3;
  FmInteraction<double> fm(kFields, kDim);
  Rng rng(19);
  std::vector<double> v = RandomVector(kBatch * kFields * kDim, &rng);
  const std::vector<double> r = RandomVector(kBatch, &rng);
  std::vector<double> y(kBatch), sums(kBatch * fm.StateFloats());
  auto objective = [&] {
    fm.Forward(kBatch, v.data(), y.data(), sums.data());
    return Dot(r, y.data());
  };
  objective();
  // Backward accumulates: start from a known value.
  std::vector<double> dv(v.size(), 0.25);
  fm.Backward(kBatch, v.data(), sums.data(), r.data(), dv.data());
  for (double& g : dv) g -= 0.25;
  ExpectGradient("v", &v, dv, objective);
}

}  // namespace
}  // namespace freshet
