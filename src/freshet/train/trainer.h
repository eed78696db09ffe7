// Trainer: one pass over a stream, in stream order, with progressive
// validation.
//
// Pipeline: a reader thread reads and parses records into batches of
// Examples and hands them over a bounded queue; the compute stage then, per
// batch, deduplicates ids and looks them up (BatchEmbedder), runs the dense
// forward pass, scores every example before training on it (progressive
// validation: cumulative and sliding-window AUC and logloss), runs the
// backward pass, applies the sparse gradients to the tables and steps the
// dense optimizer. With train.threads = n > 1 the compute stage splits the
// sparse work of a batch by table (thread k looks up and updates the tables
// whose index is k mod n) and the dense work by examples (n contiguous
// shards, gradients summed in shard order). Every example of a batch is
// scored before any update of that batch is applied, and no table is touched
// by two threads in one phase, so a run's result depends on n but not on
// thread timing.
//
// Deterministic mode (train.deterministic or TrainerOptions::deterministic):
// one compute thread and fixed seeds; two runs over the same stream give
// bit-identical models (ModelDigest()).
//
// Side outputs never stop training: a window-log line that cannot be written
// (a full disk) is counted (TrainerProgress::window_log_failures), the first
// failure and every 100th after it are logged (FRESHET_LOG_WARN), and
// training goes on; so it does for dead letters (ExampleReader), counted in
// TrainerProgress::dead_letter_failures.
//
// Thread safety: Run() is called once, from one thread. Stop() may be called
// from any thread (e.g. a signal handler's helper thread); Run() then returns
// after the batch in flight.
#ifndef FRESHET_TRAIN_TRAINER_H_
#define FRESHET_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/base/file_system.h"
#include "freshet/data/example_reader.h"
#include "freshet/model/metrics.h"
#include "freshet/store/batch_embedder.h"

namespace freshet {

struct TrainerOptions {
  bool deterministic = false;  // overrides train.deterministic when set
  int64_t max_examples = 0;    // stop after this many, resumed ones included;
                               // 0: the whole stream
  double progress_interval_s = 1.0;
  // When set, writes one JSON line per train.window_examples examples to
  // this file (created or truncated by Create(), which fails when it cannot
  // be): examples, event time, window and cumulative AUC and logloss. After
  // a line that could not be written, the next one starts on a new line.
  std::string window_log;
  // Where the window log is written (null: FileSystem::Default()).
  FileSystem* file_system = nullptr;
  // Change tracking kept by the tables: for a sync publisher
  // (EmbeddingTable::CollectDirty(kSync)) and for checkpoints. Keep off what
  // nothing collects: deleted keys would pile up in the tables' logs.
  bool track_sync = true;
  bool track_checkpoint = false;
  // Called on the compute thread after each batch's updates are applied, while
  // no update is in flight: the place to copy the dense parameters or to
  // stamp a sync version. `batch_start_s` is MonotonicSeconds() when the
  // batch entered the compute stage.
  std::function<void(ParameterStore& store, int64_t examples,
                     double batch_start_s)>
      after_batch;
  // Called on the compute thread about every 100 ms while no batch is ready
  // (a followed stream with nothing new), with no update in flight.
  std::function<void(ParameterStore& store)> on_idle;
};

// A snapshot of a running or finished training pass.
struct TrainerProgress {
  int64_t examples = 0;  // examples trained on
  int64_t records = 0;   // records read, malformed ones included
  int64_t malformed = 0;
  // The source's rotations noticed, those after which records may be
  // missing, and the bytes seen but not read (ReaderCounters).
  int64_t rotations = 0;
  int64_t rotation_gaps = 0;
  int64_t rotation_lost_bytes = 0;
  // Examples of batches whose updates were skipped because a score or
  // gradient was not finite (counted in `examples` all the same).
  int64_t non_finite = 0;
  // Side outputs that could not be written; training went on.
  int64_t window_log_failures = 0;   // window-log lines
  int64_t dead_letter_failures = 0;  // dead letters (malformed records)
  double seconds = 0;
  double examples_per_sec = 0;
  double logloss = 0;  // cumulative progressive logloss
  double auc = 0;      // cumulative progressive AUC
  double calibration = 0;
  double window_logloss = 0;  // over the last train.window_examples
  double window_auc = 0;
  int64_t table_rows = 0;
  int64_t table_bytes = 0;
  std::string position;  // stream position after the last example trained
};

class Trainer {
 public:
  // Trains the model of `job` on `source` (whose schema is compiled from
  // job.schema), reading and updating its parameters in `store` (not owned:
  // the job that wires the trainer to sync and checkpoints owns it). The
  // store must hold the tables the model reads (ResolveModelTables), in that
  // order, and a dense part of the model's size; InvalidArgument otherwise.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const JobConfig& job, std::unique_ptr<ExampleReader> source,
      ParameterStore* store, const TrainerOptions& options);

  // The same with the job's own source (ExampleReader::Open(job.source)) and
  // a LocalStore of its own (MakeTrainingStore), reached through model():
  // for tests, benchmarks and one-off tools.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const JobConfig& job, const TrainerOptions& options);
  ~Trainer();

  // Trains until the stream ends (never, in follow mode), max_examples is
  // reached or Stop() is called. Calls `on_progress` from the calling thread
  // every progress_interval_s and once at the end.
  absl::Status Run(
      const std::function<void(const TrainerProgress&)>& on_progress = {});

  // Continues a stream from a checkpoint: seeks the source to `position`
  // (a StreamPosition string) and counts `examples` as trained already. Call
  // before Run(), after restoring the model. The progressive metrics start
  // afresh.
  absl::Status Resume(const std::string& position, int64_t examples);

  // Examples trained on and the stream position after them: valid inside
  // after_batch and after Run() returns.
  int64_t examples() const { return examples_; }
  const std::string& position() const { return position_; }

  // Asks Run() to return soon. Thread-safe.
  void Stop() { stop_.store(true); }

  // The final (or latest) progress; call after Run() returns.
  TrainerProgress Progress() const { return progress_; }

  ParameterStore& store() { return *store_; }
  // The store made by Create(job, options). REQUIRES: created so.
  LocalStore& model() { return *owned_store_; }

 private:
  Trainer(const JobConfig& job, const TrainerOptions& options);

  struct Batch;
  struct Shard;
  absl::Status TrainBatch(Batch& batch);
  void UpdateProgress(double now, bool final);
  // Writes the window-log line; a failure is counted and logged, not
  // returned.
  void LogWindow(int64_t event_time_ms);

  JobConfig job_;
  TrainerOptions options_;
  int threads_ = 1;
  std::unique_ptr<ExampleReader> reader_;
  std::unique_ptr<LocalStore> owned_store_;
  ParameterStore* store_ = nullptr;
  Model* dense_ = nullptr;  // the store's shared dense part, or own_dense_
  std::unique_ptr<Model> own_dense_;
  std::unique_ptr<ProgressiveMetrics> metrics_;
  std::unique_ptr<BatchEmbedder> embedder_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<float> labels_, weights_, logits_, dlogits_;
  std::vector<float> dparams_;
  std::atomic<bool> stop_{false};

  double start_ = 0;
  int64_t examples_ = 0;
  int64_t resumed_examples_ = 0;  // examples_ at Resume()
  ReaderCounters counters_;       // the reader's, as of the last batch trained
  int64_t non_finite_batches_ = 0;
  int64_t non_finite_examples_ = 0;
  std::string position_;
  TrainerProgress progress_;
  std::unique_ptr<WritableFile> window_log_;
  int64_t next_window_log_ = 0;
  int64_t window_log_failures_ = 0;
  bool window_log_torn_ = false;  // the last line failed, maybe half written
};

// The LocalStore a trainer of `job` needs, with the change tracking
// `options` asks for (track_sync, track_checkpoint).
absl::StatusOr<std::unique_ptr<LocalStore>> MakeTrainingStore(
    const JobConfig& job, std::shared_ptr<const Schema> schema,
    const TrainerOptions& options);

// One 64-bit hash over every table row (key, weights, optimizer state, in
// key order) and the dense parameters and optimizer state: equal digests
// mean equal models.
uint64_t ModelDigest(const LocalStore& model);

}  // namespace freshet

#endif  // FRESHET_TRAIN_TRAINER_H_
