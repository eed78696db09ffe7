#include "freshet/data/source_config.h"

#include "absl/strings/str_cat.h"
#include "freshet/base/config_kinds.h"
#include "freshet/base/logging.h"
#include "freshet/base/status_macros.h"

namespace freshet {
namespace {

// Keys of every source: where the records are (the `--data` flag of the
// commands sets `path` whatever the type), how long one may be, and where
// malformed ones go.
absl::Status ReadCommon(const ConfigSection& s, SourceSpec* spec) {
  RETURN_IF_ERROR(s.Get("path", &spec->path));
  RETURN_IF_ERROR(s.GetBytes("max_line_bytes", &spec->max_line_bytes));
  RETURN_IF_ERROR(s.Get("dead_letter", &spec->dead_letter));
  if (spec->max_line_bytes < kMinMaxLineBytes ||
      spec->max_line_bytes > kMaxMaxLineBytes) {
    return s.Error(
        "max_line_bytes",
        absl::StrCat("must be in ", kMinMaxLineBytes, " bytes..1GiB, got ",
                     spec->max_line_bytes, " bytes"));
  }
  spec->path = s.ResolvePath(spec->path);
  spec->dead_letter = s.ResolvePath(spec->dead_letter);
  return absl::OkStatus();
}

absl::Status ReadFile(const ConfigSection& s, SourceSpec* spec) {
  return s.Get("follow", &spec->follow);
}

absl::Status ReadGenerator(const ConfigSection& s, SourceSpec* spec) {
  RETURN_IF_ERROR(s.Get("kind", &spec->generator_kind));
  RETURN_IF_ERROR(s.Get("rows", &spec->generator_rows));
  RETURN_IF_ERROR(s.Get("seed", &spec->generator_seed));
  if (spec->generator_kind != "criteo" &&
      spec->generator_kind != "impressions") {
    return s.Error("kind", absl::StrCat("expected criteo or impressions, got '",
                                        spec->generator_kind, "'"));
  }
  if (spec->generator_rows <= 0) {
    return s.Error("rows",
                   absl::StrCat("must be > 0, got ", spec->generator_rows));
  }
  return absl::OkStatus();
}

// csv and tsv: named columns split at one delimiter.
ConfigRegistry<SourceSpec>::Reader DelimitedReader(const char* default_delim) {
  return [default_delim](const ConfigSection& s,
                         SourceSpec* spec) -> absl::Status {
    RETURN_IF_ERROR(s.Get("delimiter", &spec->delimiter));
    RETURN_IF_ERROR(s.Get("header", &spec->header));
    RETURN_IF_ERROR(s.Get("columns", &spec->columns));
    if (spec->delimiter.empty()) spec->delimiter = default_delim;
    if (spec->delimiter.size() != 1) {
      return s.Error("delimiter", "must be a single character");
    }
    return absl::OkStatus();
  };
}

// Formats with a fixed layout keep the tab in `delimiter`, as before formats
// owned their keys.
absl::Status ReadFixed(const ConfigSection& s, SourceSpec* spec) {
  if (spec->delimiter.empty()) spec->delimiter = "\t";
  return absl::OkStatus();
}

}  // namespace

absl::Status RegisterSourceConfigs() {
  ConfigRegistry<SourceSpec>& sources = SourceKinds();
  sources.SetCommon({"path", "max_line_bytes", "dead_letter"}, ReadCommon);
  RETURN_IF_ERROR(sources.Register({"file", {"follow"}, ReadFile}));
  RETURN_IF_ERROR(
      sources.Register({"generator", {"kind", "rows", "seed"}, ReadGenerator}));
  return absl::OkStatus();
}

absl::Status RegisterFormatConfigs() {
  ConfigRegistry<SourceSpec>& formats = FormatKinds();
  const std::vector<std::string> delimited = {"delimiter", "header", "columns"};
  RETURN_IF_ERROR(formats.Register({"criteo", {}, ReadFixed}));
  RETURN_IF_ERROR(formats.Register({"csv", delimited, DelimitedReader(",")}));
  RETURN_IF_ERROR(formats.Register({"tsv", delimited, DelimitedReader("\t")}));
  RETURN_IF_ERROR(formats.Register({"jsonl", {}, ReadFixed}));
  RETURN_IF_ERROR(formats.Register({"libsvm", {}, ReadFixed}));
  RETURN_IF_ERROR(formats.Register({"libffm", {}, ReadFixed}));
  return absl::OkStatus();
}

// Registers the source types and formats before main() in every binary
// linking the data layer: CMakeLists.txt links it with
// -u freshet_data_config_kinds.
int RegisterDataConfigsAtStartup() {
  absl::Status status = RegisterSourceConfigs();
  if (status.ok()) status = RegisterFormatConfigs();
  if (!status.ok()) FRESHET_LOG_ERROR("source config: {}", status.ToString());
  return 1;
}

}  // namespace freshet

extern "C" {
extern const int freshet_data_config_kinds;
const int freshet_data_config_kinds = freshet::RegisterDataConfigsAtStartup();
}
