// The synthetic stream generator: files for `freshet gen` and an in-memory
// Source for jobs with `source.type: generator`.
//
// Two kinds (see generator_criteo.h and generator_impressions.h for the data
// and the hidden models behind the labels):
//   criteo       Criteo Kaggle TSV rows (label, I1..I13, C1..C26), no header.
//   impressions  a drifting recommendation feed: impressions.csv, actions.csv
//                and joined.csv (impressions with their click label).
//
// Determinism: the same options give the same bytes, run after run and across
// standard libraries (see generator_random.h). Record
// i is a pure function of (kind, seed, rows, i), so GeneratorSource seeks in
// O(1) and a restarted job sees exactly the records it saw before.
//
// Functions are thread-safe; a GeneratorSource is driven by one thread, like
// every Source.
#ifndef FRESHET_DATA_GENERATOR_H_
#define FRESHET_DATA_GENERATOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "freshet/base/config.h"
#include "freshet/data/generator_criteo.h"
#include "freshet/data/generator_impressions.h"
#include "freshet/data/source.h"

namespace freshet {

enum class GeneratorKind { kCriteo, kImpressions };

// "criteo" or "impressions".
absl::StatusOr<GeneratorKind> ParseGeneratorKind(std::string_view name);
std::string_view GeneratorKindName(GeneratorKind kind);

struct GeneratorOptions {
  GeneratorKind kind = GeneratorKind::kCriteo;
  int64_t rows = 100000;  // criteo rows, or impressions
  uint64_t seed = 1;
  double criteo_ctr = 0.22;  // mean click rate of the criteo labels
  ImpressionsOptions impressions;
  // Called about every `progress_interval_s` seconds of wall time while
  // GenerateToPath runs, and once at the end, with the rows written so far.
  std::function<void(int64_t rows_done)> progress;
  double progress_interval_s = 3.0;
};

// Writes the data set to `out`: for criteo a TSV file (its folder must
// exist), for impressions a folder (created if missing) receiving
// impressions.csv, actions.csv and joined.csv. Existing files are replaced.
absl::Status GenerateToPath(const GeneratorOptions& options,
                            const std::string& out);

// Generator options for a job's source (kind, rows and seed; the rest at
// their defaults).
absl::StatusOr<GeneratorOptions> GeneratorOptionsFromSpec(
    const SourceSpec& spec);

// The records a generator yields as a Source:
//   criteo       one Criteo TSV line per row; no header.
//   impressions  one joined.csv line per impression; the header line is NOT
//                a record: read it from header() (or GeneratorHeader()) to
//                build the CSV parser.
// Positions are {"gen", index of the next record}; Seek to {"gen", i} (0 <= i
// <= rows) regenerates record i onward, identical to the first time.
class GeneratorSource final : public Source {
 public:
  // Validates `options` (rows >= 0, sizes in range) first.
  static absl::StatusOr<std::unique_ptr<GeneratorSource>> Create(
      const GeneratorOptions& options);
  // REQUIRES: valid options (as Create checks). `progress` is not used.
  explicit GeneratorSource(const GeneratorOptions& options);

  absl::Status Poll(size_t max_records, int timeout_ms,
                    RecordBatch* batch) override;
  bool AtEnd() const override { return next_ >= options_.rows; }
  StreamPosition Position() const override;
  absl::Status Seek(const StreamPosition& position) override;

  // The CSV header of the records (column names joined by ','), or "" for
  // criteo, whose rows have no header.
  const std::string& header() const { return header_; }
  int64_t rows() const { return options_.rows; }

  static constexpr char kSegment[] = "gen";

 private:
  GeneratorOptions options_;
  std::string header_;
  std::unique_ptr<CriteoGenerator> criteo_;
  std::unique_ptr<ImpressionsGenerator> impressions_;
  std::vector<Impression> request_;  // scratch
  int64_t next_ = 0;
};

// A GeneratorSource for a job's source spec (type generator).
absl::StatusOr<std::unique_ptr<Source>> MakeGeneratorSource(
    const SourceSpec& spec);

// The header line of a generator kind's records ("" for criteo), and its
// column names in order (criteo: label, I1..I13, C1..C26).
absl::StatusOr<std::string> GeneratorHeader(std::string_view kind);
absl::StatusOr<std::vector<std::string>> GeneratorColumns(
    std::string_view kind);

}  // namespace freshet

#endif  // FRESHET_DATA_GENERATOR_H_
