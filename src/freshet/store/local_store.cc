#include "freshet/store/local_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"

namespace freshet {

absl::StatusOr<std::unique_ptr<LocalStore>> LocalStore::Create(
    const JobConfig& job, std::shared_ptr<const Schema> schema, uint64_t seed,
    const EmbeddingTableOptions& table_options) {
  if (schema->num_slots() != static_cast<int>(job.schema.slots.size())) {
    return absl::InvalidArgumentError(
        "schema was not compiled from the job's schema");
  }
  ASSIGN_OR_RETURN(std::vector<int> slot_dims, SlotDimsOf(job));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Model> dense,
      Model::Create(job.model, slot_dims, schema->num_dense(), seed));
  ASSIGN_OR_RETURN(
      DenseOptimizer optimizer,
      DenseOptimizer::Create(job.model.dense_optimizer, dense->num_params()));
  std::unique_ptr<LocalStore> store(new LocalStore(
      std::move(schema), std::move(dense), std::move(optimizer)));

  ASSIGN_OR_RETURN(
      ModelTables layout,
      ResolveModelTables(job, *store->schema_, store->dense_->shape()));
  for (const TableSpec& spec : layout.tables) {
    ASSIGN_OR_RETURN(std::unique_ptr<EmbeddingTable> table,
                     EmbeddingTable::Create(spec, table_options));
    store->tables_.push_back(std::move(table));
  }
  store->slots_ = std::move(layout.slots);
  return store;
}

int64_t LocalStore::ExpireStep(int64_t now_ms, int64_t max_rows) {
  int64_t deleted = 0;
  for (const auto& table : tables_) {
    if (table->spec().ttl_ms > 0)
      deleted += table->ExpireStep(now_ms, max_rows);
  }
  return deleted;
}

absl::Status LocalStore::PullDense(absl::Span<float> params) const {
  absl::Span<const float> p = dense_->params();
  if (params.size() != p.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dense pull of ", params.size(), " floats, the model has ", p.size()));
  }
  std::copy(p.begin(), p.end(), params.begin());
  return absl::OkStatus();
}

absl::Status LocalStore::PushDense(absl::Span<const float> grads) {
  return dense_optimizer_.Step(dense_->params(), grads);
}

void LocalStore::ReadAllRows(int t, DirtyBatch* out) const {
  const EmbeddingTable& table = *tables_[t];
  out->keys.reserve(out->keys.size() + static_cast<size_t>(table.size()));
  out->weights.reserve(out->weights.size() +
                       static_cast<size_t>(table.size()) * table.dim());
  table.ForEachRow([out](const RowView& row) {
    out->keys.push_back(row.key);
    out->weights.insert(out->weights.end(), row.weights.begin(),
                        row.weights.end());
  });
}

StoreStats LocalStore::Stats() const {
  StoreStats s;
  s.dense_params = static_cast<int64_t>(dense_->num_params());
  s.bytes = s.dense_params * static_cast<int64_t>(sizeof(float));
  for (const auto& t : tables_) {
    s.rows += t->size();
    s.bytes += t->Stats().total_bytes;
  }
  return s;
}

}  // namespace freshet
