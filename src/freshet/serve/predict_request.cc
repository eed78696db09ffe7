#include "freshet/serve/predict_request.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

}  // namespace freshet
