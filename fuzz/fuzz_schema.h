// The schemas the data and predict-request fuzzers parse against: one per
// record format, together using every kind of column the FeatureEncoder
// knows (single, multi-valued and weighted slots, a side-table join, the
// dense transforms, a thresholded label, event time, request id and sample
// weight). The side table is written once to a temporary folder.
//
// Not thread-safe; a fuzzer calls these from its one thread.
#ifndef FRESHET_FUZZ_FUZZ_SCHEMA_H_
#define FRESHET_FUZZ_FUZZ_SCHEMA_H_

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "freshet/base/config.h"
#include "freshet/data/schema.h"

namespace freshet {
namespace fuzz {

// Aborts with `what` when `ok` is false, so that libFuzzer keeps the input:
// for a failed set-up and for a parser that breaks its contract.
inline void Require(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
    std::abort();
  }
}

// The side table "items": key column "item", columns "brand" and "cats".
inline const std::string& SideTablePath() {
  static const std::string* path = [] {
    char dir[] = "/tmp/freshet_fuzz_XXXXXX";
    Require(mkdtemp(dir) != nullptr, "mkdtemp");
    auto* p = new std::string(std::string(dir) + "/items.csv");
    std::ofstream out(*p, std::ios::binary | std::ios::trunc);
    out << "item,brand,cats\n"
           "i1,acme,\"a|b\"\n"
           "i2,\"Big, Co\",c\n"
           "i3,,\n";
    out.close();
    Require(static_cast<bool>(out), "write " + *p);
    return p;
  }();
  return *path;
}

inline SlotSpec Slot(const std::string& name, const std::string& column = "") {
  SlotSpec s;
  s.name = name;
  s.column = column;
  return s;
}

// Columns of the csv, tsv and jsonl schema, in the order of the fixed header.
inline const std::vector<std::string>& RecordColumns() {
  static const std::vector<std::string> columns = {
      "label", "ts",   "rid",   "w",   "user", "items",
      "tags",  "item", "price", "age", "score"};
  return columns;
}

// The schema of csv, tsv, jsonl and predict requests.
inline SchemaSpec RecordSchemaSpec() {
  SchemaSpec spec;
  SideTableSpec items;
  items.name = "items";
  items.path = SideTablePath();
  items.key_column = "item";
  items.join_column = "item";
  spec.side_tables = {items};
  SlotSpec list = Slot("items");
  list.multi_valued = true;
  list.pooling = Pooling::kMean;
  SlotSpec tags = Slot("tags");
  tags.multi_valued = true;
  tags.separator = ";";
  tags.weighted = true;
  SlotSpec cats = Slot("cats", "items.cats");
  cats.multi_valued = true;
  spec.slots = {
      Slot("user"), list, tags, Slot("item"), Slot("brand", "items.brand"),
      cats};
  DenseSpec price;
  price.name = "price";
  price.transform = DenseTransform::kLog;
  DenseSpec age;
  age.name = "age";
  age.transform = DenseTransform::kZScore;
  age.mean = 30;
  age.stddev = 10;
  age.missing = -1;
  DenseSpec score;
  score.name = "score";
  score.transform = DenseTransform::kClip;
  score.clip_min = -5;
  score.clip_max = 5;
  spec.dense = {price, age, score};
  LabelSpec label;
  label.name = "label";
  label.has_threshold = true;
  label.threshold = 0.5;
  spec.labels = {label};
  spec.timestamp_column = "ts";
  spec.request_id_column = "rid";
  spec.weight_column = "w";
  return spec;
}

// Criteo: label, I1..I13 (log), C1..C26; C1 is a weighted list, C2 joins
// the side table.
inline SchemaSpec CriteoSchemaSpec() {
  SchemaSpec spec;
  SideTableSpec items;
  items.name = "items";
  items.path = SideTablePath();
  items.key_column = "item";
  items.join_column = "C2";
  spec.side_tables = {items};
  for (int i = 1; i <= 13; ++i) {
    DenseSpec d;
    d.name = "I" + std::to_string(i);
    d.transform = DenseTransform::kLog;
    spec.dense.push_back(d);
  }
  for (int i = 1; i <= 26; ++i)
    spec.slots.push_back(Slot("C" + std::to_string(i)));
  spec.slots[0].multi_valued = true;
  spec.slots[0].weighted = true;
  spec.slots.push_back(Slot("brand", "items.brand"));
  LabelSpec label;
  label.name = "label";
  spec.labels = {label};
  return spec;
}

// libsvm: every pair goes to the slot of column "features".
inline SchemaSpec LibsvmSchemaSpec() {
  SchemaSpec spec;
  spec.slots = {Slot("f", "features")};
  LabelSpec label;
  label.name = "y";
  label.column = "label";
  label.has_threshold = true;
  label.threshold = 0.5;
  spec.labels = {label};
  return spec;
}

// libffm: fields 0, 1 and 2.
inline SchemaSpec LibffmSchemaSpec() {
  SchemaSpec spec;
  spec.slots = {Slot("a", "0"), Slot("b", "1"), Slot("c", "2")};
  LabelSpec label;
  label.name = "y";
  label.column = "label";
  spec.labels = {label};
  return spec;
}

inline std::shared_ptr<const Schema> MustCompile(const SchemaSpec& spec) {
  auto schema = Schema::Compile(spec);
  Require(schema.ok(), schema.status().ToString());
  return *schema;
}

}  // namespace fuzz
}  // namespace freshet

#endif  // FRESHET_FUZZ_FUZZ_SCHEMA_H_
