// The `freshet` command-line tool. Subcommands register themselves (command.h).
#include <algorithm>
#include <iostream>

#include "apps/freshet/command.h"
#include "freshet/base/logging.h"

namespace freshet {

std::vector<CommandRegistration>& CommandRegistry() {
  static std::vector<CommandRegistration> registry;
  return registry;
}

void AddConfigOptions(CLI::App* cmd, std::string* config,
                      std::vector<std::string>* overrides) {
  cmd->add_option("--config,-c", *config, "Job file (YAML)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", *overrides,
                  "Override a config key: path.to.key=value (repeatable)");
}

void AddJobOptions(CLI::App* cmd, JobInputs* job) {
  AddConfigOptions(cmd, &job->config, &job->overrides);
  cmd->add_option("--data", job->data,
                  "Read this file or folder of segments instead of the "
                  "job's source");
}

int Fail(absl::string_view command, absl::string_view message, int exit_code) {
  std::cerr << command << ": " << message << "\n";
  return exit_code;
}

}  // namespace freshet

int main(int argc, char** argv) {
  CLI::App app{
      "Freshet: trains recommendation models continuously from a stream of "
      "events and serves them with parameters that are seconds old."};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error or off")
      ->capture_default_str();

  auto registry = freshet::CommandRegistry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.order < b.order; });
  std::vector<std::pair<CLI::App*, freshet::CommandRunner>> runners;
  for (const auto& reg : registry) {
    size_t before = app.get_subcommands({}).size();
    freshet::CommandRunner run = reg.setup(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runners.emplace_back(subs.back(), std::move(run));
  }

  CLI11_PARSE(app, argc, argv);
  freshet::InitLogging(log_level);
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return 2;
}
