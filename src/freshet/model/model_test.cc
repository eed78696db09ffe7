#include "freshet/model/model.h"

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "freshet/model/gradient_check.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

ModelSpec Spec(const std::string& type, const std::string& activation = "relu",
               std::vector<int> hidden = {6, 4}, int cross_layers = 2) {
  ModelSpec spec;
  spec.type = type;
  spec.activation = activation;
  spec.hidden = std::move(hidden);
  spec.cross_layers = cross_layers;
  return spec;
}

// Random inputs shaped for `shape`.
template <typename T>
struct Batch {
  Batch(const ModelShape& shape, int batch, uint64_t seed) : batch(batch) {
    Rng rng(seed);
    auto fill = [&rng](std::vector<T>* v, size_t n) {
      v->resize(n);
      for (T& x : *v) x = static_cast<T>(rng.Symmetric(1.0));
    };
    fill(&embeddings, static_cast<size_t>(batch) * shape.embedding_width);
    fill(&wide,
         shape.needs_wide ? static_cast<size_t>(batch) * shape.num_slots() : 0);
    fill(&dense, static_cast<size_t>(batch) * shape.num_dense);
  }
  BasicModelInput<T> input() const {
    BasicModelInput<T> in;
    in.batch = batch;
    in.embeddings = embeddings.empty() ? nullptr : embeddings.data();
    in.wide = wide.empty() ? nullptr : wide.data();
    in.dense = dense.empty() ? nullptr : dense.data();
    return in;
  }
  int batch;
  std::vector<T> embeddings, wide, dense;
};

TEST(ModelShapeTest, SaysWhichRowsEachSlotNeeds) {
  const std::vector<int> dims = {4, 8};
  auto lr = ResolveModelShape(Spec("lr"), dims, 3);
  ASSERT_TRUE(lr.ok()) << lr.status();
  EXPECT_TRUE(lr->needs_wide);
  EXPECT_EQ(lr->embedding_width, 0);
  for (const SlotShape& s : lr->slots) {
    EXPECT_TRUE(s.needs_wide);
    EXPECT_EQ(s.embedding_dim, 0);
  }
  for (const char* type : {"wide_deep", "dcn_v2", "mlp"}) {
    auto shape = ResolveModelShape(Spec(type), dims, 3);
    ASSERT_TRUE(shape.ok()) << type << ": " << shape.status();
    EXPECT_EQ(shape->needs_wide, std::string(type) == "wide_deep") << type;
    EXPECT_EQ(shape->embedding_width, 12) << type;
    EXPECT_EQ(shape->slots[0].embedding_dim, 4);
    EXPECT_EQ(shape->slots[1].embedding_offset, 4);
    EXPECT_EQ(shape->slots[1].embedding_dim, 8);
    EXPECT_EQ(shape->num_dense, 3);
  }
  const std::vector<int> equal = {4, 4, 4};
  for (const char* type : {"fm", "deepfm"}) {
    auto shape = ResolveModelShape(Spec(type), equal, 0);
    ASSERT_TRUE(shape.ok()) << type << ": " << shape.status();
    EXPECT_TRUE(shape->needs_wide);
    EXPECT_EQ(shape->embedding_width, 12);
  }
}

TEST(ModelShapeTest, RejectsBadSpecs) {
  const std::vector<int> dims = {4, 8};
  EXPECT_FALSE(ResolveModelShape(Spec("gbdt"), dims, 0).ok());
  // FM takes inner products between slots: dims must agree.
  auto fm = ResolveModelShape(Spec("fm"), dims, 0);
  ASSERT_FALSE(fm.ok());
  EXPECT_NE(fm.status().message().find("same embedding dim"), std::string::npos)
      << fm.status();
  const std::vector<int> zero = {4, 0};
  EXPECT_FALSE(ResolveModelShape(Spec("mlp"), zero, 0).ok());
  EXPECT_TRUE(ResolveModelShape(Spec("lr"), zero, 0).ok());
  EXPECT_FALSE(ResolveModelShape(Spec("mlp"), {}, 0).ok());
  EXPECT_TRUE(ResolveModelShape(Spec("mlp"), {}, 2).ok());
  EXPECT_FALSE(Model::Create(Spec("mlp", "gelu"), dims, 1, 1).ok());
  EXPECT_FALSE(Model::Create(Spec("mlp", "relu", {4, 0}), dims, 1, 1).ok());
  EXPECT_FALSE(Model::Create(Spec("dcn_v2", "relu", {4}, -1), dims, 1, 1).ok());
  ModelSpec bad_rate = Spec("lr");
  bad_rate.negative_sampling_rate = 0.0;
  EXPECT_FALSE(Model::Create(bad_rate, dims, 1, 1).ok());
}

TEST(ModelShapeTest, SlotDimsComeFromTables) {
  JobConfig job;
  job.schema.slots.resize(3);
  job.schema.slots[0].name = "user";
  job.schema.slots[1].name = "item";
  job.schema.slots[2].name = "item_tag";
  job.schema.slots[2].table = "item";
  job.tables.resize(2);
  job.tables[0].name = "item";
  job.tables[0].dim = 16;
  job.tables[1].name = "user";
  job.tables[1].dim = 8;
  auto dims = SlotDimsOf(job);
  ASSERT_TRUE(dims.ok()) << dims.status();
  EXPECT_EQ(*dims, (std::vector<int>{8, 16, 16}));
  job.schema.slots[2].table = "missing";
  EXPECT_FALSE(SlotDimsOf(job).ok());
}

TEST(ModelTest, LrComputesBiasPlusWidePlusDense) {
  auto model = Model::Create(Spec("lr"), std::vector<int>{4, 4}, 2, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ((*model)->num_params(), 3u);
  absl::Span<float> p = (*model)->params();
  p[0] = 0.5f;   // bias
  p[1] = 2.0f;   // dense 0
  p[2] = -1.0f;  // dense 1
  const std::vector<float> wide = {0.1f, 0.2f, -1.0f, 3.0f};
  const std::vector<float> dense = {1.0f, 1.0f, 0.5f, 2.0f};
  ModelInput input;
  input.batch = 2;
  input.wide = wide.data();
  input.dense = dense.data();
  ModelWorkspace ws;
  float logits[2];
  (*model)->Forward(input, &ws, logits);
  EXPECT_FLOAT_EQ(logits[0], 0.5f + 0.3f + 2.0f - 1.0f);
  EXPECT_FLOAT_EQ(logits[1], 0.5f + 2.0f + 1.0f - 2.0f);
}

TEST(ModelTest, ServingOffsetIsLogOfNegativeSamplingRate) {
  ModelSpec spec = Spec("lr");
  spec.negative_sampling_rate = 0.1;
  auto model = Model::Create(spec, std::vector<int>{4}, 0, 1);
  ASSERT_TRUE(model.ok());
  EXPECT_DOUBLE_EQ((*model)->serving_logit_offset(), std::log(0.1));
}

struct ModelCase {
  std::string type;
  std::string activation;
  int num_dense;
  std::vector<int> hidden = {6, 4};
};

std::string CaseName(const ::testing::TestParamInfo<ModelCase>& info) {
  return info.param.type + "_" + info.param.activation + "_dense" +
         std::to_string(info.param.num_dense) + "_h" +
         std::to_string(info.param.hidden.size());
}

class ModelGradientTest : public ::testing::TestWithParam<ModelCase> {};

// Every model's parameter and input gradients against central differences of
// the objective Σ_b r_b · logit_b, in double.
TEST_P(ModelGradientTest, GradientsMatchFiniteDifferences) {
  const ModelCase& c = GetParam();
  constexpr int kBatch = 4;
  const std::vector<int> dims = {3, 3, 3};
  auto created = BasicModel<double>::Create(
      Spec(c.type, c.activation, c.hidden), dims, c.num_dense, 5);
  ASSERT_TRUE(created.ok()) << created.status();
  BasicModel<double>& model = **created;
  const ModelShape& shape = model.shape();
  Rng rng(23);
  // Biases are initialised to 0; move every parameter a little so that each
  // one's gradient is exercised away from the initial point.
  std::vector<double> params(model.params().begin(), model.params().end());
  for (double& p : params) p += 0.1 * rng.Symmetric(1.0);
  Batch<double> batch(shape, kBatch, 29);
  const std::vector<double> r = RandomVector(kBatch, &rng);

  BasicWorkspace<double> ws;
  std::vector<double> logits(kBatch);
  auto objective = [&] {
    std::copy(params.begin(), params.end(), model.params().begin());
    model.Forward(batch.input(), &ws, logits.data());
    return Dot(r, logits.data());
  };
  objective();
  std::vector<double> dparams(model.num_params(), 0.0);
  std::vector<double> demb(batch.embeddings.size(), -7.0);
  std::vector<double> dwide(batch.wide.size(), -7.0);
  BasicModelInputGrad<double> grad;
  grad.embeddings = demb.empty() ? nullptr : demb.data();
  grad.wide = dwide.empty() ? nullptr : dwide.data();
  model.Backward(batch.input(), &ws, r.data(), dparams.data(), &grad);

  auto check = [&](const char* what, std::vector<double>* values,
                   const std::vector<double>& analytic) {
    ASSERT_EQ(values->size(), analytic.size());
    for (size_t i = 0; i < values->size(); ++i) {
      const double numeric = CentralDifference(objective, &(*values)[i]);
      EXPECT_TRUE(GradientsAgree(analytic[i], numeric))
          << what << "[" << i << "]: analytic " << analytic[i] << ", numeric "
          << numeric;
    }
  };
  check("params", &params, dparams);
  check("embeddings", &batch.embeddings, demb);
  check("wide", &batch.wide, dwide);
  EXPECT_GT(model.num_params(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, ModelGradientTest,
    ::testing::Values(
        ModelCase{"lr", "relu", 2}, ModelCase{"lr", "relu", 0},
        ModelCase{"fm", "relu", 2}, ModelCase{"fm", "relu", 0},
        ModelCase{"deepfm", "relu", 2}, ModelCase{"deepfm", "tanh", 0},
        ModelCase{"wide_deep", "relu", 2}, ModelCase{"wide_deep", "sigmoid", 2},
        ModelCase{"dcn_v2", "relu", 2}, ModelCase{"dcn_v2", "tanh", 0},
        ModelCase{"dcn_v2", "relu", 2, {}}, ModelCase{"mlp", "relu", 2},
        ModelCase{"mlp", "tanh", 0}, ModelCase{"mlp", "relu", 2, {}}),
    CaseName);

// Parameter gradients of a dense-only tower (no slots at all).
TEST(ModelTest, DenseOnlyMlpGradients) {
  auto created =
      BasicModel<double>::Create(Spec("mlp", "tanh"), std::vector<int>{}, 3, 2);
  ASSERT_TRUE(created.ok()) << created.status();
  BasicModel<double>& model = **created;
  Batch<double> batch(model.shape(), 2, 3);
  Rng rng(4);
  const std::vector<double> r = RandomVector(2, &rng);
  BasicWorkspace<double> ws;
  std::vector<double> params(model.params().begin(), model.params().end());
  std::vector<double> logits(2);
  auto objective = [&] {
    std::copy(params.begin(), params.end(), model.params().begin());
    model.Forward(batch.input(), &ws, logits.data());
    return Dot(r, logits.data());
  };
  objective();
  std::vector<double> dparams(model.num_params(), 0.0);
  model.Backward(batch.input(), &ws, r.data(), dparams.data(), nullptr);
  for (size_t i = 0; i < params.size(); ++i) {
    const double numeric = CentralDifference(objective, &params[i]);
    EXPECT_TRUE(GradientsAgree(dparams[i], numeric)) << i;
  }
}

TEST(ModelTest, ParamBlocksTileTheParameterBuffer) {
  for (const char* type :
       {"lr", "fm", "deepfm", "wide_deep", "dcn_v2", "mlp"}) {
    auto model = Model::Create(Spec(type), std::vector<int>{4, 4, 4}, 2, 1);
    ASSERT_TRUE(model.ok()) << type << ": " << model.status();
    size_t next = 0;
    for (const ParamBlock& b : (*model)->param_blocks()) {
      EXPECT_EQ(b.offset, next) << type << " " << b.name;
      next = b.offset + b.size;
    }
    EXPECT_EQ(next, (*model)->num_params()) << type;
  }
}

std::vector<float> RunForward(const Model& model, const Batch<float>& batch) {
  ModelWorkspace ws;
  std::vector<float> logits(batch.batch);
  model.Forward(batch.input(), &ws, logits.data());
  return logits;
}

TEST(ModelTest, SameSeedGivesBitIdenticalParamsAndOutputs) {
  for (const char* type :
       {"lr", "fm", "deepfm", "wide_deep", "dcn_v2", "mlp"}) {
    const std::vector<int> dims(5, 8);
    auto a = Model::Create(Spec(type, "relu", {32, 16}), dims, 4, 99);
    auto b = Model::Create(Spec(type, "relu", {32, 16}), dims, 4, 99);
    auto c = Model::Create(Spec(type, "relu", {32, 16}), dims, 4, 100);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << type;
    const Model& ma = **a;
    const Model& mb = **b;
    ASSERT_EQ(ma.num_params(), mb.num_params());
    EXPECT_EQ(std::memcmp(ma.params().data(), mb.params().data(),
                          ma.num_params() * sizeof(float)),
              0)
        << type;
    if (std::string(type) != "lr" && std::string(type) != "fm") {
      // Models with dense layers draw random weights from the seed.
      EXPECT_NE(std::memcmp(ma.params().data(), (*c)->params().data(),
                            ma.num_params() * sizeof(float)),
                0)
          << type;
    }
    Batch<float> batch(ma.shape(), 16, 7);
    const std::vector<float> la = RunForward(ma, batch);
    const std::vector<float> lb = RunForward(mb, batch);
    EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0)
        << type;

    // Backward is deterministic too.
    std::vector<float> dl(16, 0.5f), ga(ma.num_params(), 0.0f),
        gb(ma.num_params(), 0.0f);
    ModelWorkspace wa, wb;
    std::vector<float> logits(16);
    ma.Forward(batch.input(), &wa, logits.data());
    ma.Backward(batch.input(), &wa, dl.data(), ga.data(), nullptr);
    mb.Forward(batch.input(), &wb, logits.data());
    mb.Backward(batch.input(), &wb, dl.data(), gb.data(), nullptr);
    EXPECT_EQ(std::memcmp(ga.data(), gb.data(), ga.size() * sizeof(float)), 0)
        << type;
  }
}

// Results do not depend on where the caller's buffers are: the same values
// at addresses shifted by 1..7 floats give bit-identical logits and
// gradients (vectorised code must not round differently at another
// alignment).
TEST(ModelTest, ResultsDoNotDependOnBufferAlignment) {
  for (const char* type :
       {"lr", "fm", "deepfm", "wide_deep", "dcn_v2", "mlp"}) {
    auto model = Model::Create(Spec(type, "relu", {37, 19}),
                               std::vector<int>(7, 8), 5, 12);
    ASSERT_TRUE(model.ok()) << type;
    const Model& m = **model;
    constexpr int kBatch = 23;
    const Batch<float> batch(m.shape(), kBatch, 77);
    std::vector<float> base_logits, base_dparams, base_demb, base_dwide;
    for (int shift : {0, 1, 2, 3, 5, 7, 16}) {
      auto shifted = [shift](const std::vector<float>& v) {
        std::vector<float> out(shift + v.size() + 1, -1.0f);
        std::copy(v.begin(), v.end(), out.begin() + shift);
        return out;
      };
      const std::vector<float> emb = shifted(batch.embeddings);
      const std::vector<float> wide = shifted(batch.wide);
      const std::vector<float> dense = shifted(batch.dense);
      std::vector<float> dl(kBatch);
      for (int i = 0; i < kBatch; ++i) dl[i] = 0.1f * (i % 7) - 0.3f;
      const std::vector<float> dlogits = shifted(dl);
      ModelInput input;
      input.batch = kBatch;
      input.embeddings = emb.data() + shift;
      input.wide = wide.data() + shift;
      input.dense = dense.data() + shift;
      std::vector<float> logits(shift + kBatch);
      std::vector<float> dparams(shift + m.num_params(), 0.0f);
      std::vector<float> demb(shift + batch.embeddings.size() + 1);
      std::vector<float> dwide(shift + batch.wide.size() + 1);
      ModelInputGrad grad{demb.data() + shift, dwide.data() + shift};
      ModelWorkspace ws;
      m.Forward(input, &ws, logits.data() + shift);
      m.Backward(input, &ws, dlogits.data() + shift, dparams.data() + shift,
                 &grad);
      auto tail = [shift](const std::vector<float>& v, size_t n) {
        return std::vector<float>(v.begin() + shift, v.begin() + shift + n);
      };
      if (shift == 0) {
        base_logits = tail(logits, kBatch);
        base_dparams = tail(dparams, m.num_params());
        base_demb = tail(demb, batch.embeddings.size());
        base_dwide = tail(dwide, batch.wide.size());
        continue;
      }
      EXPECT_EQ(tail(logits, kBatch), base_logits) << type << " " << shift;
      EXPECT_EQ(tail(dparams, m.num_params()), base_dparams)
          << type << " " << shift;
      EXPECT_EQ(tail(demb, batch.embeddings.size()), base_demb)
          << type << " " << shift;
      EXPECT_EQ(tail(dwide, batch.wide.size()), base_dwide)
          << type << " " << shift;
    }
  }
}

// The float model (what runs in production) agrees with the double model
// whose gradients are checked above.
TEST(ModelTest, FloatModelMatchesDoubleModel) {
  for (const char* type :
       {"lr", "fm", "deepfm", "wide_deep", "dcn_v2", "mlp"}) {
    const std::vector<int> dims(4, 8);
    auto f = Model::Create(Spec(type), dims, 3, 42);
    auto d = BasicModel<double>::Create(Spec(type), dims, 3, 42);
    ASSERT_TRUE(f.ok() && d.ok()) << type;
    for (size_t i = 0; i < (*f)->num_params(); ++i) {
      (*d)->params()[i] = (*f)->params()[i];
    }
    Batch<float> bf((*f)->shape(), 8, 3);
    Batch<double> bd((*d)->shape(), 8, 3);
    std::vector<float> lf(8), rf(8, 0.25f), gf((*f)->num_params(), 0.0f),
        ef(bf.embeddings.size());
    std::vector<double> ld(8), rd(8, 0.25), gd((*d)->num_params(), 0.0),
        ed(bd.embeddings.size());
    for (size_t i = 0; i < bf.embeddings.size(); ++i) {
      bd.embeddings[i] = bf.embeddings[i];
    }
    for (size_t i = 0; i < bf.wide.size(); ++i) bd.wide[i] = bf.wide[i];
    for (size_t i = 0; i < bf.dense.size(); ++i) bd.dense[i] = bf.dense[i];
    ModelWorkspace wf;
    BasicWorkspace<double> wd;
    ModelInputGrad gradf{ef.empty() ? nullptr : ef.data(), nullptr};
    BasicModelInputGrad<double> gradd{ed.empty() ? nullptr : ed.data(),
                                      nullptr};
    (*f)->Forward(bf.input(), &wf, lf.data());
    (*f)->Backward(bf.input(), &wf, rf.data(), gf.data(), &gradf);
    (*d)->Forward(bd.input(), &wd, ld.data());
    (*d)->Backward(bd.input(), &wd, rd.data(), gd.data(), &gradd);
    for (int i = 0; i < 8; ++i) EXPECT_NEAR(lf[i], ld[i], 1e-4) << type;
    for (size_t i = 0; i < gf.size(); ++i) {
      EXPECT_NEAR(gf[i], gd[i], 1e-4 * (1 + std::abs(gd[i]))) << type << i;
    }
    for (size_t i = 0; i < ef.size(); ++i) {
      EXPECT_NEAR(ef[i], ed[i], 1e-4 * (1 + std::abs(ed[i]))) << type << i;
    }
  }
}

TEST(ModelTest, WorkspaceStopsGrowingOnceWarm) {
  auto model = Model::Create(Spec("dcn_v2"), std::vector<int>(6, 8), 3, 1);
  ASSERT_TRUE(model.ok());
  Batch<float> big((*model)->shape(), 64, 1);
  Batch<float> small((*model)->shape(), 5, 2);
  ModelWorkspace ws;
  std::vector<float> logits(64), dl(64, 1.0f), g((*model)->num_params(), 0.0f),
      de(big.embeddings.size());
  ModelInputGrad grad{de.data(), nullptr};
  (*model)->Forward(big.input(), &ws, logits.data());
  (*model)->Backward(big.input(), &ws, dl.data(), g.data(), &grad);
  const size_t warm = ws.capacity();
  EXPECT_GT(warm, 0u);
  for (int i = 0; i < 3; ++i) {
    (*model)->Forward(small.input(), &ws, logits.data());
    (*model)->Backward(small.input(), &ws, dl.data(), g.data(), &grad);
    (*model)->Forward(big.input(), &ws, logits.data());
    EXPECT_EQ(ws.capacity(), warm);
  }
  // A smaller batch after a larger one gives the same logits as alone.
  std::vector<float> alone = RunForward(**model, small);
  (*model)->Forward(small.input(), &ws, logits.data());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(logits[i], alone[i]);
}

TEST(ModelTest, ConcurrentForwardWithSeparateWorkspaces) {
  auto model = Model::Create(Spec("deepfm"), std::vector<int>(8, 8), 4, 3);
  ASSERT_TRUE(model.ok());
  const Model& m = **model;
  Batch<float> batch(m.shape(), 32, 5);
  const std::vector<float> expected = RunForward(m, batch);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      ModelWorkspace ws;
      std::vector<float> logits(32);
      for (int iter = 0; iter < 200; ++iter) {
        m.Forward(batch.input(), &ws, logits.data());
        if (std::memcmp(logits.data(), expected.data(), 32 * sizeof(float))) {
          ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << t;
}

TEST(ModelTest, BackwardWithoutInputGradsLeavesParamGradsUnchanged) {
  auto model = Model::Create(Spec("deepfm"), std::vector<int>(3, 4), 2, 8);
  ASSERT_TRUE(model.ok());
  Batch<float> batch((*model)->shape(), 6, 9);
  std::vector<float> logits(6), dl(6, 0.3f);
  std::vector<float> with((*model)->num_params(), 0.0f),
      without((*model)->num_params(), 0.0f), de(batch.embeddings.size()),
      dw(batch.wide.size());
  ModelWorkspace ws;
  ModelInputGrad grad{de.data(), dw.data()};
  (*model)->Forward(batch.input(), &ws, logits.data());
  (*model)->Backward(batch.input(), &ws, dl.data(), with.data(), &grad);
  (*model)->Backward(batch.input(), &ws, dl.data(), without.data(), nullptr);
  EXPECT_EQ(with, without);
  for (float g : dw) EXPECT_EQ(g, 0.3f);
}

}  // namespace
}  // namespace freshet
