// What `freshet run` and `freshet serve` share about their HTTP front end:
// the flags that are shorthands for the job's `serve` keys and the port
// file.
#ifndef FRESHET_APPS_FRESHET_SERVE_FLAGS_H_
#define FRESHET_APPS_FRESHET_SERVE_FLAGS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "freshet/base/config.h"

namespace freshet {

struct ServeFlags {
  double duration_s = 0;
  std::optional<int> http_port;
  std::optional<std::string> bind;
  std::optional<int64_t> stale_after_ms;
  std::string port_file;
};

// Adds --duration-s, --http-port, --bind, --stale-after-ms (described by
// `stale_help`) and --port-file to `cmd`.
void AddServeFlags(CLI::App* cmd, ServeFlags* flags,
                   const std::string& stale_help);

// The flags as `--set` overrides, so that the job's validation (and its
// messages) covers them too.
void AppendServeOverrides(const ServeFlags& flags,
                          std::vector<std::string>* overrides);

// Writes `port` to `path` through a rename, so a reader never sees a
// partial file. Does nothing for an empty path.
void WritePortFile(const std::string& path, int port);

}  // namespace freshet

#endif  // FRESHET_APPS_FRESHET_SERVE_FLAGS_H_
