#include "freshet/job/checkpoint_serving.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "freshet/base/status_macros.h"
#include "freshet/ckpt/checkpoint.h"
#include "freshet/ckpt/parameter_shape.h"
#include "freshet/data/schema.h"
#include "freshet/job/http_options.h"
#include "freshet/sync/delta_batch.h"

namespace freshet {
namespace {

// Checks that the chain fits the replica (CheckParameterShape(); the replica
// holds no optimizer state, so only dims and dense parameters count).
absl::Status MatchReplica(const CheckpointChain& chain,
                          const ServingReplica& replica,
                          const std::string& model_type,
                          const std::string& where) {
  ParameterShape shape;
  replica.Read([&](const ServingReplica::View& v) {
    for (int i = 0; i < replica.num_tables(); ++i) {
      shape.tables.push_back({replica.table_name(i), v.table(i).dim()});
    }
    shape.dense_params = static_cast<int64_t>(v.dense().num_params());
  });
  return CheckParameterShape(
      chain.shape(), shape, where,
      absl::StrCat("the config's model (", model_type, ")"));
}

// The chain as one full delta batch of weights (the replica then holds
// exactly its rows, and a gap, if any, is closed), emptying the chain's
// tables as it goes so that the rows are held about once. The keys of
// `previous` that the chain does not have become deletions; `previous` then
// holds the chain's keys.
DeltaBatch ToDeltaBatch(
    CheckpointChain* chain,
    std::map<std::string, std::vector<uint64_t>>* previous) {
  DeltaBatch batch;
  batch.version = chain->last.id;
  batch.full = true;
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

}  // namespace

CheckpointServing::CheckpointServing(const JobConfig& job,
                                     const std::string& dir)
    : job_(job), dir_(dir) {}

CheckpointServing::~CheckpointServing() { Stop(); }

absl::StatusOr<std::unique_ptr<CheckpointServing>> CheckpointServing::Create(
    const JobConfig& job, const std::string& dir) {
  std::unique_ptr<CheckpointServing> s(new CheckpointServing(job, dir));
  ASSIGN_OR_RETURN(std::shared_ptr<const Schema> schema,
                   Schema::Compile(job.schema));
  ASSIGN_OR_RETURN(s->replica_, ServingReplica::Create(job, schema));
  return s;
}

absl::Status CheckpointServing::Start() {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) {
    return absl::NotFoundError(absl::StrCat(dir_, ": no such folder"));
  }
  std::string name;
  ASSIGN_OR_RETURN(CheckpointChain chain, ReadMatchingChain(&name));
  RETURN_IF_ERROR(Serve(std::move(chain), name));

  const ServeSpec& serve = job_.serve;
  HttpServerOptions hopt = HttpOptionsFromSpec(serve);
  // No sync follows: the checkpoint is not "stale" unless asked to be once
  // it is older than serve.stale_after.
  hopt.predictor.stale_after_ms = serve.stale_after_ms > 0
                                      ? serve.stale_after_ms
                                      : std::numeric_limits<int64_t>::max();
  hopt.extra_status = [this](nlohmann::json* st) { AppendStatus(st); };
  hopt.extra_metrics = [this](std::string* out) { AppendMetrics(out); };
  ASSIGN_OR_RETURN(server_, HttpServer::Start(replica_.get(), hopt));
  return absl::OkStatus();
}

void CheckpointServing::Stop() {
  if (server_) server_->Stop();
}

absl::StatusOr<CheckpointChain> CheckpointServing::ReadMatchingChain(
    std::string* name) {
  ASSIGN_OR_RETURN(CheckpointChain chain,
                   ReadCheckpointChain(dir_, &verified_));
  *name =
      (std::filesystem::path(dir_) / CheckpointDirName(chain.last.id)).string();
  if (absl::Status st = MatchReplica(chain, *replica_, job_.model.type, *name);
      !st.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the checkpoint does not match ", job_.path, ": ", st.message()));
  }
  return chain;
}

absl::Status CheckpointServing::Serve(CheckpointChain chain,
                                      const std::string& name) {
  int64_t rows = 0;
  for (const ChainTable& t : chain.tables) {
    rows += static_cast<int64_t>(t.size());
  }
  // The keys served after this one, if it applies.
  std::map<std::string, std::vector<uint64_t>> keys = keys_;
  DeltaBatch batch = ToDeltaBatch(&chain, &keys);
  chain.dense_state.clear();
  chain.dense_state.shrink_to_fit();
  if (absl::Status st = replica_->Apply(batch); !st.ok()) {
    return absl::Status(st.code(), absl::StrCat(name, ": ", st.message()));
  }
  keys_ = std::move(keys);
  MutexLock lock(&mu_);
  served_.last = chain.last;
  served_.ids = chain.ids;
  served_.rows = rows;
  served_.name = name;
  return absl::OkStatus();
}

absl::StatusOr<bool> CheckpointServing::Reload() {
  absl::StatusOr<std::vector<CheckpointInfo>> list = ListCheckpoints(dir_);
  if (!list.ok() || list->empty()) return false;
  const uint64_t newest = list->back().id;
  const uint64_t current = served().last.id;
  if (newest <= current || newest <= passed_over_) return false;
  std::string name;
  absl::StatusOr<CheckpointChain> chain = ReadMatchingChain(&name);
  if (chain.ok() && chain->last.id <= current) {
    chain = absl::DataLossError(
        absl::StrCat("no good chain newer than the one served ends at ",
                     CheckpointDirName(newest)));
  }
  absl::Status st = chain.status();
  if (st.ok()) st = Serve(*std::move(chain), name);
  if (!st.ok()) {
    passed_over_ = newest;
    return st;
  }
  return true;
}

ServedChain CheckpointServing::served() const {
  MutexLock lock(&mu_);
  return served_;
}

void CheckpointServing::AppendStatus(nlohmann::json* st) const {
  MutexLock lock(&mu_);
  const Manifest& last = served_.last;
  (*st)["checkpoint"] = {
      {"dir", dir_},
      {"id", last.id},
      {"kind", CheckpointKindName(last.kind)},
      {"chain", served_.ids},
      {"created", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                   absl::FromUnixMillis(last.created_unix_ms),
                                   absl::UTCTimeZone())},
      {"created_unix_ms", last.created_unix_ms},
      {"stream_position", last.metadata.stream_position},
      {"sync_version", last.metadata.sync_version},
      {"model_config_hash", last.metadata.model_config_hash},
      {"rows", served_.rows}};
}

void CheckpointServing::AppendMetrics(std::string* out) const {
  MutexLock lock(&mu_);
  absl::StrAppendFormat(
      out,
      "# HELP freshet_checkpoint_id Id of the checkpoint served\n"
      "# TYPE freshet_checkpoint_id gauge\nfreshet_checkpoint_id %d\n"
      "# HELP freshet_checkpoint_created_seconds When the checkpoint "
      "served was written (Unix time)\n"
      "# TYPE freshet_checkpoint_created_seconds gauge\n"
      "freshet_checkpoint_created_seconds %.3f\n",
      served_.last.id, served_.last.created_unix_ms / 1000.0);
}

}  // namespace freshet
