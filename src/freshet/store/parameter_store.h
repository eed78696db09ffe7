// ParameterStore: where the parameters of one model live, as the trainer,
// the sync publisher and the checkpoint code see them — the rows of its
// embedding tables and its dense part.
//
// Every row operation is batched per table: one call moves the rows of a
// batch's distinct ids of one table, so the virtual call, and in a remote
// store the round trip, is paid once per table and batch, never per key.
// Tables are addressed by their index in the model's table list
// (ModelTables::tables, freshet/store/model_tables.h).
//
// LocalStore (freshet/store/local_store.h) holds the tables and the dense
// part in process: the embedded job and, in distributed mode, each
// parameter-server shard. A remote store routes the same calls to shards.
//
// RowReader is the read-only part, which a serving replica also offers:
// BatchEmbedder pools the rows of a batch through it, so training and
// serving share one lookup-and-pool path.
//
// Thread safety: implementations are thread-safe for row operations on
// different tables and for concurrent lookups; dense push is called by one
// thread at a time (the trainer's compute stage).
#ifndef FRESHET_STORE_PARAMETER_STORE_H_
#define FRESHET_STORE_PARAMETER_STORE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"
#include "freshet/model/model.h"
#include "freshet/table/embedding_table.h"

namespace freshet {

class RowReader {
 public:
  virtual ~RowReader() = default;

  // Writes the weights of keys[i] of table `table` to rows[i*dim,
  // (i+1)*dim), the table default (its initializer's Default()) for keys
  // without a row. kTrain counts sightings and creates admitted rows; kServe
  // only reads. InvalidArgument on size mismatches.
  virtual absl::Status Lookup(int table, absl::Span<const uint64_t> keys,
                              absl::Span<float> rows, LookupMode mode,
                              int64_t event_time_ms) = 0;
};

struct StoreStats {
  int64_t rows = 0;          // over all tables
  int64_t bytes = 0;         // tables' total_bytes plus the dense parameters
  int64_t dense_params = 0;  // floats
};

class ParameterStore : public RowReader {
 public:
  // The tables, in the model's order.
  virtual int num_tables() const = 0;
  virtual const TableSpec& table_spec(int table) const = 0;

  // Applies grads[i*dim, (i+1)*dim) to the row of keys[i] of `table` with
  // the table's optimizer (EmbeddingTable::Apply; `labels`, when given, one
  // per key, raise the value score of positive examples' rows).
  virtual absl::Status Apply(int table, absl::Span<const uint64_t> keys,
                             absl::Span<const float> grads,
                             int64_t event_time_ms,
                             absl::Span<const float> labels) = 0;

  // One step of the expiry sweep of every table with a ttl: at most
  // `max_rows` row slots per table. Returns the rows deleted.
  virtual int64_t ExpireStep(int64_t now_ms, int64_t max_rows) = 0;

  // The dense part: its parameters (pull) and a gradient step with the
  // store's dense optimizer (push). A store that holds the dense part in
  // process returns its Model from shared_dense(), so that the trainer
  // computes on it directly and pull is a copy no one needs.
  virtual int64_t num_dense_params() const = 0;
  virtual absl::Status PullDense(absl::Span<float> params) const = 0;
  virtual absl::Status PushDense(absl::Span<const float> grads) = 0;
  virtual Model* shared_dense() { return nullptr; }

  // Sync: moves the rows of `table` changed, and the keys deleted, since the
  // previous collection of `kind` into `out` and clears their bits
  // (EmbeddingTable::CollectDirty). Returns the rows added.
  virtual size_t CollectDirty(int table, DirtyKind kind, DirtyBatch* out) = 0;
  // Appends every row of `table` (key and weights) to `out`: a full batch.
  virtual void ReadAllRows(int table, DirtyBatch* out) const = 0;

  // Snapshot hooks for checkpoints (EmbeddingTable's of the same names):
  // a cut of one table opened while no update is in flight, read in chunks
  // while training goes on.
  virtual absl::Status BeginSnapshot(int table, SnapshotScope scope) = 0;
  virtual bool ReadSnapshot(int table, DirtyBatch* out, size_t max_rows) = 0;
  virtual void AbortSnapshot(int table) = 0;
  virtual std::string TakeSnapshotPolicyState(int table) = 0;

  virtual StoreStats Stats() const = 0;
};

}  // namespace freshet

#endif  // FRESHET_STORE_PARAMETER_STORE_H_
