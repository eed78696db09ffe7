// BatchEmbedder: turns a batch of Examples into a model's input, the one
// lookup-and-pool path of training and serving.
//
// It deduplicates the batch's ids per table, looks each distinct id up once
// through a RowReader (one batched call per table: a ParameterStore in
// training, a serving replica's view in serving; an id without a row reads
// as its table's default in both) and pools every slot's rows: per slot, ids
// in order, dst += scale * row, where scale is the id's weight (1 if none),
// divided by the slot's total weight for mean pooling. Training then hands
// the pooled gradients back to ApplyGradients(), which sums them per
// distinct id and applies them to the store's tables.
//
// A batch may share a context Example (serving: the user and the page of a
// request scored against many candidates): a slot or dense feature an
// example leaves empty (no ids; NaN) is read from the context. A dense
// feature missing from both takes the schema's `missing` value.
//
// Not thread-safe: a BatchEmbedder is scratch space for one thread (or, with
// EmbedPart/ApplyPart, for the threads of one batch; see there).
#ifndef FRESHET_STORE_BATCH_EMBEDDER_H_
#define FRESHET_STORE_BATCH_EMBEDDER_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "freshet/data/example.h"
#include "freshet/data/schema.h"
#include "freshet/model/model.h"
#include "freshet/store/local_store.h"
#include "freshet/store/model_tables.h"
#include "freshet/store/parameter_store.h"

namespace freshet {

class BatchEmbedder {
 public:
  // Reads and updates the rows of `store`, with its schema and bindings.
  explicit BatchEmbedder(LocalStore* store);
  // Reads rows through `reader` (set_reader() may change it) and updates
  // them in `store` (may be null: read only) for a model of dense shape
  // `shape` whose slots of `schema` read the tables of dims `table_dims` as
  // `slots` say.
  BatchEmbedder(RowReader* reader, ParameterStore* store, const Schema& schema,
                const ModelShape& shape, const std::vector<SlotBinding>& slots,
                const std::vector<int>& table_dims);

  void set_reader(RowReader* reader) { reader_ = reader; }

  // Looks up and pools the rows of `examples` (and the optional shared
  // `context`) into input(). kTrain counts sightings for admission and
  // creates admitted rows; kServe only reads. Same as Begin() followed by
  // EmbedPart(..., 0, 1).
  absl::Status Embed(absl::Span<const Example> examples, LookupMode mode,
                     int64_t event_time_ms, const Example* context = nullptr);

  // The pooled batch of the last Embed(); valid until the next one.
  const ModelInput& input() const { return input_; }

  // Buffers, sized by Embed(), for the model's input gradients.
  ModelInputGrad* input_grad() { return &input_grad_; }

  // Sums the gradients in input_grad() per distinct id and applies them to the
  // store's tables. `labels` (one per example) raise the value score of the
  // rows of positive examples. Same as ApplyPart(..., 0, 1).
  // FailedPrecondition for a read-only embedder.
  absl::Status ApplyGradients(absl::Span<const float> labels,
                              int64_t event_time_ms);

  // The same work split by table, for several threads: Begin() sizes and
  // clears the buffers and copies the dense features; then EmbedPart(k, n)
  // for every k in [0, n) (concurrently: part k handles the tables whose
  // index is k modulo n, and tables write disjoint columns); after the
  // backward pass, ApplyPart(k, n) likewise. Every table is handled by one
  // part, in a fixed order, so results do not depend on thread timing.
  absl::Status Begin(absl::Span<const Example> examples,
                     const Example* context = nullptr);
  absl::Status EmbedPart(absl::Span<const Example> examples, LookupMode mode,
                         int64_t event_time_ms, int part, int num_parts);
  absl::Status ApplyPart(absl::Span<const float> labels, int64_t event_time_ms,
                         int part, int num_parts);

  // Distinct ids looked up by the last Embed(), over all tables.
  int64_t distinct_ids() const;

 private:
  struct Occurrence {
    uint32_t example;
    uint32_t unique;  // index into the table's distinct keys
    uint32_t column;  // first column in the slot's destination
    float scale;      // id weight, divided by the total for mean pooling
  };
  // One table's part of a batch.
  struct TablePart {
    int dim = 0;
    bool wide = false;  // destination is ModelInput::wide
    std::vector<uint64_t> keys;
    absl::flat_hash_map<uint64_t, uint32_t> index;
    std::vector<float> rows;
    std::vector<float> grads;
    std::vector<float> labels;
    std::vector<Occurrence> occurrences;
  };

  // The slots reading table t, and whether as a wide weight.
  struct SlotUse {
    int slot;
    bool wide;
  };

  RowReader* reader_;
  ParameterStore* const store_;
  const ModelShape shape_;
  const std::vector<SlotBinding> slots_;
  std::vector<float> missing_;  // per dense feature
  const Example* context_ = nullptr;
  std::vector<TablePart> parts_;
  std::vector<std::vector<SlotUse>> table_slots_;
  std::vector<float> embeddings_;
  std::vector<float> wide_;
  std::vector<float> dense_;
  std::vector<float> d_embeddings_;
  std::vector<float> d_wide_;
  ModelInput input_;
  ModelInputGrad input_grad_;
};

}  // namespace freshet

#endif  // FRESHET_STORE_BATCH_EMBEDDER_H_
