// Each optimizer against its update formula, on values computed by hand
// (double precision, two steps so that state carried between steps counts).
#include <vector>

#include "freshet/optim/dense_optimizer.h"
#include "freshet/optim/sparse_optimizer.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

constexpr float kTol = 2e-6f;

OptimizerSpec Spec(const std::string& type, double lr) {
  OptimizerSpec spec;
  spec.type = type;
  spec.learning_rate = lr;
  return spec;
}

// Applies `grads` (one per step) to row w = {1, -2} and returns the weights
// and the state.
struct RowResult {
  std::vector<float> w;
  std::vector<float> state;
};
RowResult RunRow(const OptimizerSpec& spec,
                 const std::vector<std::vector<float>>& grads,
                 std::vector<float> w = {1.0f, -2.0f}) {
  auto opt = SparseOptimizer::Create(spec, 2);
  EXPECT_TRUE(opt.ok()) << opt.status();
  RowResult r;
  r.w = w;
  r.state.assign(opt->StateFloats(), -99.0f);
  opt->InitState(r.state.data());
  for (const auto& g : grads) opt->Update(r.w.data(), r.state.data(), g.data());
  return r;
}

TEST(SparseOptimizerTest, StateSizes) {
  EXPECT_EQ(SparseOptimizer::StateFloatsFor(SparseOptimizerType::kSgd, 16), 0);
  EXPECT_EQ(SparseOptimizer::StateFloatsFor(SparseOptimizerType::kAdagrad, 16),
            16);
  EXPECT_EQ(
      SparseOptimizer::StateFloatsFor(SparseOptimizerType::kRowwiseAdagrad, 16),
      1);
  EXPECT_EQ(SparseOptimizer::StateFloatsFor(SparseOptimizerType::kFtrl, 16),
            32);
  EXPECT_EQ(SparseOptimizer::StateFloatsFor(SparseOptimizerType::kAdam, 16),
            33);
  EXPECT_EQ(SparseOptimizer::StateFloatsFor(SparseOptimizerType::kRadagrad, 16),
            2);
}

TEST(SparseOptimizerTest, RejectsBadSpecs) {
  EXPECT_FALSE(SparseOptimizer::Create(Spec("adadelta", 0.1), 4).ok());
  EXPECT_FALSE(SparseOptimizer::Create(Spec("sgd", 0.0), 4).ok());
  EXPECT_FALSE(SparseOptimizer::Create(Spec("sgd", 0.1), 0).ok());
  OptimizerSpec spec = Spec("adam", 0.1);
  spec.beta2 = 1.0;
  EXPECT_FALSE(SparseOptimizer::Create(spec, 4).ok());
}

TEST(SparseOptimizerTest, SgdWithL2) {
  OptimizerSpec spec = Spec("sgd", 0.1);
  spec.l2 = 0.1;
  // w -= 0.1 * (g + 0.1 w): 1 - 0.1 * 0.6 = 0.94; -2 - 0.1 * 0.05 = -2.005.
  RowResult r = RunRow(spec, {{0.5f, 0.25f}});
  EXPECT_NEAR(r.w[0], 0.94f, kTol);
  EXPECT_NEAR(r.w[1], -2.005f, kTol);
  EXPECT_TRUE(r.state.empty());
}

TEST(SparseOptimizerTest, Adagrad) {
  OptimizerSpec spec = Spec("adagrad", 0.1);
  spec.initial_accumulator = 0.1;
  spec.epsilon = 0;
  // a = 0.1 + 0.25 = 0.35; w = 1 - 0.1 * 0.5 / sqrt(0.35) = 0.9154846.
  RowResult r = RunRow(spec, {{0.5f, 0.25f}});
  EXPECT_NEAR(r.state[0], 0.35f, kTol);
  EXPECT_NEAR(r.state[1], 0.1625f, kTol);
  EXPECT_NEAR(r.w[0], 0.91548457f, kTol);
  EXPECT_NEAR(r.w[1], -2.06201737f, kTol);
  // Second step: a = 0.6, 0.225.
  r = RunRow(spec, {{0.5f, 0.25f}, {0.5f, 0.25f}});
  EXPECT_NEAR(r.w[0], 0.85093485f, kTol);
  EXPECT_NEAR(r.w[1], -2.11472199f, kTol);
}

TEST(SparseOptimizerTest, RowwiseAdagrad) {
  OptimizerSpec spec = Spec("rowwise_adagrad", 0.1);
  spec.initial_accumulator = 0.1;
  spec.epsilon = 0;
  // a = 0.1 + (0.25 + 0.0625) / 2 = 0.25625, shared by both coordinates.
  RowResult r = RunRow(spec, {{0.5f, 0.25f}});
  ASSERT_EQ(r.state.size(), 1u);
  EXPECT_NEAR(r.state[0], 0.25625f, kTol);
  EXPECT_NEAR(r.w[0], 0.90122704f, kTol);
  EXPECT_NEAR(r.w[1], -2.04938648f, kTol);
}

TEST(SparseOptimizerTest, Ftrl) {
  OptimizerSpec spec = Spec("ftrl", 0.1);
  spec.beta = 1.0;
  spec.l1 = 0.1;
  spec.l2 = 0.2;
  // Step 1, coordinate 0: n = 0.25, sigma = 0.5 / 0.1 = 5, z = 0.5 - 5 * 1 =
  // -4.5, w = 4.4 / ((1 + 0.5) / 0.1 + 0.2) = 0.2894737.
  RowResult r = RunRow(spec, {{0.5f, 0.05f}});
  EXPECT_NEAR(r.state[0], -4.5f, kTol);
  EXPECT_NEAR(r.state[1], 1.05f, kTol);
  EXPECT_NEAR(r.state[2], 0.25f, kTol);
  EXPECT_NEAR(r.w[0], 0.28947368f, kTol);
  EXPECT_NEAR(r.w[1], -0.08878505f, kTol);
  r = RunRow(spec, {{0.5f, 0.05f}, {0.5f, 0.05f}});
  EXPECT_NEAR(r.w[0], 0.26052353f, kTol);
  EXPECT_NEAR(r.w[1], -0.09336921f, kTol);
  // |z| <= l1 gives an exact zero (sparsity).
  r = RunRow(spec, {{0.05f, 0.0f}}, {0.0f, 0.0f});
  EXPECT_EQ(r.w[0], 0.0f);
  EXPECT_EQ(r.w[1], 0.0f);
}

TEST(SparseOptimizerTest, LazyAdamKeepsPerRowStep) {
  OptimizerSpec spec = Spec("adam", 0.01);
  spec.beta1 = 0.9;
  spec.beta2 = 0.999;
  spec.epsilon = 1e-8;
  RowResult r = RunRow(spec, {{0.5f, 0.25f}});
  // First step of Adam moves each weight by lr * sign(g).
  EXPECT_NEAR(r.w[0], 0.99f, kTol);
  EXPECT_NEAR(r.w[1], -2.01f, kTol);
  EXPECT_EQ(r.state[4], 1.0f);  // the row's step
  r = RunRow(spec, {{0.5f, 0.25f}, {-0.5f, 0.1f}});
  EXPECT_NEAR(r.w[0], 0.99052632f, kTol);
  EXPECT_NEAR(r.w[1], -2.01898575f, kTol);
  EXPECT_NEAR(r.state[0], -0.005f, kTol);       // m0
  EXPECT_NEAR(r.state[3], 7.24375e-05f, 1e-9);  // v1
  EXPECT_EQ(r.state[4], 2.0f);
}

TEST(SparseOptimizerTest, RadagradSharesOneSecondMoment) {
  OptimizerSpec spec = Spec("radagrad", 0.01);
  spec.beta2 = 0.9;
  spec.epsilon = 1e-8;
  // v = 0.1 * (0.25 + 0.0625) / 2 = 0.015625; vhat = v / 0.1 = 0.15625.
  RowResult r = RunRow(spec, {{0.5f, 0.25f}});
  ASSERT_EQ(r.state.size(), 2u);
  EXPECT_NEAR(r.state[0], 0.015625f, kTol);
  EXPECT_EQ(r.state[1], 1.0f);
  EXPECT_NEAR(r.w[0], 0.98735089f, kTol);
  EXPECT_NEAR(r.w[1], -2.00632456f, kTol);
  r = RunRow(spec, {{0.5f, 0.25f}, {1.0f, -1.0f}});
  EXPECT_NEAR(r.state[0], 0.1140625f, kTol);
  EXPECT_NEAR(r.w[0], 0.97444448f, kTol);
  EXPECT_NEAR(r.w[1], -1.99341815f, kTol);
}

// Dense optimizers: p = {1, -2}.
std::vector<float> RunDense(const OptimizerSpec& spec,
                            const std::vector<std::vector<float>>& grads) {
  auto opt = DenseOptimizer::Create(spec, 2);
  EXPECT_TRUE(opt.ok()) << opt.status();
  std::vector<float> p = {1.0f, -2.0f};
  for (const auto& g : grads) EXPECT_TRUE(opt->Step(absl::MakeSpan(p), g).ok());
  EXPECT_EQ(opt->steps(), static_cast<int64_t>(grads.size()));
  return p;
}

TEST(DenseOptimizerTest, RejectsBadInput) {
  EXPECT_FALSE(DenseOptimizer::Create(Spec("ftrl", 0.1), 2).ok());
  auto opt = DenseOptimizer::Create(Spec("sgd", 0.1), 2);
  ASSERT_TRUE(opt.ok());
  std::vector<float> p(3), g(3);
  EXPECT_FALSE(opt->Step(absl::MakeSpan(p), g).ok());
}

TEST(DenseOptimizerTest, Sgd) {
  std::vector<float> p = RunDense(Spec("sgd", 0.1), {{0.5f, 0.25f}});
  EXPECT_NEAR(p[0], 0.95f, kTol);
  EXPECT_NEAR(p[1], -2.025f, kTol);
}

TEST(DenseOptimizerTest, Momentum) {
  OptimizerSpec spec = Spec("momentum", 0.1);
  spec.momentum = 0.9;
  // u = 0.5 then 0.95; p = 1 - 0.05 - 0.095 = 0.855.
  std::vector<float> p = RunDense(spec, {{0.5f, 0.25f}, {0.5f, 0.25f}});
  EXPECT_NEAR(p[0], 0.855f, kTol);
  EXPECT_NEAR(p[1], -2.0725f, kTol);
}

TEST(DenseOptimizerTest, Adagrad) {
  OptimizerSpec spec = Spec("adagrad", 0.1);
  spec.initial_accumulator = 0.1;
  spec.epsilon = 0;
  std::vector<float> p = RunDense(spec, {{0.5f, 0.25f}, {0.5f, 0.25f}});
  EXPECT_NEAR(p[0], 0.85093485f, kTol);
  EXPECT_NEAR(p[1], -2.11472199f, kTol);
}

TEST(DenseOptimizerTest, Adam) {
  OptimizerSpec spec = Spec("adam", 0.01);
  std::vector<float> p = RunDense(spec, {{0.5f, 0.25f}, {-0.5f, 0.1f}});
  EXPECT_NEAR(p[0], 0.99052632f, kTol);
  EXPECT_NEAR(p[1], -2.01898575f, kTol);
}

TEST(DenseOptimizerTest, AdamWDecouplesWeightDecay) {
  OptimizerSpec spec = Spec("adamw", 0.01);
  spec.weight_decay = 0.1;
  // Step 1: p = 1 * (1 - 0.001) - 0.01 = 0.989.
  std::vector<float> p = RunDense(spec, {{0.5f, 0.25f}});
  EXPECT_NEAR(p[0], 0.989f, kTol);
  EXPECT_NEAR(p[1], -2.008f, kTol);
  p = RunDense(spec, {{0.5f, 0.25f}, {-0.5f, 0.1f}});
  EXPECT_NEAR(p[0], 0.98853732f, kTol);
  EXPECT_NEAR(p[1], -2.01497775f, kTol);
}

TEST(DenseOptimizerTest, RestoreContinuesTheSameTrajectory) {
  OptimizerSpec spec = Spec("adam", 0.01);
  auto a = DenseOptimizer::Create(spec, 2);
  auto b = DenseOptimizer::Create(spec, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<float> pa = {1.0f, -2.0f};
  std::vector<float> g1 = {0.5f, 0.25f}, g2 = {-0.5f, 0.1f};
  ASSERT_TRUE(a->Step(absl::MakeSpan(pa), g1).ok());
  std::vector<float> pb = pa;
  std::vector<float> saved(a->state().begin(), a->state().end());
  ASSERT_TRUE(b->Restore(saved, a->steps()).ok());
  ASSERT_TRUE(a->Step(absl::MakeSpan(pa), g2).ok());
  ASSERT_TRUE(b->Step(absl::MakeSpan(pb), g2).ok());
  EXPECT_EQ(pa, pb);
}

}  // namespace
}  // namespace freshet
