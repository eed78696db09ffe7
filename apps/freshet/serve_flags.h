// What `freshet run` and `freshet serve` share about their HTTP front end:
// the flags that are shorthands for the job's `serve` keys, how long to
// serve and the port file.
#ifndef FRESHET_APPS_FRESHET_SERVE_FLAGS_H_
#define FRESHET_APPS_FRESHET_SERVE_FLAGS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "freshet/job/job_inputs.h"

namespace freshet {

struct ServeFlags {
  double duration_s = 0;
  // --http-port, --bind, --stale-after-ms; `freshet run` adds its own.
  ServeShorthands keys;
  std::string port_file;
};

// Adds --duration-s, --http-port, --bind, --stale-after-ms (described by
// `stale_help`) and --port-file to `cmd`.
void AddServeFlags(CLI::App* cmd, ServeFlags* flags,
                   const std::string& stale_help);

// Writes the port file of --port-file (WritePortFile()); a failure is
// logged as a warning, serving goes on.
void WritePortFileOrWarn(const std::string& path, int port);

}  // namespace freshet

#endif  // FRESHET_APPS_FRESHET_SERVE_FLAGS_H_
