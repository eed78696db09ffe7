#include "freshet/serve/predictor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"
#include "freshet/store/batch_embedder.h"

namespace freshet {
namespace {

// A replica's copy as the BatchEmbedder's row source: a missing id reads as
// its table's default, as in a training table's kServe lookup.
class ViewRows final : public RowReader {
 public:
  explicit ViewRows(const ServingReplica::View& view) : view_(view) {}

  absl::Status Lookup(int table, absl::Span<const uint64_t> keys,
                      absl::Span<float> rows, LookupMode mode,
                      int64_t event_time_ms) override {
    const ServingTable& t = view_.table(table);
    if (rows.size() != keys.size() * static_cast<size_t>(t.dim())) {
      return absl::InvalidArgumentError("rows do not match the keys");
    }
    t.LookupBatch(keys, rows.data());
    return absl::OkStatus();
  }

 private:
  const ServingReplica::View& view_;
};

}  // namespace

struct Predictor::Scratch {
  std::unique_ptr<BatchEmbedder> embedder;
  std::vector<float> logits;
  ModelWorkspace workspace;
};

Predictor::~Predictor() = default;

std::unique_ptr<Predictor::Scratch> Predictor::AcquireScratch() const {
  {
    MutexLock lock(&scratch_mu_);
    if (!free_scratch_.empty()) {
      std::unique_ptr<Scratch> sc = std::move(free_scratch_.back());
      free_scratch_.pop_back();
      return sc;
    }
  }
  auto sc = std::make_unique<Scratch>();
  std::vector<int> dims(replica_->num_tables());
  for (int t = 0; t < replica_->num_tables(); ++t) {
    dims[t] = replica_->table_dim(t);
  }
  sc->embedder = std::make_unique<BatchEmbedder>(
      nullptr, nullptr, replica_->schema(), replica_->shape(),
      replica_->slots(), dims);
  return sc;
}

void Predictor::ReleaseScratch(std::unique_ptr<Scratch> sc) const {
  MutexLock lock(&scratch_mu_);
  free_scratch_.push_back(std::move(sc));
}

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

  // Pooled by the training code (BatchEmbedder, the context shared by every
  // candidate) and scored by the trainer's own forward pass.
  std::unique_ptr<Scratch> sc = AcquireScratch();
  sc->logits.resize(batch);
  absl::Status embedded;
  replica_->Read([&](const ServingReplica::View& view) {
    ViewRows rows(view);
    sc->embedder->set_reader(&rows);
    embedded = sc->embedder->Embed(request.candidates, LookupMode::kServe,
                                   EmbeddingTable::kNoEventTime, &ctx);
    sc->embedder->set_reader(nullptr);
    if (!embedded.ok()) return;
    view.dense().Forward(sc->embedder->input(), &sc->workspace,
                         sc->logits.data());
    result->model_version = view.version();
  });
  if (!embedded.ok()) {
    ReleaseScratch(std::move(sc));
    return embedded;
  }

  const double offset = replica_->serving_logit_offset();
  result->scores.resize(batch);
  for (int b = 0; b < batch; ++b) {
    if (!std::isfinite(sc->logits[b])) {
      // Never answered as a score: a null in JSON, and no model is fresh
      // that gives one.
      ReleaseScratch(std::move(sc));
      return absl::InternalError(absl::StrCat(
          "the model's score for candidates[", b,
          "] is not finite (a dense value too large for the model?)"));
    }
    const double z = static_cast<double>(sc->logits[b]) + offset;
    result->scores[b] = static_cast<float>(1.0 / (1.0 + std::exp(-z)));
  }
  ReleaseScratch(std::move(sc));
  result->staleness_ms = StalenessMs();
  result->degradation = Degradation(result->staleness_ms);
  return absl::OkStatus();
}

}  // namespace freshet
