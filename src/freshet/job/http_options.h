// HttpOptionsFromSpec: the HTTP front end's options from a job's `serve`
// section, shared by the jobs that serve (EmbeddedJob, CheckpointServing).
#ifndef FRESHET_JOB_HTTP_OPTIONS_H_
#define FRESHET_JOB_HTTP_OPTIONS_H_

#include "freshet/base/config.h"
#include "freshet/serve/http_server.h"

namespace freshet {

// Server options from the job's serve keys (bind, port, threads, body and
// candidate limits, admin token, which the environment variable
// FRESHET_ADMIN_TOKEN overrides when set and not empty); staleness, extra
// metrics, status and admin calls are each job's own.
HttpServerOptions HttpOptionsFromSpec(const ServeSpec& serve);

}  // namespace freshet

#endif  // FRESHET_JOB_HTTP_OPTIONS_H_
