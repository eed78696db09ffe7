#include "freshet/serve/serving_replica.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"
#include "freshet/table/initializer.h"

namespace freshet {

ServingReplica::ServingReplica(std::shared_ptr<const Schema> schema,
                               uint32_t shard, const Clock* clock)
    : schema_(std::move(schema)),
      shard_(shard),
      clock_(clock != nullptr ? clock : SystemClock::Default()),
      freshness_(Histogram::FreshnessBounds()) {
  readers_[0].store(0);
  readers_[1].store(0);
  status_.shard = shard;
  catchup_thread_ = std::thread([this] { CatchUpLoop(); });
}

ServingReplica::~ServingReplica() {
  {
    MutexLock lock(&catchup_mu_);
    catchup_stop_ = true;
  }
  catchup_cv_.SignalAll();
  catchup_thread_.join();
}

void ServingReplica::CatchUpLoop() {
  while (true) {
    const DeltaBatch* batch;
    const std::vector<int>* tables;
    int copy;
    {
      MutexLock lock(&catchup_mu_);
      catchup_cv_.Wait([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(catchup_mu_) {
        return catchup_stop_ || catchup_batch_ != nullptr;
      });
      if (catchup_batch_ == nullptr) return;  // stopping, nothing pending
      // Apply() does not touch these until the batch is reset below.
      batch = catchup_batch_.get();
      tables = &catchup_tables_;
      copy = catchup_copy_;
    }
    WaitForReaders(copy);
    ApplyTo(*batch, *tables, &copies_[copy], nullptr, &catchup_plans_);
    MutexLock lock(&catchup_mu_);
    catchup_batch_.reset();
    catchup_cv_.SignalAll();
  }
}

void ServingReplica::WaitForCatchUp() const {
  MutexLock lock(&catchup_mu_);
  catchup_cv_.Wait([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(catchup_mu_) {
    return catchup_batch_ == nullptr;
  });
}

absl::StatusOr<std::unique_ptr<ServingReplica>> ServingReplica::Create(
    const JobConfig& job, std::shared_ptr<const Schema> schema, uint32_t shard,
    const Clock* clock) {
  if (schema->num_slots() != static_cast<int>(job.schema.slots.size())) {
    return absl::InvalidArgumentError(
        "schema was not compiled from the job's schema");
  }
  ASSIGN_OR_RETURN(std::vector<int> slot_dims, SlotDimsOf(job));
  std::unique_ptr<ServingReplica> r(
      new ServingReplica(std::move(schema), shard, clock));
  for (Copy& c : r->copies_) {
    ASSIGN_OR_RETURN(
        c.dense, Model::Create(job.model, slot_dims, r->schema_->num_dense(),
                               job.train.seed));
  }

  // The same tables, names and bindings as LocalStore::Create.
  ASSIGN_OR_RETURN(
      ModelTables layout,
      ResolveModelTables(job, *r->schema_, r->copies_[0].dense->shape()));
  for (const TableSpec& spec : layout.tables) {
    ASSIGN_OR_RETURN(WeightPrecision p,
                     ParseWeightPrecision(spec.serving_precision));
    // An id without a row reads as the training table's default.
    ASSIGN_OR_RETURN(RowInitializer init,
                     RowInitializer::Create(spec.initializer, spec.dim, 0));
    std::vector<float> default_row(spec.dim);
    init.Default(default_row.data());
    for (Copy& c : r->copies_) {
      c.tables.push_back(
          std::make_unique<ServingTable>(spec.name, spec.dim, p, default_row));
    }
    r->table_index_[spec.name] =
        static_cast<int>(r->copies_[0].tables.size()) - 1;
  }
  r->slots_ = std::move(layout.slots);
  return r;
}

int ServingReplica::EnterRead() const {
  while (true) {
    const int i = active_.load();
    readers_[i].fetch_add(1);
    // Still active after announcing: the writer will wait for us before
    // touching this copy. Otherwise retry on the new active copy.
    if (active_.load() == i) return i;
    readers_[i].fetch_sub(1);
  }
}

void ServingReplica::WaitForReaders(int copy) const {
  for (int spins = 0; readers_[copy].load() != 0; ++spins) {
    if (spins < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

void ServingReplica::ApplyTo(
    const DeltaBatch& batch, const std::vector<int>& table_of, Copy* copy,
    std::vector<ServingTable::UpsertPlan>* record,
    const std::vector<ServingTable::UpsertPlan>* replay) {
  if (record != nullptr) record->resize(batch.tables.size());
  for (size_t i = 0; i < batch.tables.size(); ++i) {
    const DeltaTable& t = batch.tables[i];
    ServingTable* table = copy->tables[table_of[i]].get();
    for (uint64_t k : t.deleted_keys) table->Erase(k);
    if (replay != nullptr && i < replay->size() &&
        table->Replay(t.keys, t.weights.data(), (*replay)[i])) {
      continue;
    }
    table->UpsertBatch(t.keys, t.weights.data(),
                       record != nullptr ? &(*record)[i] : nullptr);
  }
  if (batch.has_dense) {
    std::copy(batch.dense.begin(), batch.dense.end(),
              copy->dense->params().begin());
  }
  copy->version = batch.version;
  copy->created_unix_us = batch.created_unix_us;
}

absl::Status ServingReplica::CheckOrder(const DeltaBatch& batch) const {
  const uint64_t c = copies_[active_.load()].version;
  if (batch.epoch < epoch_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "delta batch of epoch ", batch.epoch, " dropped: the replica follows ",
        "epoch ", epoch_, " (a newer publisher)"));
  }
  if (batch.epoch == epoch_ && batch.version <= c) {
    return absl::AlreadyExistsError(absl::StrCat(
        "delta batch version ", batch.version,
        " is not above the applied version ", c, " (a duplicate)"));
  }
  if (batch.full) return absl::OkStatus();
  if (batch.epoch > epoch_) {
    return SyncGapError(absl::StrCat(
        "delta batch of a new epoch ", batch.epoch, " (the replica has epoch ",
        epoch_, " version ", c, "): serving stays at version ", c,
        ", flagged stale, until a full batch arrives"));
  }
  if (batch.base_version > c) {
    return SyncGapError(absl::StrCat(
        "delta batch version ", batch.version, " builds on version ",
        batch.base_version, ", the replica has ", c,
        ": a batch is missing; serving stays at version ", c,
        ", flagged stale, until a full batch arrives"));
  }
  return absl::OkStatus();
}

absl::Status ServingReplica::Apply(const DeltaBatch& batch) {
  auto reject = [this](absl::Status s) {
    MutexLock lock(&status_mu_);
    ++status_.rejected;
    if (IsDuplicateBatch(s)) ++status_.duplicates;
    return s;
  };
  if (batch.shard != shard_) {
    return reject(absl::InvalidArgumentError(
        absl::StrCat("delta batch of shard ", batch.shard,
                     " sent to replica of shard ", shard_)));
  }
  if (batch.base_version >= batch.version) {
    return reject(absl::InvalidArgumentError(
        absl::StrCat("delta batch version ", batch.version,
                     " is not above its base version ", batch.base_version)));
  }
  // Validate everything first, so a bad batch changes nothing.
  std::vector<int> table_of;
  table_of.reserve(batch.tables.size());
  std::vector<bool> listed(copies_[0].tables.size(), false);
  for (const DeltaTable& t : batch.tables) {
    auto it = table_index_.find(t.name);
    if (it == table_index_.end()) {
      return reject(absl::InvalidArgumentError(
          absl::StrCat("delta batch: unknown table '", t.name, "'")));
    }
    const ServingTable& table = *copies_[0].tables[it->second];
    if (t.dim != table.dim() ||
        t.weights.size() != t.keys.size() * static_cast<size_t>(t.dim)) {
      return reject(absl::InvalidArgumentError(
          absl::StrCat("delta batch: table '", t.name, "': dim ", t.dim,
                       " with ", t.keys.size(), " keys and ", t.weights.size(),
                       " weights, serving dim ", table.dim())));
    }
    table_of.push_back(it->second);
    listed[it->second] = true;
  }
  if (batch.has_dense && batch.dense.size() != copies_[0].dense->num_params()) {
    return reject(absl::InvalidArgumentError(absl::StrCat(
        "delta batch: ", batch.dense.size(),
        " dense parameters, the model has ", copies_[0].dense->num_params())));
  }
  if (batch.full) {
    for (size_t i = 0; i < listed.size(); ++i) {
      if (!listed[i]) {
        return reject(absl::InvalidArgumentError(
            absl::StrCat("full delta batch without table '",
                         copies_[0].tables[i]->name(), "'")));
      }
    }
  }

  MutexLock apply_lock(&apply_mu_);
  if (absl::Status order = CheckOrder(batch); !order.ok()) {
    if (IsSyncGap(order) && !gap_open_.exchange(true)) {
      MutexLock lock(&status_mu_);
      ++status_.version_gaps;
      status_.gap_open = true;
    }
    return reject(std::move(order));
  }
  const double t0 = MonotonicSeconds();
  const int old = active_.load();
  const int next = 1 - old;
  WaitForCatchUp();      // `next` has every batch before this one
  WaitForReaders(next);  // stragglers from before the previous switch
  // The catch-up thread applies the same batch to the other copy later.
  auto applied = std::make_unique<DeltaBatch>(batch);
  if (batch.full) {
    // The keys the replica has and the full batch lacks become deletions,
    // so that both copies then hold exactly the batch's rows.
    for (size_t i = 0; i < applied->tables.size(); ++i) {
      DeltaTable& t = applied->tables[i];
      const absl::flat_hash_set<uint64_t> keep(t.keys.begin(), t.keys.end());
      copies_[next].tables[table_of[i]]->ForEachKey([&](uint64_t key) {
        if (!keep.contains(key)) t.deleted_keys.push_back(key);
      });
    }
  }
  ApplyTo(*applied, table_of, &copies_[next], &spare_plans_, nullptr);
  active_.store(next);
  const double visible_s = MonotonicSeconds() - t0;
  const int64_t now = clock_->NowMicros();
  epoch_ = batch.epoch;
  gap_open_.store(false);
  {
    MutexLock lock(&catchup_mu_);
    catchup_batch_ = std::move(applied);
    catchup_tables_ = std::move(table_of);
    catchup_plans_.swap(spare_plans_);
    catchup_copy_ = old;
  }
  catchup_cv_.SignalAll();

  if (batch.oldest_update_unix_us > 0) {
    freshness_.Record(std::max<int64_t>(0, now - batch.oldest_update_unix_us) /
                      1e6);
  }
  MutexLock lock(&status_mu_);
  status_.version = batch.version;
  status_.epoch = batch.epoch;
  status_.gap_open = false;
  status_.applied_unix_us = now;
  status_.created_unix_us = batch.created_unix_us;
  status_.examples = batch.examples;
  ++status_.batches;
  if (batch.full) ++status_.full_batches;
  status_.bytes_received += EncodedDeltaBatchSize(batch);
  status_.rows_applied += batch.num_rows();
  status_.deletes_applied += batch.num_deleted();
  status_.last_apply_s = visible_s;
  status_.max_apply_s = std::max(status_.max_apply_s, visible_s);
  status_.total_apply_s += visible_s;
  return absl::OkStatus();
}

absl::Status ServingReplica::ApplyEncoded(std::string_view bytes) {
  absl::StatusOr<DeltaBatch> batch = DecodeDeltaBatch(bytes);
  if (!batch.ok()) {
    MutexLock lock(&status_mu_);
    ++status_.rejected;
    return batch.status();
  }
  return Apply(*batch);
}

ReplicaStatus ServingReplica::status() const {
  MutexLock lock(&status_mu_);
  return status_;
}

int64_t ServingReplica::table_rows(int i) const {
  int64_t rows = 0;
  Read([&](const View& v) { rows = v.table(i).size(); });
  return rows;
}

int64_t ServingReplica::table_bytes(int i) const {
  // The applier may be resizing the inactive copy; hold it off.
  MutexLock lock(&apply_mu_);
  WaitForCatchUp();
  return copies_[0].tables[i]->bytes() + copies_[1].tables[i]->bytes();
}

}  // namespace freshet
