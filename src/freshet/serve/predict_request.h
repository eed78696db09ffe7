// PredictRequest: one parsed POST /v1/predict body — the context features
// and the candidates, each in the Example layout of the model's schema.
//
// Each object of a request (the context, a candidate) is a JSON object whose
// keys name a slot, a dense feature or a record column the schema uses. The
// values go through the FeatureEncoder (freshet/data/feature_encoder.h), the
// record parsers' own encoding: ids are FeatureId of the value's text in the
// slot's table (a JSON number counts as its decimal text), multi-valued slots
// take a JSON list or the slot's separator, weighted slots take "id:weight",
// and a side-table slot is filled from its join column's value in the same
// object, as a parser fills it for a record carrying those values.
//
// Thread-safe: ParsePredictRequest() keeps no state.
#ifndef FRESHET_SERVE_PREDICT_REQUEST_H_
#define FRESHET_SERVE_PREDICT_REQUEST_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "freshet/data/example.h"
#include "freshet/data/schema.h"

namespace freshet {

// A parsed request: ids per slot (Example layout, every slot present, empty
// when not given) and dense values (NaN when not given).
struct PredictRequest {
  Example context;
  std::vector<Example> candidates;
};

// Parses the JSON body of POST /v1/predict:
//   {"context": {"slot": value or [values], "dense": number,
//                "column": value, ...},
//    "candidates": [{"slot": value, ...}, ...]}
// A key that is a slot's name gives the value of the column that slot reads
// (so every slot, dense feature and side-table join on that column sees it);
// a slot or dense feature that reads a side table takes its value directly.
// InvalidArgument (with the reason) for bad JSON, unknown slots, features or
// columns, bad values, a column given twice in one object, no candidates;
// OutOfRange for more than `max_candidates` candidates.
absl::StatusOr<PredictRequest> ParsePredictRequest(std::string_view body,
                                                   const Schema& schema,
                                                   int max_candidates);

}  // namespace freshet

#endif  // FRESHET_SERVE_PREDICT_REQUEST_H_
