// Subcommands of the `freshet` binary.
//
// Each subcommand lives in its own file and registers itself with
// FRESHET_REGISTER_COMMAND; main() builds the CLI11 app from the registry, so
// adding a command never touches main.cc. A command's Setup adds its
// CLI11 subcommand and options and returns the function that runs it; that
// function returns the process exit code.
#ifndef FRESHET_APPS_FRESHET_COMMAND_H_
#define FRESHET_APPS_FRESHET_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "freshet/job/job_inputs.h"

namespace freshet {

using CommandRunner = std::function<int()>;
using CommandSetup = std::function<CommandRunner(CLI::App& app)>;

struct CommandRegistration {
  int order;  // position in --help
  CommandSetup setup;
};

std::vector<CommandRegistration>& CommandRegistry();

struct CommandRegistrar {
  CommandRegistrar(int order, CommandSetup setup) {
    CommandRegistry().push_back({order, std::move(setup)});
  }
};

// Adds the common `--config C` and `--set key=value` options to `cmd`.
void AddConfigOptions(CLI::App* cmd, std::string* config,
                      std::vector<std::string>* overrides);

// Adds --config, --set and `--data F` (read F instead of the job's source)
// for the commands that read a job's stream: train, run, stats.
void AddJobOptions(CLI::App* cmd, JobInputs* job);

// Checks of the number flags, in one place: CLI11's own ranges let "nan"
// through (no comparison with a NaN is true) and print the largest double
// for an open end. FiniteNumber(min, max) takes a finite number in [min,
// max]; PositiveNumber() a finite number > 0. Their messages name the range:
// "--duration-s: expected a finite number >= 0, got 'nan'".
CLI::Validator FiniteNumber(double min,
                            double max = std::numeric_limits<double>::max());
CLI::Validator PositiveNumber();

// Prints "COMMAND: MESSAGE" on stderr and returns `exit_code`: how a
// command ends on an error.
int Fail(absl::string_view command, absl::string_view message, int exit_code);

}  // namespace freshet

#define FRESHET_REGISTER_COMMAND(order, setup)                                \
  static ::freshet::CommandRegistrar freshet_command_registrar_##order(order, \
                                                                       setup)

#endif  // FRESHET_APPS_FRESHET_COMMAND_H_
