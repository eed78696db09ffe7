// docs/config.md and the config reader agree: every key the document lists is
// accepted, and every key a section accepts is in the document.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "freshet/base/config.h"

namespace freshet {
namespace {

// Every section present, as maps, so that an override can reach any key.
constexpr char kJob[] = R"(schema:
  slots:
    - {name: C1}
    - C2
  dense:
    - {name: I1}
  side_tables:
    - {name: movies, path: movies.csv, key: movieId}
  timestamp: {column: ts}
table_defaults:
  optimizer: {type: adagrad}
  initializer: {type: normal}
  admission: {min_count: 1}
model:
  type: deepfm
  dense_optimizer: {type: adam}
  wide_optimizer: {type: ftrl}
source: {type: file, path: x.tsv, format: criteo}
sink: {type: none}
train: {batch_size: 8}
sync: {interval: 1s}
serve: {port: 0}
checkpoint: {dir: ckpt}
)";

// The section each `## ...` heading of docs/config.md documents.
const std::map<std::string, std::string> kHeadings = {
    {"schema", "schema"},
    {"table_defaults", "table_defaults"},
    {"model", "model"},
    {"source", "source"},
    {"sink", "sink"},
    {"train", "train"},
    {"sync", "sync"},
    {"serve", "serve"},
    {"checkpoint", "checkpoint"}};

std::vector<std::string> Backticked(const std::string& text) {
  std::vector<std::string> out;
  std::vector<std::string> parts = absl::StrSplit(text, '`');
  for (size_t i = 1; i < parts.size(); i += 2) out.push_back(parts[i]);
  return out;
}

// The documented keys as dotted paths ("schema.slots[].name",
// "table_defaults.optimizer.beta1"), read from the first column of the key
// tables. "`a.b`, `c`" documents a.b and a.c; "`x.*`" documents x.K for every
// `K` in the row's second column.
std::set<std::string> DocumentedKeys() {
  std::ifstream in(std::string(FRESHET_SOURCE_DIR) + "/docs/config.md");
  EXPECT_TRUE(in.good()) << "docs/config.md is missing";
  std::set<std::string> keys;
  std::string section, line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "## ")) {
      std::vector<std::string> names = Backticked(line);
      auto it = names.empty() ? kHeadings.end() : kHeadings.find(names[0]);
      section = it == kHeadings.end() ? "" : it->second;
      continue;
    }
    if (section.empty() || !absl::StartsWith(line, "| `")) continue;
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() < 3) continue;
    std::string parent;
    for (const std::string& token : Backticked(cells[1])) {
      std::string key = token;
      if (absl::EndsWith(key, ".*")) {
        std::string base(absl::StripSuffix(key, ".*"));
        for (const std::string& child : Backticked(cells[2])) {
          keys.insert(absl::StrCat(section, ".", base, ".", child));
        }
        continue;
      }
      size_t dot = key.rfind('.');
      if (dot != std::string::npos) {
        parent = key.substr(0, dot + 1);
      } else {
        key = parent + key;
      }
      keys.insert(absl::StrCat(section, ".", key));
    }
  }
  return keys;
}

// A --set path for a documented key: list elements by index.
std::string SetPath(const std::string& key) {
  std::string path = key;
  size_t at;
  while ((at = path.find("[]")) != std::string::npos) {
    path.replace(at, 2, ".0");
  }
  return path;
}

// Overrides that give a key a valid value where none of the generic values
// below is one.
const std::map<std::string, std::vector<std::string>> kSpecial = {
    {"schema.slots[].pooling", {"schema.slots.0.pooling=mean"}},
    {"schema.dense[].transform", {"schema.dense.0.transform=log"}},
    {"schema.label.threshold",
     {"schema.label.name=y", "schema.label.threshold=4"}},
    {"schema.side_tables",
     {"schema.side_tables=[{name: s, path: s.csv, key: k}]"}},
    {"schema.timestamp.unit", {"schema.timestamp.unit=ms"}},
    {"table_defaults.initializer", {"table_defaults.initializer=zeros"}},
    {"table_defaults.initializer.type",
     {"table_defaults.initializer.type=uniform"}},
    {"table_defaults.name", {"tables=[{name: C1, dim: 4}]"}},
    {"table_defaults.admission", {"table_defaults.admission={min_count: 2}"}},
    {"table_defaults.optimizer", {"table_defaults.optimizer=ftrl"}},
    {"table_defaults.eviction", {"table_defaults.eviction=value"}},
    {"table_defaults.eviction.policy",
     {"table_defaults.eviction.policy=value"}},
    {"table_defaults.optimizer.type", {"table_defaults.optimizer.type=sgd"}},
    {"table_defaults.serving_precision",
     {"table_defaults.serving_precision=fp16"}},
    {"model.type", {"model.type=dcn_v2"}},
    {"model.activation", {"model.activation=tanh"}},
    {"model.dense_optimizer", {"model.dense_optimizer=adamw"}},
    {"model.wide_optimizer", {"model.wide_optimizer=adagrad"}},
    {"source.type", {"source.type=generator"}},
    {"source.format", {"source.format=csv"}},
    {"source.kind", {"source.type=generator", "source.kind=impressions"}},
    {"sink.type", {"sink.type=file", "sink.path=out.log"}},
};

// Values that suit most keys: a number (also a string, a duration in
// seconds, a size in bytes), a boolean, a size, a list.
const char* const kGeneric[] = {"1", "0.5", "true", "1MiB", "[1]"};

TEST(ConfigDocsTest, EveryDocumentedKeyIsAccepted) {
  std::set<std::string> keys = DocumentedKeys();
  ASSERT_GT(keys.size(), 80u) << "docs/config.md: key tables not found";
  for (const std::string& key : keys) {
    std::vector<std::vector<std::string>> tries;
    auto special = kSpecial.find(key);
    if (special != kSpecial.end()) {
      tries.push_back(special->second);
    } else {
      for (const char* v : kGeneric) {
        tries.push_back({absl::StrCat(SetPath(key), "=", v)});
      }
    }
    std::string last_error;
    bool accepted = false;
    for (const auto& overrides : tries) {
      absl::StatusOr<JobConfig> job =
          ParseJobConfig(kJob, "job.yaml", "/jobs", overrides);
      if (job.ok()) {
        accepted = true;
        break;
      }
      last_error = std::string(job.status().message());
    }
    EXPECT_TRUE(accepted) << key
                          << " is documented but not accepted: " << last_error;
  }
}

// Asks a section for its keys: an unknown key's error lists them.
std::vector<std::string> AcceptedKeys(const std::string& section,
                                      std::vector<std::string> setup) {
  setup.push_back((section.empty() ? std::string() : section + ".") +
                  "no_such_key=1");
  absl::StatusOr<JobConfig> job =
      ParseJobConfig(kJob, "job.yaml", "/jobs", setup);
  EXPECT_FALSE(job.ok()) << section;
  if (job.ok()) return {};
  std::string message(job.status().message());
  const std::string marker = "unknown key; expected one of ";
  size_t at = message.find(marker);
  EXPECT_NE(at, std::string::npos) << message;
  if (at == std::string::npos) return {};
  return absl::StrSplit(message.substr(at + marker.size()), ", ");
}

TEST(ConfigDocsTest, EveryAcceptedKeyIsDocumented) {
  std::set<std::string> documented = DocumentedKeys();
  struct Section {
    std::string path;                // section to ask
    std::vector<std::string> setup;  // overrides that make it a map
    std::string doc;                 // where docs/config.md lists its keys
  };
  const std::vector<Section> sections = {
      {"", {}, ""},
      {"schema", {}, "schema"},
      {"schema.slots.0", {}, "schema.slots[]"},
      {"schema.dense.0", {}, "schema.dense[]"},
      {"schema.label", {"schema.label.name=y"}, "schema.label"},
      {"schema.timestamp", {}, "schema.timestamp"},
      {"schema.side_tables.0", {}, "schema.side_tables[]"},
      {"table_defaults", {}, "table_defaults"},
      {"table_defaults.initializer", {}, "table_defaults.initializer"},
      {"table_defaults.optimizer", {}, "table_defaults.optimizer"},
      {"table_defaults.admission", {}, "table_defaults.admission"},
      {"table_defaults.eviction",
       {"table_defaults.eviction.samples=8"},
       "table_defaults.eviction"},
      {"model", {}, "model"},
      {"model.dense_optimizer", {}, "table_defaults.optimizer"},
      {"model.wide_optimizer", {}, "table_defaults.optimizer"},
      {"source", {}, "source"},
      {"sink", {}, "sink"},
      {"train", {}, "train"},
      {"sync", {}, "sync"},
      {"serve", {}, "serve"},
      {"checkpoint", {}, "checkpoint"},
  };
  for (const Section& s : sections) {
    std::string where = s.path.empty() ? "top level" : s.path;
    for (const std::string& key : AcceptedKeys(s.path, s.setup)) {
      if (s.doc.empty()) {
        // Top-level keys are the headings (tables is documented with
        // table_defaults).
        EXPECT_TRUE(key == "tables" || kHeadings.count(key)) << key;
        continue;
      }
      if (key == "type" && absl::EndsWith(s.doc, "optimizer")) continue;
      EXPECT_TRUE(documented.count(absl::StrCat(s.doc, ".", key)))
          << where << "." << key << " is accepted but docs/config.md does "
          << "not list " << s.doc << "." << key;
    }
  }
}

}  // namespace
}  // namespace freshet
