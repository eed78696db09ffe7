// `freshet serve --checkpoint DIR`: serves the newest good checkpoint of a
// folder, read-only, over the HTTP API of `freshet run` (POST /v1/predict,
// GET /healthz /statusz /metrics), and follows the folder: a newer good
// checkpoint replaces the one served.
//
// The serving replica is built from the job's config as `freshet run` builds
// it; the checkpoint chain is read without a training model (chain_reader.h)
// and applied as one delta batch of weights (the replica keeps no optimizer
// state) whose version is the checkpoint's id. A reload applies the newer
// chain the same way, with the keys served before and absent from it as
// deletions, so the replica then holds exactly the newer chain's rows. A
// checkpoint whose tables or dense part do not match the config is refused:
// at start with an error, on a reload with a warning (the old one stays).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "apps/freshet/command.h"
#include "apps/freshet/serve_flags.h"
#include "freshet/base/clock.h"
#include "freshet/base/config.h"
#include "freshet/base/logging.h"
#include "freshet/ckpt/chain_reader.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/data/schema.h"
#include "freshet/serve/http_server.h"
#include "freshet/serve/serving_replica.h"
#include "freshet/sync/delta_batch.h"

namespace freshet {
namespace {

struct ServeOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string checkpoint;
  double reload_every_s = 10;
  ServeFlags serve;
};

// The chain being served, for /statusz, /metrics and the next reload.
struct Served {
  Manifest last;
  std::vector<uint64_t> ids;
  int64_t rows = 0;
  std::string name;  // DIR/ckpt-<id>
  // Per table, the keys served, sorted: a reload deletes those that the
  // newer chain does not have.
  std::map<std::string, std::vector<uint64_t>> keys;
};

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Checks that the chain has exactly the replica's tables, with its dims, and
// its number of dense parameters. The message says what differs.
absl::Status MatchReplica(const CheckpointChain& chain,
                          const ServingReplica& replica,
                          const std::string& model_type,
                          const std::string& where) {
  std::vector<int> dims(replica.num_tables());
  size_t dense_params = 0;
  replica.Read([&](const ServingReplica::View& v) {
    for (int i = 0; i < replica.num_tables(); ++i) dims[i] = v.table(i).dim();
    dense_params = v.dense().num_params();
  });
  for (int i = 0; i < replica.num_tables(); ++i) {
    const ChainTable* t = chain.FindTable(replica.table_name(i));
    if (t == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, " has no table \"", replica.table_name(i),
                       "\", which the config's model needs"));
    }
    if (t->dim() != dims[i]) {
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: table \"%s\" has dim %d, the config's model %d",
                          where, t->name(), t->dim(), dims[i]));
    }
  }
  for (const ChainTable& t : chain.tables) {
    bool known = false;
    for (int i = 0; i < replica.num_tables() && !known; ++i) {
      known = replica.table_name(i) == t.name();
    }
    if (!known) {
      return absl::FailedPreconditionError(absl::StrCat(
          where, ": table \"", t.name(), "\" is not in the config's model"));
    }
  }
  if (chain.dense_params.size() != dense_params) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: dense part of %d parameters, the config's model (%s) has %d",
        where, chain.dense_params.size(), model_type, dense_params));
  }
  return absl::OkStatus();
}

// The chain as one delta batch of weights, emptying the chain's tables as it
// goes so that the rows are held about once. The keys of `previous` that the
// chain does not have become deletions; `previous` then holds the chain's
// keys.
DeltaBatch ToDeltaBatch(
    CheckpointChain* chain,
    std::map<std::string, std::vector<uint64_t>>* previous) {
  DeltaBatch batch;
  batch.version = chain->last.id;
  batch.created_unix_us = chain->last.created_unix_ms * 1000;
  batch.has_dense = true;
  batch.dense = chain->dense_params;
  for (ChainTable& t : chain->tables) {
    DeltaTable d;
    d.name = t.name();
    d.dim = t.dim();
    d.keys = t.SortedKeys();
    d.weights.resize(d.keys.size() * static_cast<size_t>(t.dim()));
    float* out = d.weights.data();
    for (uint64_t key : d.keys) {
      const float* row = t.Find(key);
      std::copy(row, row + t.dim(), out);
      out += t.dim();
    }
    t = ChainTable(t.name(), t.dim(), t.state_floats());
    std::vector<uint64_t>& served = (*previous)[d.name];
    std::set_difference(served.begin(), served.end(), d.keys.begin(),
                        d.keys.end(), std::back_inserter(d.deleted_keys));
    served = d.keys;
    batch.tables.push_back(std::move(d));
  }
  return batch;
}

// Reads the newest good chain of `dir` and checks it against the replica,
// built from the job file `job`. Checkpoints in `verified` are not verified
// again.
absl::StatusOr<CheckpointChain> ReadMatchingChain(const std::string& dir,
                                                  const ServingReplica& replica,
                                                  const JobConfig& job,
                                                  VerifiedCheckpoints* verified,
                                                  std::string* name) {
  absl::StatusOr<CheckpointChain> chain = ReadCheckpointChain(dir, verified);
  if (!chain.ok()) return chain.status();
  *name =
      (std::filesystem::path(dir) / CheckpointDirName(chain->last.id)).string();
  if (absl::Status st = MatchReplica(*chain, replica, job.model.type, *name);
      !st.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the checkpoint does not match ", job.path, ": ", st.message()));
  }
  return chain;
}

// Applies `chain` to the replica and makes it the one served.
absl::Status Serve(CheckpointChain chain, const std::string& name,
                   ServingReplica* replica, Served* served,
                   std::mutex* served_mu) {
  int64_t rows = 0;
  for (const ChainTable& t : chain.tables) {
    rows += static_cast<int64_t>(t.size());
  }
  // `keys` is the next chain's after this (only this thread reads it).
  std::map<std::string, std::vector<uint64_t>> keys = served->keys;
  DeltaBatch batch = ToDeltaBatch(&chain, &keys);
  chain.dense_state.clear();
  chain.dense_state.shrink_to_fit();
  if (absl::Status st = replica->Apply(batch); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat(name, ": ", st.message()));
  }
  std::lock_guard lock(*served_mu);
  served->last = chain.last;
  served->ids = chain.ids;
  served->rows = rows;
  served->name = name;
  served->keys = std::move(keys);
  return absl::OkStatus();
}

int RunServe(const ServeOptions& opt) {
  std::vector<std::string> overrides = opt.overrides;
  // The flags are shorthands for config keys, as in `freshet run`.
  AppendServeOverrides(opt.serve, &overrides);
  absl::StatusOr<JobConfig> job = LoadJobConfig(opt.config, overrides);
  if (!job.ok()) {
    std::cerr << "freshet serve: " << job.status().message() << "\n";
    return 2;
  }
  const ServeSpec& serve = job->serve;
  absl::StatusOr<std::shared_ptr<const Schema>> schema =
      Schema::Compile(job->schema);
  if (!schema.ok()) {
    std::cerr << "freshet serve: " << schema.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<ServingReplica>> replica =
      ServingReplica::Create(*job, *schema);
  if (!replica.ok()) {
    std::cerr << "freshet serve: " << replica.status().message() << "\n";
    return 2;
  }

  std::error_code ec;
  if (!std::filesystem::is_directory(opt.checkpoint, ec)) {
    std::cerr << "freshet serve: " << opt.checkpoint << ": no such folder\n";
    return 1;
  }
  Served served;
  std::mutex served_mu;
  // A reload verifies only the checkpoints published since the last one.
  VerifiedCheckpoints verified;
  {
    std::string name;
    absl::StatusOr<CheckpointChain> chain =
        ReadMatchingChain(opt.checkpoint, **replica, *job, &verified, &name);
    if (!chain.ok()) {
      std::cerr << "freshet serve: " << chain.status().message() << "\n";
      return 1;
    }
    if (absl::Status st =
            Serve(*std::move(chain), name, replica->get(), &served, &served_mu);
        !st.ok()) {
      std::cerr << "freshet serve: " << st.message() << "\n";
      return 1;
    }
  }

  HttpServerOptions hopt = HttpOptionsFromSpec(serve);
  // No sync follows: the checkpoint is not "stale" unless asked to be once
  // it is older than serve.stale_after.
  hopt.predictor.stale_after_ms = serve.stale_after_ms > 0
                                      ? serve.stale_after_ms
                                      : std::numeric_limits<int64_t>::max();
  hopt.extra_status = [&](nlohmann::json* st) {
    std::lock_guard lock(served_mu);
    const Manifest& last = served.last;
    (*st)["checkpoint"] = {
        {"dir", opt.checkpoint},
        {"id", last.id},
        {"kind", CheckpointKindName(last.kind)},
        {"chain", served.ids},
        {"created", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                     absl::FromUnixMillis(last.created_unix_ms),
                                     absl::UTCTimeZone())},
        {"created_unix_ms", last.created_unix_ms},
        {"stream_position", last.metadata.stream_position},
        {"sync_version", last.metadata.sync_version},
        {"model_config_hash", last.metadata.model_config_hash},
        {"rows", served.rows}};
  };
  hopt.extra_metrics = [&](std::string* out) {
    std::lock_guard lock(served_mu);
    absl::StrAppendFormat(
        out,
        "# HELP freshet_checkpoint_id Id of the checkpoint served\n"
        "# TYPE freshet_checkpoint_id gauge\nfreshet_checkpoint_id %d\n"
        "# HELP freshet_checkpoint_created_seconds When the checkpoint "
        "served was written (Unix time)\n"
        "# TYPE freshet_checkpoint_created_seconds gauge\n"
        "freshet_checkpoint_created_seconds %.3f\n",
        served.last.id, served.last.created_unix_ms / 1000.0);
  };
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(replica->get(), hopt);
  if (!server.ok()) {
    std::cerr << "freshet serve: " << server.status().message() << "\n";
    return 1;
  }
  const int port = (*server)->port();
  std::fprintf(stderr,
               "freshet serve: serving %s (chain %s, %lld rows) read-only on "
               "http://%s:%d (POST /v1/predict, GET /healthz /statusz "
               "/metrics)\n",
               served.name.c_str(), absl::StrJoin(served.ids, ", ").c_str(),
               static_cast<long long>(served.rows), serve.bind.c_str(), port);
  WritePortFile(opt.serve.port_file, port);

  g_stop.store(false);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const double start = MonotonicSeconds();
  double next_look = start + opt.reload_every_s;
  // The newest checkpoint that could not be served (damaged, or not
  // matching): not read again until a newer one is published.
  uint64_t passed_over = 0;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const double now = MonotonicSeconds();
    if (opt.serve.duration_s > 0 && now - start >= opt.serve.duration_s) {
      break;
    }
    if (opt.reload_every_s <= 0 || now < next_look) continue;
    next_look = now + opt.reload_every_s;
    absl::StatusOr<std::vector<CheckpointInfo>> list =
        ListCheckpoints(opt.checkpoint);
    if (!list.ok() || list->empty()) continue;
    const uint64_t newest = list->back().id;
    // This thread is the only writer of `served`: it reads it unlocked.
    const uint64_t current = served.last.id;
    if (newest <= current || newest <= passed_over) continue;
    std::string name;
    absl::StatusOr<CheckpointChain> chain =
        ReadMatchingChain(opt.checkpoint, **replica, *job, &verified, &name);
    if (chain.ok() && chain->last.id <= current) {
      chain = absl::DataLossError(
          absl::StrCat("no good chain newer than the one served ends at ",
                       CheckpointDirName(newest)));
    }
    absl::Status st = chain.status();
    if (st.ok()) {
      st = Serve(*std::move(chain), name, replica->get(), &served, &served_mu);
    }
    if (!st.ok()) {
      FRESHET_LOG_WARN("freshet serve: keeps serving {}: {}",
                       CheckpointDirName(current), std::string(st.message()));
      passed_over = newest;
      continue;
    }
    FRESHET_LOG_INFO("freshet serve: now serving {} (chain {}, {} rows)",
                     served.name, absl::StrJoin(served.ids, ", "), served.rows);
  }
  (*server)->Stop();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::printf(
      "serving      %s: %lld requests, %lld errors, latency p50 %.2f ms "
      "p99 %.2f ms\n",
      CheckpointDirName(served.last.id).c_str(),
      static_cast<long long>((*server)->requests()),
      static_cast<long long>((*server)->errors()),
      (*server)->latency().Percentile(0.5) * 1000,
      (*server)->latency().Percentile(0.99) * 1000);
  return 0;
}

CommandRunner SetupServe(CLI::App& app) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve the newest good checkpoint of a folder, read-only, over the "
      "HTTP API of `freshet run`, and follow the folder for newer ones");
  AddConfigOptions(cmd, &opt->config, &opt->overrides);
  cmd->add_option("--checkpoint", opt->checkpoint,
                  "Checkpoint folder (holding ckpt-<id> directories)")
      ->required();
  cmd->add_option("--reload-every", opt->reload_every_s,
                  "Seconds between looks for a newer checkpoint in the "
                  "folder, which then replaces the one served (0: never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddServeFlags(cmd, &opt->serve,
                "Flag responses stale once the checkpoint is older than "
                "this, serve.stale_after (default: never)");
  return [opt] { return RunServe(*opt); };
}

FRESHET_REGISTER_COMMAND(20, SetupServe);

}  // namespace
}  // namespace freshet
