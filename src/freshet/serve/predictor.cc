#include "freshet/serve/predictor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

// Adds the pooled rows of slot s of `e` into a model-input row.
void PoolSlot(const ServingReplica::View& view, const Example& e, int s,
              float* embeddings, float* wide) {
  absl::Span<const uint64_t> ids = e.slot_ids(s);
  if (ids.empty()) return;
  const ServingSlot& binding = view.slot(s);
  absl::Span<const float> weights = e.slot_weights(s);
  float norm = 1.0f;
  if (binding.mean) {
    float total = 0.0f;
    if (weights.empty()) {
      total = static_cast<float>(ids.size());
    } else {
      for (float w : weights) total += w;
    }
    norm = total != 0.0f ? 1.0f / total : 0.0f;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    const float scale = (weights.empty() ? 1.0f : weights[i]) * norm;
    if (binding.embedding_table >= 0) {
      view.table(binding.embedding_table)
          .AddScaled(ids[i], scale, embeddings + binding.embedding_offset);
    }
    if (binding.wide_table >= 0) {
      view.table(binding.wide_table).AddScaled(ids[i], scale, wide + s);
    }
  }
}

struct Scratch {
  std::vector<float> ctx_embeddings;
  std::vector<float> ctx_wide;
  std::vector<float> embeddings;
  std::vector<float> wide;
  std::vector<float> dense;
  std::vector<float> logits;
  ModelWorkspace workspace;
};

}  // namespace

Predictor::Predictor(const ServingReplica* replica,
                     const PredictorOptions& options)
    : replica_(replica), options_(options) {}

int64_t Predictor::StalenessMs() const {
  const int64_t created = replica_->status().created_unix_us;
  if (created == 0) return -1;
  return std::max<int64_t>(0, (replica_->clock().NowMicros() - created) / 1000);
}

std::string Predictor::Degradation(int64_t staleness_ms) const {
  // An open gap: the version served is consistent but misses updates.
  if (replica_->sync_gap() || staleness_ms < 0 ||
      staleness_ms > options_.stale_after_ms) {
    return "stale";
  }
  return "fresh";
}

absl::Status Predictor::Predict(const PredictRequest& request,
                                PredictResult* result) const {
  const Schema& schema = replica_->schema();
  const ModelShape& shape = replica_->shape();
  const int num_slots = shape.num_slots();
  const int width = shape.embedding_width;
  const int num_dense = shape.num_dense;
  const int batch = static_cast<int>(request.candidates.size());
  if (batch == 0) return absl::InvalidArgumentError("no candidates");
  if (batch > options_.max_candidates) {
    return absl::OutOfRangeError(absl::StrCat("too many candidates: ", batch,
                                              ", the limit is ",
                                              options_.max_candidates));
  }
  const Example& ctx = request.context;
  if (ctx.num_slots() != num_slots ||
      static_cast<int>(ctx.dense.size()) != num_dense) {
    return absl::InvalidArgumentError("context does not follow the schema");
  }
  for (int b = 0; b < batch; ++b) {
    const Example& c = request.candidates[b];
    if (c.num_slots() != num_slots ||
        static_cast<int>(c.dense.size()) != num_dense) {
      return absl::InvalidArgumentError(
          absl::StrCat("candidates[", b, "] does not follow the schema"));
    }
    for (int s = 0; s < num_slots; ++s) {
      if (!ctx.slot_ids(s).empty() && !c.slot_ids(s).empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "slot '", schema.slot(s).name,
            "' is given in both the context and candidates[", b, "]"));
      }
    }
    for (int d = 0; d < num_dense; ++d) {
      if (!std::isnan(ctx.dense[d]) && !std::isnan(c.dense[d])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dense feature '", schema.dense(d).name,
            "' is given in both the context and candidates[", b, "]"));
      }
    }
  }

  thread_local Scratch sc;
  sc.ctx_embeddings.assign(width, 0.0f);
  sc.ctx_wide.assign(num_slots, 0.0f);
  sc.embeddings.resize(static_cast<size_t>(batch) * width);
  sc.wide.resize(static_cast<size_t>(batch) * num_slots);
  sc.dense.resize(static_cast<size_t>(batch) * num_dense);
  sc.logits.resize(batch);
  for (int b = 0; b < batch; ++b) {
    const Example& c = request.candidates[b];
    for (int d = 0; d < num_dense; ++d) {
      float x = !std::isnan(ctx.dense[d]) ? ctx.dense[d] : c.dense[d];
      if (std::isnan(x)) x = schema.dense(d).missing;
      sc.dense[static_cast<size_t>(b) * num_dense + d] = x;
    }
  }

  replica_->Read([&](const ServingReplica::View& view) {
    // The context, once per request.
    for (int s = 0; s < num_slots; ++s) {
      PoolSlot(view, ctx, s, sc.ctx_embeddings.data(), sc.ctx_wide.data());
    }
    for (int b = 0; b < batch; ++b) {
      float* emb = sc.embeddings.data() + static_cast<size_t>(b) * width;
      float* wide = sc.wide.data() + static_cast<size_t>(b) * num_slots;
      std::copy(sc.ctx_embeddings.begin(), sc.ctx_embeddings.end(), emb);
      std::copy(sc.ctx_wide.begin(), sc.ctx_wide.end(), wide);
      const Example& c = request.candidates[b];
      for (int s = 0; s < num_slots; ++s) PoolSlot(view, c, s, emb, wide);
    }
    ModelInput input;
    input.batch = batch;
    input.embeddings = width > 0 ? sc.embeddings.data() : nullptr;
    input.wide = shape.needs_wide ? sc.wide.data() : nullptr;
    input.dense = num_dense > 0 ? sc.dense.data() : nullptr;
    view.dense().Forward(input, &sc.workspace, sc.logits.data());
    result->model_version = view.version();
  });

  const double offset = replica_->serving_logit_offset();
  result->scores.resize(batch);
  for (int b = 0; b < batch; ++b) {
    const double z = static_cast<double>(sc.logits[b]) + offset;
    result->scores[b] = static_cast<float>(1.0 / (1.0 + std::exp(-z)));
  }
  result->staleness_ms = StalenessMs();
  result->degradation = Degradation(result->staleness_ms);
  return absl::OkStatus();
}

}  // namespace freshet
