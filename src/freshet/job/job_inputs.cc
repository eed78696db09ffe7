#include "freshet/job/job_inputs.h"

#include <filesystem>

namespace freshet {

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
