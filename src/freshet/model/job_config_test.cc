#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "freshet/base/config.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;

constexpr char kJob[] = R"(schema:
  label: label
  dense:
    - {name: I1, transform: log}
  slots:
    - C1
    - {name: C2, table: shared}
    - {name: C3, table: shared}
    - {name: genres, column: movies.genres, multi_valued: true, pooling: mean}
  side_tables:
    - {name: movies, path: data/movies.csv, key: movieId}
table_defaults:
  dim: 8
  optimizer: {type: adagrad, learning_rate: 0.05}
tables:
  - name: shared
    dim: 16
    ttl: 7d
    memory_budget: 512MiB
    admission: {min_count: 300}
model:
  type: deepfm
  hidden: [64, 32]
source:
  type: file
  path: logs/train.tsv
  format: criteo
train:
  batch_size: 128
)";

absl::StatusOr<JobConfig> Parse(
    const std::string& text, const std::vector<std::string>& overrides = {}) {
  return ParseJobConfig(text, "job.yaml", "/jobs", overrides);
}

TEST(ConfigTest, ParsesAFullJob) {
  auto job = Parse(kJob);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ(job->schema.slots.size(), 4u);
  EXPECT_EQ(job->schema.slots[0].table, "C1");
  EXPECT_EQ(job->schema.slots[0].column, "C1");
  EXPECT_EQ(job->schema.slots[2].table, "shared");
  EXPECT_TRUE(job->schema.slots[3].multi_valued);
  EXPECT_EQ(job->schema.slots[3].pooling, Pooling::kMean);
  EXPECT_EQ(job->schema.dense[0].transform, DenseTransform::kLog);
  ASSERT_EQ(job->schema.labels.size(), 1u);
  EXPECT_EQ(job->schema.labels[0].column, "label");
  EXPECT_EQ(job->schema.side_tables[0].path, "/jobs/data/movies.csv");
  EXPECT_EQ(job->schema.side_tables[0].join_column, "movieId");
  // One listed table plus one per unlisted slot table (C1, genres).
  ASSERT_EQ(job->tables.size(), 3u);
  const TableSpec* shared = job->FindTable("shared");
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->dim, 16);
  EXPECT_EQ(shared->ttl_ms, 7LL * 86400 * 1000);
  EXPECT_EQ(shared->memory_budget_bytes, 512LL << 20);
  EXPECT_EQ(shared->admission.min_count, 300u);
  EXPECT_DOUBLE_EQ(shared->optimizer.learning_rate, 0.05);  // from defaults
  EXPECT_EQ(job->FindTable("C1")->dim, 8);
  EXPECT_EQ(job->model.type, "deepfm");
  EXPECT_EQ(job->model.hidden, (std::vector<int>{64, 32}));
  EXPECT_EQ(job->model.dense_optimizer.type, "adam");
  EXPECT_EQ(job->source.path, "/jobs/logs/train.tsv");
  EXPECT_EQ(job->source.delimiter, "\t");
  EXPECT_EQ(job->train.batch_size, 128);
}

TEST(ConfigTest, OverridesReplaceValuesBeforeValidation) {
  auto job = Parse(kJob, {"model.type=fm", "tables.shared.dim=32",
                          "schema.slots.0.table=shared", "model.hidden=[8]",
                          "train.threads=1"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->model.type, "fm");
  EXPECT_EQ(job->FindTable("shared")->dim, 32);
  EXPECT_EQ(job->schema.slots[0].table, "shared");
  EXPECT_EQ(job->model.hidden, std::vector<int>{8});
  EXPECT_EQ(job->train.threads, 1);
  EXPECT_EQ(job->FindTable("C1"), nullptr);
}

TEST(ConfigTest, SyncAndServeSections) {
  auto defaults = Parse(kJob);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->sync.interval_ms, 1000);
  EXPECT_EQ(defaults->serve.bind, "127.0.0.1");
  EXPECT_EQ(defaults->serve.max_candidates, 1000);
  auto job =
      Parse(kJob, {"sync.interval=100ms", "serve.port=0",
                   "serve.max_body_bytes=64KiB", "serve.stale_after=3s"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->sync.interval_ms, 100);
  EXPECT_EQ(job->serve.port, 0);
  EXPECT_EQ(job->serve.max_body_bytes, 65536);
  EXPECT_EQ(job->serve.stale_after_ms, 3000);
}

TEST(ConfigTest, CheckpointSection) {
  auto defaults = Parse(kJob);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->checkpoint.dir, "");
  EXPECT_EQ(defaults->checkpoint.every_examples, 0);
  EXPECT_TRUE(defaults->checkpoint.on_exit);
  EXPECT_EQ(defaults->serve.admin_token, "");
  EXPECT_EQ(defaults->checkpoint.max_write_mbps, 150);
  auto job =
      Parse(kJob, {"checkpoint.dir=ckpt", "checkpoint.every=2m",
                   "checkpoint.every_examples=100000",
                   "checkpoint.full_every=4", "checkpoint.on_exit=false",
                   "serve.admin_token=abc", "checkpoint.max_write_mbps=25.5"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->checkpoint.dir, "/jobs/ckpt");
  EXPECT_EQ(job->checkpoint.every_ms, 120000);
  EXPECT_EQ(job->checkpoint.every_examples, 100000);
  EXPECT_EQ(job->checkpoint.full_every, 4);
  EXPECT_FALSE(job->checkpoint.on_exit);
  EXPECT_EQ(job->serve.admin_token, "abc");
  EXPECT_EQ(job->checkpoint.max_write_mbps, 25.5);
  auto unpaced = Parse(kJob, {"checkpoint.max_write_mbps=0"});
  ASSERT_TRUE(unpaced.ok()) << unpaced.status();
  EXPECT_EQ(unpaced->checkpoint.max_write_mbps, 0);
}

// Finding a list element by name past a short-form element (a scalar, "- C1")
// used to throw out of the YAML library and abort the command.
TEST(ConfigTest, OverrideFindsANamedElementPastShortFormOnes) {
  auto job = Parse(kJob, {"schema.slots.C3.pooling=mean"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->schema.slots[2].name, "C3");
  EXPECT_EQ(job->schema.slots[2].pooling, Pooling::kMean);
  // A path through a scalar is an error naming the override.
  auto bad = Parse(kJob, {"source.path.x=1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--set source.path.x=1"));
}

TEST(ConfigTest, OverrideCreatesMissingMaps) {
  auto job = Parse(kJob, {"sink.type=file", "sink.path=out.log"});
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->sink.path, "/jobs/out.log");
}

TEST(ConfigTest, ErrorNamesFileLineAndField) {
  std::string bad = kJob;
  bad.replace(bad.find("dim: 16"), 7, "dim: 0");
  auto job = Parse(bad);
  ASSERT_FALSE(job.ok());
  // "dim: 0" is on line 17 of kJob.
  EXPECT_THAT(job.status().message(), HasSubstr("job.yaml:17: tables.0.dim"));
  EXPECT_THAT(job.status().message(), HasSubstr("must be in 1..4096, got 0"));
}

TEST(ConfigTest, ErrorFromOverrideNamesTheOverride) {
  auto job = Parse(kJob, {"model.type=transformer"});
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(),
              HasSubstr("job.yaml (--set model.type=transformer): model.type"));
  EXPECT_THAT(job.status().message(), HasSubstr("expected one of lr, fm"));
}

TEST(ConfigTest, UnknownKeyIsAnError) {
  std::string bad = kJob;
  bad.replace(bad.find("hidden:"), 7, "hiden:");
  auto job = Parse(bad);
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(), HasSubstr("model.hiden: unknown key"));
  EXPECT_THAT(job.status().message(), HasSubstr("job.yaml:23"));
}

struct BadCase {
  std::vector<std::string> overrides;
  std::string expected;
};

TEST(ConfigTest, RejectsBadValues) {
  const std::vector<BadCase> cases = {
      {{"tables.shared.admission.min_count=70000"}, "must be in 1..65535"},
      {{"tables.shared.admission.probability=0"}, "must be in (0, 1]"},
      {{"tables.shared.ttl=soon"}, "expected a duration"},
      {{"tables.shared.memory_budget=lots"}, "expected a size"},
      {{"tables.shared.optimizer.type=lbfgs"}, "unknown optimizer 'lbfgs'"},
      {{"tables.shared.optimizer.learning_rate=-1"}, "must be > 0"},
      {{"tables.shared.serving_precision=int8"}, "expected fp32 or fp16"},
      {{"model.dense_optimizer=ftrl"}, "unknown optimizer 'ftrl'"},
      {{"model.hidden=[64, 0]"}, "layer sizes must be in 1..65536"},
      {{"model.hidden=[65536, 65536]"}, "the limit is 268435456 (1 GiB)"},
      {{"train.window_examples=1000000000000"}, "must be in 1..100000000"},
      {{"source.max_line_bytes=10GiB"}, "must be in 64 bytes..1GiB"},
      {{"source.format=parquet"}, "unknown format 'parquet'"},
      {{"source.type=s3"}, "expected file or generator"},
      {{"train.batch_size=0"}, "must be in 1..1048576"},
      {{"train.batch_size=many"}, "expected an integer"},
      {{"schema.slots.1.pooling=max"}, "expected sum or mean"},
      {{"schema.slots.3.column=films.genres"},
       "no side table is named 'films'"},
      {{"schema.dense.0.transform=sqrt"}, "expected none, log, clip or zscore"},
      {{"schema.slots.1.name=C1"}, "duplicate slot or feature name 'C1'"},
      {{"model"}, "expected path.to.key=value"},
      {{"schema.slots.9.name=x"}, "index 9 out of range"},
      {{"tables.nosuch.dim=3"}, "no element named 'nosuch'"},
      {{"sync.interval=5ms"}, "must be between 10ms and 1h"},
      {{"serve.port=70000"}, "must be in 0..65535"},
      {{"serve.max_candidates=0"}, "must be in 1..1000000"},
      {{"serve.stale_after=later"}, "expected a duration"},
      {{"checkpoint.every_examples=-1"}, "checkpoint.every_examples"},
      {{"checkpoint.full_every=0"}, "must be >= 1"},
      {{"checkpoint.keep_full=0"}, "must be >= 1"},
      {{"checkpoint.zstd_level=30"}, "must be in 1..19"},
      {{"checkpoint.writer_nice=20"}, "must be in 0..19"},
      {{"checkpoint.every=soon"}, "expected a duration"},
      {{"checkpoint.when=always"}, "checkpoint.when"},
      // Values that pass a `< 0` check or overflow the field they fill.
      {{"checkpoint.max_write_mbps=nan"}, "expected a number, got 'nan'"},
      {{"checkpoint.max_write_mbps=inf"}, "expected a number, got 'inf'"},
      {{"checkpoint.max_write_mbps=-1"}, "checkpoint.max_write_mbps: must be"},
      {{"tables.shared.admission.probability=nan"}, "expected a number"},
      {{"tables.shared.ttl=1e20d"}, "tables.0.ttl: duration too long"},
      {{"checkpoint.every=1e300"}, "checkpoint.every: duration too long"},
      {{"tables.shared.memory_budget=1e30GB"}, "size too large"},
      {{"schema.dense.0.clip_max=1e300"}, "out of range of a 32-bit float"},
  };
  for (const BadCase& c : cases) {
    auto job = Parse(kJob, c.overrides);
    ASSERT_FALSE(job.ok()) << c.overrides[0];
    EXPECT_THAT(job.status().message(), HasSubstr(c.expected))
        << c.overrides[0];
  }
}

// Each kind's registry lists its names when one is unknown.
TEST(ConfigTest, UnknownKindListsTheRegisteredOnes) {
  const std::vector<BadCase> cases = {
      {{"model.type=gbdt"},
       "job.yaml (--set model.type=gbdt): model.type: unknown model 'gbdt'; "
       "expected one of lr, fm, deepfm, wide_deep, dcn_v2, mlp"},
      {{"source.type=kafka"},
       "source.type: unknown source type 'kafka'; expected file or generator"},
      {{"source.format=parquet"},
       "unknown format 'parquet'; expected one of criteo, csv, tsv, jsonl, "
       "libsvm, libffm"},
      {{"tables.shared.optimizer.type=lbfgs"},
       "tables.0.optimizer.type: unknown optimizer 'lbfgs'; expected one of "
       "sgd, adagrad, rowwise_adagrad, ftrl, adam, radagrad"},
      {{"model.dense_optimizer.type=ftrl"},
       "model.dense_optimizer.type: unknown optimizer 'ftrl'; expected one of "
       "sgd, momentum, adagrad, adam, adamw"},
      {{"tables.shared.eviction.policy=lru"},
       "tables.0.eviction.policy: unknown eviction policy 'lru'; expected "
       "value"},
  };
  for (const BadCase& c : cases) {
    auto job = Parse(kJob, c.overrides);
    ASSERT_FALSE(job.ok()) << c.overrides[0];
    EXPECT_THAT(job.status().message(), HasSubstr(c.expected))
        << c.overrides[0];
  }
}

// A kind's own range check names the file, the line and the field.
TEST(ConfigTest, KindRangeErrorsNameFileLineAndField) {
  const std::string schema = "schema:\n  slots: [a]\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tables:\n  - name: a\n    optimizer: {type: adam, beta1: 1.5}\n",
       "job.yaml:5: tables.0.optimizer.beta1: must be in [0, 1), got 1.5"},
      {"tables:\n  - name: a\n    optimizer: {type: ftrl, l1: -1}\n",
       "job.yaml:5: tables.0.optimizer.l1: must be >= 0, got -1"},
      {"tables:\n  - name: a\n    eviction: {samples: 0}\n",
       "job.yaml:5: tables.0.eviction.samples: must be in 1..1024, got 0"},
      {"tables:\n  - name: a\n    eviction: {half_life: 0s}\n",
       "job.yaml:5: tables.0.eviction.half_life: must be > 0"},
      {"model:\n  type: dcn_v2\n  cross_layers: 17\n",
       "job.yaml:5: model.cross_layers: must be in 0..16, got 17"},
      {"model:\n  type: mlp\n  activation: gelu\n",
       "job.yaml:5: model.activation: expected relu, sigmoid, tanh or "
       "identity, got 'gelu'"},
      {"model:\n  type: lr\n  negative_sampling_rate: 2\n",
       "job.yaml:5: model.negative_sampling_rate: must be in (0, 1], got 2"},
      {"source:\n  format: csv\n  delimiter: ';;'\n",
       "job.yaml:5: source.delimiter: must be a single character"},
      {"source:\n  type: generator\n  rows: 0\n",
       "job.yaml:5: source.rows: must be > 0, got 0"},
  };
  for (const auto& [text, expected] : cases) {
    auto job = Parse(schema + text);
    ASSERT_FALSE(job.ok()) << text;
    EXPECT_THAT(job.status().message(), HasSubstr(expected)) << text;
  }
}

// Eviction knobs reach the table spec; a key only another kind reads is kept
// out of the spec but accepted.
TEST(ConfigTest, EvictionAndKeysOfOtherKinds) {
  auto job = Parse(kJob, {"tables.shared.eviction={samples: 32, half_life: 1h, "
                          "positive_weight: 2}",
                          "tables.shared.optimizer.beta1=0.5"});
  ASSERT_TRUE(job.ok()) << job.status();
  const TableSpec* shared = job->FindTable("shared");
  EXPECT_EQ(shared->eviction.policy, "value");
  EXPECT_EQ(shared->eviction.samples, 32);
  EXPECT_EQ(shared->eviction.half_life_ms, 3600e3);
  EXPECT_EQ(shared->eviction.positive_weight, 2.0f);
  EXPECT_EQ(job->FindTable("C1")->eviction.samples, 8);
  EXPECT_EQ(shared->optimizer.beta1, OptimizerSpec().beta1);  // adagrad's
}

// The 1-based line of the first line of `text` that starts with `prefix`.
int LineOf(const std::string& text, const std::string& prefix) {
  int line = 1;
  for (size_t at = 0; at < text.size(); ++line) {
    if (text.compare(at, prefix.size(), prefix) == 0) return line;
    const size_t nl = text.find('\n', at);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return 0;
}

// yaml-cpp keeps both entries of a key given twice and reads the first; a
// job file that does so is an error naming the key and both lines.
TEST(ConfigTest, DuplicateKeyIsAnError) {
  const std::string job = std::string(kJob) + "  batch_size: 64\n";
  auto parsed = Parse(job);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(
      parsed.status().message(),
      HasSubstr(absl::StrCat("job.yaml:", LineOf(job, "  batch_size: 64"),
                             ": train.batch_size: duplicate key; first "
                             "given on line ",
                             LineOf(job, "  batch_size: 128"))));
}

TEST(ConfigTest, DuplicateKeysAnywhereAreErrors) {
  struct Case {
    std::string text;  // appended to kJob or replacing part of it
    std::string expected;
  };
  const std::vector<Case> cases = {
      // A whole section given twice: the second would be ignored.
      {std::string(kJob) + "model: lr\n", "model: duplicate key"},
      // In a flow map.
      {std::string(kJob) + "sync: {interval: 1s, interval: 2s}\n",
       "sync.interval: duplicate key"},
      // In an element of a list.
      {std::string(kJob) +
           "checkpoint:\n  every: 1m\n  on_exit: true\n  every: 2m\n",
       "checkpoint.every: duplicate key"},
  };
  for (const Case& c : cases) {
    auto parsed = Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.expected;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.expected));
    EXPECT_THAT(parsed.status().message(), HasSubstr("first given on line"));
  }
  std::string slots = kJob;
  slots.replace(slots.find("{name: C2, table: shared}"), 25,
                "{name: C2, table: shared, table: C2}");
  auto parsed = Parse(slots);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(),
              HasSubstr("job.yaml:7: schema.slots.1.table: duplicate key"));
}

// The value of a `--set` is YAML too; the same key twice in it is an error.
// Two overrides of one key are not: the later one wins, as documented.
TEST(ConfigTest, DuplicateKeyInAnOverrideIsAnError) {
  auto parsed = Parse(kJob, {"model={type: lr, type: fm}"});
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(),
              HasSubstr("--set model={type: lr, type: fm}: model.type: "
                        "duplicate key"));
  auto twice = Parse(kJob, {"train.batch_size=64", "train.batch_size=32"});
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(twice->train.batch_size, 32);
}

// yaml-cpp throws (BadConversion, InvalidNode, ...) or never ends on trees
// that no job holds; each is an error naming the field instead.
TEST(ConfigTest, StrangeTreesAreErrorsNotExceptions) {
  const std::string job = kJob;
  const std::vector<BadCase> cases = {
      // Keys that are lists or maps (yaml-cpp throws BadConversion reading
      // them as names).
      {{job + "sink:\n  ? [a, b]\n  : 1\n"},
       ": sink: a key must be a name, not a list or a map"},
      {{job + "sink: {{a: 1}: 2}\n"}, "sink: a key must be a name"},
      {{job + "? [x]\n: 1\n"}, "(top level): a key must be a name"},
      // An alias to a node that contains it: a walk of it never ends.
      {{job + "sink: &s {type: file, path: *s}\n"},
       "sink.path: an alias refers to a map or list that contains it"},
      {{job + "serve: &l [1, *l]\n"}, "serve.1: an alias refers"},
      // Values of the wrong shape.
      {{job + "sync: {interval: [1, 2]}\n"},
       "sync.interval: expected a duration"},
      {{job + "serve: {port: {a: 1}}\n"}, "serve.port: expected an integer"},
      {{job + "checkpoint: [every, 1m]\n"},
       "checkpoint: expected a map of keys"},
      {{job + "sink: {type: *undefined}\n"}, "not valid YAML"},
      {{job + "sink: {type: !!binary aGVsbG8=}\n"}, "expected none or file"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<JobConfig> parsed;
    EXPECT_NO_THROW(parsed = Parse(c.overrides[0])) << c.expected;
    ASSERT_FALSE(parsed.ok()) << c.expected;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.expected));
  }
  // The same through overrides.
  const std::vector<BadCase> overrides = {
      {{"sink={[a]: 1}"}, "--set sink={[a]: 1}: sink: a key must be a name"},
      {{"sink=&s {type: file, path: *s}"}, "sink.path: an alias refers"},
      {{"model.type.x=1"}, "'model.type' is not a map"},
      {{"model.hidden.0.x=1"}, "model.hidden: expected a list of integers"},
      {{"train.batch_size=[1"}, "value is not valid YAML"},
  };
  for (const BadCase& c : overrides) {
    absl::StatusOr<JobConfig> parsed;
    EXPECT_NO_THROW(parsed = Parse(kJob, c.overrides)) << c.overrides[0];
    ASSERT_FALSE(parsed.ok()) << c.overrides[0];
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.expected))
        << c.overrides[0];
  }
}

TEST(ConfigTest, InvalidYamlReportsLine) {
  auto job = Parse("schema:\n  slots: [a, b\nmodel: lr\n");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(), HasSubstr("job.yaml:"));
  EXPECT_THAT(job.status().message(), HasSubstr("not valid YAML"));
}

TEST(ConfigTest, MissingSchemaIsAnError) {
  auto job = Parse("model: lr\n");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(), HasSubstr("schema: missing"));
}

TEST(ConfigTest, LoadsFromFileAndReportsMissingFile) {
  auto dir = std::filesystem::temp_directory_path() / "freshet_config_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "job.yaml") << kJob;
  auto job = LoadJobConfig((dir / "job.yaml").string());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->source.path, (dir / "logs/train.tsv").string());
  auto missing = LoadJobConfig((dir / "nope.yaml").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, ShippedExamplesLoad) {
  for (const char* name : {"criteo.yaml", "movielens.yaml", "synthetic.yaml"}) {
    std::string path = std::string(FRESHET_SOURCE_DIR) + "/examples/" + name;
    if (!std::filesystem::exists(path)) {
      ADD_FAILURE() << path << " is missing";
      continue;
    }
    auto job = LoadJobConfig(path);
    EXPECT_TRUE(job.ok()) << job.status();
  }
}

}  // namespace
}  // namespace freshet
