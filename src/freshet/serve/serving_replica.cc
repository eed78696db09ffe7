#include "freshet/serve/serving_replica.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"

namespace freshet {

ServingReplica::ServingReplica(std::shared_ptr<const Schema> schema,
                               std::unique_ptr<Model> dense, uint32_t shard,
                               const Clock* clock)
    : schema_(std::move(schema)),
      shard_(shard),
      clock_(clock != nullptr ? clock : SystemClock::Default()),
      dense_(std::move(dense)),
      freshness_(Histogram::FreshnessBounds()) {
  status_.shard = shard;
}

absl::StatusOr<std::unique_ptr<ServingReplica>> ServingReplica::Create(
    const JobConfig& job, std::shared_ptr<const Schema> schema, uint32_t shard,
    const Clock* clock) {
  if (schema->num_slots() != static_cast<int>(job.schema.slots.size())) {
    return absl::InvalidArgumentError(
        "schema was not compiled from the job's schema");
  }
  ASSIGN_OR_RETURN(std::vector<int> slot_dims, SlotDimsOf(job));
  ASSIGN_OR_RETURN(
      std::unique_ptr<Model> dense,
      Model::Create(job.model, slot_dims, schema->num_dense(), job.train.seed));
  std::unique_ptr<ServingReplica> r(
      new ServingReplica(std::move(schema), std::move(dense), shard, clock));

  // The same tables, names and bindings as RecModel::Create.
  auto table_index = [&](const std::string& name, int dim,
                         const std::string& precision) -> absl::StatusOr<int> {
    auto it = r->table_index_.find(name);
    if (it != r->table_index_.end()) return it->second;
    ASSIGN_OR_RETURN(WeightPrecision p, ParseWeightPrecision(precision));
    r->tables_.push_back(std::make_unique<ServingTable>(name, dim, p));
    const int index = static_cast<int>(r->tables_.size()) - 1;
    r->table_index_[name] = index;
    return index;
  };
  const ModelShape& shape = r->dense_->shape();
  for (int s = 0; s < r->schema_->num_slots(); ++s) {
    const Schema::Slot& slot = r->schema_->slot(s);
    const TableSpec* spec = job.FindTable(slot.table);
    if (spec == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("slot '", slot.name, "': no table '", slot.table, "'"));
    }
    const SlotShape& need = shape.slots[s];
    ServingSlot binding;
    binding.mean = slot.pooling == Pooling::kMean;
    if (need.embedding_dim > 0) {
      ASSIGN_OR_RETURN(
          binding.embedding_table,
          table_index(spec->name, spec->dim, spec->serving_precision));
      binding.embedding_dim = need.embedding_dim;
      binding.embedding_offset = need.embedding_offset;
    }
    if (need.needs_wide) {
      ASSIGN_OR_RETURN(
          binding.wide_table,
          table_index(spec->name + "/wide", 1, spec->serving_precision));
    }
    r->slots_.push_back(binding);
  }
  return r;
}

absl::Status ServingReplica::Apply(const DeltaBatch& batch) {
  auto reject = [this](absl::Status s) {
    absl::MutexLock lock(&status_mu_);
    ++status_.rejected;
    return s;
  };
  if (batch.shard != shard_) {
    return reject(absl::InvalidArgumentError(
        absl::StrCat("delta batch of shard ", batch.shard,
                     " sent to replica of shard ", shard_)));
  }
  // Validate everything before taking the lock, so a bad batch changes
  // nothing.
  std::vector<ServingTable*> targets;
  targets.reserve(batch.tables.size());
  for (const DeltaTable& t : batch.tables) {
    auto it = table_index_.find(t.name);
    if (it == table_index_.end()) {
      return reject(absl::InvalidArgumentError(
          absl::StrCat("delta batch: unknown table '", t.name, "'")));
    }
    ServingTable* table = tables_[it->second].get();
    if (t.dim != table->dim() ||
        t.weights.size() != t.keys.size() * static_cast<size_t>(t.dim)) {
      return reject(absl::InvalidArgumentError(
          absl::StrCat("delta batch: table '", t.name, "': dim ", t.dim,
                       " with ", t.keys.size(), " keys and ", t.weights.size(),
                       " weights, serving dim ", table->dim())));
    }
    targets.push_back(table);
  }
  if (batch.has_dense && batch.dense.size() != dense_->num_params()) {
    return reject(absl::InvalidArgumentError(absl::StrCat(
        "delta batch: ", batch.dense.size(),
        " dense parameters, the model has ", dense_->num_params())));
  }

  uint64_t previous;
  {
    absl::MutexLock lock(&mu_);
    previous = version_;
    if (batch.version <= version_) {
      return reject(absl::FailedPreconditionError(
          absl::StrCat("delta batch version ", batch.version,
                       " is not above the applied version ", version_)));
    }
    for (size_t i = 0; i < batch.tables.size(); ++i) {
      const DeltaTable& t = batch.tables[i];
      ServingTable* table = targets[i];
      for (uint64_t k : t.deleted_keys) table->Erase(k);
      for (size_t r = 0; r < t.keys.size(); ++r) {
        table->Upsert(t.keys[r], t.weights.data() + r * t.dim);
      }
    }
    if (batch.has_dense) {
      std::copy(batch.dense.begin(), batch.dense.end(),
                dense_->params().begin());
    }
    version_ = batch.version;
    created_unix_us_ = batch.created_unix_us;
  }
  const int64_t now = clock_->NowMicros();
  if (batch.oldest_update_unix_us > 0) {
    freshness_.Record(std::max<int64_t>(0, now - batch.oldest_update_unix_us) /
                      1e6);
  }
  absl::MutexLock lock(&status_mu_);
  status_.version = batch.version;
  status_.applied_unix_us = now;
  status_.created_unix_us = batch.created_unix_us;
  status_.examples = batch.examples;
  ++status_.batches;
  if (batch.version != previous + 1) ++status_.version_gaps;
  status_.rows_applied += batch.num_rows();
  status_.deletes_applied += batch.num_deleted();
  return absl::OkStatus();
}

absl::Status ServingReplica::ApplyEncoded(std::string_view bytes) {
  {
    absl::MutexLock lock(&status_mu_);
    status_.bytes_received += static_cast<int64_t>(bytes.size());
  }
  absl::StatusOr<DeltaBatch> batch = DecodeDeltaBatch(bytes);
  if (!batch.ok()) {
    absl::MutexLock lock(&status_mu_);
    ++status_.rejected;
    return batch.status();
  }
  return Apply(*batch);
}

ReplicaStatus ServingReplica::status() const {
  absl::MutexLock lock(&status_mu_);
  return status_;
}

int64_t ServingReplica::table_rows(int i) const {
  absl::ReaderMutexLock lock(&mu_);
  return tables_[i]->size();
}

int64_t ServingReplica::table_bytes(int i) const {
  absl::ReaderMutexLock lock(&mu_);
  return tables_[i]->bytes();
}

}  // namespace freshet
