// RecModel: one recommendation model as training and serving both hold it —
// the embedding tables of its slots plus its dense part.
//
// For every table of the job that some slot uses, the model keeps the tables
// its ModelShape asks for: an embedding table of the table's dim (named like
// the table) when a slot of it needs an embedding row, and a wide table of
// dim 1 (named TABLE/wide, optimized by model.wide_optimizer, initialised to
// zero) when a slot of it needs a wide weight. Slots sharing a table share
// both.
//
// BatchEmbedder turns a batch of Examples into the model's input: it
// deduplicates the batch's ids per table, looks each distinct id up once and
// pools every slot's rows (sum or mean, times the ids' weights). The same
// code runs in training and in serving; training then hands the pooled
// gradients back to ApplyGradients(), which sums them per distinct id and
// applies them to the tables.
//
// Thread safety: the tables are thread-safe. The dense parameters are not
// synchronised here: the trainer updates them between batches. A
// BatchEmbedder is scratch space for one thread.
#ifndef FRESHET_TRAIN_REC_MODEL_H_
#define FRESHET_TRAIN_REC_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"
#include "freshet/data/example.h"
#include "freshet/data/schema.h"
#include "freshet/model/model.h"
#include "freshet/optim/dense_optimizer.h"
#include "freshet/table/embedding_table.h"

namespace freshet {

// Which tables a slot reads, as indices into the model's table list; -1:
// none. Training (RecModel) and serving (ServingReplica) bind slots alike.
struct SlotBinding {
  int embedding_table = -1;
  int wide_table = -1;
  int embedding_dim = 0;
  int embedding_offset = 0;  // first column in ModelInput::embeddings
  bool mean = false;         // mean pooling (else sum)
};

// The tables a model of `job` with dense shape `shape` needs, and which of
// them each slot of `schema` reads. Tables come in the order of first use:
// TABLE (the job's spec) when a slot of it needs an embedding row, TABLE/wide
// (dim 1, model.wide_optimizer, zero-initialised) when one needs a wide
// weight. Slots sharing a table share both.
struct ModelTables {
  std::vector<TableSpec> tables;
  std::vector<SlotBinding> slots;
};
absl::StatusOr<ModelTables> ResolveModelTables(const JobConfig& job,
                                               const Schema& schema,
                                               const ModelShape& shape);

class RecModel {
 public:
  using SlotBinding = freshet::SlotBinding;

  // Builds the model of `job` for records described by `schema` (which must
  // have been compiled from job.schema). `seed` initialises the dense part.
  // `table_options` apply to every table; turn off the change tracking that
  // no one consumes (sync, checkpoints), or its deleted-key logs grow.
  static absl::StatusOr<std::unique_ptr<RecModel>> Create(
      const JobConfig& job, std::shared_ptr<const Schema> schema, uint64_t seed,
      const EmbeddingTableOptions& table_options = {});

  const Schema& schema() const { return *schema_; }
  Model& dense() { return *dense_; }
  const Model& dense() const { return *dense_; }
  DenseOptimizer& dense_optimizer() { return dense_optimizer_; }
  const DenseOptimizer& dense_optimizer() const { return dense_optimizer_; }

  int num_tables() const { return static_cast<int>(tables_.size()); }
  EmbeddingTable& table(int i) { return *tables_[i]; }
  const EmbeddingTable& table(int i) const { return *tables_[i]; }
  const SlotBinding& slot(int s) const { return slots_[s]; }

  // Rows and bytes over all tables (TableStats::total_bytes), plus the dense
  // parameters.
  int64_t TotalRows() const;
  int64_t TotalBytes() const;

 private:
  RecModel(std::shared_ptr<const Schema> schema, std::unique_ptr<Model> dense,
           DenseOptimizer dense_optimizer)
      : schema_(std::move(schema)),
        dense_(std::move(dense)),
        dense_optimizer_(std::move(dense_optimizer)) {}

  std::shared_ptr<const Schema> schema_;
  std::unique_ptr<Model> dense_;
  DenseOptimizer dense_optimizer_;
  std::vector<std::unique_ptr<EmbeddingTable>> tables_;
  std::vector<SlotBinding> slots_;
};

class BatchEmbedder {
 public:
  explicit BatchEmbedder(RecModel* model);

  // Looks up and pools the rows of `examples` into input(). kTrain counts
  // sightings for admission and creates admitted rows; kServe only reads.
  // Same as Begin() followed by EmbedPart(..., 0, 1).
  absl::Status Embed(absl::Span<const Example> examples, LookupMode mode,
                     int64_t event_time_ms);

  // The pooled batch of the last Embed(); valid until the next one.
  const ModelInput& input() const { return input_; }

  // Buffers, sized by Embed(), for the model's input gradients.
  ModelInputGrad* input_grad() { return &input_grad_; }

  // Sums the gradients in input_grad() per distinct id and applies them to the
  // tables. `labels` (one per example) raise the value score of the rows of
  // positive examples. Same as ApplyPart(..., 0, 1).
  absl::Status ApplyGradients(absl::Span<const float> labels,
                              int64_t event_time_ms);

  // The same work split by table, for several threads: Begin() sizes and
  // clears the buffers and copies the dense features; then EmbedPart(k, n)
  // for every k in [0, n) (concurrently: part k handles the tables whose
  // index is k modulo n, and tables write disjoint columns); after the
  // backward pass, ApplyPart(k, n) likewise. Every table is handled by one
  // part, in a fixed order, so results do not depend on thread timing.
  absl::Status Begin(absl::Span<const Example> examples);
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
    float scale;      // id weight, divided by the count for mean pooling
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

  RecModel* model_;
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

#endif  // FRESHET_TRAIN_REC_MODEL_H_
