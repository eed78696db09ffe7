#include "freshet/serve/predictor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "freshet/base/hash.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

using json = nlohmann::json;

constexpr float kAbsent = std::numeric_limits<float>::quiet_NaN();

// The text a record parser would have seen for a JSON scalar.
absl::StatusOr<std::string> ValueText(const json& v, std::string_view what) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return v.dump();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), ": expected a string or number, got ", v.type_name()));
}

absl::Status AddId(const Schema::Slot& slot, std::string_view value,
                   std::vector<uint64_t>* ids, std::vector<float>* weights) {
  float w = 1.0f;
  if (slot.weighted) {
    const size_t colon = value.rfind(':');
    if (colon != std::string_view::npos) {
      if (!absl::SimpleAtof(std::string(value.substr(colon + 1)), &w)) {
        return absl::InvalidArgumentError(
            absl::StrCat("slot '", slot.name, "': weight of '",
                         std::string(value), "' is not a number"));
      }
      value = value.substr(0, colon);
    }
  }
  ids->push_back(FeatureId(slot.seed, value));
  weights->push_back(w);
  return absl::OkStatus();
}

// Fills `out` (every slot, Example layout; dense NaN where absent) from one
// JSON object of slot and dense-feature values.
absl::Status ParseFeatures(const json& obj, const Schema& schema,
                           std::string_view where, Example* out) {
  if (!obj.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(where), ": expected an object"));
  }
  const int num_slots = schema.num_slots();
  std::vector<std::vector<uint64_t>> ids(num_slots);
  std::vector<std::vector<float>> weights(num_slots);
  out->Clear();
  out->dense.assign(schema.num_dense(), kAbsent);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    const std::string field = absl::StrCat(std::string(where), ".", name);
    const int s = schema.SlotIndex(name);
    if (s >= 0) {
      const Schema::Slot& slot = schema.slot(s);
      if (v.is_null()) continue;
      if (v.is_array()) {
        if (!slot.multi_valued && v.size() > 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              field, ": slot is single-valued, got a list of ", v.size()));
        }
        for (const json& item : v) {
          ASSIGN_OR_RETURN(std::string text, ValueText(item, field));
          RETURN_IF_ERROR(AddId(slot, text, &ids[s], &weights[s]));
        }
      } else {
        ASSIGN_OR_RETURN(std::string text, ValueText(v, field));
        if (slot.multi_valued) {
          std::string_view rest = text;
          while (true) {
            const size_t sep = rest.find(slot.separator);
            std::string_view item = rest.substr(0, sep);
            if (!item.empty()) {
              RETURN_IF_ERROR(AddId(slot, item, &ids[s], &weights[s]));
            }
            if (sep == std::string_view::npos) break;
            rest.remove_prefix(sep + slot.separator.size());
          }
        } else if (!text.empty()) {
          RETURN_IF_ERROR(AddId(slot, text, &ids[s], &weights[s]));
        }
      }
      continue;
    }
    const int d = schema.DenseIndex(name);
    if (d >= 0) {
      if (v.is_null()) continue;
      float x;
      if (v.is_number()) {
        x = v.get<float>();
      } else if (!v.is_string() ||
                 !absl::SimpleAtof(v.get<std::string>(), &x)) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": dense feature expects a number"));
      }
      out->dense[d] = schema.dense(d).Apply(x);
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown slot or dense feature '", name, "'"));
  }
  out->slot_offsets.push_back(0);
  const bool weighted = schema.has_weighted_slot();
  for (int s = 0; s < num_slots; ++s) {
    out->ids.insert(out->ids.end(), ids[s].begin(), ids[s].end());
    if (weighted) {
      out->id_weights.insert(out->id_weights.end(), weights[s].begin(),
                             weights[s].end());
    }
    out->slot_offsets.push_back(static_cast<uint32_t>(out->ids.size()));
  }
  return absl::OkStatus();
}

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

absl::StatusOr<PredictRequest> ParsePredictRequest(std::string_view body,
                                                   const Schema& schema,
                                                   int max_candidates) {
  json doc = json::parse(body.begin(), body.end(), nullptr,
                         /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError("request body is not valid JSON");
  }
  if (!doc.is_object()) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "context" && it.key() != "candidates") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field '", it.key(), "' (expected context, candidates)"));
    }
  }
  PredictRequest req;
  auto ctx = doc.find("context");
  if (ctx != doc.end()) {
    RETURN_IF_ERROR(ParseFeatures(*ctx, schema, "context", &req.context));
  } else {
    RETURN_IF_ERROR(
        ParseFeatures(json::object(), schema, "context", &req.context));
  }
  auto cands = doc.find("candidates");
  if (cands == doc.end() || !cands->is_array() || cands->empty()) {
    return absl::InvalidArgumentError(
        "'candidates' must be a non-empty list of objects");
  }
  if (static_cast<int64_t>(cands->size()) > max_candidates) {
    return absl::OutOfRangeError(
        absl::StrCat("too many candidates: ", cands->size(), ", the limit is ",
                     max_candidates));
  }
  req.candidates.resize(cands->size());
  for (size_t i = 0; i < cands->size(); ++i) {
    RETURN_IF_ERROR(ParseFeatures((*cands)[i], schema,
                                  absl::StrCat("candidates[", i, "]"),
                                  &req.candidates[i]));
  }
  return req;
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
  if (staleness_ms < 0 || staleness_ms > options_.stale_after_ms) {
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
