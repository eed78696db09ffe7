#include "freshet/serve/predict_request.h"

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "freshet/base/json_depth.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/feature_encoder.h"
#include "freshet/data/text_scan.h"

namespace freshet {
namespace {

using json = nlohmann::json;

// The text a record parser would have seen for a JSON scalar.
absl::StatusOr<std::string> ValueText(const json& v, std::string_view what) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) return v.dump();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), ": expected a string or number, got ", v.type_name()));
}

// The request's view of the schema: every record column the schema uses,
// by name, and the FeatureEncoder that turns a request object's values into
// an Example exactly as a record parser turns a record's.
class RequestEncoder {
 public:
  absl::Status Init(const Schema& schema) {
    schema_ = &schema;
    FeatureEncoder::Options options;
    options.targets = false;
    options.absent_dense_is_nan = true;
    // Not owned: the encoder lives no longer than this call's `schema`.
    std::shared_ptr<const Schema> unowned(std::shared_ptr<const Schema>(),
                                          &schema);
    ASSIGN_OR_RETURN(encoder_, FeatureEncoder::Make(
                                   unowned,
                                   [this](std::string_view name) {
                                     auto [it, inserted] = columns_.try_emplace(
                                         std::string(name), columns_.size());
                                     return it->second;
                                   },
                                   "is not available", options));
    single_valued_.assign(columns_.size(), -1);
    for (int s = schema.num_slots() - 1; s >= 0; --s) {
      const int f = encoder_->slot_field(s);
      if (f >= 0 && !schema.slot(s).multi_valued) single_valued_[f] = s;
    }
    return absl::OkStatus();
  }

  // Fills `out` (every slot, Example layout; dense NaN where absent) from one
  // JSON object of slot, dense-feature and column values.
  absl::Status Encode(const json& obj, std::string_view where, Example* out);

 private:
  // Where a request key's value goes.
  struct Target {
    int field = -1;           // a record column
    int slot = -1;            // or a slot that reads a side table
    int dense = -1;           // or a dense feature that reads a side table
    bool dense_name = false;  // the key is a dense feature's name
  };

  absl::StatusOr<Target> Find(const std::string& name,
                              const std::string& field) const {
    Target t;
    const int s = schema_->SlotIndex(name);
    if (s >= 0) {
      t.field = encoder_->slot_field(s);
      if (t.field < 0) t.slot = s;
      return t;
    }
    const int d = schema_->DenseIndex(name);
    if (d >= 0) {
      t.field = encoder_->dense_field(d);
      if (t.field < 0) t.dense = d;
      t.dense_name = true;
      return t;
    }
    auto it = columns_.find(name);
    if (it != columns_.end()) {
      t.field = it->second;
      return t;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": unknown slot, dense feature or column '", name, "'"));
  }

  const Schema* schema_ = nullptr;
  std::unique_ptr<FeatureEncoder> encoder_;
  absl::flat_hash_map<std::string, int> columns_;  // column -> field index
  std::vector<int> single_valued_;  // per field: a single-valued slot or -1
  // Per object:
  std::vector<RawValue> fields_, slot_values_, dense_values_;
  std::vector<std::string> texts_;  // reserved up front: views stay valid
  std::vector<std::string_view> items_;
  std::vector<std::string> given_by_;  // per field: the key that gave it
};

absl::Status RequestEncoder::Encode(const json& obj, std::string_view where,
                                    Example* out) {
  if (!obj.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(where), ": expected an object"));
  }
  const Schema& schema = *schema_;
  fields_.assign(columns_.size(), RawValue());
  given_by_.assign(columns_.size(), std::string());
  slot_values_.assign(schema.num_slots(), RawValue());
  dense_values_.assign(schema.num_dense(), RawValue());
  size_t num_texts = 0;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    num_texts += it.value().is_array() ? it.value().size() : 1;
  }
  texts_.clear();
  texts_.reserve(num_texts);
  items_.clear();
  // First the texts (so that their views stay put), then the values.
  struct Given {
    Target target;
    RawValue value;
    size_t texts_begin, texts_end;
  };
  std::vector<Given> given;
  given.reserve(obj.size());
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    const std::string field = absl::StrCat(std::string(where), ".", name);
    ASSIGN_OR_RETURN(Target target, Find(name, field));
    if (v.is_null()) continue;
    if (target.dense_name) {
      // A dense feature by name takes a number, or a string holding one
      // (empty: missing, as in a record).
      float x;
      if (!v.is_number() &&
          (!v.is_string() || (!v.get<std::string>().empty() &&
                              !ParseFloat(v.get<std::string>(), &x)))) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": dense feature expects a number"));
      }
    }
    if (target.field >= 0 && !given_by_[target.field].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": the same column is already given by '",
                       given_by_[target.field], "'"));
    }
    Given g;
    g.target = target;
    g.value.present = true;
    g.texts_begin = texts_.size();
    if (v.is_array()) {
      const int single =
          target.slot >= 0 && !schema.slot(target.slot).multi_valued
              ? target.slot
              : (target.field >= 0 ? single_valued_[target.field] : -1);
      if (single >= 0 && v.size() > 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": slot is single-valued, got a list of ", v.size()));
      }
      g.value.is_list = true;
      for (const json& item : v) {
        ASSIGN_OR_RETURN(std::string text, ValueText(item, field));
        texts_.push_back(std::move(text));
      }
    } else {
      ASSIGN_OR_RETURN(std::string text, ValueText(v, field));
      texts_.push_back(std::move(text));
    }
    g.texts_end = texts_.size();
    if (target.field >= 0) given_by_[target.field] = name;
    given.push_back(g);
  }
  for (Given& g : given) {
    if (g.value.is_list) {
      g.value.items_begin = static_cast<uint32_t>(items_.size());
      for (size_t k = g.texts_begin; k < g.texts_end; ++k) {
        items_.push_back(texts_[k]);
      }
      g.value.items_end = static_cast<uint32_t>(items_.size());
    } else {
      g.value.text = texts_[g.texts_begin];
    }
    if (g.target.field >= 0) {
      fields_[g.target.field] = g.value;
    } else if (g.target.slot >= 0) {
      slot_values_[g.target.slot] = g.value;
    } else {
      dense_values_[g.target.dense] = g.value;
    }
  }
  absl::Status status = encoder_->Encode(RawRecord{fields_, items_},
                                         slot_values_, dense_values_, out);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(where), ": ", status.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PredictRequest> ParsePredictRequest(std::string_view body,
                                                   const Schema& schema,
                                                   int max_candidates) {
  // A request nests four levels (object, candidates, candidate, list); a
  // much deeper body is refused before anything walks it recursively.
  constexpr int kMaxDepth = 16;
  if (JsonDepth(body, kMaxDepth) > kMaxDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request body is nested deeper than ", kMaxDepth, " levels"));
  }
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
  RequestEncoder encoder;
  RETURN_IF_ERROR(encoder.Init(schema));
  PredictRequest req;
  auto ctx = doc.find("context");
  if (ctx != doc.end()) {
    RETURN_IF_ERROR(encoder.Encode(*ctx, "context", &req.context));
  } else {
    RETURN_IF_ERROR(encoder.Encode(json::object(), "context", &req.context));
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
    RETURN_IF_ERROR(encoder.Encode(
        (*cands)[i], absl::StrCat("candidates[", i, "]"), &req.candidates[i]));
  }
  return req;
}

}  // namespace freshet
