#include "freshet/job/job_inputs.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace freshet {

std::vector<std::string> ServeOverrides(const ServeShorthands& flags) {
  std::vector<std::string> overrides;
  if (flags.sync_interval_ms) {
    overrides.push_back(
        absl::StrCat("sync.interval=", *flags.sync_interval_ms, "ms"));
  }
  if (flags.http_port) {
    overrides.push_back(absl::StrCat("serve.port=", *flags.http_port));
  }
  if (flags.bind) overrides.push_back("serve.bind=" + *flags.bind);
  if (flags.stale_after_ms) {
    overrides.push_back(
        absl::StrCat("serve.stale_after=", *flags.stale_after_ms, "ms"));
  }
  if (flags.max_candidates) {
    overrides.push_back(
        absl::StrCat("serve.max_candidates=", *flags.max_candidates));
  }
  if (flags.max_body_bytes) {
    overrides.push_back(
        absl::StrCat("serve.max_body_bytes=", *flags.max_body_bytes));
  }
  if (flags.http_threads) {
    overrides.push_back(
        absl::StrCat("serve.http_threads=", *flags.http_threads));
  }
  return overrides;
}

absl::StatusOr<JobConfig> LoadJob(const JobInputs& inputs,
                                  const std::vector<std::string>& extra) {
  std::vector<std::string> overrides = inputs.overrides;
  if (!inputs.data.empty()) {
    overrides.push_back("source.type=file");
    overrides.push_back("source.path=" + inputs.data);
  }
  if (inputs.follow) overrides.push_back("source.follow=true");
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  absl::StatusOr<JobConfig> job = LoadJobConfig(inputs.config, overrides);
  if (!job.ok()) return job.status();
  if (!inputs.data.empty()) job->source.path = inputs.data;
  if (!inputs.checkpoint_dir.empty()) {
    job->checkpoint.dir = std::filesystem::absolute(inputs.checkpoint_dir);
  }
  return job;
}

}  // namespace freshet
