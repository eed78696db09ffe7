#include "freshet/data/make_source.h"

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"
#include "freshet/data/file_log.h"
#include "freshet/data/generator.h"
#include "freshet/data/text_scan.h"

namespace freshet {

absl::StatusOr<std::unique_ptr<Source>> MakeSource(const SourceSpec& spec,
                                                   FileSystem* fs) {
  if (spec.type == "file") {
    if (spec.path.empty()) {
      return absl::InvalidArgumentError(
          "source.path: must name a file or folder for source type 'file'");
    }
    FileLogOptions options;
    options.follow = spec.follow;
    options.max_record_bytes = spec.max_line_bytes;
    options.file_system = fs;
    ASSIGN_OR_RETURN(std::unique_ptr<FileLogSource> source,
                     FileLogSource::Open(spec.path, options));
    return std::unique_ptr<Source>(std::move(source));
  }
  if (spec.type == "generator") {
    return MakeGeneratorSource(spec);
  }
  return absl::InvalidArgumentError(Cat(
      "source.type: expected 'file' or 'generator', got '", spec.type, "'"));
}

}  // namespace freshet
