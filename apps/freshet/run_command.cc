// `freshet run`: the embedded pipeline in one process — source → trainer →
// training tables → sync → serving replica → HTTP front end.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/freshet/checkpointing.h"
#include "apps/freshet/command.h"
#include "apps/freshet/serve_flags.h"
#include "freshet/base/config.h"
#include "freshet/data/schema.h"
#include "freshet/serve/http_server.h"
#include "freshet/serve/serving_replica.h"
#include "freshet/sync/sync_publisher.h"
#include "freshet/train/trainer.h"

namespace freshet {
namespace {

struct RunOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string data;
  bool follow = false;
  ServeFlags serve;
  // Shorthands for the job's sync and serve keys; unset: the job's value.
  std::optional<int64_t> sync_interval_ms;
  std::optional<int> max_candidates;
  std::optional<int64_t> max_body_bytes;
  std::optional<int> http_threads;
  std::string freshness_json;
  std::string checkpoint_dir;
};

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int RunRun(const RunOptions& opt) {
  std::vector<std::string> overrides = opt.overrides;
  if (!opt.data.empty()) {
    overrides.push_back("source.type=file");
    overrides.push_back("source.path=" + opt.data);
  }
  if (opt.follow) overrides.push_back("source.follow=true");
  // The flags are shorthands for config keys, so the config's validation
  // (and its messages) covers them too.
  if (opt.sync_interval_ms) {
    overrides.push_back(
        absl::StrCat("sync.interval=", *opt.sync_interval_ms, "ms"));
  }
  AppendServeOverrides(opt.serve, &overrides);
  if (opt.max_candidates) {
    overrides.push_back(
        absl::StrCat("serve.max_candidates=", *opt.max_candidates));
  }
  if (opt.max_body_bytes) {
    overrides.push_back(
        absl::StrCat("serve.max_body_bytes=", *opt.max_body_bytes));
  }
  if (opt.http_threads) {
    overrides.push_back(absl::StrCat("serve.http_threads=", *opt.http_threads));
  }
  absl::StatusOr<JobConfig> job = LoadJobConfig(opt.config, overrides);
  if (!job.ok()) {
    std::cerr << "freshet run: " << job.status().message() << "\n";
    return 2;
  }
  if (!opt.data.empty()) job->source.path = opt.data;
  if (!opt.checkpoint_dir.empty()) {
    job->checkpoint.dir = std::filesystem::absolute(opt.checkpoint_dir);
  }
  const bool checkpoints = !job->checkpoint.dir.empty();
  const double sync_interval_ms = static_cast<double>(job->sync.interval_ms);
  const ServeSpec& serve = job->serve;
  // Paths in the job are already resolved against its folder.
  absl::StatusOr<std::shared_ptr<const Schema>> schema =
      Schema::Compile(job->schema);
  if (!schema.ok()) {
    std::cerr << "freshet run: " << schema.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<ServingReplica>> replica =
      ServingReplica::Create(*job, *schema);
  if (!replica.ok()) {
    std::cerr << "freshet run: " << replica.status().message() << "\n";
    return 2;
  }
  ReplicaSink sink(replica->get());

  // The publisher needs the trainer's model and the trainer needs the hook:
  // the hook reaches the publisher through this pointer, set before Run().
  std::atomic<SyncPublisher*> publisher_ptr{nullptr};
  std::atomic<JobCheckpoints*> ckpt_ptr{nullptr};
  TrainerOptions topt;
  topt.progress_interval_s = 0.25;
  topt.track_checkpoint = checkpoints;
  topt.after_batch = [&publisher_ptr, &ckpt_ptr](RecModel& model,
                                                 int64_t examples,
                                                 double batch_start_s) {
    SyncPublisher* p = publisher_ptr.load(std::memory_order_acquire);
    if (p != nullptr) p->OnBatch(model, examples, batch_start_s);
    if (JobCheckpoints* c = ckpt_ptr.load(std::memory_order_acquire)) {
      c->OnBatch(p != nullptr ? p->stats().last_version : 0);
    }
  };
  topt.on_idle = [&publisher_ptr, &ckpt_ptr](RecModel&) {
    if (JobCheckpoints* c = ckpt_ptr.load(std::memory_order_acquire)) {
      SyncPublisher* p = publisher_ptr.load(std::memory_order_acquire);
      c->OnBatch(p != nullptr ? p->stats().last_version : 0);
    }
  };
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*job, topt);
  if (!trainer.ok()) {
    std::cerr << "freshet run: " << trainer.status().message() << "\n";
    return 2;
  }
  std::unique_ptr<JobCheckpoints> ckpt;
  if (checkpoints) {
    absl::StatusOr<std::unique_ptr<JobCheckpoints>> c =
        JobCheckpoints::Start(*job, trainer->get());
    if (!c.ok()) {
      std::cerr << "freshet run: " << c.status().message() << "\n";
      return 1;
    }
    ckpt = std::move(*c);
  }
  SyncPublisherOptions sopt;
  sopt.interval_s = sync_interval_ms / 1000.0;
  SyncPublisher publisher(&(*trainer)->model(), &sink, sopt);
  publisher_ptr.store(&publisher, std::memory_order_release);
  ckpt_ptr.store(ckpt.get(), std::memory_order_release);
  // Version 1: the initial model, before the first training batch.
  if (absl::StatusOr<uint64_t> v = publisher.PublishNow(); !v.ok()) {
    std::cerr << "freshet run: first sync failed: " << v.status().message()
              << "\n";
    return 1;
  }

  std::mutex progress_mu;
  TrainerProgress progress;
  std::atomic<bool> training_done{false};

  HttpServerOptions hopt = HttpOptionsFromSpec(serve);
  hopt.predictor.stale_after_ms =
      serve.stale_after_ms > 0
          ? serve.stale_after_ms
          : std::max<int64_t>(1000, static_cast<int64_t>(5 * sync_interval_ms));
  hopt.extra_metrics = [&](std::string* out) {
    TrainerProgress p;
    {
      std::lock_guard<std::mutex> lock(progress_mu);
      p = progress;
    }
    const SyncStats s = publisher.stats();
    auto line = [out](const char* name, const char* type, const char* help,
                      double v) {
      absl::StrAppendFormat(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name,
                            help, name, type, name, v);
    };
    line("freshet_train_examples_total", "counter", "Examples trained on",
         static_cast<double>(p.examples));
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
    line("freshet_sync_published_rows_total", "counter",
         "Rows sent by training", static_cast<double>(s.rows));
    line("freshet_sync_published_bytes_total", "counter",
         "Encoded delta bytes sent by training", static_cast<double>(s.bytes));
    line("freshet_sync_last_cut_seconds", "gauge",
         "Time to collect, encode and apply the last delta batch",
         s.last_cut_seconds);
    if (ckpt) ckpt->checkpointer().AppendMetrics(out);
  };
  hopt.extra_status = [&](nlohmann::json* st) {
    TrainerProgress p;
    {
      std::lock_guard<std::mutex> lock(progress_mu);
      p = progress;
    }
    const SyncStats s = publisher.stats();
    (*st)["training"] = {{"examples", p.examples},
                         {"examples_per_sec", p.examples_per_sec},
                         {"auc", p.auc},
                         {"logloss", p.logloss},
                         {"window_auc", p.window_auc},
                         {"table_rows", p.table_rows},
                         {"table_bytes", p.table_bytes},
                         {"done", training_done.load()}};
    (*st)["sync"]["published_version"] = s.last_version;
    (*st)["sync"]["interval_ms"] = sync_interval_ms;
    if (ckpt) {
      const CheckpointerStats c = ckpt->checkpointer().Stats();
      (*st)["checkpoint"] = {
          {"dir", ckpt->dir()},       {"written", c.written},
          {"failed", c.failed},       {"last_id", c.last_id},
          {"last_kind", c.last_kind}, {"last_error", c.last_error},
          {"writing", c.writing}};
    }
  };
  hopt.admin["checkpoint"] = [&ckpt](const std::string&) {
    if (!ckpt) {
      return AdminReply{409,
                        {{"error",
                          "no checkpoint folder: start with --checkpoint-dir "
                          "or set checkpoint.dir"}}};
    }
    const uint64_t ticket = ckpt->checkpointer().Request();
    absl::StatusOr<Manifest> m = ckpt->checkpointer().WaitFor(ticket, 300);
    if (!m.ok()) {
      return AdminReply{500, {{"error", std::string(m.status().message())}}};
    }
    return AdminReply{200,
                      {{"checkpoint_id", m->id},
                       {"kind", CheckpointKindName(m->kind)},
                       {"path", (std::filesystem::path(ckpt->dir()) /
                                 CheckpointDirName(m->id))
                                    .string()},
                       {"examples", m->metadata.examples},
                       {"stream_position", m->metadata.stream_position}}};
  };
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(replica->get(), hopt);
  if (!server.ok()) {
    std::cerr << "freshet run: " << server.status().message() << "\n";
    return 1;
  }
  const int port = (*server)->port();
  std::fprintf(stderr,
               "freshet run: serving http://%s:%d (POST /v1/predict, GET "
               "/healthz /statusz /metrics), sync every %g ms\n",
               serve.bind.c_str(), port, sync_interval_ms);
  WritePortFile(opt.serve.port_file, port);

  g_stop.store(false);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  publisher.Start();
  absl::Status train_status;
  bool final_checkpoint_failed = false;  // read after the join
  std::thread train_thread([&] {
    train_status = (*trainer)->Run([&](const TrainerProgress& p) {
      std::lock_guard<std::mutex> lock(progress_mu);
      progress = p;
    });
    // Training stopped (end of stream, SIGTERM, Ctrl-C, --duration-s): the
    // final checkpoint, while serving goes on.
    if (ckpt && train_status.ok()) {
      std::optional<absl::StatusOr<Manifest>> final =
          ckpt->Finish(publisher.stats().last_version);
      if (final && final->ok()) {
        std::fprintf(stderr, "freshet run: final checkpoint %s\n",
                     DescribeCheckpoint(**final).c_str());
      } else if (final) {
        final_checkpoint_failed = true;
        std::fprintf(stderr, "freshet run: final checkpoint failed: %s\n",
                     std::string(final->status().message()).c_str());
      }
    }
    training_done.store(true);
  });

  const double start = MonotonicSeconds();
  double last_line = start;
  bool announced_done = false;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const double now = MonotonicSeconds();
    if (opt.serve.duration_s > 0 && now - start >= opt.serve.duration_s) break;
    if (training_done.load() && !announced_done) {
      announced_done = true;
      std::fprintf(stderr,
                   "freshet run: the stream ended; still serving the final "
                   "model\n");
      if (!train_status.ok()) break;
    }
    if (now - last_line >= 10.0) {
      last_line = now;
      TrainerProgress p;
      {
        std::lock_guard<std::mutex> lock(progress_mu);
        p = progress;
      }
      const ReplicaStatus rs = (*replica)->status();
      std::fprintf(stderr,
                   "%lld examples  %.0f ex/s  window auc %.4f  |  serving "
                   "v%llu  %lld requests  freshness p50 %.0f ms p99 %.0f ms\n",
                   static_cast<long long>(p.examples), p.examples_per_sec,
                   p.window_auc, static_cast<unsigned long long>(rs.version),
                   static_cast<long long>((*server)->requests()),
                   (*replica)->freshness().Percentile(0.5) * 1000,
                   (*replica)->freshness().Percentile(0.99) * 1000);
    }
  }
  (*trainer)->Stop();
  train_thread.join();
  publisher.Stop();  // one last batch: serving ends equal to training
  (*server)->Stop();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  const TrainerProgress p = (*trainer)->Progress();
  const SyncStats s = publisher.stats();
  const ReplicaStatus rs = (*replica)->status();
  const Histogram& f = (*replica)->freshness();
  std::printf(
      "trained      %lld examples in %.1f s (%.0f examples/s), "
      "progressive auc %.4f logloss %.4f\n",
      static_cast<long long>(p.examples), p.seconds, p.examples_per_sec, p.auc,
      p.logloss);
  std::printf(
      "sync         %lld batches, %lld rows, %.1f MiB, serving "
      "version %llu\n",
      static_cast<long long>(s.batches), static_cast<long long>(s.rows),
      s.bytes / 1048576.0, static_cast<unsigned long long>(rs.version));
  std::printf(
      "freshness    p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms "
      "(%lld batches with updates)\n",
      f.Percentile(0.5) * 1000, f.Percentile(0.9) * 1000,
      f.Percentile(0.99) * 1000, f.Percentile(1.0) * 1000,
      static_cast<long long>(f.count()));
  std::printf(
      "serving      %lld requests, %lld errors, latency p50 %.2f ms "
      "p99 %.2f ms\n",
      static_cast<long long>((*server)->requests()),
      static_cast<long long>((*server)->errors()),
      (*server)->latency().Percentile(0.5) * 1000,
      (*server)->latency().Percentile(0.99) * 1000);
  if (!opt.freshness_json.empty()) {
    std::ofstream out(opt.freshness_json);
    out << nlohmann::json{{"p50_ms", f.Percentile(0.5) * 1000},
                          {"p90_ms", f.Percentile(0.9) * 1000},
                          {"p99_ms", f.Percentile(0.99) * 1000},
                          {"max_ms", f.Percentile(1.0) * 1000},
                          {"batches", f.count()},
                          {"examples", p.examples},
                          {"sync_rows", s.rows},
                          {"sync_bytes", s.bytes}}
               .dump(2)
        << "\n";
  }
  if (!train_status.ok()) {
    std::cerr << "freshet run: " << train_status.message() << "\n";
    return 1;
  }
  return final_checkpoint_failed ? 1 : 0;
}

CommandRunner SetupRun(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Train on a stream and serve the model over HTTP in one process, "
      "with sub-second parameter sync from training to serving");
  AddConfigOptions(cmd, &opt->config, &opt->overrides);
  cmd->add_option("--data", opt->data,
                  "Read this file or folder of segments instead of the "
                  "job's source");
  cmd->add_flag("--follow", opt->follow, "Keep training as the log grows");
  AddServeFlags(cmd, &opt->serve,
                "Flag responses stale when the served version is older, "
                "serve.stale_after (default 5 x the sync interval, at "
                "least 1000)");
  cmd->add_option("--sync-interval-ms", opt->sync_interval_ms,
                  "Training -> serving sync interval, sync.interval "
                  "(default 1000)");
  cmd->add_option("--max-candidates", opt->max_candidates,
                  "Most candidates per request, serve.max_candidates "
                  "(default 1000)");
  cmd->add_option("--max-body-bytes", opt->max_body_bytes,
                  "Largest request body, serve.max_body_bytes (default 1MiB)");
  cmd->add_option("--http-threads", opt->http_threads,
                  "HTTP worker threads, serve.http_threads (default 4)");
  cmd->add_option("--checkpoint-dir", opt->checkpoint_dir,
                  "Checkpoint folder (checkpoint.dir): resume from its newest "
                  "good checkpoint, write checkpoints per the job's "
                  "checkpoint section, on POST /admin/checkpoint and on exit");
  cmd->add_option("--freshness-json", opt->freshness_json,
                  "Write the final freshness percentiles as JSON here");
  return [opt] { return RunRun(*opt); };
}

FRESHET_REGISTER_COMMAND(15, SetupRun);

}  // namespace
}  // namespace freshet
