#include "freshet/base/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "freshet/base/config_kinds.h"
#include "freshet/base/config_section.h"
#include "freshet/base/config_tree.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

// Applies one "a.b.c=value" override to the tree. A path component that
// addresses a list is either an index or the `name` of an element.
absl::Status ApplyOverrideOrThrow(YAML::Node root, const std::string& override,
                                  std::string* normalized_path) {
  size_t eq = override.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", override, ": expected path.to.key=value"));
  }
  std::string path = override.substr(0, eq);
  std::string value_text = override.substr(eq + 1);
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", override, ": value is not valid YAML: ", e.msg));
  }
  RETURN_IF_ERROR(CheckConfigTree(value, absl::StrCat("--set ", override), path,
                                  /*with_lines=*/false));
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  YAML::Node node = root;
  std::vector<std::string> normalized;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", override, ": empty path component"));
    }
    const bool last = i + 1 == parts.size();
    if (node.IsSequence()) {
      size_t index;
      if (!absl::SimpleAtoi(part, &index)) {
        bool found = false;
        for (size_t j = 0; j < node.size(); ++j) {
          // Elements are maps with a `name`, or names in short form.
          const bool named =
              node[j].IsMap() ? node[j]["name"].IsScalar() &&
                                    node[j]["name"].Scalar() == part
                              : node[j].IsScalar() && node[j].Scalar() == part;
          if (named) {
            index = j;
            found = true;
            break;
          }
        }
        if (!found) {
          return absl::InvalidArgumentError(
              absl::StrCat("--set ", override, ": no element named '", part,
                           "' in ", absl::StrJoin(normalized, ".")));
        }
      }
      if (index >= node.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--set ", override, ": index ", part,
                         " out of range (", node.size(), " elements)"));
      }
      normalized.push_back(absl::StrCat(index));
      if (last) {
        node[index] = value;
      } else {
        // A list element given in short form ("- C1") becomes a map.
        if (node[index].IsScalar()) {
          YAML::Node expanded;
          expanded["name"] = node[index].Scalar();
          node[index] = expanded;
        }
        node.reset(node[index]);
      }
    } else {
      if (!node.IsMap() && !node.IsNull() && node.IsDefined()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--set ", override, ": '",
                         absl::StrJoin(normalized, "."), "' is not a map"));
      }
      normalized.push_back(part);
      if (last) {
        node[part] = value;
      } else {
        YAML::Node child = node[part];
        if (!child.IsDefined() || child.IsNull()) {
          node[part] = YAML::Node(YAML::NodeType::Map);
        }
        node.reset(node[part]);
      }
    }
  }
  *normalized_path = absl::StrJoin(normalized, ".");
  return absl::OkStatus();
}

// No exception of the YAML library escapes an override: a path through a
// scalar, say, is an error naming the override.
absl::Status ApplyOverride(YAML::Node root, const std::string& override,
                           std::string* normalized_path) {
  try {
    return ApplyOverrideOrThrow(root, override, normalized_path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", override, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", override, ": ", e.what()));
  }
}

// One of `options` or an error naming them ("expected sum or mean, got 'x'").
absl::Status ReadChoice(const ConfigSection& s, std::string_view key,
                        const std::vector<std::string>& options,
                        std::string* out) {
  RETURN_IF_ERROR(s.Get(key, out));
  for (const std::string& o : options) {
    if (*out == o) return absl::OkStatus();
  }
  std::string list = options.size() <= 2
                         ? absl::StrJoin(options, " or ")
                         : absl::StrCat(absl::StrJoin(options.begin(),
                                                      options.end() - 1, ", "),
                                        " or ", options.back());
  return s.Error(key, absl::StrCat("expected ", list, ", got '", *out, "'"));
}

absl::Status ReadInitializer(const ConfigSection& init, InitializerSpec* out) {
  if (!init.present()) return absl::OkStatus();
  if (init.is_scalar()) {
    out->type = init.scalar();
  } else {
    RETURN_IF_ERROR(init.CheckKeys({"type", "stddev", "range", "value"}));
    RETURN_IF_ERROR(init.Get("type", &out->type));
    RETURN_IF_ERROR(init.Get("stddev", &out->stddev));
    RETURN_IF_ERROR(init.Get("range", &out->range));
    RETURN_IF_ERROR(init.Get("value", &out->value));
  }
  if (out->type != "normal" && out->type != "uniform" && out->type != "zeros" &&
      out->type != "constant") {
    return init.Error(absl::StrCat("unknown initializer '", out->type,
                                   "'; expected one of normal, uniform, "
                                   "zeros, constant"));
  }
  if (out->stddev < 0 || out->range < 0) {
    return init.Error("stddev and range must be >= 0");
  }
  return absl::OkStatus();
}

absl::Status ReadAdmission(const ConfigSection& adm, AdmissionSpec* out) {
  if (!adm.present()) return absl::OkStatus();
  RETURN_IF_ERROR(
      adm.CheckKeys({"min_count", "probability", "decay_half_life"}));
  int64_t min_count = out->min_count;
  RETURN_IF_ERROR(adm.Get("min_count", &min_count));
  if (min_count < 1 || min_count > kMaxAdmissionCount) {
    return adm.Error("min_count",
                     absl::StrCat("must be in 1..", kMaxAdmissionCount,
                                  ", got ", min_count));
  }
  out->min_count = static_cast<uint32_t>(min_count);
  RETURN_IF_ERROR(adm.Get("probability", &out->probability));
  if (!(out->probability > 0 && out->probability <= 1)) {
    return adm.Error("probability",
                     absl::StrCat("must be in (0, 1], got ", out->probability));
  }
  int64_t half_life_ms = 0;
  RETURN_IF_ERROR(adm.GetDurationMs("decay_half_life", &half_life_ms));
  if (adm.Has("decay_half_life")) {
    out->decay_half_life_s = half_life_ms / 1e3;
  }
  return absl::OkStatus();
}

absl::Status ReadTable(const ConfigSection& s, TableSpec* t) {
  if (!s.is_map()) return s.Error("expected a map of keys");
  RETURN_IF_ERROR(
      s.CheckKeys({"name", "dim", "initializer", "optimizer", "admission",
                   "ttl", "memory_budget", "serving_precision", "eviction"}));
  RETURN_IF_ERROR(s.Get("dim", &t->dim));
  if (s.Has("dim") && (t->dim <= 0 || t->dim > kMaxEmbeddingDim)) {
    return s.Error("dim", absl::StrCat("must be in 1..", kMaxEmbeddingDim,
                                       ", got ", t->dim));
  }
  RETURN_IF_ERROR(ReadInitializer(s.Child("initializer"), &t->initializer));
  if (s.Child("optimizer").present()) {
    RETURN_IF_ERROR(SparseOptimizerKinds().ReadSection(s.Child("optimizer"),
                                                       &t->optimizer));
  }
  RETURN_IF_ERROR(ReadAdmission(s.Child("admission"), &t->admission));
  RETURN_IF_ERROR(s.GetDurationMs("ttl", &t->ttl_ms));
  RETURN_IF_ERROR(s.GetBytes("memory_budget", &t->memory_budget_bytes));
  if (s.Child("eviction").present()) {
    RETURN_IF_ERROR(
        EvictionKinds().ReadSection(s.Child("eviction"), &t->eviction));
  }
  RETURN_IF_ERROR(ReadChoice(s, "serving_precision", {"fp32", "fp16"},
                             &t->serving_precision));
  return absl::OkStatus();
}

absl::Status ReadSlots(const ConfigSection& slots, std::set<std::string>* names,
                       SchemaSpec* out) {
  if (slots.present() && !slots.is_sequence()) {
    return slots.Error("expected a list of slots");
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    ConfigSection e = slots.Element(i);
    SlotSpec slot;
    if (e.is_scalar()) {
      slot.name = e.scalar();
    } else {
      RETURN_IF_ERROR(e.CheckKeys({"name", "table", "column", "multi_valued",
                                   "separator", "weighted", "pooling"}));
      RETURN_IF_ERROR(e.Get("name", &slot.name));
      RETURN_IF_ERROR(e.Get("table", &slot.table));
      RETURN_IF_ERROR(e.Get("column", &slot.column));
      RETURN_IF_ERROR(e.Get("multi_valued", &slot.multi_valued));
      RETURN_IF_ERROR(e.Get("separator", &slot.separator));
      RETURN_IF_ERROR(e.Get("weighted", &slot.weighted));
      std::string pooling = "sum";
      RETURN_IF_ERROR(ReadChoice(e, "pooling", {"sum", "mean"}, &pooling));
      slot.pooling = pooling == "mean" ? Pooling::kMean : Pooling::kSum;
      if (slot.multi_valued && slot.separator.empty()) {
        return e.Error("separator",
                       "must not be empty for a multi-valued slot");
      }
    }
    if (slot.name.empty()) return e.Error("a slot needs a name");
    if (!names->insert(slot.name).second) {
      return e.Error(
          absl::StrCat("duplicate slot or feature name '", slot.name, "'"));
    }
    if (slot.table.empty()) slot.table = slot.name;
    if (slot.column.empty()) slot.column = slot.name;
    out->slots.push_back(std::move(slot));
  }
  return absl::OkStatus();
}

absl::Status ReadDense(const ConfigSection& dense, std::set<std::string>* names,
                       SchemaSpec* out) {
  if (dense.present() && !dense.is_sequence()) {
    return dense.Error("expected a list of features");
  }
  for (size_t i = 0; i < dense.size(); ++i) {
    ConfigSection e = dense.Element(i);
    DenseSpec d;
    if (e.is_scalar()) {
      d.name = e.scalar();
    } else {
      RETURN_IF_ERROR(e.CheckKeys({"name", "column", "transform", "clip_min",
                                   "clip_max", "mean", "stddev", "missing"}));
      RETURN_IF_ERROR(e.Get("name", &d.name));
      RETURN_IF_ERROR(e.Get("column", &d.column));
      std::string transform = "none";
      RETURN_IF_ERROR(ReadChoice(
          e, "transform", {"none", "log", "clip", "zscore"}, &transform));
      d.transform = transform == "log"      ? DenseTransform::kLog
                    : transform == "clip"   ? DenseTransform::kClip
                    : transform == "zscore" ? DenseTransform::kZScore
                                            : DenseTransform::kNone;
      RETURN_IF_ERROR(e.Get("clip_min", &d.clip_min));
      RETURN_IF_ERROR(e.Get("clip_max", &d.clip_max));
      RETURN_IF_ERROR(e.Get("mean", &d.mean));
      RETURN_IF_ERROR(e.Get("stddev", &d.stddev));
      RETURN_IF_ERROR(e.Get("missing", &d.missing));
      if (d.transform == DenseTransform::kClip && !(d.clip_min < d.clip_max)) {
        return e.Error("clip needs clip_min < clip_max");
      }
      if (d.transform == DenseTransform::kZScore && !(d.stddev > 0)) {
        return e.Error("stddev", "must be > 0 for zscore");
      }
    }
    if (d.name.empty()) return e.Error("a dense feature needs a name");
    if (!names->insert(d.name).second) {
      return e.Error(
          absl::StrCat("duplicate slot or feature name '", d.name, "'"));
    }
    if (d.column.empty()) d.column = d.name;
    out->dense.push_back(std::move(d));
  }
  return absl::OkStatus();
}

// Labels: "label: click" (one column) or "labels: [{name, column,
// threshold}]".
absl::Status ReadLabel(const ConfigSection& e, SchemaSpec* out) {
  LabelSpec l;
  if (e.is_scalar()) {
    l.name = e.scalar();
  } else {
    RETURN_IF_ERROR(e.CheckKeys({"name", "column", "threshold"}));
    RETURN_IF_ERROR(e.Get("name", &l.name));
    RETURN_IF_ERROR(e.Get("column", &l.column));
    if (e.Has("threshold")) {
      l.has_threshold = true;
      RETURN_IF_ERROR(e.Get("threshold", &l.threshold));
    }
  }
  if (l.name.empty()) l.name = l.column;
  if (l.name.empty()) return e.Error("a label needs a name or column");
  if (l.column.empty()) l.column = l.name;
  out->labels.push_back(std::move(l));
  return absl::OkStatus();
}

absl::Status ReadTimestamp(const ConfigSection& ts, SchemaSpec* out) {
  if (!ts.present()) return absl::OkStatus();
  if (ts.is_scalar()) {
    out->timestamp_column = ts.scalar();
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(ts.CheckKeys({"column", "unit"}));
  RETURN_IF_ERROR(ts.Get("column", &out->timestamp_column));
  std::string unit = "s";
  RETURN_IF_ERROR(ReadChoice(ts, "unit", {"s", "ms", "us"}, &unit));
  out->timestamp_unit_ms = unit == "ms" ? 1.0 : unit == "us" ? 1e-3 : 1000.0;
  return absl::OkStatus();
}

absl::Status ReadSideTables(const ConfigSection& sides, SchemaSpec* out) {
  if (sides.present() && !sides.is_sequence()) {
    return sides.Error("expected a list");
  }
  for (size_t i = 0; i < sides.size(); ++i) {
    ConfigSection e = sides.Element(i);
    SideTableSpec st;
    RETURN_IF_ERROR(e.CheckKeys({"name", "path", "key", "join", "delimiter"}));
    RETURN_IF_ERROR(e.Get("name", &st.name));
    RETURN_IF_ERROR(e.Get("path", &st.path));
    RETURN_IF_ERROR(e.Get("key", &st.key_column));
    RETURN_IF_ERROR(e.Get("join", &st.join_column));
    RETURN_IF_ERROR(e.Get("delimiter", &st.delimiter));
    if (st.name.empty() || st.path.empty() || st.key_column.empty()) {
      return e.Error("a side table needs name, path and key");
    }
    if (st.join_column.empty()) st.join_column = st.key_column;
    if (st.delimiter.size() != 1) {
      return e.Error("delimiter", "must be a single character");
    }
    st.path = e.ResolvePath(st.path);
    out->side_tables.push_back(std::move(st));
  }
  return absl::OkStatus();
}

absl::Status ReadSchema(const ConfigSection& s, SchemaSpec* out) {
  if (!s.present()) return s.Error("missing; a job needs a schema with slots");
  RETURN_IF_ERROR(s.CheckKeys({"slots", "dense", "labels", "label", "timestamp",
                               "request_id", "weight", "side_tables"}));
  std::set<std::string> names;
  RETURN_IF_ERROR(ReadSlots(s.Child("slots"), &names, out));
  RETURN_IF_ERROR(ReadDense(s.Child("dense"), &names, out));
  if (s.Has("label") && s.Has("labels")) {
    return s.Error("labels", "give either label or labels, not both");
  }
  if (s.Has("label")) RETURN_IF_ERROR(ReadLabel(s.Child("label"), out));
  if (s.Has("labels")) {
    ConfigSection labels = s.Child("labels");
    if (!labels.is_sequence()) return labels.Error("expected a list of labels");
    for (size_t i = 0; i < labels.size(); ++i) {
      RETURN_IF_ERROR(ReadLabel(labels.Element(i), out));
    }
  }
  RETURN_IF_ERROR(ReadTimestamp(s.Child("timestamp"), out));
  RETURN_IF_ERROR(s.Get("request_id", &out->request_id_column));
  RETURN_IF_ERROR(s.Get("weight", &out->weight_column));
  RETURN_IF_ERROR(ReadSideTables(s.Child("side_tables"), out));
  if (out->slots.empty() && out->dense.empty()) {
    return s.Error("declares no slots and no dense features");
  }
  for (const SlotSpec& slot : out->slots) {
    size_t dot = slot.column.find('.');
    if (dot == std::string::npos) continue;
    std::string side = slot.column.substr(0, dot);
    bool found = false;
    for (const auto& st : out->side_tables) found |= st.name == side;
    if (!found) {
      return s.Error(
          "slots",
          absl::StrCat("slot '", slot.name, "' reads column '", slot.column,
                       "' but no side table is named '", side, "'"));
    }
  }
  return absl::OkStatus();
}

// `source` is read by two registries: `type` picks the source, `format` the
// record format; each kind reads its own keys.
absl::Status ReadSource(const ConfigSection& s, SourceSpec* out) {
  if (s.present() && !SourceKinds().empty() && !FormatKinds().empty()) {
    std::vector<std::string> keys = SourceKinds().SectionKeys();
    for (const std::string& k : FormatKinds().SectionKeys()) keys.push_back(k);
    RETURN_IF_ERROR(s.CheckKeys(keys));
  }
  RETURN_IF_ERROR(SourceKinds().ReadKind(s, out));
  return FormatKinds().ReadKind(s, out);
}

absl::Status ReadTrain(const ConfigSection& s, TrainSpec* t) {
  if (!s.present()) return absl::OkStatus();
  RETURN_IF_ERROR(s.CheckKeys(
      {"batch_size", "threads", "seed", "window_examples", "deterministic"}));
  RETURN_IF_ERROR(s.Get("batch_size", &t->batch_size));
  RETURN_IF_ERROR(s.Get("threads", &t->threads));
  RETURN_IF_ERROR(s.Get("seed", &t->seed));
  RETURN_IF_ERROR(s.Get("window_examples", &t->window_examples));
  RETURN_IF_ERROR(s.Get("deterministic", &t->deterministic));
  if (t->batch_size <= 0 || t->batch_size > 1 << 20) {
    return s.Error("batch_size",
                   absl::StrCat("must be in 1..1048576, got ", t->batch_size));
  }
  if (t->threads <= 0 || t->threads > 256) {
    return s.Error("threads",
                   absl::StrCat("must be in 1..256, got ", t->threads));
  }
  if (t->window_examples <= 0 || t->window_examples > kMaxWindowExamples) {
    return s.Error("window_examples",
                   absl::StrCat("must be in 1..", kMaxWindowExamples,
                                " (12 bytes each), got ", t->window_examples));
  }
  return absl::OkStatus();
}

absl::Status ReadSync(const ConfigSection& s, SyncSpec* out) {
  if (!s.present()) return absl::OkStatus();
  RETURN_IF_ERROR(s.CheckKeys({"interval"}));
  RETURN_IF_ERROR(s.GetDurationMs("interval", &out->interval_ms));
  if (out->interval_ms < 10 || out->interval_ms > 3600 * 1000) {
    return s.Error("interval", absl::StrCat("must be between 10ms and 1h, got ",
                                            out->interval_ms, "ms"));
  }
  return absl::OkStatus();
}

absl::Status ReadServe(const ConfigSection& s, ServeSpec* out) {
  if (!s.present()) return absl::OkStatus();
  RETURN_IF_ERROR(s.CheckKeys(
      {"bind", "port", "max_candidates", "max_body_bytes", "stale_after",
       "http_threads", "admin_token", "max_connections", "max_header_bytes",
       "idle_timeout", "request_timeout"}));
  RETURN_IF_ERROR(s.Get("admin_token", &out->admin_token));
  RETURN_IF_ERROR(s.Get("bind", &out->bind));
  RETURN_IF_ERROR(s.Get("port", &out->port));
  RETURN_IF_ERROR(s.Get("max_candidates", &out->max_candidates));
  RETURN_IF_ERROR(s.GetBytes("max_body_bytes", &out->max_body_bytes));
  RETURN_IF_ERROR(s.GetDurationMs("stale_after", &out->stale_after_ms));
  RETURN_IF_ERROR(s.Get("http_threads", &out->http_threads));
  RETURN_IF_ERROR(s.Get("max_connections", &out->max_connections));
  RETURN_IF_ERROR(s.GetBytes("max_header_bytes", &out->max_header_bytes));
  RETURN_IF_ERROR(s.GetDurationMs("idle_timeout", &out->idle_timeout_ms));
  RETURN_IF_ERROR(s.GetDurationMs("request_timeout", &out->request_timeout_ms));
  if (out->max_connections < 1 || out->max_connections > 1000000) {
    return s.Error(
        "max_connections",
        absl::StrCat("must be in 1..1000000, got ", out->max_connections));
  }
  if (out->max_header_bytes < 1024 || out->max_header_bytes > (1 << 20)) {
    return s.Error("max_header_bytes", "must be between 1KB and 1MB");
  }
  if (out->idle_timeout_ms < 10 || out->idle_timeout_ms > 24 * 3600 * 1000) {
    return s.Error("idle_timeout", "must be between 10ms and 24h");
  }
  if (out->request_timeout_ms < 10 || out->request_timeout_ms > 3600 * 1000) {
    return s.Error("request_timeout", "must be between 10ms and 1h");
  }
  if (out->bind.empty()) return s.Error("bind", "must name an address");
  if (out->port < 0 || out->port > 65535) {
    return s.Error("port",
                   absl::StrCat("must be in 0..65535, got ", out->port));
  }
  if (out->max_candidates < 1 || out->max_candidates > 1000000) {
    return s.Error("max_candidates", absl::StrCat("must be in 1..1000000, got ",
                                                  out->max_candidates));
  }
  if (out->max_body_bytes < 64 || out->max_body_bytes > (int64_t{1} << 30)) {
    return s.Error("max_body_bytes", "must be between 64 bytes and 1GiB");
  }
  if (out->http_threads < 1 || out->http_threads > 256) {
    return s.Error("http_threads",
                   absl::StrCat("must be in 1..256, got ", out->http_threads));
  }
  return absl::OkStatus();
}

absl::Status ReadCheckpoint(const ConfigSection& s, CheckpointSpec* c) {
  if (!s.present()) return absl::OkStatus();
  RETURN_IF_ERROR(
      s.CheckKeys({"dir", "every_examples", "every", "full_every", "keep_full",
                   "on_exit", "zstd_level", "writer_nice", "max_write_mbps"}));
  RETURN_IF_ERROR(s.Get("dir", &c->dir));
  RETURN_IF_ERROR(s.Get("every_examples", &c->every_examples));
  RETURN_IF_ERROR(s.GetDurationMs("every", &c->every_ms));
  RETURN_IF_ERROR(s.Get("full_every", &c->full_every));
  RETURN_IF_ERROR(s.Get("keep_full", &c->keep_full));
  RETURN_IF_ERROR(s.Get("on_exit", &c->on_exit));
  RETURN_IF_ERROR(s.Get("zstd_level", &c->zstd_level));
  RETURN_IF_ERROR(s.Get("writer_nice", &c->writer_nice));
  RETURN_IF_ERROR(s.Get("max_write_mbps", &c->max_write_mbps));
  if (c->max_write_mbps < 0) {
    return s.Error("max_write_mbps", "must be >= 0");
  }
  if (c->every_examples < 0) {
    return s.Error("every_examples",
                   absl::StrCat("must be >= 0, got ", c->every_examples));
  }
  if (c->every_ms < 0) return s.Error("every", "must be >= 0");
  if (c->full_every < 1) {
    return s.Error("full_every",
                   absl::StrCat("must be >= 1, got ", c->full_every));
  }
  if (c->keep_full < 1) {
    return s.Error("keep_full",
                   absl::StrCat("must be >= 1, got ", c->keep_full));
  }
  if (c->zstd_level < kMinZstdLevel || c->zstd_level > kMaxZstdLevel) {
    return s.Error("zstd_level",
                   absl::StrCat("must be in ", kMinZstdLevel, "..",
                                kMaxZstdLevel, ", got ", c->zstd_level));
  }
  if (c->writer_nice < 0 || c->writer_nice > kMaxWriterNice) {
    return s.Error("writer_nice", absl::StrCat("must be in 0..", kMaxWriterNice,
                                               ", got ", c->writer_nice));
  }
  c->dir = s.ResolvePath(c->dir);
  return absl::OkStatus();
}

absl::Status ReadSink(const ConfigSection& s, SinkSpec* out) {
  if (!s.present()) return absl::OkStatus();
  RETURN_IF_ERROR(s.CheckKeys({"type", "path"}));
  RETURN_IF_ERROR(ReadChoice(s, "type", {"none", "file"}, &out->type));
  RETURN_IF_ERROR(s.Get("path", &out->path));
  if (out->type == "file" && out->path.empty()) {
    return s.Error("path", "a file sink needs a path");
  }
  out->path = s.ResolvePath(out->path);
  return absl::OkStatus();
}

absl::Status ReadTables(const ConfigSection& root, JobConfig* job) {
  // Defaults for every table, then the listed tables, then one table for
  // each slot whose table is not listed.
  TableSpec defaults;
  ConfigSection dnode = root.Child("table_defaults");
  if (dnode.present()) {
    RETURN_IF_ERROR(ReadTable(dnode, &defaults));
    if (dnode.Has("name")) {
      return dnode.Error("name", "table_defaults cannot have a name");
    }
  }
  ConfigSection tables = root.Child("tables");
  std::vector<std::pair<std::string, ConfigSection>> entries;
  if (tables.present()) {
    if (tables.is_sequence()) {
      for (size_t i = 0; i < tables.size(); ++i) {
        ConfigSection e = tables.Element(i);
        std::string name;
        if (!e.is_map() || !e.Child("name").is_scalar()) {
          return e.Error("each table needs a name");
        }
        RETURN_IF_ERROR(e.Get("name", &name));
        entries.emplace_back(name, e);
      }
    } else if (tables.is_map()) {
      entries = tables.Entries();
    } else {
      return tables.Error("expected a list or a map of tables");
    }
  }
  std::set<std::string> seen;
  for (const auto& [name, node] : entries) {
    if (!seen.insert(name).second) {
      return node.Error(absl::StrCat("duplicate table '", name, "'"));
    }
    TableSpec t = defaults;
    t.name = name;
    if (node.present()) RETURN_IF_ERROR(ReadTable(node, &t));
    job->tables.push_back(std::move(t));
  }
  std::set<std::string> used;
  for (const SlotSpec& slot : job->schema.slots) {
    used.insert(slot.table);
    if (seen.insert(slot.table).second) {
      TableSpec t = defaults;
      t.name = slot.table;
      job->tables.push_back(std::move(t));
    }
  }
  for (const TableSpec& t : job->tables) {
    if (!used.count(t.name)) {
      FRESHET_LOG_WARN("{}: table '{}' is used by no slot", job->path, t.name);
    }
  }
  return absl::OkStatus();
}

}  // namespace

const TableSpec* JobConfig::FindTable(const std::string& name) const {
  for (const TableSpec& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<JobConfig> ParseJobConfig(
    const std::string& yaml_text, const std::string& name,
    const std::string& dir, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ":", e.mark.column + 1,
                     ": not valid YAML: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": not valid YAML: ", e.what()));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a map of top-level keys"));
  }
  RETURN_IF_ERROR(CheckConfigTree(root, name, "", /*with_lines=*/true));
  ConfigFile file{name, dir, {}};
  for (const std::string& o : overrides) {
    std::string normalized;
    RETURN_IF_ERROR(ApplyOverride(root, o, &normalized));
    file.overridden[normalized] = o;
  }
  const ConfigSection top(&file, root, "");
  JobConfig job;
  job.path = name;
  job.dir = dir;
  try {
    RETURN_IF_ERROR(
        top.CheckKeys({"schema", "table_defaults", "tables", "model", "source",
                       "sink", "train", "sync", "serve", "checkpoint"}));
    RETURN_IF_ERROR(ReadSchema(top.Child("schema"), &job.schema));
    RETURN_IF_ERROR(ReadTables(top, &job));
    RETURN_IF_ERROR(ModelKinds().ReadSection(top.Child("model"), &job.model));
    RETURN_IF_ERROR(ReadSource(top.Child("source"), &job.source));
    RETURN_IF_ERROR(ReadSink(top.Child("sink"), &job.sink));
    RETURN_IF_ERROR(ReadTrain(top.Child("train"), &job.train));
    RETURN_IF_ERROR(ReadSync(top.Child("sync"), &job.sync));
    RETURN_IF_ERROR(ReadServe(top.Child("serve"), &job.serve));
    RETURN_IF_ERROR(ReadCheckpoint(top.Child("checkpoint"), &job.checkpoint));
  } catch (const YAML::Exception& e) {
    // Not expected once CheckConfigTree() passed; a message rather than an
    // abort all the same.
    return absl::InvalidArgumentError(absl::StrCat(
        name, e.mark.is_null() ? "" : absl::StrCat(":", e.mark.line + 1), ": ",
        e.msg));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(name, ": ", e.what()));
  }
  return job;
}

absl::StatusOr<JobConfig> LoadJobConfig(
    const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open job file: ", std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseJobConfig(ss.str(), path, dir, overrides);
}

}  // namespace freshet
