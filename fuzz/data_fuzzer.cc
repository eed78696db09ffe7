// Fuzzes everything the data layer parses from bytes: the six record formats
// (criteo, csv, tsv, jsonl, libsvm, libffm), side-table CSV files and stream
// positions. The first byte picks what the rest is:
//   byte % 8:  0 criteo, 1 csv, 2 tsv, 3 jsonl, 4 libsvm, 5 libffm,
//              6 side table, 7 stream position
//   byte & 0x80 (csv, tsv): the first line is the header (otherwise the
//              schema's columns are given by source.columns)
// Records are the lines of the rest. Beyond "no crash, no sanitizer report",
// it checks the parsers' contracts: a rejected record carries its error kind,
// an accepted one is a well-formed Example of the schema.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "freshet/data/example.h"
#include "freshet/data/record_parser.h"
#include "freshet/data/side_table.h"
#include "freshet/data/source.h"
#include "fuzz/fuzz_schema.h"

namespace freshet {
namespace fuzz {
namespace {

constexpr const char* kFormats[] = {"criteo", "csv",    "tsv",
                                    "jsonl",  "libsvm", "libffm"};
constexpr int kSideTableMode = 6;
constexpr int kStreamPositionMode = 7;

// Accepted records: the Example layout of record_parser.h and example.h.
void CheckExample(const Schema& schema, const Example& ex) {
  Require(ex.num_slots() == schema.num_slots(), "slot count");
  Require(ex.slot_offsets.front() == 0, "first slot offset");
  for (int s = 0; s < schema.num_slots(); ++s) {
    Require(ex.slot_offsets[s] <= ex.slot_offsets[s + 1], "slot offsets order");
  }
  Require(ex.slot_offsets.back() == ex.ids.size(), "last slot offset");
  Require(ex.id_weights.empty() || ex.id_weights.size() == ex.ids.size(),
          "id_weights parallel to ids");
  Require(ex.dense.size() == static_cast<size_t>(schema.num_dense()),
          "dense count");
  Require(ex.labels.size() == static_cast<size_t>(schema.num_labels()),
          "label count");
  for (float d : ex.dense) Require(std::isfinite(d), "dense value not finite");
  for (float l : ex.labels) Require(std::isfinite(l), "label not finite");
  for (float w : ex.id_weights)
    Require(std::isfinite(w), "id weight not finite");
  Require(std::isfinite(ex.weight), "sample weight not finite");
}

const Schema& SchemaFor(int mode) {
  static const auto* criteo = new auto(MustCompile(CriteoSchemaSpec()));
  static const auto* record = new auto(MustCompile(RecordSchemaSpec()));
  static const auto* libsvm = new auto(MustCompile(LibsvmSchemaSpec()));
  static const auto* libffm = new auto(MustCompile(LibffmSchemaSpec()));
  switch (mode) {
    case 0:
      return **criteo;
    case 4:
      return **libsvm;
    case 5:
      return **libffm;
    default:
      return **record;
  }
}

std::shared_ptr<const Schema> SharedSchemaFor(int mode) {
  // The schemas live for the whole process; the parser only shares them.
  return std::shared_ptr<const Schema>(&SchemaFor(mode), [](const Schema*) {});
}

void FuzzRecords(int mode, bool header_from_input, std::string_view rest) {
  SourceSpec spec;
  spec.format = kFormats[mode];
  spec.max_line_bytes = 1024;
  std::string_view header;
  const bool delimited = spec.format == "csv" || spec.format == "tsv";
  if (delimited && header_from_input) {
    const size_t nl = rest.find('\n');
    header = rest.substr(0, nl);
    rest =
        nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  } else if (delimited) {
    spec.header = false;
    spec.columns = RecordColumns();
  }
  auto parser = MakeRecordParser(SharedSchemaFor(mode), spec, header);
  if (!parser.ok()) {
    // Only a header from the input may make the parser unbuildable.
    Require(header_from_input && delimited, parser.status().ToString());
    return;
  }
  Example ex;
  while (true) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    absl::Status status = (*parser)->Parse(line, &ex);
    if (status.ok()) {
      CheckExample(SchemaFor(mode), ex);
    } else {
      Require(GetRecordErrorKind(status).has_value(),
              "record error without a kind: " + status.ToString());
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
}

void FuzzSideTable(std::string_view text) {
  SideTableSpec spec;
  spec.name = "items";
  spec.key_column = "item";
  spec.join_column = "item";
  auto table = SideTable::FromText(spec, text, "fuzz.csv");
  if (!table.ok()) return;
  const int key = (*table)->ColumnIndex("item");
  Require(key >= 0, "key column missing from a loaded table");
  for (int row = 0; row < (*table)->num_rows(); ++row) {
    for (int c = 0; c < (*table)->num_columns(); ++c) {
      (void)(*table)->Value(row, c).size();
    }
    // A later row with a seen key replaces it, so each key finds a row
    // holding that key.
    const std::string_view k = (*table)->Value(row, key);
    const int found = (*table)->FindRow(k);
    Require(found >= 0 && (*table)->Value(found, key) == k, "key lookup");
  }
}

void FuzzStreamPosition(std::string_view text) {
  auto pos = StreamPosition::Parse(text);
  if (!pos.ok()) return;
  Require(pos->offset >= 0, "negative offset accepted");
  auto again = StreamPosition::Parse(pos->ToString());
  Require(again.ok() && *again == *pos, "position does not round-trip");
}

}  // namespace
}  // namespace fuzz
}  // namespace freshet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 8;
  const bool header_from_input = (data[0] & 0x80) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1,
                              size - 1);
  if (mode == freshet::fuzz::kSideTableMode) {
    freshet::fuzz::FuzzSideTable(rest);
  } else if (mode == freshet::fuzz::kStreamPositionMode) {
    freshet::fuzz::FuzzStreamPosition(rest);
  } else {
    freshet::fuzz::FuzzRecords(mode, header_from_input, rest);
  }
  return 0;
}
