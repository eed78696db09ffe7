#include "freshet/data/generator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "freshet/base/config.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/schema.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("freshet_generator_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Path(const std::string& name) const {
    return (path_ / name).string();
  }

 private:
  fs::path path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

bool IsInteger(const std::string& s) {
  size_t i = s.size() > 1 && s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool IsLowerHex8(const std::string& s) {
  if (s.size() != 8) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Area under the ROC curve by sorting; tied scores share their mean rank.
double Auc(std::vector<std::pair<double, int>> scored) {
  std::sort(scored.begin(), scored.end());
  double positives = 0, rank_sum = 0;
  size_t i = 0;
  while (i < scored.size()) {
    size_t j = i;
    while (j < scored.size() && scored[j].first == scored[i].first) ++j;
    double mean_rank = 0.5 * static_cast<double>(i + 1 + j);
    for (size_t k = i; k < j; ++k) {
      if (scored[k].second) {
        positives += 1;
        rank_sum += mean_rank;
      }
    }
    i = j;
  }
  double negatives = static_cast<double>(scored.size()) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

GeneratorOptions Criteo(int64_t rows, uint64_t seed) {
  GeneratorOptions o;
  o.kind = GeneratorKind::kCriteo;
  o.rows = rows;
  o.seed = seed;
  return o;
}

GeneratorOptions Impressions(int64_t rows, uint64_t seed) {
  GeneratorOptions o;
  o.kind = GeneratorKind::kImpressions;
  o.rows = rows;
  o.seed = seed;
  return o;
}

// ---------------------------------------------------------------- criteo

TEST(CriteoGeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir;
  ASSERT_TRUE(GenerateToPath(Criteo(5000, 7), dir.Path("a.tsv")).ok());
  ASSERT_TRUE(GenerateToPath(Criteo(5000, 7), dir.Path("b.tsv")).ok());
  ASSERT_TRUE(GenerateToPath(Criteo(5000, 8), dir.Path("c.tsv")).ok());
  std::string a = ReadFile(dir.Path("a.tsv"));
  EXPECT_GT(a.size(), 5000u * 100);
  EXPECT_EQ(a, ReadFile(dir.Path("b.tsv")));
  EXPECT_NE(a, ReadFile(dir.Path("c.tsv")));
}

TEST(CriteoGeneratorTest, RowsHaveTheKaggleLayout) {
  TempDir dir;
  const int64_t rows = 20000;
  ASSERT_TRUE(GenerateToPath(Criteo(rows, 3), dir.Path("d.tsv")).ok());
  std::vector<std::string> lines = ReadLines(dir.Path("d.tsv"));
  ASSERT_EQ(lines.size(), static_cast<size_t>(rows));
  int empty_dense = 0, negative_dense = 0, empty_cat = 0;
  for (const std::string& line : lines) {
    std::vector<std::string> f = Split(line, '\t');
    ASSERT_EQ(f.size(), 40u) << line;
    ASSERT_TRUE(f[0] == "0" || f[0] == "1") << line;
    for (int d = 1; d <= 13; ++d) {
      if (f[d].empty()) {
        ++empty_dense;
        continue;
      }
      ASSERT_TRUE(IsInteger(f[d])) << "I" << d << ": " << line;
      if (f[d][0] == '-') ++negative_dense;
    }
    for (int c = 14; c < 40; ++c) {
      if (f[c].empty()) {
        ++empty_cat;
        continue;
      }
      ASSERT_TRUE(IsLowerHex8(f[c])) << "C" << c - 13 << ": " << line;
    }
  }
  // Like the real data: some values missing, some integers negative.
  EXPECT_GT(empty_dense, rows / 10);
  EXPECT_GT(negative_dense, rows / 100);
  EXPECT_GT(empty_cat, rows / 10);
}

TEST(CriteoGeneratorTest, FormatAndParseRoundTrip) {
  CriteoGenerator gen(11);
  for (int64_t i = 0; i < 500; ++i) {
    CriteoRow row;
    gen.MakeRow(i, &row);
    std::string line;
    CriteoGenerator::Format(row, &line);
    std::string again;
    gen.AppendRow(i, &again);
    EXPECT_EQ(line, again);
    absl::StatusOr<CriteoRow> parsed = CriteoGenerator::Parse(line);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->label, row.label);
    EXPECT_EQ(parsed->dense_present, row.dense_present);
    EXPECT_EQ(parsed->cat_present, row.cat_present);
    EXPECT_EQ(parsed->cat, row.cat);
    EXPECT_DOUBLE_EQ(gen.Logit(*parsed), gen.Logit(row));
  }
  EXPECT_FALSE(CriteoGenerator::Parse("1\t2\t3").ok());
}

TEST(CriteoGeneratorTest, CategoricalFrequenciesFollowAPowerLaw) {
  CriteoGenerator gen(5);
  const int rows = 50000;
  std::vector<std::unordered_map<uint32_t, int>> counts(26);
  CriteoRow row;
  for (int i = 0; i < rows; ++i) {
    gen.MakeRow(i, &row);
    for (int c = 0; c < 26; ++c) {
      if (row.cat_present[c]) ++counts[c][row.cat[c]];
    }
  }
  size_t min_distinct = SIZE_MAX, max_distinct = 0;
  for (int c = 0; c < 26; ++c) {
    SCOPED_TRACE("C" + std::to_string(c + 1));
    std::vector<int> freq;
    for (const auto& [value, n] : counts[c]) freq.push_back(n);
    std::sort(freq.begin(), freq.end());
    min_distinct = std::min(min_distinct, freq.size());
    max_distinct = std::max(max_distinct, freq.size());
    EXPECT_LE(freq.size(), CriteoGenerator::Cardinality(c));
    if (freq.size() >= 100) {
      // Head far above the typical value.
      int median = freq[freq.size() / 2];
      EXPECT_GT(freq.back(), 20 * median);
      // Rank-frequency slope on a log-log scale between ranks 1 and 10
      // is near the Zipf exponent (1.05..1.25), not flat.
      double slope = std::log(static_cast<double>(freq[freq.size() - 1]) /
                              freq[freq.size() - 10]) /
                     std::log(10.0);
      EXPECT_GT(slope, 0.7);
      EXPECT_LT(slope, 1.6);
    }
  }
  // Cardinalities vary over orders of magnitude, as in Criteo.
  EXPECT_LE(min_distinct, 4u);
  EXPECT_GE(max_distinct, 20000u);
}

TEST(CriteoGeneratorTest, LabelRateIsCalibrated) {
  for (uint64_t seed : {1, 2, 3}) {
    CriteoGenerator gen(seed);
    const int rows = 40000;
    int positives = 0;
    CriteoRow row;
    for (int i = 0; i < rows; ++i) {
      gen.MakeRow(100000 + i, &row);  // beyond the calibration rows
      positives += row.label;
    }
    double ctr = static_cast<double>(positives) / rows;
    EXPECT_GT(ctr, 0.19) << "seed " << seed;
    EXPECT_LT(ctr, 0.26) << "seed " << seed;
  }
  // A different target moves the rate.
  CriteoGenerator low(1, 0.05);
  int positives = 0;
  CriteoRow row;
  for (int i = 0; i < 20000; ++i) {
    low.MakeRow(i, &row);
    positives += row.label;
  }
  EXPECT_NEAR(positives / 20000.0, 0.05, 0.015);
}

TEST(CriteoGeneratorTest, LabelsCarrySignalOfTheHiddenModel) {
  TempDir dir;
  const int64_t rows = 30000;
  ASSERT_TRUE(GenerateToPath(Criteo(rows, 9), dir.Path("s.tsv")).ok());
  CriteoGenerator hidden(9);
  CriteoGenerator other(10);  // a model unrelated to the labels
  std::vector<std::pair<double, int>> by_hidden, by_other, by_dense;
  for (const std::string& line : ReadLines(dir.Path("s.tsv"))) {
    absl::StatusOr<CriteoRow> row = CriteoGenerator::Parse(line);
    ASSERT_TRUE(row.ok()) << row.status();
    by_hidden.emplace_back(hidden.Logit(*row), row->label);
    by_other.emplace_back(other.Logit(*row), row->label);
  }
  double auc = Auc(by_hidden);
  EXPECT_GT(auc, 0.7);
  EXPECT_LT(auc, 0.95);  // labels are noisy draws, not thresholds
  EXPECT_NEAR(Auc(by_other), 0.5, 0.05);
}

// One pass of logistic regression (one weight per column and value,
// AdaGrad) with progressive validation: the labels are learnable, not only
// explained by the hidden model.
TEST(CriteoGeneratorTest, LogisticRegressionLearnsFromTheRows) {
  CriteoGenerator gen(17);
  const int rows = 120000, tail = 40000;
  std::unordered_map<uint64_t, std::pair<double, double>> w;  // weight, g^2
  std::vector<std::pair<double, int>> scored;
  CriteoRow row;
  std::vector<std::pair<uint64_t, double>> features;
  for (int i = 0; i < rows; ++i) {
    gen.MakeRow(i, &row);
    features.clear();
    features.emplace_back(0, 1.0);  // bias
    for (int c = 0; c < 26; ++c) {
      uint64_t key = (static_cast<uint64_t>(c + 1) << 33) |
                     (row.cat_present[c] ? (1ULL << 32) | row.cat[c] : 0);
      features.emplace_back(key, 1.0);
    }
    for (int d = 0; d < 13; ++d) {
      double x = row.dense_present[d]
                     ? std::log1p(std::max<double>(0, row.dense[d]))
                     : 0.0;
      features.emplace_back(static_cast<uint64_t>(100 + d), x / 5);
    }
    double z = 0;
    for (const auto& [k, x] : features) z += w[k].first * x;
    double p = 1 / (1 + std::exp(-z));
    if (i >= rows - tail) scored.emplace_back(p, row.label);
    for (const auto& [k, x] : features) {
      auto& [wk, g2] = w[k];
      double g = (p - row.label) * x;
      g2 += g * g;
      wk -= 0.1 * g / std::sqrt(g2 + 1e-6);
    }
  }
  EXPECT_GT(Auc(scored), 0.68);
}

// ----------------------------------------------------------- impressions

struct ImpressionRow {
  std::string request_id;
  int64_t user, item, topic, position, hour, time;
  std::string device;
  int click = -1;
};

ImpressionRow ParseImpression(const std::string& line) {
  std::vector<std::string> f = Split(line, ',');
  EXPECT_GE(f.size(), 8u) << line;
  ImpressionRow r;
  r.request_id = f[0];
  r.user = std::stoll(f[1]);
  r.item = std::stoll(f[2]);
  r.topic = std::stoll(f[3]);
  r.position = std::stoll(f[4]);
  r.hour = std::stoll(f[5]);
  r.device = f[6];
  r.time = std::stoll(f[7]);
  if (f.size() > 8) r.click = std::stoi(f[8]);
  return r;
}

TEST(ImpressionsGeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir;
  ASSERT_TRUE(GenerateToPath(Impressions(6000, 4), dir.Path("a")).ok());
  ASSERT_TRUE(GenerateToPath(Impressions(6000, 4), dir.Path("b")).ok());
  ASSERT_TRUE(GenerateToPath(Impressions(6000, 5), dir.Path("c")).ok());
  for (const char* file : {"impressions.csv", "actions.csv", "joined.csv"}) {
    std::string a = ReadFile(dir.Path(std::string("a/") + file));
    EXPECT_GT(a.size(), 1000u) << file;
    EXPECT_EQ(a, ReadFile(dir.Path(std::string("b/") + file))) << file;
    EXPECT_NE(a, ReadFile(dir.Path(std::string("c/") + file))) << file;
  }
}

TEST(ImpressionsGeneratorTest, ActionsFollowTheirImpressions) {
  TempDir dir;
  const int64_t rows = 60000;
  ASSERT_TRUE(GenerateToPath(Impressions(rows, 2), dir.Path("f")).ok());
  std::vector<std::string> imps = ReadLines(dir.Path("f/impressions.csv"));
  std::vector<std::string> acts = ReadLines(dir.Path("f/actions.csv"));
  std::vector<std::string> joined = ReadLines(dir.Path("f/joined.csv"));
  ASSERT_EQ(imps.size(), static_cast<size_t>(rows + 1));
  ASSERT_EQ(joined.size(), imps.size());
  EXPECT_EQ(imps[0], ImpressionsGenerator::kImpressionsHeader);
  EXPECT_EQ(acts[0], "request_id,item_id,action,event_time_ms");
  EXPECT_EQ(joined[0], imps[0] + ",click");

  // (request_id, item) -> impression time; event time never goes back and
  // runs at about 1000 impressions per second.
  std::map<std::pair<std::string, int64_t>, int64_t> shown;
  int64_t prev = 0, first = 0;
  for (size_t i = 1; i < imps.size(); ++i) {
    ImpressionRow r = ParseImpression(imps[i]);
    ASSERT_EQ(r.request_id.size(), 16u);
    ASSERT_TRUE(r.device == "ios" || r.device == "android" ||
                r.device == "web");
    ASSERT_GE(r.time, prev) << "line " << i;
    if (i == 1) first = r.time;
    prev = r.time;
    EXPECT_TRUE(
        shown.emplace(std::make_pair(r.request_id, r.item), r.time).second)
        << "item shown twice in one request: " << imps[i];
    // joined = impression + click.
    ASSERT_EQ(joined[i].substr(0, imps[i].size() + 1), imps[i] + ",");
  }
  double seconds = (prev - first) / 1000.0;
  EXPECT_NEAR(rows / seconds, 1000.0, 50.0);

  // Every action refers to a shown item, comes after it, in time order.
  std::set<std::pair<std::string, int64_t>> clicked;
  int64_t prev_action = 0;
  int late = 0;
  for (size_t i = 1; i < acts.size(); ++i) {
    std::vector<std::string> f = Split(acts[i], ',');
    ASSERT_EQ(f.size(), 4u) << acts[i];
    EXPECT_EQ(f[2], "click");
    auto key = std::make_pair(f[0], std::stoll(f[1]));
    int64_t t = std::stoll(f[3]);
    auto it = shown.find(key);
    ASSERT_NE(it, shown.end()) << "action without impression: " << acts[i];
    EXPECT_GT(t, it->second) << acts[i];
    if (t - it->second > 5 * 60 * 1000) ++late;
    EXPECT_GE(t, prev_action) << "actions out of order at line " << i;
    prev_action = t;
    EXPECT_TRUE(clicked.insert(key).second) << "duplicate click " << acts[i];
  }
  // joined's click column is exactly the set of actions.
  int64_t clicks = 0;
  for (size_t i = 1; i < joined.size(); ++i) {
    ImpressionRow r = ParseImpression(joined[i]);
    ASSERT_TRUE(r.click == 0 || r.click == 1);
    clicks += r.click;
    EXPECT_EQ(r.click == 1, clicked.count({r.request_id, r.item}) == 1)
        << joined[i];
  }
  EXPECT_EQ(clicks, static_cast<int64_t>(acts.size()) - 1);
  double ctr = static_cast<double>(clicks) / rows;
  EXPECT_GT(ctr, 0.03);
  EXPECT_LT(ctr, 0.25);
  // Some clicks arrive later than a 5-minute join window, most do not.
  double late_share = static_cast<double>(late) / clicks;
  EXPECT_GT(late_share, 0.01);
  EXPECT_LT(late_share, 0.15);
}

// Per-user distribution of clicks over topics in rows [begin, end).
using TopicClicks = std::map<int64_t, std::vector<double>>;
TopicClicks ClicksByUserTopic(const ImpressionsGenerator& gen, int64_t begin,
                              int64_t end) {
  TopicClicks out;
  std::vector<Impression> request;
  for (int64_t r = begin / gen.options().slate; r * gen.options().slate < end;
       ++r) {
    gen.MakeRequest(r, &request);
    for (const Impression& imp : request) {
      if (imp.row < begin || imp.row >= end || !imp.click) continue;
      auto& v = out[imp.user];
      v.resize(gen.options().topics);
      v[imp.topic] += 1;
    }
  }
  return out;
}

// Mean total-variation distance between the topic distributions of users
// with at least `min_clicks` clicks in both periods.
double MeanTopicShift(const TopicClicks& a, const TopicClicks& b,
                      int min_clicks, int* users) {
  double sum = 0;
  *users = 0;
  for (const auto& [user, va] : a) {
    auto it = b.find(user);
    if (it == b.end()) continue;
    const auto& vb = it->second;
    double na = 0, nb = 0;
    for (double x : va) na += x;
    for (double x : vb) nb += x;
    if (na < min_clicks || nb < min_clicks) continue;
    double tv = 0;
    for (size_t t = 0; t < va.size(); ++t)
      tv += std::fabs(va[t] / na - vb[t] / nb);
    sum += tv / 2;
    ++*users;
  }
  return *users ? sum / *users : 0;
}

TEST(ImpressionsGeneratorTest, UserInterestsDriftAtTheDriftPoint) {
  ImpressionsOptions o;
  o.users = 400;
  const int64_t rows = 1200000;
  ImpressionsGenerator gen(21, rows, o);
  ASSERT_EQ(gen.drift_row(), rows / 2 / o.slate * o.slate);
  const int64_t q = rows / 4;
  // Two periods before the drift, one on each side of it.
  TopicClicks q0 = ClicksByUserTopic(gen, 0, q);
  TopicClicks q1 = ClicksByUserTopic(gen, q, 2 * q);
  TopicClicks q2 = ClicksByUserTopic(gen, 2 * q, 3 * q);
  int users_control = 0, users_drift = 0;
  double control = MeanTopicShift(q0, q1, 60, &users_control);
  double across = MeanTopicShift(q1, q2, 60, &users_drift);
  ASSERT_GE(users_control, 30);
  ASSERT_GE(users_drift, 30);
  EXPECT_GT(across, 0.4);
  EXPECT_GT(across, control + 0.2) << "control " << control;
  // Gradual drift: even before the drift point, interests move.
  EXPECT_GT(control, 0.15);

  // The preferred topic (argmax of the affinity) changes at the drift point
  // for most users, and rarely just before it.
  int changed = 0, changed_before = 0;
  for (int64_t u = 0; u < o.users; ++u) {
    auto argmax = [](const std::vector<double>& v) {
      return std::max_element(v.begin(), v.end()) - v.begin();
    };
    auto before = gen.Affinity(u, gen.drift_row() - 1);
    auto after = gen.Affinity(u, gen.drift_row());
    auto earlier = gen.Affinity(u, gen.drift_row() - rows / 100);
    changed += argmax(before) != argmax(after);
    changed_before += argmax(earlier) != argmax(before);
  }
  EXPECT_GT(changed, o.users * 3 / 4);
  EXPECT_LT(changed_before, o.users / 4);
}

// A learner that knows only per-(user, topic) click rates, with decayed
// counts, scores each impression before learning from it. Its AUC over a
// window drops right after the drift point and recovers later.
TEST(ImpressionsGeneratorTest, WindowedAucDropsAtDriftAndRecovers) {
  ImpressionsOptions o;
  o.users = 400;
  const int64_t rows = 300000;
  ImpressionsGenerator gen(33, rows, o);
  const int64_t drift = gen.drift_row();
  const int64_t window = 15000;
  const double decay = std::pow(0.5, 1.0 / 20000);  // per impression
  struct Counts {
    double clicks = 0, shows = 0;
    int64_t last = 0;
  };
  std::unordered_map<int64_t, Counts> counts;
  std::vector<std::pair<double, int>> before, after, late;
  std::vector<Impression> request;
  for (int64_t r = 0; r < gen.num_requests(); ++r) {
    gen.MakeRequest(r, &request);
    for (const Impression& imp : request) {
      Counts& c = counts[imp.user * o.topics + imp.topic];
      double f = std::pow(decay, static_cast<double>(imp.row - c.last));
      c.clicks *= f;
      c.shows *= f;
      c.last = imp.row;
      double score = (c.clicks + 0.1) / (c.shows + 1.0);
      std::pair<double, int> scored(score, imp.click ? 1 : 0);
      if (imp.row >= drift - window && imp.row < drift)
        before.push_back(scored);
      if (imp.row >= drift && imp.row < drift + window) after.push_back(scored);
      if (imp.row >= rows - window) late.push_back(scored);
      c.clicks += imp.click ? 1 : 0;
      c.shows += 1;
    }
  }
  double auc_before = Auc(before), auc_after = Auc(after), auc_late = Auc(late);
  EXPECT_GT(auc_before, 0.65);
  EXPECT_LT(auc_after, auc_before - 0.05)
      << "before " << auc_before << " after " << auc_after;
  EXPECT_GT(auc_late, auc_after + 0.03)
      << "after " << auc_after << " late " << auc_late;
}

// ---------------------------------------------------------------- source

TEST(GeneratorSourceTest, CriteoRecordsMatchTheFileAndSeekReplays) {
  TempDir dir;
  const int64_t rows = 2500;
  ASSERT_TRUE(GenerateToPath(Criteo(rows, 12), dir.Path("x.tsv")).ok());
  std::vector<std::string> lines = ReadLines(dir.Path("x.tsv"));
  SourceSpec spec;
  spec.type = "generator";
  spec.generator_kind = "criteo";
  spec.generator_rows = rows;
  spec.generator_seed = 12;
  absl::StatusOr<std::unique_ptr<Source>> source = MakeGeneratorSource(spec);
  ASSERT_TRUE(source.ok()) << source.status();
  Source& s = **source;
  RecordBatch batch;
  std::vector<std::string> got;
  while (!s.AtEnd()) {
    ASSERT_TRUE(s.Poll(300, 0, &batch).ok());
    ASSERT_FALSE(batch.records.empty());
    for (const auto& rec : batch.records) {
      EXPECT_EQ(rec.position.segment, "gen");
      EXPECT_EQ(rec.position.offset, static_cast<int64_t>(got.size()));
      got.emplace_back(rec.data);
    }
    EXPECT_EQ(batch.end, s.Position());
  }
  EXPECT_EQ(got, lines);
  EXPECT_EQ(s.Position(), (StreamPosition{"gen", rows}));
  ASSERT_TRUE(s.Poll(10, 0, &batch).ok());
  EXPECT_TRUE(batch.records.empty());

  ASSERT_TRUE(s.Seek({"gen", 1234}).ok());
  EXPECT_FALSE(s.AtEnd());
  ASSERT_TRUE(s.Poll(3, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 3u);
  EXPECT_EQ(batch.records[0].data, lines[1234]);
  EXPECT_EQ(batch.records[2].data, lines[1236]);
  EXPECT_EQ(s.Position(), (StreamPosition{"gen", 1237}));

  EXPECT_FALSE(s.Seek({"file-0", 3}).ok());
  EXPECT_FALSE(s.Seek({"gen", rows + 1}).ok());
  EXPECT_FALSE(s.Seek({"gen", -1}).ok());
}

TEST(GeneratorSourceTest, ImpressionsRecordsAreJoinedRowsWithHeaderApart) {
  TempDir dir;
  const int64_t rows = 1000;  // not a multiple of the slate
  ASSERT_TRUE(GenerateToPath(Impressions(rows, 6), dir.Path("j")).ok());
  std::vector<std::string> joined = ReadLines(dir.Path("j/joined.csv"));
  ASSERT_EQ(joined.size(), static_cast<size_t>(rows + 1));
  absl::StatusOr<std::unique_ptr<GeneratorSource>> created =
      GeneratorSource::Create(Impressions(rows, 6));
  ASSERT_TRUE(created.ok()) << created.status();
  GeneratorSource& source = **created;
  EXPECT_EQ(source.header(), joined[0]);
  EXPECT_EQ(*GeneratorHeader("impressions"), joined[0]);
  RecordBatch batch;
  std::vector<std::string> got;
  while (!source.AtEnd()) {
    ASSERT_TRUE(source.Poll(77, 0, &batch).ok());
    for (const auto& rec : batch.records) got.emplace_back(rec.data);
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) EXPECT_EQ(got[i], joined[i + 1]);
  // Seek into the middle of a request.
  ASSERT_TRUE(source.Seek({"gen", 990}).ok());
  ASSERT_TRUE(source.Poll(SIZE_MAX, 0, &batch).ok());
  EXPECT_EQ(batch.records.size(), 10u);
  EXPECT_TRUE(source.AtEnd());
  ASSERT_TRUE(source.Seek({"gen", 500}).ok());
  ASSERT_TRUE(source.Poll(2, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].data, joined[501]);
  EXPECT_EQ(batch.records[1].data, joined[502]);
}

TEST(GeneratorSourceTest, ColumnsAndErrors) {
  absl::StatusOr<std::vector<std::string>> criteo = GeneratorColumns("criteo");
  ASSERT_TRUE(criteo.ok());
  ASSERT_EQ(criteo->size(), 40u);
  EXPECT_EQ((*criteo)[0], "label");
  EXPECT_EQ((*criteo)[13], "I13");
  EXPECT_EQ((*criteo)[39], "C26");
  EXPECT_EQ(*GeneratorHeader("criteo"), "");
  absl::StatusOr<std::vector<std::string>> imp =
      GeneratorColumns("impressions");
  ASSERT_TRUE(imp.ok());
  EXPECT_EQ(imp->back(), "click");
  EXPECT_FALSE(GeneratorColumns("movielens").ok());

  GeneratorOptions bad = Impressions(10, 1);
  bad.impressions.slate = 0;
  EXPECT_FALSE(GeneratorSource::Create(bad).ok());
  EXPECT_FALSE(GenerateToPath(bad, "/tmp/unused").ok());

  SourceSpec spec;
  spec.generator_kind = "bogus";
  EXPECT_FALSE(MakeGeneratorSource(spec).ok());
  spec.generator_kind = "criteo";
  spec.generator_rows = -5;
  EXPECT_FALSE(MakeGeneratorSource(spec).ok());
  EXPECT_FALSE(GenerateToPath(Criteo(10, 1), "").ok());
  EXPECT_FALSE(
      GenerateToPath(Criteo(10, 1), "/nonexistent-folder/x/y.tsv").ok());
}

TEST(GeneratorSourceTest, ProgressIsReported) {
  TempDir dir;
  GeneratorOptions o = Criteo(70000, 1);
  o.progress_interval_s = 0;
  std::vector<int64_t> seen;
  o.progress = [&](int64_t done) { seen.push_back(done); };
  ASSERT_TRUE(GenerateToPath(o, dir.Path("p.tsv")).ok());
  ASSERT_GE(seen.size(), 2u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.back(), 70000);
}

TEST(SyntheticExampleTest, JobFileDescribesTheGeneratorStream) {
  const std::string path =
      std::string(FRESHET_SOURCE_DIR) + "/examples/synthetic.yaml";
  absl::StatusOr<JobConfig> job = LoadJobConfig(path);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->source.type, "generator");
  EXPECT_EQ(job->source.generator_kind, "criteo");
  ASSERT_EQ(job->schema.slots.size(), 26u);
  ASSERT_EQ(job->schema.dense.size(), 13u);
  ASSERT_EQ(job->schema.labels.size(), 1u);
  absl::StatusOr<std::vector<std::string>> columns =
      GeneratorColumns(job->source.generator_kind);
  ASSERT_TRUE(columns.ok());
  std::set<std::string> names(columns->begin(), columns->end());
  for (const SlotSpec& s : job->schema.slots)
    EXPECT_TRUE(names.count(s.column));
  for (const DenseSpec& d : job->schema.dense)
    EXPECT_TRUE(names.count(d.column));
  EXPECT_TRUE(names.count(job->schema.labels[0].column));

  absl::StatusOr<std::unique_ptr<Source>> source =
      MakeGeneratorSource(job->source);
  ASSERT_TRUE(source.ok()) << source.status();
  RecordBatch batch;
  ASSERT_TRUE((*source)->Poll(5, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 5u);
  EXPECT_EQ(Split(std::string(batch.records[0].data), '\t').size(), 40u);
}

// The data layer's record parsers read generated records as they read real
// ones: criteo rows with the criteo format, impressions with csv and the
// header from the source.
TEST(SyntheticExampleTest, RecordParsersReadGeneratedRecords) {
  absl::StatusOr<JobConfig> job = LoadJobConfig(
      std::string(FRESHET_SOURCE_DIR) + "/examples/synthetic.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  job->source.generator_rows = 3000;
  absl::StatusOr<std::shared_ptr<const Schema>> schema =
      Schema::Compile(job->schema);
  ASSERT_TRUE(schema.ok()) << schema.status();
  absl::StatusOr<std::unique_ptr<RecordParser>> parser =
      MakeRecordParser(*schema, job->source);
  ASSERT_TRUE(parser.ok()) << parser.status();
  absl::StatusOr<std::unique_ptr<Source>> source =
      MakeGeneratorSource(job->source);
  ASSERT_TRUE(source.ok()) << source.status();
  RecordBatch batch;
  Example ex;
  int64_t n = 0, positives = 0;
  while (!(*source)->AtEnd()) {
    ASSERT_TRUE((*source)->Poll(500, 0, &batch).ok());
    for (const auto& rec : batch.records) {
      absl::Status st = (*parser)->Parse(rec.data, &ex);
      ASSERT_TRUE(st.ok()) << st << ": " << rec.data;
      ASSERT_EQ(ex.num_slots(), 26);
      ASSERT_EQ(ex.dense.size(), 13u);
      positives += ex.label() == 1.0f;
      ++n;
    }
  }
  EXPECT_EQ(n, 3000);
  EXPECT_GT(positives, 3000 * 0.15);
  EXPECT_LT(positives, 3000 * 0.3);

  absl::StatusOr<JobConfig> feed = ParseJobConfig(R"(
schema:
  slots: [user_id, item_id, item_category, position, hour, device]
  label: click
  timestamp: {column: event_time_ms, unit: ms}
  request_id: request_id
source: {type: generator, kind: impressions, rows: 2000, seed: 4, format: csv}
)",
                                                  "feed.yaml", "");
  ASSERT_TRUE(feed.ok()) << feed.status();
  absl::StatusOr<std::shared_ptr<const Schema>> feed_schema =
      Schema::Compile(feed->schema);
  ASSERT_TRUE(feed_schema.ok()) << feed_schema.status();
  GeneratorSource gen(*GeneratorOptionsFromSpec(feed->source));
  absl::StatusOr<std::unique_ptr<RecordParser>> csv =
      MakeRecordParser(*feed_schema, feed->source, gen.header());
  ASSERT_TRUE(csv.ok()) << csv.status();
  ASSERT_TRUE(gen.Poll(2000, 0, &batch).ok());
  ASSERT_EQ(batch.records.size(), 2000u);
  int64_t last_time = 0;
  for (const auto& rec : batch.records) {
    absl::Status st = (*csv)->Parse(rec.data, &ex);
    ASSERT_TRUE(st.ok()) << st << ": " << rec.data;
    EXPECT_EQ(ex.num_slots(), 6);
    EXPECT_NE(ex.request_id, 0u);
    EXPECT_GE(ex.event_time_ms, last_time);
    last_time = ex.event_time_ms;
  }
  EXPECT_GT(last_time, ImpressionsOptions().start_ms);
}

}  // namespace
}  // namespace freshet
