// Fuzzes ParsePredictRequest(), the parser of POST /v1/predict bodies, with
// the record schema of fuzz_schema.h (every kind of slot, dense feature and a
// side-table join). An accepted request must hold 1..max_candidates
// candidates, each and the context in the Example layout of the schema.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "freshet/serve/predict_request.h"
#include "fuzz/fuzz_schema.h"

namespace freshet {
namespace fuzz {
namespace {

constexpr int kMaxCandidates = 8;

void CheckExample(const Schema& schema, const Example& ex) {
  Require(ex.num_slots() == schema.num_slots(), "slot count");
  Require(ex.slot_offsets.back() == ex.ids.size(), "last slot offset");
  for (int s = 0; s < schema.num_slots(); ++s) {
    Require(ex.slot_offsets[s] <= ex.slot_offsets[s + 1], "slot offsets order");
  }
  Require(ex.id_weights.empty() || ex.id_weights.size() == ex.ids.size(),
          "id_weights parallel to ids");
  Require(ex.dense.size() == static_cast<size_t>(schema.num_dense()),
          "dense count");
}

}  // namespace
}  // namespace fuzz
}  // namespace freshet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace freshet;
  static const auto* schema =
      new auto(fuzz::MustCompile(fuzz::RecordSchemaSpec()));
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto req = ParsePredictRequest(body, **schema, fuzz::kMaxCandidates);
  if (!req.ok()) {
    fuzz::Require(absl::IsInvalidArgument(req.status()) ||
                      absl::IsOutOfRange(req.status()),
                  "unexpected status: " + req.status().ToString());
    return 0;
  }
  fuzz::Require(!req->candidates.empty() &&
                    req->candidates.size() <= fuzz::kMaxCandidates,
                "candidate count");
  fuzz::CheckExample(**schema, req->context);
  for (const Example& c : req->candidates) fuzz::CheckExample(**schema, c);
  return 0;
}
