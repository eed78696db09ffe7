// CriteoGenerator: synthetic rows in the layout of the Criteo Kaggle display
// advertising log, with labels drawn from a hidden model.
//
// Layout (one row per line, tab-separated, no header, 40 columns), exactly as
// the real train.txt so that one parser reads both:
//   label        0 or 1
//   I1..I13      integers, heavy-tailed (log-normal with per-column medians
//                and spreads taken from the real data), sometimes empty, I2
//                sometimes negative (-1, -2)
//   C1..C26      8 lowercase hex digits, sometimes empty
//
// Categorical values: column c draws a rank from a power law (Zipf exponent
// 1.05..1.25) over a cardinality taken from the real data set (3 for C9 up to
// 10^7 for C3), and prints the low 32 bits of a hash of (seed, c, rank). Some
// columns are missing together, as in the real data (C19, C20, C25, C26).
//
// Labels: a hidden logistic model. logit = bias + sum over present
// categorical values of a per-value weight (normal, drawn from a hash of the
// printed value, so it depends only on what a learner sees) + a per-column
// weight for "missing" + a weight per dense feature times its standardised
// log value + six pairwise interactions <v_a(x_a), v_b(x_b)> with 4-d vectors
// per value (signal only factorisation or deep models can find). The bias is
// calibrated once per seed so that the mean click rate is `target_ctr`
// (default 0.22, like Criteo's). Rows also share a latent "activity" factor
// that correlates the dense features.
//
// Row i is a pure function of (seed, i): the generator seeds a SplitMix64 per
// row, so rows can be produced in any order, and Seek is free.
//
// Thread-safe: const methods may be called from many threads at once.
#ifndef FRESHET_DATA_GENERATOR_CRITEO_H_
#define FRESHET_DATA_GENERATOR_CRITEO_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "freshet/data/generator_random.h"

namespace freshet {

// One Criteo-shaped row in structured form.
struct CriteoRow {
  static constexpr int kDense = 13;
  static constexpr int kCategorical = 26;
  int label = 0;
  std::array<bool, kDense> dense_present{};
  std::array<int64_t, kDense> dense{};
  std::array<bool, kCategorical> cat_present{};
  std::array<uint32_t, kCategorical> cat{};
};

class CriteoGenerator {
 public:
  // REQUIRES: 0 < target_ctr < 1.
  explicit CriteoGenerator(uint64_t seed, double target_ctr = 0.22);

  // Fills `row` with row `index`.
  void MakeRow(int64_t index, CriteoRow* row) const;

  // Appends row `index` as one TSV line without the newline.
  void AppendRow(int64_t index, std::string* out) const;

  // The hidden model's logit for `row` (its label is ignored). The row's
  // label was drawn as Bernoulli(Sigmoid(Logit(row))).
  double Logit(const CriteoRow& row) const;

  // The calibrated intercept of the hidden model.
  double bias() const { return bias_; }

  // Appends `row` as one TSV line without the newline.
  static void Format(const CriteoRow& row, std::string* out);

  // Parses a TSV line in the Criteo layout into `row`. For tests and tools;
  // the training path uses the data layer's record parsers.
  static absl::StatusOr<CriteoRow> Parse(std::string_view line);

  // Number of distinct values column c (0-based) draws from.
  static uint64_t Cardinality(int c);

 private:
  // Logit without the bias.
  double RawLogit(const CriteoRow& row) const;

  uint64_t seed_;
  double bias_ = 0.0;
  std::array<ZipfSampler, CriteoRow::kCategorical> zipf_;
  std::array<uint64_t, CriteoRow::kCategorical> value_salt_;
  std::array<uint64_t, CriteoRow::kCategorical> weight_salt_;
  std::array<double, CriteoRow::kCategorical> missing_weight_;
  std::array<double, CriteoRow::kDense> dense_weight_;
  uint64_t pair_salt_;
};

}  // namespace freshet

#endif  // FRESHET_DATA_GENERATOR_CRITEO_H_
