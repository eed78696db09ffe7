// PredictRequest: one parsed POST /v1/predict body — the context features
// and the candidates, each in the Example layout of the model's schema.
//
// Raw values are hashed exactly as the record parsers hash them (FeatureId of
// the value's text in the slot's table; a JSON number counts as its decimal
// text), multi-valued slots take a JSON list or the slot's separator, and
// weighted slots take "id:weight".
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
//   {"context": {"slot": value or [values], "dense": number, ...},
//    "candidates": [{"slot": value, ...}, ...]}
// InvalidArgument (with the reason) for bad JSON, unknown slots or features,
// bad values, a slot given twice, no candidates; OutOfRange for more than
// `max_candidates` candidates.
absl::StatusOr<PredictRequest> ParsePredictRequest(std::string_view body,
                                                   const Schema& schema,
                                                   int max_candidates);

}  // namespace freshet

#endif  // FRESHET_SERVE_PREDICT_REQUEST_H_
