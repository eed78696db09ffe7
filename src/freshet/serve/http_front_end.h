// HttpFrontEnd: an event-driven HTTP/1.1 server (Boost.Beast on Asio) that a
// slow, idle or hostile client cannot starve.
//
// Each of a few threads runs an event loop of its own, and connections are
// dealt to the loops in turn; a connection costs a socket and a small buffer,
// not a thread, so idle keep-alive clients and clients that send a header a
// byte at a time wait in their loop while other clients are served.
// The limits, all enforced while reading:
//   - max_connections open at once (at most the file-descriptor limit less a
//     reserve for the rest of the process); one more is answered 503 and
//     closed, and when the process runs out of descriptors the acceptor
//     pauses and retries rather than failing.
//   - idle_timeout: a kept-alive connection waits this long for the first
//     byte of its next request; request_timeout: from that byte to the end
//     of the body (a client that trickles its header is cut, with a 408).
//   - max_header_bytes (431) and max_body_bytes (413) on the body as sent,
//     chunked or not, and again on the body decoded from gzip or deflate, so
//     a compression bomb is stopped at the limit, not after inflating it.
// Pipelined requests are answered in order. A response to a request that
// left the stream unreadable (a bad header, a body over the limit) closes the
// connection.
//
// Thread safety: the handler runs on the loop's threads, concurrently for
// different connections; Start/Stop from one controlling thread.
#ifndef FRESHET_SERVE_HTTP_FRONT_END_H_
#define FRESHET_SERVE_HTTP_FRONT_END_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace freshet {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  // Header fields as sent (names in the client's case).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // decoded (gzip and deflate undone)

  // The value of a header field (case-insensitive name), "" when absent.
  std::string Header(std::string_view name) const;
  // The path: the target without its query.
  std::string_view Path() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpFrontEndOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: any free port
  int threads = 4;  // event loops, one thread each
  int max_connections = 16384;
  int64_t max_header_bytes = 16 << 10;
  int64_t max_body_bytes = 1 << 20;
  double idle_timeout_s = 60;
  double request_timeout_s = 10;
  // Descriptors left to the rest of the process when the connection cap is
  // fitted under the descriptor limit.
  int reserved_fds = 256;
};

// Counts kept by the front end (monotonic, but connections_open).
struct HttpFrontEndStats {
  int64_t connections_open = 0;
  int64_t connections_accepted = 0;
  int64_t connections_refused = 0;  // over max_connections: 503
  int64_t accept_errors = 0;        // descriptors exhausted and the like
  int64_t timeouts = 0;             // idle or request timeout
  int64_t rejected = 0;             // requests refused by the front end
};

class HttpFrontEnd {
 public:
  using Handler = std::function<void(const HttpRequest&, HttpResponse*)>;
  // Binds, fits the connection cap under the descriptor limit and starts the
  // loop threads. Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpFrontEnd>> Start(
      const HttpFrontEndOptions& options, Handler handler);
  ~HttpFrontEnd();  // Stop()

  int port() const;
  // The connection cap in force (options.max_connections, or less when the
  // descriptor limit is lower).
  int max_connections() const;
  HttpFrontEndStats stats() const;
  // Stops accepting, lets requests in flight finish (up to a second), closes
  // every connection and joins the threads.
  void Stop();

  struct Impl;

 private:
  explicit HttpFrontEnd(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace freshet

#endif  // FRESHET_SERVE_HTTP_FRONT_END_H_
