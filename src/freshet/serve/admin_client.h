// AdminClient: the client side of the HTTP server's admin calls (POST
// /admin/<name> with "Authorization: Bearer <token>"), as `freshet ckpt
// now` uses it.
//
// Errors say what went wrong in a user's terms, prefixed with HOST:PORT:
// "cannot connect (connection refused, or nothing listening there)", "HTTP
// 401 (unauthorized: wrong or missing token): <the server's reason>", ...
//
// Thread safety: a free function; calls are independent.
#ifndef FRESHET_SERVE_ADMIN_CLIENT_H_
#define FRESHET_SERVE_ADMIN_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"

namespace freshet {

// Splits "HOST:PORT" (also "http://HOST:PORT", "[v6]:PORT", a trailing
// slash). False when it is not one.
bool ParseHostPort(std::string addr, std::string* host, int* port);

// Posts an admin call `name` to the server at `addr` (HOST:PORT) with
// `token`, waiting up to `timeout_s` for the reply; returns the reply's body
// on HTTP 200. InvalidArgument for an `addr` that is not HOST:PORT,
// Unavailable when the server cannot be reached or does not reply, and for
// another HTTP status PermissionDenied (401, 403), NotFound (404) or
// Internal, with the server's reason.
absl::StatusOr<std::string> CallAdmin(const std::string& addr,
                                      const std::string& token,
                                      const std::string& name,
                                      double timeout_s);

}  // namespace freshet

#endif  // FRESHET_SERVE_ADMIN_CLIENT_H_
