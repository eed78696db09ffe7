#include "apps/freshet/serve_flags.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace freshet {

void AddServeFlags(CLI::App* cmd, ServeFlags* flags,
                   const std::string& stale_help) {
  cmd->add_option("--duration-s", flags->duration_s,
                  "Stop after this many seconds (0: until Ctrl-C/SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--http-port", flags->http_port,
                  "HTTP port, serve.port (default 8080; 0: any free port, "
                  "see --port-file)");
  cmd->add_option("--bind", flags->bind,
                  "Address to listen on, serve.bind (default 127.0.0.1)");
  cmd->add_option("--stale-after-ms", flags->stale_after_ms, stale_help);
  cmd->add_option("--port-file", flags->port_file,
                  "Write the HTTP port to this file once listening");
}

void AppendServeOverrides(const ServeFlags& flags,
                          std::vector<std::string>* overrides) {
  if (flags.http_port) {
    overrides->push_back(absl::StrCat("serve.port=", *flags.http_port));
  }
  if (flags.bind) overrides->push_back("serve.bind=" + *flags.bind);
  if (flags.stale_after_ms) {
    overrides->push_back(
        absl::StrCat("serve.stale_after=", *flags.stale_after_ms, "ms"));
  }
}

void WritePortFile(const std::string& path, int port) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace freshet
