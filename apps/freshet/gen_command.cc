// `freshet gen`: writes a synthetic data set (freshet/data/generator.h).
//
//   freshet gen --kind criteo --rows 10000000 --seed 7 --out data/criteo.tsv
//   freshet gen --kind impressions --rows 1000000 --out data/feed
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "apps/freshet/command.h"
#include "freshet/base/clock.h"
#include "freshet/data/generator.h"

namespace freshet {
namespace {

struct GenFlags {
  std::string kind = "criteo";
  int64_t rows = 100000;
  uint64_t seed = 1;
  std::string out;
  int64_t users = ImpressionsOptions().users;
  int64_t items = ImpressionsOptions().items;
  double drift_at = ImpressionsOptions().drift_fraction;
  double ctr = GeneratorOptions().criteo_ctr;
};

int RunGen(const GenFlags& flags) {
  absl::StatusOr<GeneratorKind> kind = ParseGeneratorKind(flags.kind);
  if (!kind.ok()) return Fail("freshet gen", kind.status().message(), 2);
  GeneratorOptions options;
  options.kind = *kind;
  options.rows = flags.rows;
  options.seed = flags.seed;
  options.criteo_ctr = flags.ctr;
  options.impressions.users = flags.users;
  options.impressions.items = flags.items;
  options.impressions.drift_fraction = flags.drift_at;

  const double start = MonotonicSeconds();
  if (isatty(STDERR_FILENO) || flags.rows > 1000000) {
    options.progress = [start, total = flags.rows](int64_t done) {
      double elapsed = MonotonicSeconds() - start;
      std::fprintf(stderr, "gen: %lld / %lld rows, %.0f rows/s\n",
                   static_cast<long long>(done), static_cast<long long>(total),
                   elapsed > 0 ? done / elapsed : 0.0);
    };
  }
  absl::Status status = GenerateToPath(options, flags.out);
  if (!status.ok()) return Fail("freshet gen", status.ToString(), 1);
  double elapsed = MonotonicSeconds() - start;
  std::fprintf(stderr, "gen: wrote %lld %s rows to %s in %.2f s\n",
               static_cast<long long>(flags.rows), flags.kind.c_str(),
               flags.out.c_str(), elapsed);
  return 0;
}

CommandRunner SetupGen(CLI::App& app) {
  auto flags = std::make_shared<GenFlags>();
  CLI::App* cmd = app.add_subcommand(
      "gen",
      "Write a synthetic data set: Criteo-shaped TSV rows, or a drifting "
      "impression/action stream with its join. Same seed, same bytes.");
  cmd->add_option("--kind", flags->kind, "criteo or impressions")
      ->check(CLI::IsMember({"criteo", "impressions"}))
      ->capture_default_str();
  cmd->add_option("--rows", flags->rows,
                  "Rows to write (criteo rows, or impressions)")
      ->check(FiniteNumber(0))
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Random seed")->capture_default_str();
  cmd->add_option("--out,-o", flags->out,
                  "Output: a .tsv file for criteo, a folder for impressions "
                  "(impressions.csv, actions.csv, joined.csv)")
      ->required();
  cmd->add_option("--users", flags->users, "impressions: number of users")
      ->check(PositiveNumber())
      ->capture_default_str();
  cmd->add_option("--items", flags->items, "impressions: number of items")
      ->check(PositiveNumber())
      ->capture_default_str();
  cmd->add_option("--drift-at", flags->drift_at,
                  "impressions: abrupt interest drift at this fraction of "
                  "the rows")
      ->check(FiniteNumber(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--ctr", flags->ctr, "criteo: mean click rate of the labels")
      ->check(FiniteNumber(0.001, 0.999))
      ->capture_default_str();
  return [flags] { return RunGen(*flags); };
}

}  // namespace

FRESHET_REGISTER_COMMAND(60, SetupGen);

}  // namespace freshet
