// model_bench: the dense part of Freshet's models, per training or serving
// batch, beside a plain Eigen GEMM on the same machine.
//
// Workloads (batch 256, Criteo-shaped input: 26 sparse slots of dim 16 whose
// pooled rows the trainer would pass, plus 13 dense features fed in directly;
// MLP 256-128, relu):
//   train/MODEL    Forward + logistic loss + Backward with input gradients
//                  (one trainer step of the dense part)
//   serve/MODEL    Forward only (one scoring call)
//   train/deepfm_39x16   deepfm with all 39 fields as dim-16 slots (MLP input
//                  624, the shape of the reference GEMM below)
//   gemm/256x624x256     C = A·B, row-major float, Eigen noalias()
// Counters: items_per_second = examples/s; GFLOPs = dense-layer flops per
// second (2·in·out per example per linear layer forward, 3x that for a
// forward+backward step; FM and wide terms counted the same way).
//
//   model_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "freshet/model/eigen_types.h"
#include "freshet/model/loss.h"
#include "freshet/model/model.h"
#include "freshet/model/rng.h"

namespace freshet {
namespace {

constexpr int kBatch = 256;

struct Fixture {
  Fixture(const std::string& type, int slots, int dim, int dense) {
    ModelSpec spec;
    spec.type = type;
    spec.hidden = {256, 128};
    spec.activation = "relu";
    spec.cross_layers = 2;
    auto created = Model::Create(spec, std::vector<int>(slots, dim), dense, 1);
    if (!created.ok()) {
      fprintf(stderr, "%s\n", created.status().ToString().c_str());
      abort();
    }
    model = *std::move(created);
    const ModelShape& shape = model->shape();
    Rng rng(7);
    auto fill = [&rng](std::vector<float>* v, size_t n, double range) {
      v->resize(n);
      for (float& x : *v) x = static_cast<float>(rng.Symmetric(range));
    };
    fill(&embeddings, static_cast<size_t>(kBatch) * shape.embedding_width,
         0.05);
    fill(&wide, shape.needs_wide ? kBatch * shape.num_slots() : 0, 0.05);
    fill(&dense_values, static_cast<size_t>(kBatch) * shape.num_dense, 1.0);
    labels.resize(kBatch);
    for (float& y : labels) y = rng.Uniform() < 0.25 ? 1.0f : 0.0f;
    input.batch = kBatch;
    input.embeddings = embeddings.empty() ? nullptr : embeddings.data();
    input.wide = wide.empty() ? nullptr : wide.data();
    input.dense = dense_values.empty() ? nullptr : dense_values.data();
    logits.resize(kBatch);
    dlogits.resize(kBatch);
    dparams.assign(model->num_params(), 0.0f);
    demb.resize(embeddings.size());
    dwide.resize(wide.size());
    grad.embeddings = demb.empty() ? nullptr : demb.data();
    grad.wide = dwide.empty() ? nullptr : dwide.data();
  }

  void TrainStep() {
    model->Forward(input, &workspace, logits.data());
    LogisticLossAndGradient<float>(logits, labels, {}, 1.0f / kBatch,
                                   absl::MakeSpan(dlogits));
    model->Backward(input, &workspace, dlogits.data(), dparams.data(), &grad);
  }

  std::unique_ptr<Model> model;
  ModelWorkspace workspace;
  ModelInput input;
  ModelInputGrad grad;
  std::vector<float> embeddings, wide, dense_values, labels, logits, dlogits,
      dparams, demb, dwide;
};

void SetCounters(benchmark::State& state, double flops_per_batch) {
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["GFLOPs"] = benchmark::Counter(
      flops_per_batch * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void Train(benchmark::State& state, const std::string& type, int slots, int dim,
           int dense) {
  Fixture f(type, slots, dim, dense);
  f.TrainStep();  // warm the workspace
  for (auto _ : state) {
    f.TrainStep();
    benchmark::DoNotOptimize(f.dparams.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, 3.0 * f.model->forward_flops_per_example() * kBatch);
  state.counters["params"] = static_cast<double>(f.model->num_params());
}

void Serve(benchmark::State& state, const std::string& type, int slots, int dim,
           int dense) {
  Fixture f(type, slots, dim, dense);
  f.model->Forward(f.input, &f.workspace, f.logits.data());
  for (auto _ : state) {
    f.model->Forward(f.input, &f.workspace, f.logits.data());
    benchmark::DoNotOptimize(f.logits.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, f.model->forward_flops_per_example() * kBatch);
}

void Gemm(benchmark::State& state) {
  const int m = state.range(0), k = state.range(1), n = state.range(2);
  RowMatrix<float> a = RowMatrix<float>::Random(m, k);
  RowMatrix<float> b = RowMatrix<float>::Random(k, n);
  RowMatrix<float> c(m, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPs"] = benchmark::Counter(
      2.0 * m * k * n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void Register() {
  for (const char* type :
       {"deepfm", "lr", "fm", "wide_deep", "dcn_v2", "mlp"}) {
    const std::string t = type;
    benchmark::RegisterBenchmark(
        ("train/" + t).c_str(),
        [t](benchmark::State& s) { Train(s, t, 26, 16, 13); })
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("train/deepfm_39x16", [](benchmark::State& s) {
    Train(s, "deepfm", 39, 16, 0);
  })->Unit(benchmark::kMicrosecond);
  for (const char* type : {"deepfm", "lr", "dcn_v2"}) {
    const std::string t = type;
    benchmark::RegisterBenchmark(
        ("serve/" + t).c_str(),
        [t](benchmark::State& s) { Serve(s, t, 26, 16, 13); })
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("gemm", Gemm)
      ->Args({256, 624, 256})
      ->Args({256, 429, 256})
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace
}  // namespace freshet

int main(int argc, char** argv) {
  freshet::Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
