#include "freshet/job/embedded_job.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/schema.h"
#include "freshet/job/http_options.h"

namespace freshet {

EmbeddedJob::EmbeddedJob(const JobConfig& job,
                         const EmbeddedJobOptions& options)
    : job_(job), options_(options) {}

EmbeddedJob::~EmbeddedJob() { Stop().IgnoreError(); }

absl::StatusOr<std::unique_ptr<EmbeddedJob>> EmbeddedJob::Create(
    const JobConfig& job, const EmbeddedJobOptions& options) {
  std::unique_ptr<EmbeddedJob> j(new EmbeddedJob(job, options));
  // Paths in the job are already resolved against its folder.
  ASSIGN_OR_RETURN(std::shared_ptr<const Schema> schema,
                   Schema::Compile(job.schema));
  ASSIGN_OR_RETURN(j->replica_, ServingReplica::Create(job, schema));
  j->sink_ = std::make_unique<ReplicaSink>(j->replica_.get());
  TrainerOptions topt;
  topt.progress_interval_s = options.progress_interval_s;
  topt.window_log = options.window_log;
  topt.file_system = options.file_system;
  topt.track_checkpoint = !job.checkpoint.dir.empty();
  EmbeddedJob* self = j.get();
  // The hooks run on the training thread, which Start() creates after it
  // has set the publisher and the checkpoints.
  topt.after_batch = [self](ParameterStore& store, int64_t examples,
                            double start) {
    self->AfterBatch(store, examples, start);
  };
  topt.on_idle = [self](ParameterStore&) { self->OnIdle(); };
  ASSIGN_OR_RETURN(
      std::unique_ptr<ExampleReader> source,
      ExampleReader::Open(job.source, schema, options.file_system));
  ASSIGN_OR_RETURN(j->store_, MakeTrainingStore(job, schema, topt));
  ASSIGN_OR_RETURN(j->trainer_, Trainer::Create(job, std::move(source),
                                                j->store_.get(), topt));
  return j;
}

void EmbeddedJob::AfterBatch(ParameterStore& store, int64_t examples,
                             double batch_start_s) {
  publisher_->OnBatch(store, examples, batch_start_s);
  if (checkpoints_) checkpoints_->OnBatch(publisher_->stats().last_version);
  if (options_.after_batch)
    options_.after_batch(store, examples, batch_start_s);
}

void EmbeddedJob::OnIdle() {
  if (checkpoints_) checkpoints_->OnBatch(publisher_->stats().last_version);
}

absl::Status EmbeddedJob::Start() {
  if (!job_.checkpoint.dir.empty()) {
    ASSIGN_OR_RETURN(checkpoints_, CheckpointedTraining::Start(
                                       job_, trainer_.get(), store_.get()));
  }
  SyncPublisherOptions sopt;
  sopt.interval_s = sync_interval_ms() / 1000.0;
  publisher_ = std::make_unique<SyncPublisher>(store_.get(), sink_.get(), sopt);
  // Version 1: the initial model, before the first training batch.
  if (absl::StatusOr<uint64_t> v = publisher_->PublishNow(); !v.ok()) {
    return absl::Status(v.status().code(), absl::StrCat("first sync failed: ",
                                                        v.status().message()));
  }

  const ServeSpec& serve = job_.serve;
  HttpServerOptions hopt = HttpOptionsFromSpec(serve);
  hopt.predictor.stale_after_ms =
      serve.stale_after_ms > 0
          ? serve.stale_after_ms
          : std::max<int64_t>(1000,
                              static_cast<int64_t>(5 * sync_interval_ms()));
  hopt.extra_metrics = [this](std::string* out) { AppendMetrics(out); };
  hopt.extra_status = [this](nlohmann::json* st) { AppendStatus(st); };
  hopt.admin["checkpoint"] = [this](const std::string&) {
    return AdminCheckpoint();
  };
  ASSIGN_OR_RETURN(server_, HttpServer::Start(replica_.get(), hopt));

  publisher_->Start();
  train_thread_ = std::thread([this] { Train(); });
  return absl::OkStatus();
}

void EmbeddedJob::Train() {
  absl::Status status = trainer_->Run([this](const TrainerProgress& p) {
    MutexLock lock(&mu_);
    progress_ = p;
  });
  // Training stopped (end of stream, Stop()): the final checkpoint, while
  // serving goes on.
  std::optional<absl::StatusOr<Manifest>> final;
  if (checkpoints_ && status.ok()) {
    final = checkpoints_->Finish(publisher_->stats().last_version);
    final_checkpoint_failed_ = final && !final->ok();
  }
  if (options_.on_training_stopped) options_.on_training_stopped(final);
  {
    MutexLock lock(&mu_);
    training_status_ = status;
  }
  training_done_.store(true);
}

absl::Status EmbeddedJob::Stop() {
  if (stopped_ || !train_thread_.joinable()) return training_status();
  stopped_ = true;
  trainer_->Stop();
  train_thread_.join();
  publisher_->Stop();  // one last batch: serving ends equal to training
  server_->Stop();
  MutexLock lock(&mu_);
  progress_ = trainer_->Progress();
  return training_status_;
}

absl::Status EmbeddedJob::training_status() const {
  MutexLock lock(&mu_);
  return training_status_;
}

TrainerProgress EmbeddedJob::progress() const {
  MutexLock lock(&mu_);
  return progress_;
}

EmbeddedJobReport EmbeddedJob::Report() const {
  EmbeddedJobReport r;
  r.training = progress();
  r.sync = sync_stats();
  r.serving_version = replica_->status().version;
  const Histogram& f = replica_->freshness();
  r.freshness_p50_ms = f.Percentile(0.5) * 1000;
  r.freshness_p90_ms = f.Percentile(0.9) * 1000;
  r.freshness_p99_ms = f.Percentile(0.99) * 1000;
  r.freshness_max_ms = f.Percentile(1.0) * 1000;
  r.freshness_batches = f.count();
  r.requests = server_->requests();
  r.errors = server_->errors();
  r.latency_p50_ms = server_->latency().Percentile(0.5) * 1000;
  r.latency_p99_ms = server_->latency().Percentile(0.99) * 1000;
  return r;
}

void EmbeddedJob::AppendMetrics(std::string* out) const {
  const TrainerProgress p = progress();
  const SyncStats s = publisher_->stats();
  auto line = [out](const char* name, const char* type, const char* help,
                    double v) {
    absl::StrAppendFormat(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name,
                          help, name, type, name, v);
  };
  line("freshet_train_examples_total", "counter", "Examples trained on",
       static_cast<double>(p.examples));
  line("freshet_train_non_finite_examples_total", "counter",
       "Examples of batches skipped for a non-finite score or gradient",
       static_cast<double>(p.non_finite));
  line("freshet_source_records_total", "counter",
       "Records read, malformed ones included", static_cast<double>(p.records));
  line("freshet_source_malformed_records_total", "counter",
       "Malformed records (dead letters)", static_cast<double>(p.malformed));
  line("freshet_source_rotations_total", "counter",
       "Source files rotated, rewritten or removed under the reader, and late "
       "segments",
       static_cast<double>(p.rotations));
  line("freshet_source_rotation_gaps_total", "counter",
       "Rotations after which records may be missing (truncated or rewritten "
       "files, resumed positions in files that changed)",
       static_cast<double>(p.rotation_gaps));
  line("freshet_source_rotation_lost_bytes_total", "counter",
       "Bytes of rotated files seen but not read (a lower bound)",
       static_cast<double>(p.rotation_lost_bytes));
  line("freshet_train_window_log_write_failures_total", "counter",
       "Window-log lines that could not be written (training went on)",
       static_cast<double>(p.window_log_failures));
  line("freshet_train_dead_letter_write_failures_total", "counter",
       "Dead letters of malformed records that could not be written",
       static_cast<double>(p.dead_letter_failures));
  line("freshet_train_examples_per_second", "gauge",
       "Training throughput since start", p.examples_per_sec);
  line("freshet_train_progressive_auc", "gauge", "Cumulative progressive AUC",
       p.auc);
  line("freshet_train_progressive_logloss", "gauge",
       "Cumulative progressive logloss", p.logloss);
  line("freshet_train_window_auc", "gauge",
       "Progressive AUC over the last window", p.window_auc);
  line("freshet_train_window_logloss", "gauge",
       "Progressive logloss over the last window", p.window_logloss);
  line("freshet_train_table_rows", "gauge", "Rows in the training tables",
       static_cast<double>(p.table_rows));
  line("freshet_train_table_bytes", "gauge", "Memory of the training tables",
       static_cast<double>(p.table_bytes));
  line("freshet_sync_published_batches_total", "counter",
       "Delta batches sent by training", static_cast<double>(s.batches));
  line("freshet_sync_published_rows_total", "counter", "Rows sent by training",
       static_cast<double>(s.rows));
  line("freshet_sync_published_bytes_total", "counter",
       "Encoded delta bytes sent by training", static_cast<double>(s.bytes));
  line("freshet_sync_last_cut_seconds", "gauge",
       "Time to collect, encode and apply the last delta batch",
       s.last_cut_seconds);
  if (checkpoints_) checkpoints_->AppendMetrics(out);
}

void EmbeddedJob::AppendStatus(nlohmann::json* st) const {
  const TrainerProgress p = progress();
  const SyncStats s = publisher_->stats();
  (*st)["training"] = {{"examples", p.examples},
                       {"examples_per_sec", p.examples_per_sec},
                       {"auc", p.auc},
                       {"logloss", p.logloss},
                       {"window_auc", p.window_auc},
                       {"table_rows", p.table_rows},
                       {"table_bytes", p.table_bytes},
                       {"done", training_done_.load()}};
  (*st)["sync"]["published_version"] = s.last_version;
  (*st)["sync"]["interval_ms"] = sync_interval_ms();
  if (checkpoints_) checkpoints_->AppendStatus(st);
}

AdminReply EmbeddedJob::AdminCheckpoint() {
  if (!checkpoints_) {
    return AdminReply{409,
                      {{"error",
                        "no checkpoint folder: start with --checkpoint-dir "
                        "or set checkpoint.dir"}}};
  }
  return checkpoints_->AdminCheckpoint();
}

}  // namespace freshet
