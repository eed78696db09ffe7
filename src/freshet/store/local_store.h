// LocalStore: the parameters of one model held in process — the embedding
// tables of its slots plus its dense part and dense optimizer. It is the
// store of the embedded job and, in distributed mode, of each
// parameter-server shard; sync publishes from it and checkpoints cut it.
//
// For every table of the job that some slot uses, the store keeps the tables
// its ModelShape asks for (ResolveModelTables, freshet/store/model_tables.h):
// an embedding table of the table's dim (named like the table) when a slot of
// it needs an embedding row, and a wide table of dim 1 (named TABLE/wide,
// optimized by model.wide_optimizer, initialised to zero) when a slot of it
// needs a wide weight. Slots sharing a table share both.
//
// Besides the ParameterStore interface, in-process users (the checkpoint
// code, tests, benchmarks) reach the tables and the dense part directly.
//
// Thread safety: the tables are thread-safe. The dense parameters are not
// synchronised here: the trainer updates them between batches.
#ifndef FRESHET_STORE_LOCAL_STORE_H_
#define FRESHET_STORE_LOCAL_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/data/schema.h"
#include "freshet/model/model.h"
#include "freshet/optim/dense_optimizer.h"
#include "freshet/store/model_tables.h"
#include "freshet/store/parameter_store.h"
#include "freshet/table/embedding_table.h"

namespace freshet {

class LocalStore final : public ParameterStore {
 public:
  // Builds the store of `job` for records described by `schema` (which must
  // have been compiled from job.schema). `seed` initialises the dense part.
  // `table_options` apply to every table; turn off the change tracking that
  // no one consumes (sync, checkpoints), or its deleted-key logs grow.
  static absl::StatusOr<std::unique_ptr<LocalStore>> Create(
      const JobConfig& job, std::shared_ptr<const Schema> schema, uint64_t seed,
      const EmbeddingTableOptions& table_options = {});

  const Schema& schema() const { return *schema_; }
  const std::shared_ptr<const Schema>& shared_schema() const { return schema_; }
  Model& dense() { return *dense_; }
  const Model& dense() const { return *dense_; }
  DenseOptimizer& dense_optimizer() { return dense_optimizer_; }
  const DenseOptimizer& dense_optimizer() const { return dense_optimizer_; }

  EmbeddingTable& table(int i) { return *tables_[i]; }
  const EmbeddingTable& table(int i) const { return *tables_[i]; }
  const SlotBinding& slot(int s) const { return slots_[s]; }
  const std::vector<SlotBinding>& slots() const { return slots_; }

  // ParameterStore.
  int num_tables() const override { return static_cast<int>(tables_.size()); }
  const TableSpec& table_spec(int t) const override {
    return tables_[t]->spec();
  }
  absl::Status Lookup(int t, absl::Span<const uint64_t> keys,
                      absl::Span<float> rows, LookupMode mode,
                      int64_t event_time_ms) override {
    return tables_[t]->Lookup(keys, rows, mode, event_time_ms);
  }
  absl::Status Apply(int t, absl::Span<const uint64_t> keys,
                     absl::Span<const float> grads, int64_t event_time_ms,
                     absl::Span<const float> labels) override {
    return tables_[t]->Apply(keys, grads, event_time_ms, labels);
  }
  int64_t ExpireStep(int64_t now_ms, int64_t max_rows) override;
  int64_t num_dense_params() const override {
    return static_cast<int64_t>(dense_->num_params());
  }
  absl::Status PullDense(absl::Span<float> params) const override;
  absl::Status PushDense(absl::Span<const float> grads) override;
  Model* shared_dense() override { return dense_.get(); }
  size_t CollectDirty(int t, DirtyKind kind, DirtyBatch* out) override {
    return tables_[t]->CollectDirty(kind, out);
  }
  void ReadAllRows(int t, DirtyBatch* out) const override;
  absl::Status BeginSnapshot(int t, SnapshotScope scope) override {
    return tables_[t]->BeginSnapshot(scope);
  }
  bool ReadSnapshot(int t, DirtyBatch* out, size_t max_rows) override {
    return tables_[t]->ReadSnapshot(out, max_rows);
  }
  void AbortSnapshot(int t) override { tables_[t]->AbortSnapshot(); }
  std::string TakeSnapshotPolicyState(int t) override {
    return tables_[t]->TakeSnapshotPolicyState();
  }
  StoreStats Stats() const override;

 private:
  LocalStore(std::shared_ptr<const Schema> schema, std::unique_ptr<Model> dense,
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

}  // namespace freshet

#endif  // FRESHET_STORE_LOCAL_STORE_H_
