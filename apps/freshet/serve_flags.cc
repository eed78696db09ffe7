#include "apps/freshet/serve_flags.h"

#include "apps/freshet/command.h"
#include "freshet/base/logging.h"
#include "freshet/base/port_file.h"

namespace freshet {

void AddServeFlags(CLI::App* cmd, ServeFlags* flags,
                   const std::string& stale_help) {
  cmd->add_option("--duration-s", flags->duration_s,
                  "Stop after this many seconds (0: until Ctrl-C/SIGTERM)")
      ->check(FiniteNumber(0));
  cmd->add_option("--http-port", flags->keys.http_port,
                  "HTTP port, serve.port (default 8080; 0: any free port, "
                  "see --port-file)");
  cmd->add_option("--bind", flags->keys.bind,
                  "Address to listen on, serve.bind (default 127.0.0.1)");
  cmd->add_option("--stale-after-ms", flags->keys.stale_after_ms, stale_help);
  cmd->add_option("--port-file", flags->port_file,
                  "Write the HTTP port to this file once listening");
}

void WritePortFileOrWarn(const std::string& path, int port) {
  if (absl::Status st = WritePortFile(path, port); !st.ok()) {
    FRESHET_LOG_WARN("--port-file: {}", std::string(st.message()));
  }
}

}  // namespace freshet
