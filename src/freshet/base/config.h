// Job configuration: the parsed, validated form of one YAML job file.
//
// A job file describes the schema (slots, dense features, labels, event time,
// request id, side tables), the embedding tables, the model, the training
// loop, the source and the sink. LoadJobConfig() reads the file, applies
// `--set path.to.key=value` overrides, fills defaults and validates; every
// error names the file, the line and the field, and says what was expected,
// e.g. "examples/criteo.yaml:12: tables.C7.dim: must be > 0, got 0".
//
// The structs are plain values: copyable, no behaviour. See docs/config.md for
// every key with its default.
//
// The sections that name a kind (model, source type and format, optimizers)
// are read by the kind's own component through the registries of
// base/config_kinds.h; this file reads the rest and routes those.
#ifndef FRESHET_BASE_CONFIG_H_
#define FRESHET_BASE_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace freshet {

enum class Pooling { kSum, kMean };

// Normalisation of a dense feature, applied after parsing.
//   kNone:   x
//   kLog:    log(1 + max(x, 0))         (heavy-tailed counts, as Criteo's
//   I1..I13) kClip:   min(max(x, clip_min), clip_max) kZScore: (x - mean) /
//   stddev
enum class DenseTransform { kNone, kLog, kClip, kZScore };

struct SlotSpec {
  std::string name;             // slot name, e.g. "user_id", "C7"
  std::string table;            // embedding table; defaults to `name`
  std::string column;           // source column; defaults to `name`
  bool multi_valued = false;    // value is a list of ids
  std::string separator = "|";  // list separator when multi_valued
  bool weighted = false;        // list items are "id:weight"
  Pooling pooling = Pooling::kSum;
};

struct DenseSpec {
  std::string name;
  std::string column;  // defaults to `name`
  DenseTransform transform = DenseTransform::kNone;
  float clip_min = 0.0f;
  float clip_max = 0.0f;
  float mean = 0.0f;
  float stddev = 1.0f;
  float missing = 0.0f;  // value used when the column is empty
};

struct LabelSpec {
  std::string name;
  std::string column;  // defaults to `name`
  // When set, label = (value >= threshold) ? 1 : 0 (e.g. rating >= 4).
  bool has_threshold = false;
  double threshold = 0.0;
};

// A CSV keyed by one column whose other columns become features of every
// record carrying that key (item metadata joined to interactions).
struct SideTableSpec {
  std::string name;  // referenced by slots as column "NAME.COLUMN"
  std::string path;  // CSV file, relative paths resolve against the job file
  std::string key_column;   // key column in the side table
  std::string join_column;  // column of the main record holding the key
  std::string delimiter = ",";
};

struct SchemaSpec {
  std::vector<SlotSpec> slots;
  std::vector<DenseSpec> dense;
  std::vector<LabelSpec> labels;
  std::string timestamp_column;       // empty: records carry no event time
  double timestamp_unit_ms = 1000.0;  // milliseconds per unit (1000: seconds)
  std::string request_id_column;      // empty: none
  std::string weight_column;          // empty: every example weighs 1
  std::vector<SideTableSpec> side_tables;
};

struct InitializerSpec {
  std::string type = "normal";  // normal | uniform | zeros | constant
  double stddev = 0.01;         // normal
  double range = 0.01;          // uniform: [-range, range]
  double value = 0.0;           // constant
};

// Hyper-parameters of a sparse or dense optimizer. Which fields apply depends
// on `type`; unknown keys for a type are a validation error.
struct OptimizerSpec {
  std::string type = "adagrad";
  double learning_rate = 0.05;
  double initial_accumulator = 0.1;  // adagrad, rowwise_adagrad
  double beta1 = 0.9;                // adam, adamw
  double beta2 = 0.999;              // adam, adamw, radagrad
  double epsilon = 1e-8;
  double momentum = 0.9;      // momentum
  double weight_decay = 0.0;  // adamw
  double l1 = 0.0;            // ftrl
  double l2 = 0.0;            // ftrl, and plain L2 elsewhere
  double beta = 1.0;          // ftrl's beta
};

// Limits shared by the config reader and the code that takes the spec (one
// statement of each range).
inline constexpr int kMaxEmbeddingDim = 4096;     // tables.*.dim: 1..4096
inline constexpr int kMaxAdmissionCount = 65535;  // 16-bit sketch counters
inline constexpr int kMinZstdLevel = 1;           // checkpoint.zstd_level
inline constexpr int kMaxZstdLevel = 19;
inline constexpr int kDefaultZstdLevel = 1;
inline constexpr int kMaxWriterNice = 19;  // checkpoint.writer_nice
// train.window_examples: 1..1e8 (12 bytes each, allocated at start).
inline constexpr int64_t kMaxWindowExamples = 100'000'000;

struct AdmissionSpec {
  uint32_t min_count = 1;          // admit after this many sightings (1..65535)
  double probability = 1.0;        // or admit each new id with this probability
  double decay_half_life_s = 0.0;  // count-min decay in event time; 0: no decay
};

// Which rows a table beyond its memory budget evicts, and the knobs of that
// policy (table/eviction_config.cc registers the policies and their ranges).
struct EvictionSpec {
  // value: the lowest decayed value score (Kraken) among `samples` sampled
  // rows; every update adds 1 to a row's score, `positive_weight` when its
  // label is 1, and the score halves every `half_life_ms` of event time.
  std::string policy = "value";
  int samples = 8;
  double half_life_ms = 24.0 * 3600 * 1000;
  float positive_weight = 5.0f;
};

struct TableSpec {
  std::string name;
  int dim = 8;
  InitializerSpec initializer;
  OptimizerSpec optimizer;
  AdmissionSpec admission;
  int64_t ttl_ms = 0;  // expire rows untouched this long (event time); 0: never
  int64_t memory_budget_bytes =
      0;  // evict lowest-value rows past this; 0: unlimited
  std::string serving_precision = "fp32";  // fp32 | fp16
  EvictionSpec eviction;
};

struct ModelSpec {
  std::string type = "lr";  // lr | fm | deepfm | wide_deep | dcn_v2 | mlp
  std::vector<int> hidden = {256, 128};
  std::string activation = "relu";
  int cross_layers = 2;           // dcn_v2
  OptimizerSpec dense_optimizer;  // type defaults to adam at load time
  // Optimizer of the wide (dim-1, per-id) weights of lr, fm, deepfm and
  // wide_deep; defaults at load time to ftrl, as production LR systems use.
  OptimizerSpec wide_optimizer;
  double negative_sampling_rate = 1.0;  // r: served logits get + ln(r)
};

struct SourceSpec {
  std::string type = "file";  // file | generator
  std::string path;           // file or folder of segment files
  std::string format =
      "criteo";           // criteo | csv | tsv | jsonl | libsvm | libffm
  std::string delimiter;  // csv/tsv: defaults to "," or "\t"
  bool header = true;     // csv/tsv: first line names the columns
  std::vector<std::string>
      columns;          // csv/tsv without header: names by position
  bool follow = false;  // keep reading as the log grows
  int64_t max_line_bytes = 1 << 20;
  std::string dead_letter;  // file for malformed records; empty: PATH.dead
  // Generator source.
  std::string generator_kind = "criteo";  // criteo | impressions
  int64_t generator_rows = 100000;
  uint64_t generator_seed = 1;
};

struct SinkSpec {
  std::string type = "none";  // none | file
  std::string path;
};

struct TrainSpec {
  int batch_size = 256;
  int threads = 2;
  uint64_t seed = 42;
  int64_t window_examples = 10000;  // sliding window of progressive metrics
  bool deterministic = false;
};

// Training → serving parameter sync (`freshet run`).
struct SyncSpec {
  int64_t interval_ms = 1000;  // a delta batch every interval; 10 ms .. 1 h
};

// The serving front end (`freshet run`).
struct ServeSpec {
  std::string bind = "127.0.0.1";
  int port = 8080;            // 0: any free port
  int max_candidates = 1000;  // per request
  int64_t max_body_bytes = 1 << 20;
  int64_t stale_after_ms = 0;  // 0: 5 x sync interval, at least 1 s
  int http_threads = 4;
  // The front end's limits (docs/serving.md): open connections (fitted under
  // the descriptor limit), header size, how long a kept-alive connection may
  // idle and how long one request may take to arrive.
  int max_connections = 16384;
  int64_t max_header_bytes = 16 << 10;
  int64_t idle_timeout_ms = 60000;
  int64_t request_timeout_ms = 10000;
  // Bearer token of the admin calls (POST /admin/checkpoint); the
  // FRESHET_ADMIN_TOKEN environment variable overrides it. Empty: admin
  // calls are refused.
  std::string admin_token;
};

// Checkpoints of `freshet train` and `freshet run` (docs/checkpoints.md).
struct CheckpointSpec {
  // Folder of the checkpoints, relative to the job file's folder; empty: no
  // checkpoints (the --checkpoint-dir flag sets it).
  std::string dir;
  int64_t every_examples = 0;  // a checkpoint every N examples; 0: off
  int64_t every_ms = 0;        // and every this much time; 0: off
  int full_every = 8;          // every Nth checkpoint is full; 1: all full
  int keep_full = 2;           // retention: full checkpoints (+ their chains)
  bool on_exit = true;         // a final checkpoint when training stops
  int zstd_level = kDefaultZstdLevel;
  int writer_nice = 10;  // priority of the writer thread below training's
  double max_write_mbps = 150;  // cap on a write's rate of rows; 0: none
};

struct JobConfig {
  std::string path;  // the job file, for messages
  std::string dir;   // its folder, for resolving relative paths
  SchemaSpec schema;
  std::vector<TableSpec> tables;
  ModelSpec model;
  SourceSpec source;
  SinkSpec sink;
  TrainSpec train;
  SyncSpec sync;
  ServeSpec serve;
  CheckpointSpec checkpoint;

  // Returns the table named `name`, or nullptr.
  const TableSpec* FindTable(const std::string& name) const;
};

// Loads and validates a job file. `overrides` are "path.to.key=value" strings
// applied before validation; the value is parsed as YAML, so lists and maps
// work ("model.hidden=[512,256]"), and sequence elements are addressed by
// index ("schema.slots.0.table=shared").
absl::StatusOr<JobConfig> LoadJobConfig(
    const std::string& path, const std::vector<std::string>& overrides = {});

// Same, from YAML text; `name` stands for the file in messages and `dir`
// resolves relative paths.
absl::StatusOr<JobConfig> ParseJobConfig(
    const std::string& yaml_text, const std::string& name,
    const std::string& dir, const std::vector<std::string>& overrides = {});

}  // namespace freshet

#endif  // FRESHET_BASE_CONFIG_H_
