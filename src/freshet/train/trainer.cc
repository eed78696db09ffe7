#include "freshet/train/trainer.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "freshet/base/bounded_queue.h"
#include "freshet/base/clock.h"
#include "freshet/base/logging.h"
#include "freshet/base/mutex.h"
#include "freshet/base/status_macros.h"
#include "freshet/base/worker_pool.h"
#include "freshet/data/source.h"
#include "freshet/model/loss.h"

namespace freshet {

// A batch of examples as read, travelling from the reader to the compute
// stage and back (batches are recycled, so steady state allocates nothing).
struct Trainer::Batch {
  std::vector<Example> examples;
  size_t size = 0;
  int64_t event_time_ms = 0;  // the latest event time in the batch
  ReaderCounters counters;    // the reader's after this batch
  std::string position;       // stream position after this batch
};

// One compute thread's slice of a batch (for the dense part) and its scratch
// space.
struct Trainer::Shard {
  ModelWorkspace workspace;
  std::vector<float> dparams;
  size_t begin = 0;
  size_t end = 0;
  absl::Status status;
};

namespace {

// Whether every value is finite: none has the all-ones exponent of an
// infinity or a NaN. Integer operations, so the loop vectorizes.
bool AllFinite(const float* p, size_t n) {
  uint32_t any = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, sizeof(bits));
    any |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return any == 0;
}

WorkerPool* PoolFor(int threads) {
  // One pool per process and width; trainers are few and long-lived.
  static WorkerPool* pools[65] = {};
  static Mutex mu;
  MutexLock lock(&mu);
  threads = std::clamp(threads, 1, 64);
  if (pools[threads] == nullptr) pools[threads] = new WorkerPool(threads);
  return pools[threads];
}
}  // namespace

Trainer::Trainer(const JobConfig& job, const TrainerOptions& options)
    : job_(job), options_(options) {}

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const JobConfig& job, const TrainerOptions& options) {
  if (job.schema.labels.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(job.path, ": schema: training needs a label"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Schema> schema,
                   Schema::Compile(job.schema));
  ASSIGN_OR_RETURN(std::unique_ptr<ExampleReader> reader,
                   ExampleReader::Open(job.source, schema));
  ASSIGN_OR_RETURN(std::unique_ptr<LocalStore> store,
                   MakeTrainingStore(job, schema, options));
  LocalStore* borrowed = store.get();
  ASSIGN_OR_RETURN(std::unique_ptr<Trainer> t,
                   Create(job, std::move(reader), borrowed, options));
  t->owned_store_ = std::move(store);
  return t;
}

absl::StatusOr<std::unique_ptr<LocalStore>> MakeTrainingStore(
    const JobConfig& job, std::shared_ptr<const Schema> schema,
    const TrainerOptions& options) {
  EmbeddingTableOptions table_options;
  table_options.track_sync = options.track_sync;
  table_options.track_checkpoint = options.track_checkpoint;
  return LocalStore::Create(job, std::move(schema), job.train.seed,
                            table_options);
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(
    const JobConfig& job, std::unique_ptr<ExampleReader> source,
    ParameterStore* store, const TrainerOptions& options) {
  if (job.schema.labels.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(job.path, ": schema: training needs a label"));
  }
  std::unique_ptr<Trainer> t(new Trainer(job, options));
  t->reader_ = std::move(source);
  t->store_ = store;
  const Schema& schema = t->reader_->schema();
  t->dense_ = store->shared_dense();
  if (t->dense_ == nullptr) {
    // The dense part lives elsewhere: compute on a copy, pulled after every
    // step.
    ASSIGN_OR_RETURN(std::vector<int> slot_dims, SlotDimsOf(job));
    ASSIGN_OR_RETURN(t->own_dense_,
                     Model::Create(job.model, slot_dims, schema.num_dense(),
                                   job.train.seed));
    t->dense_ = t->own_dense_.get();
    RETURN_IF_ERROR(store->PullDense(t->dense_->params()));
  }
  if (store->num_dense_params() !=
      static_cast<int64_t>(t->dense_->num_params())) {
    return absl::InvalidArgumentError(
        "the store's dense part is not the model's");
  }
  // The store's tables must be the ones this model reads, in its order.
  ASSIGN_OR_RETURN(ModelTables layout,
                   ResolveModelTables(job, schema, t->dense_->shape()));
  if (static_cast<int>(layout.tables.size()) != store->num_tables()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the store has ", store->num_tables(),
                     " tables, the model reads ", layout.tables.size()));
  }
  std::vector<int> dims;
  for (int i = 0; i < store->num_tables(); ++i) {
    const TableSpec& have = store->table_spec(i);
    if (have.name != layout.tables[i].name ||
        have.dim != layout.tables[i].dim) {
      return absl::InvalidArgumentError(
          absl::StrCat("store table ", i, " is '", have.name, "' (dim ",
                       have.dim, "), the model reads '", layout.tables[i].name,
                       "' (dim ", layout.tables[i].dim, ")"));
    }
    dims.push_back(have.dim);
  }
  const bool deterministic = options.deterministic || job.train.deterministic;
  t->threads_ = deterministic ? 1 : job.train.threads;
  ProgressiveMetricsOptions mopt;
  mopt.window = job.train.window_examples;
  t->metrics_ = std::make_unique<ProgressiveMetrics>(mopt);
  for (int i = 0; i < t->threads_; ++i) {
    t->shards_.push_back(std::make_unique<Shard>());
  }
  t->embedder_ = std::make_unique<BatchEmbedder>(
      store, store, schema, t->dense_->shape(), layout.slots, dims);
  t->dparams_.resize(t->dense_->num_params());
  if (!options.window_log.empty()) {
    absl::StatusOr<std::unique_ptr<WritableFile>> log =
        FileSystem::OrDefault(options.file_system)
            ->NewWritableFile(options.window_log);
    if (!log.ok()) {
      return absl::Status(
          log.status().code(),
          absl::StrCat("cannot write the window log ", options.window_log, ": ",
                       log.status().message()));
    }
    t->window_log_ = std::move(*log);
    t->next_window_log_ = job.train.window_examples;
  }
  return t;
}

absl::Status Trainer::TrainBatch(Batch& batch) {
  const size_t n = batch.size;
  absl::Span<const Example> examples(batch.examples.data(), n);
  const int num_shards = static_cast<int>(shards_.size());
  // The dense part splits by examples, so tiny batches use fewer shards.
  const int dense_shards =
      static_cast<int>(std::min<size_t>(num_shards, (n + 63) / 64));
  for (int s = 0; s < dense_shards; ++s) {
    shards_[s]->begin = n * s / dense_shards;
    shards_[s]->end = n * (s + 1) / dense_shards;
  }
  const Model& dense = *dense_;
  const ModelShape& shape = dense.shape();
  const int64_t t = batch.event_time_ms;
  labels_.resize(n);
  weights_.resize(n);
  logits_.resize(n);
  dlogits_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    labels_[i] = examples[i].label();
    weights_[i] = examples[i].weight;
  }

  // Sparse lookups split by table, the dense part by examples, sparse
  // updates by table again: each table is touched by one thread per phase.
  RETURN_IF_ERROR(embedder_->Begin(examples));
  auto embed = [&](int k) {
    shards_[k]->status =
        embedder_->EmbedPart(examples, LookupMode::kTrain, t, k, num_shards);
  };
  auto forward_backward = [&](int k) {
    Shard& sh = *shards_[k];
    const size_t b = sh.begin, m = sh.end - sh.begin;
    const ModelInput& all = embedder_->input();
    ModelInput in;
    in.batch = static_cast<int>(m);
    in.embeddings =
        all.embeddings ? all.embeddings + b * shape.embedding_width : nullptr;
    in.wide = all.wide ? all.wide + b * shape.num_slots() : nullptr;
    in.dense = all.dense ? all.dense + b * shape.num_dense : nullptr;
    const ModelInputGrad& all_grad = *embedder_->input_grad();
    ModelInputGrad grad;
    grad.embeddings = all_grad.embeddings
                          ? all_grad.embeddings + b * shape.embedding_width
                          : nullptr;
    grad.wide = all_grad.wide ? all_grad.wide + b * shape.num_slots() : nullptr;
    dense.Forward(in, &sh.workspace, logits_.data() + b);
    LogisticLossAndGradient<float>(absl::MakeConstSpan(logits_.data() + b, m),
                                   absl::MakeConstSpan(labels_.data() + b, m),
                                   absl::MakeConstSpan(weights_.data() + b, m),
                                   1.0f,
                                   absl::MakeSpan(dlogits_.data() + b, m));
    sh.dparams.assign(dense.num_params(), 0.0f);
    dense.Backward(in, &sh.workspace, dlogits_.data() + b, sh.dparams.data(),
                   &grad);
  };
  auto apply = [&](int k) {
    shards_[k]->status = embedder_->ApplyPart(labels_, t, k, num_shards);
  };

  WorkerPool* pool = num_shards > 1 ? PoolFor(num_shards) : nullptr;
  auto run = [&](int parts, const std::function<void(int)>& fn) {
    if (parts > 1) {
      pool->Run(parts, fn);
    } else {
      fn(0);
    }
  };
  run(num_shards, embed);
  for (int s = 0; s < num_shards; ++s) RETURN_IF_ERROR(shards_[s]->status);
  run(dense_shards, forward_backward);
  // Progressive validation: the scores above were computed before any update
  // from this batch.
  metrics_->AddBatch(logits_, labels_, weights_);

  // The dense part's batch-mean gradient, summed in shard order.
  std::fill(dparams_.begin(), dparams_.end(), 0.0f);
  for (int s = 0; s < dense_shards; ++s) {
    const std::vector<float>& g = shards_[s]->dparams;
    for (size_t i = 0; i < dparams_.size(); ++i) dparams_[i] += g[i];
  }
  const float inv = 1.0f / static_cast<float>(n);
  for (float& g : dparams_) g *= inv;

  // A non-finite score or gradient (an input near the float maximum, a
  // diverging learning rate): the batch's updates are skipped, so that no
  // NaN reaches the parameters, and counted; training goes on.
  const ModelInputGrad& input_grad = *embedder_->input_grad();
  const bool finite =
      AllFinite(logits_.data(), n) &&
      AllFinite(dparams_.data(), dparams_.size()) &&
      (input_grad.embeddings == nullptr ||
       AllFinite(input_grad.embeddings, n * shape.embedding_width)) &&
      (input_grad.wide == nullptr ||
       AllFinite(input_grad.wide, n * shape.num_slots()));
  if (!finite) {
    ++non_finite_batches_;
    non_finite_examples_ += static_cast<int64_t>(n);
    if (non_finite_batches_ == 1 || non_finite_batches_ % 1000 == 0) {
      FRESHET_LOG_WARN(
          "a batch of {} examples gave a non-finite score or gradient; its "
          "updates were skipped ({} batches so far). Check the dense inputs "
          "(transform: log or clip for counts, missing-value markers) and the "
          "learning rates.",
          n, non_finite_batches_);
    }
    return absl::OkStatus();
  }

  run(num_shards, apply);
  for (int s = 0; s < num_shards; ++s) RETURN_IF_ERROR(shards_[s]->status);
  RETURN_IF_ERROR(store_->PushDense(dparams_));
  if (own_dense_ != nullptr)
    RETURN_IF_ERROR(store_->PullDense(dense_->params()));

  // Expiry in event time: a bounded slice of the sweep per batch.
  if (t > 0) store_->ExpireStep(t, 4 * static_cast<int64_t>(n));
  return absl::OkStatus();
}

void Trainer::LogWindow(int64_t event_time_ms) {
  auto num = [](double v) {
    return std::isfinite(v) ? absl::StrCat(v) : std::string("null");
  };
  // A failed write may have left part of its line: the next line starts on
  // a line of its own.
  const std::string line =
      absl::StrCat(window_log_torn_ ? "\n" : "", "{\"examples\": ", examples_,
                   ", \"event_time_ms\": ", event_time_ms,
                   ", \"window_auc\": ", num(metrics_->WindowAuc()),
                   ", \"window_logloss\": ", num(metrics_->WindowLogLoss()),
                   ", \"auc\": ", num(metrics_->Auc()),
                   ", \"logloss\": ", num(metrics_->LogLoss()), "}\n");
  // Append() hands the line to the OS at once: it is visible as soon as its
  // window ends.
  const absl::Status written = window_log_->Append(line);
  window_log_torn_ = !written.ok();
  if (written.ok()) return;
  ++window_log_failures_;
  if (window_log_failures_ == 1 || window_log_failures_ % 100 == 0) {
    FRESHET_LOG_WARN(
        "window log {}: the line after {} examples not written: {}; training "
        "goes on ({} lines lost so far; further failures are logged every "
        "100th)",
        options_.window_log, examples_, std::string(written.message()),
        window_log_failures_);
  }
}

void Trainer::UpdateProgress(double now, bool final) {
  TrainerProgress p;
  p.examples = examples_;
  p.records = counters_.records;
  p.malformed = counters_.errors;
  p.rotations = counters_.rotations;
  p.rotation_gaps = counters_.rotation_gaps;
  p.rotation_lost_bytes = counters_.rotation_lost_bytes;
  p.non_finite = non_finite_examples_;
  p.window_log_failures = window_log_failures_;
  p.dead_letter_failures = counters_.dead_letter_failures;
  p.seconds = now - start_;
  p.examples_per_sec =
      p.seconds > 0 ? (examples_ - resumed_examples_) / p.seconds : 0;
  p.logloss = metrics_->LogLoss();
  p.auc = metrics_->Auc();
  p.calibration = metrics_->Calibration();
  p.window_logloss = metrics_->WindowLogLoss();
  p.window_auc = metrics_->WindowAuc();
  const StoreStats stats = store_->Stats();
  p.table_rows = stats.rows;
  p.table_bytes = stats.bytes;
  p.position = position_;
  progress_ = p;
}

absl::Status Trainer::Run(
    const std::function<void(const TrainerProgress&)>& on_progress) {
  constexpr int kInFlight = 4;
  const size_t batch_size = job_.train.batch_size;
  BoundedQueue<std::unique_ptr<Batch>> full(kInFlight);
  BoundedQueue<std::unique_ptr<Batch>> free(kInFlight + 2);
  for (int i = 0; i < kInFlight + 2; ++i) {
    auto b = std::make_unique<Batch>();
    b->examples.resize(batch_size);
    free.Push(std::move(b));
  }

  absl::Status read_status;
  std::thread reader([&] {
    int64_t read = examples_;  // max_examples counts resumed ones too
    while (!stop_.load()) {
      std::optional<std::unique_ptr<Batch>> b = free.Pop();
      if (!b) break;
      Batch& batch = **b;
      size_t want = batch_size;
      if (options_.max_examples > 0) {
        want = std::min<int64_t>(want, options_.max_examples - read);
      }
      if (want == 0) break;
      absl::StatusOr<size_t> got = reader_->NextBatch(
          absl::MakeSpan(batch.examples.data(), want), /*timeout_ms=*/200);
      if (!got.ok()) {
        read_status = got.status();
        break;
      }
      if (*got == 0) {
        free.Push(std::move(*b));
        if (reader_->AtEnd()) break;
        continue;  // follow mode: nothing new yet
      }
      batch.size = *got;
      read += *got;
      batch.event_time_ms = 0;
      for (size_t i = 0; i < batch.size; ++i) {
        batch.event_time_ms =
            std::max(batch.event_time_ms, batch.examples[i].event_time_ms);
      }
      batch.counters = reader_->counters();
      batch.position = reader_->Position().ToString();
      if (!full.Push(std::move(*b))) break;
    }
    full.Close();
  });

  start_ = MonotonicSeconds();
  double last_progress = start_;
  int64_t reported_examples = examples_;
  absl::Status status;
  while (true) {
    bool idle = false;
    std::optional<std::unique_ptr<Batch>> b =
        full.PopFor(absl::Milliseconds(100), &idle);
    if (!b && idle && !stop_.load()) {
      // Waiting for the stream (follow mode): a safe point all the same.
      if (options_.on_idle) options_.on_idle(*store_);
      // Report the batches since the last report now, not at the next batch,
      // which may be long in coming.
      if (examples_ != reported_examples) {
        const double now = MonotonicSeconds();
        UpdateProgress(now, false);
        if (on_progress) on_progress(progress_);
        last_progress = now;
        reported_examples = examples_;
      }
      continue;
    }
    if (!b) break;
    if (stop_.load()) break;
    const double batch_start = MonotonicSeconds();
    status = TrainBatch(**b);
    if (!status.ok()) break;
    examples_ += (*b)->size;
    counters_ = (*b)->counters;
    position_ = (*b)->position;
    if (options_.after_batch) {
      options_.after_batch(*store_, examples_, batch_start);
    }
    if (window_log_ && examples_ >= next_window_log_) {
      LogWindow((*b)->event_time_ms);
      next_window_log_ += job_.train.window_examples;
    }
    free.Push(std::move(*b));
    const double now = MonotonicSeconds();
    if (now - last_progress >= options_.progress_interval_s) {
      UpdateProgress(now, false);
      if (on_progress) on_progress(progress_);
      last_progress = now;
      reported_examples = examples_;
    }
  }
  stop_.store(true);
  free.Close();
  full.Close();
  reader.join();
  UpdateProgress(MonotonicSeconds(), true);
  // Records read but not trained on (stopped early) do not count.
  if (on_progress) on_progress(progress_);
  RETURN_IF_ERROR(status);
  return read_status;
}

absl::Status Trainer::Resume(const std::string& position, int64_t examples) {
  ASSIGN_OR_RETURN(StreamPosition p, StreamPosition::Parse(position));
  RETURN_IF_ERROR(reader_->Seek(p));
  examples_ = examples;
  resumed_examples_ = examples;
  next_window_log_ = examples;
  position_ = position;
  return absl::OkStatus();
}

uint64_t ModelDigest(const LocalStore& model) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  struct Row {
    uint64_t key;
    std::vector<float> values;
  };
  for (int t = 0; t < model.num_tables(); ++t) {
    const EmbeddingTable& table = model.table(t);
    XXH3_64bits_update(state, table.spec().name.data(),
                       table.spec().name.size());
    std::vector<Row> rows;
    table.ForEachRow([&](const RowView& r) {
      Row row{r.key, {}};
      row.values.assign(r.weights.begin(), r.weights.end());
      row.values.insert(row.values.end(), r.state.begin(), r.state.end());
      rows.push_back(std::move(row));
    });
    std::sort(rows.begin(), rows.end(),
              [](const Row& a, const Row& b) { return a.key < b.key; });
    for (const Row& r : rows) {
      XXH3_64bits_update(state, &r.key, sizeof(r.key));
      XXH3_64bits_update(state, r.values.data(),
                         r.values.size() * sizeof(float));
    }
  }
  absl::Span<const float> params = model.dense().params();
  XXH3_64bits_update(state, params.data(), params.size() * sizeof(float));
  XXH3_64bits_update(state, model.dense_optimizer().state().data(),
                     model.dense_optimizer().state().size() * sizeof(float));
  uint64_t digest = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return digest;
}

}  // namespace freshet
