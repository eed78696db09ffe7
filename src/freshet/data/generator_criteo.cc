#include "freshet/data/generator_criteo.h"

#include <charconv>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace freshet {
namespace {

constexpr uint64_t kRowSalt = 0x6372746f726f7773ULL;  // "crtorows"
constexpr int kCalibrationRows = 20000;

struct CategoricalColumn {
  uint64_t cardinality;  // distinct values in the Kaggle training set
  double exponent;       // Zipf exponent of the value frequencies
  double weight_scale;   // stddev of the hidden per-value weights: 0.3 up to
                         // 1000 values, 0.25 up to 10^5, 0.2 above
};

// C1..C26.
constexpr CategoricalColumn kCategorical[CriteoRow::kCategorical] = {
    {1460, 1.15, 0.25},   {583, 1.1, 0.3},    {10131227, 1.05, 0.2},
    {2202608, 1.05, 0.2}, {305, 1.2, 0.3},    {24, 1.2, 0.3},
    {12517, 1.1, 0.25},   {633, 1.2, 0.3},    {3, 1.25, 0.3},
    {93145, 1.1, 0.25},   {5683, 1.05, 0.25}, {8351593, 1.05, 0.2},
    {3194, 1.1, 0.25},    {27, 1.15, 0.3},    {14992, 1.05, 0.25},
    {5461306, 1.05, 0.2}, {10, 1.15, 0.3},    {5652, 1.1, 0.25},
    {2173, 1.15, 0.25},   {4, 1.15, 0.3},     {7046547, 1.05, 0.2},
    {18, 1.2, 0.3},       {15, 1.15, 0.3},    {286181, 1.1, 0.2},
    {105, 1.15, 0.3},     {142572, 1.1, 0.2},
};

// Columns missing together, as in the real data: group A (C19, C20, C25, C26)
// is absent in 45% of the rows, group B (C3, C4, C12, C16, C21, C24) in 3%;
// C6 and C22 are missing independently.
constexpr double kMissingA = 0.45;
constexpr double kMissingB = 0.03;
constexpr double kMissingC6 = 0.13;
constexpr double kMissingC22 = 0.82;
constexpr int kGroupA[] = {18, 19, 24, 25};
constexpr int kGroupB[] = {2, 3, 11, 15, 20, 23};

struct DenseColumn {
  double mu;       // log-normal location
  double sigma;    // log-normal spread
  double missing;  // probability that the value is empty
  int64_t offset;  // subtracted after flooring (I2 goes negative)
};

// I1..I13, fitted by eye to the medians and 90th percentiles of the real data.
constexpr DenseColumn kDense[CriteoRow::kDense] = {
    {0.3, 1.6, 0.45, 0},  {1.6, 2.8, 0.0, 2},  {2.0, 1.5, 0.20, 0},
    {1.4, 1.2, 0.20, 0},  {7.9, 1.9, 0.05, 0}, {3.7, 1.6, 0.25, 0},
    {1.2, 1.7, 0.05, 0},  {2.0, 1.2, 0.0, 0},  {3.8, 1.5, 0.05, 0},
    {-0.8, 0.9, 0.45, 0}, {0.5, 1.1, 0.05, 0}, {-0.7, 1.3, 0.77, 0},
    {1.7, 1.3, 0.20, 0},
};

// Weight of the latent activity factor shared by the dense features.
constexpr double kLatentShare = 0.6;

// Pairs of categorical columns (0-based) whose values interact.
constexpr int kPairs[][2] = {{0, 1},  {4, 13}, {7, 22},
                             {5, 16}, {8, 19}, {1, 24}};
constexpr double kPairScale = 0.5;

constexpr char kHex[] = "0123456789abcdef";

// Interaction vector component k (4 per value) of `value` on side `side`
// of pair `p`.
inline uint64_t PairHash(uint64_t salt, int p, int side, uint32_t value) {
  return Mix64(salt ^ (static_cast<uint64_t>(p * 2 + side) << 40) ^ value);
}

}  // namespace

CriteoGenerator::CriteoGenerator(uint64_t seed, double target_ctr)
    : seed_(seed) {
  for (int c = 0; c < CriteoRow::kCategorical; ++c) {
    zipf_[c] =
        ZipfSampler(kCategorical[c].cardinality, kCategorical[c].exponent);
    value_salt_[c] = StreamSeed(seed, 0x76616c75, c);   // "valu"
    weight_salt_[c] = StreamSeed(seed, 0x77676874, c);  // "wght"
    missing_weight_[c] = kCategorical[c].weight_scale *
                         HashNormal(StreamSeed(seed, 0x6d697373, c));  // "miss"
  }
  for (int d = 0; d < CriteoRow::kDense; ++d) {
    dense_weight_[d] = 0.25 * HashNormal(StreamSeed(seed, 0x64656e73, d));
  }
  pair_salt_ = StreamSeed(seed, 0x70616972, 0);  // "pair"

  // Calibrate the intercept on the first rows: bisection on the mean
  // predicted click rate, which increases with the bias.
  std::vector<double> logits(kCalibrationRows);
  CriteoRow row;
  for (int i = 0; i < kCalibrationRows; ++i) {
    MakeRow(i, &row);
    logits[i] = RawLogit(row);
  }
  double lo = -15.0, hi = 15.0;
  for (int iter = 0; iter < 60; ++iter) {
    double mid = 0.5 * (lo + hi);
    double sum = 0.0;
    for (double l : logits) sum += Sigmoid(l + mid);
    if (sum / kCalibrationRows < target_ctr) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  bias_ = 0.5 * (lo + hi);
}

uint64_t CriteoGenerator::Cardinality(int c) {
  return kCategorical[c].cardinality;
}

void CriteoGenerator::MakeRow(int64_t index, CriteoRow* row) const {
  SplitMix64 rng(StreamSeed(seed_, kRowSalt, static_cast<uint64_t>(index)));
  const double latent = rng.Normal();
  for (int d = 0; d < CriteoRow::kDense; ++d) {
    const DenseColumn& col = kDense[d];
    double z = kLatentShare * latent + 0.8 * rng.Normal();
    bool present = rng.Uniform() >= col.missing;
    row->dense_present[d] = present;
    row->dense[d] =
        present ? static_cast<int64_t>(std::exp(col.mu + col.sigma * z)) -
                      col.offset
                : 0;
  }
  for (int c = 0; c < CriteoRow::kCategorical; ++c) {
    uint64_t rank = zipf_[c].Sample(rng.Uniform());
    row->cat[c] = static_cast<uint32_t>(Mix64(value_salt_[c] + rank));
    row->cat_present[c] = true;
  }
  const bool miss_a = rng.Uniform() < kMissingA;
  const bool miss_b = rng.Uniform() < kMissingB;
  for (int c : kGroupA) row->cat_present[c] = !miss_a;
  for (int c : kGroupB) row->cat_present[c] = !miss_b;
  if (rng.Uniform() < kMissingC6) row->cat_present[5] = false;
  if (rng.Uniform() < kMissingC22) row->cat_present[21] = false;
  for (int c = 0; c < CriteoRow::kCategorical; ++c) {
    if (!row->cat_present[c]) row->cat[c] = 0;
  }
  const double u = rng.Uniform();
  row->label = u < Sigmoid(RawLogit(*row) + bias_) ? 1 : 0;
}

double CriteoGenerator::RawLogit(const CriteoRow& row) const {
  double logit = 0.0;
  for (int c = 0; c < CriteoRow::kCategorical; ++c) {
    if (row.cat_present[c]) {
      logit += kCategorical[c].weight_scale *
               HashNormal(Mix64(weight_salt_[c] ^ row.cat[c]));
    } else {
      logit += missing_weight_[c];
    }
  }
  for (int d = 0; d < CriteoRow::kDense; ++d) {
    if (!row.dense_present[d]) continue;
    const DenseColumn& col = kDense[d];
    double x =
        std::log1p(static_cast<double>(row.dense[d] > 0 ? row.dense[d] : 0));
    logit += dense_weight_[d] * (x - col.mu) / col.sigma;
  }
  for (int p = 0; p < static_cast<int>(std::size(kPairs)); ++p) {
    int a = kPairs[p][0], b = kPairs[p][1];
    if (!row.cat_present[a] || !row.cat_present[b]) continue;
    uint64_t ha = PairHash(pair_salt_, p, 0, row.cat[a]);
    uint64_t hb = PairHash(pair_salt_, p, 1, row.cat[b]);
    double dot = 0.0;
    for (int k = 0; k < 4; ++k) {
      dot += HashSigned16(ha, 16 * k) * HashSigned16(hb, 16 * k);
    }
    logit += kPairScale * dot;
  }
  return logit;
}

double CriteoGenerator::Logit(const CriteoRow& row) const {
  return RawLogit(row) + bias_;
}

void CriteoGenerator::Format(const CriteoRow& row, std::string* out) {
  // Widest line: 2 + 13 * 21 + 26 * 9 bytes.
  char buf[640];
  char* p = buf;
  char* const end = buf + sizeof(buf);
  *p++ = row.label ? '1' : '0';
  for (int d = 0; d < CriteoRow::kDense; ++d) {
    *p++ = '\t';
    if (row.dense_present[d]) p = std::to_chars(p, end, row.dense[d]).ptr;
  }
  for (int c = 0; c < CriteoRow::kCategorical; ++c) {
    *p++ = '\t';
    if (!row.cat_present[c]) continue;
    uint32_t v = row.cat[c];
    for (int shift = 28; shift >= 0; shift -= 4) *p++ = kHex[(v >> shift) & 15];
  }
  out->append(buf, p - buf);
}

void CriteoGenerator::AppendRow(int64_t index, std::string* out) const {
  CriteoRow row;
  MakeRow(index, &row);
  Format(row, out);
}

absl::StatusOr<CriteoRow> CriteoGenerator::Parse(std::string_view line) {
  // Debian's Abseil has its own string_view type.
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(line.data(), line.size()), '\t');
  if (f.size() != 1 + CriteoRow::kDense + CriteoRow::kCategorical) {
    return absl::InvalidArgumentError(absl::StrCat(
        "criteo row: expected 40 tab-separated columns, got ", f.size()));
  }
  CriteoRow row;
  if (f[0] != "0" && f[0] != "1") {
    return absl::InvalidArgumentError(
        absl::StrCat("criteo row: label must be 0 or 1, got '", f[0], "'"));
  }
  row.label = f[0] == "1" ? 1 : 0;
  for (int d = 0; d < CriteoRow::kDense; ++d) {
    absl::string_view v = f[1 + d];
    row.dense_present[d] = !v.empty();
    if (v.empty()) continue;
    if (!absl::SimpleAtoi(v, &row.dense[d])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "criteo row: I", d + 1, " must be an integer, got '", v, "'"));
    }
  }
  for (int c = 0; c < CriteoRow::kCategorical; ++c) {
    absl::string_view v = f[1 + CriteoRow::kDense + c];
    row.cat_present[c] = !v.empty();
    if (v.empty()) continue;
    uint32_t value = 0;
    bool ok = v.size() == 8;
    for (char ch : v) {
      int digit = ch >= '0' && ch <= '9'   ? ch - '0'
                  : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                           : -1;
      ok = ok && digit >= 0;
      value = (value << 4) | static_cast<uint32_t>(digit & 15);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("criteo row: C", c + 1,
                       " must be 8 lowercase hex digits, got '", v, "'"));
    }
    row.cat[c] = value;
  }
  return row;
}

}  // namespace freshet
