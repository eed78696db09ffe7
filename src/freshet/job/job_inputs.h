// JobInputs: a job file and what a command lays over it — `--set`
// overrides, a data path that replaces the job's source by a file source,
// follow mode, a checkpoint folder — and LoadJob(), which applies them the
// same way for every command that trains or reads the job's stream
// (`freshet train`, `run`, `stats`).
//
// Thread safety: plain values and a free function.
#ifndef FRESHET_JOB_JOB_INPUTS_H_
#define FRESHET_JOB_JOB_INPUTS_H_

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

// Loads inputs.config with inputs.overrides, then those of `data` and
// `follow`, then `extra` (a command's flags that are shorthands for config
// keys, so that the job's validation and its messages cover them), and sets
// the data path and the absolute checkpoint folder. Errors are
// LoadJobConfig()'s.
absl::StatusOr<JobConfig> LoadJob(const JobInputs& inputs,
                                  const std::vector<std::string>& extra = {});

}  // namespace freshet

#endif  // FRESHET_JOB_JOB_INPUTS_H_
