#include "freshet/job/http_options.h"

#include <cstdlib>

namespace freshet {

HttpServerOptions HttpOptionsFromSpec(const ServeSpec& serve) {
  HttpServerOptions o;
  o.bind = serve.bind;
  o.port = serve.port;
  o.threads = serve.http_threads;
  o.max_body_bytes = serve.max_body_bytes;
  o.max_header_bytes = serve.max_header_bytes;
  o.max_connections = serve.max_connections;
  o.idle_timeout_s = serve.idle_timeout_ms / 1000.0;
  o.request_timeout_s = serve.request_timeout_ms / 1000.0;
  o.predictor.max_candidates = serve.max_candidates;
  o.admin_token = serve.admin_token;
  if (const char* token = std::getenv("FRESHET_ADMIN_TOKEN");
      token != nullptr && token[0] != '\0') {
    o.admin_token = token;
  }
  return o;
}

}  // namespace freshet
