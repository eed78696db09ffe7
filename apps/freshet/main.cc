// The `freshet` command-line tool. Subcommands register themselves (command.h).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

namespace {

// The finite number `text` is in [min, max] (min excluded when
// `exclusive_min`), or why not.
std::string CheckNumber(const std::string& text, double min, double max,
                        bool exclusive_min) {
  std::string range = exclusive_min ? absl::StrCat("> ", min)
                      : max == std::numeric_limits<double>::max()
                          ? absl::StrCat(">= ", min)
                          : absl::StrCat("in ", min, "..", max);
  double v;
  const bool ok = absl::SimpleAtod(text, &v) && std::isfinite(v) &&
                  (exclusive_min ? v > min : v >= min) && v <= max;
  if (ok) return "";
  return absl::StrCat("expected a finite number ", range, ", got '", text, "'");
}

}  // namespace

CLI::Validator FiniteNumber(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) {
        return CheckNumber(text, min, max, /*exclusive_min=*/false);
      },
      "NUMBER", "finite number");
}

CLI::Validator PositiveNumber() {
  return CLI::Validator(
      [](std::string& text) {
        return CheckNumber(text, 0, std::numeric_limits<double>::max(),
                           /*exclusive_min=*/true);
      },
      "NUMBER > 0", "positive finite number");
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
