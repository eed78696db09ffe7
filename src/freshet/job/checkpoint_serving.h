// CheckpointServing: serves the newest good checkpoint of a folder,
// read-only, over the HTTP API of the embedded job (POST /v1/predict, GET
// /healthz /statusz /metrics), and follows the folder: Reload() replaces the
// chain served by a newer good one.
//
// The serving replica is built from the job's config as EmbeddedJob builds
// it; the checkpoint chain is read without a training model
// (chain_reader.h) and applied as one delta batch of weights (the replica
// keeps no optimizer state) whose version is the checkpoint's id. A reload
// applies the newer chain the same way, with the keys served before and
// absent from it as deletions, so the replica then holds exactly the newer
// chain's rows. A checkpoint whose tables or dense part do not match the
// config is refused: by Start() with an error, by Reload() with an error
// while the chain served before stays.
//
// /statusz gets a "checkpoint" section (dir, id, kind, chain, created,
// stream position, sync version, shape hash, rows) and /metrics the id and
// creation time of the checkpoint served.
//
// Thread safety: Create(), Start(), Reload() and Stop() from one thread;
// served() and the HTTP handlers from any thread.
#ifndef FRESHET_JOB_CHECKPOINT_SERVING_H_
#define FRESHET_JOB_CHECKPOINT_SERVING_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/base/mutex.h"
#include "freshet/ckpt/chain_reader.h"
#include "freshet/ckpt/manifest.h"
#include "freshet/serve/http_server.h"
#include "freshet/serve/serving_replica.h"

namespace freshet {

// The chain being served.
struct ServedChain {
  Manifest last;              // its newest checkpoint
  std::vector<uint64_t> ids;  // its checkpoints, full first
  int64_t rows = 0;
  std::string name;  // DIR/ckpt-<id>
};

class CheckpointServing {
 public:
  // Builds the serving replica of `job` for the checkpoints in `dir`. Errors
  // are the config's: a schema or model that cannot be built.
  static absl::StatusOr<std::unique_ptr<CheckpointServing>> Create(
      const JobConfig& job, const std::string& dir);
  ~CheckpointServing();  // Stop()

  // Serves the newest good chain of the folder and starts listening.
  // Errors: no such folder, no good checkpoint, a chain that does not match
  // the config ("the checkpoint does not match JOB: ..."), an address that
  // cannot be bound.
  absl::Status Start();

  // Looks for a newer checkpoint in the folder. Returns false when there is
  // none (or only ones refused before), true once a newer good chain is
  // served, and an error when the newest one cannot be served (damaged, not
  // matching): the chain served stays, and that checkpoint is not read again
  // until a newer one is published.
  absl::StatusOr<bool> Reload();

  // Stops the HTTP server. Safe to call twice.
  void Stop();

  int port() const { return server_->port(); }
  ServedChain served() const;
  const HttpServer& server() const { return *server_; }
  const ServingReplica& replica() const { return *replica_; }

 private:
  CheckpointServing(const JobConfig& job, const std::string& dir);

  absl::StatusOr<CheckpointChain> ReadMatchingChain(std::string* name);
  absl::Status Serve(CheckpointChain chain, const std::string& name);
  void AppendStatus(nlohmann::json* status) const;
  void AppendMetrics(std::string* out) const;

  const JobConfig job_;
  const std::string dir_;
  std::unique_ptr<ServingReplica> replica_;
  std::unique_ptr<HttpServer> server_;
  // A reload verifies only the checkpoints published since the last one.
  VerifiedCheckpoints verified_;
  // Per table, the keys served, sorted: a reload deletes those that the
  // newer chain does not have. Only the thread calling Reload() uses it.
  std::map<std::string, std::vector<uint64_t>> keys_;
  // The newest checkpoint that could not be served.
  uint64_t passed_over_ = 0;

  mutable Mutex mu_;
  ServedChain served_ ABSL_GUARDED_BY(mu_);
};

}  // namespace freshet

#endif  // FRESHET_JOB_CHECKPOINT_SERVING_H_
