// WritePortFile: tells another process which port a server listens on, for a
// server started on port 0 (any free port): `freshet run` and `freshet
// serve --port-file`, read by tests and scripts that start them.
#ifndef FRESHET_BASE_PORT_FILE_H_
#define FRESHET_BASE_PORT_FILE_H_

#include <string>

#include "absl/status/status.h"

namespace freshet {

// Writes "PORT\n" to `path` through PATH.tmp and a rename, so that a reader
// never sees a partial file. Does nothing for an empty path. Errors:
// Internal "cannot write PATH.tmp" or "cannot rename PATH.tmp to PATH: why"
// (the .tmp file is removed).
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace freshet

#endif  // FRESHET_BASE_PORT_FILE_H_
