// JobInputs: a job file and what a command lays over it — `--set`
// overrides, a data path that replaces the job's source by a file source,
// follow mode, a checkpoint folder — and LoadJob(), which applies them the
// same way for every command that reads a job file (`freshet train`, `run`,
// `stats`, `serve`, `predict`). ServeShorthands are the flags of the
// commands that serve (`freshet run`, `serve`) that stand for config keys.
//
// Thread safety: plain values and a free function.
#ifndef FRESHET_JOB_JOB_INPUTS_H_
#define FRESHET_JOB_JOB_INPUTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "freshet/base/config.h"

namespace freshet {

struct JobInputs {
  std::string config;                  // the job file (YAML)
  std::vector<std::string> overrides;  // path.to.key=value
  // Non-empty: the job reads this file or folder of segments
  // (source.type=file), taken as given rather than relative to the job
  // file's folder.
  std::string data;
  bool follow = false;  // source.follow=true
  // Non-empty: checkpoint.dir, relative to the working folder.
  std::string checkpoint_dir;
};

// Command-line shorthands for a job's sync and serve keys; unset: the job's
// value.
struct ServeShorthands {
  std::optional<int64_t> sync_interval_ms;  // sync.interval (ms)
  std::optional<int> http_port;             // serve.port
  std::optional<std::string> bind;          // serve.bind
  std::optional<int64_t> stale_after_ms;    // serve.stale_after (ms)
  std::optional<int> max_candidates;        // serve.max_candidates
  std::optional<int64_t> max_body_bytes;    // serve.max_body_bytes
  std::optional<int> http_threads;          // serve.http_threads
};

// The shorthands that are set, as `--set` overrides in the order of the
// struct ("sync.interval=250ms", "serve.port=0", ...), for LoadJob()'s
// `extra`: the job's validation (and its messages) covers them too.
std::vector<std::string> ServeOverrides(const ServeShorthands& flags);

// Loads inputs.config with inputs.overrides, then those of `data` and
// `follow`, then `extra` (a command's flags that are shorthands for config
// keys, so that the job's validation and its messages cover them), and sets
// the data path and the absolute checkpoint folder. Errors are
// LoadJobConfig()'s.
absl::StatusOr<JobConfig> LoadJob(const JobInputs& inputs,
                                  const std::vector<std::string>& extra = {});

}  // namespace freshet

#endif  // FRESHET_JOB_JOB_INPUTS_H_
