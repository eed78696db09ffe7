// Fuzzes ParseJobConfig(), the reader of YAML job files and their
// `--set path.to.key=value` overrides. The input up to the first NUL byte is
// the job file; each NUL-separated part after it is one override (at most
// four). Errors must be InvalidArgument; nothing reads files (side tables
// are only named here, loaded by Schema::Compile()).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "freshet/base/config.h"
#include "fuzz/fuzz_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  size_t nul = rest.find('\0');
  const std::string yaml(rest.substr(0, nul));
  std::vector<std::string> overrides;
  while (nul != std::string_view::npos && overrides.size() < 4) {
    rest.remove_prefix(nul + 1);
    nul = rest.find('\0');
    overrides.emplace_back(rest.substr(0, nul));
  }
  auto job =
      freshet::ParseJobConfig(yaml, "fuzz.yaml", "/nonexistent", overrides);
  if (!job.ok()) {
    freshet::fuzz::Require(absl::IsInvalidArgument(job.status()),
                           "unexpected status: " + job.status().ToString());
  }
  return 0;
}
