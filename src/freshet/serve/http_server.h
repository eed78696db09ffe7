// HttpServer: the HTTP/JSON front end of a serving replica (cpp-httplib).
//
//   POST /v1/predict  {"context": {...}, "candidates": [{...}, ...]}
//                     → {"scores": [...], "model_version": n,
//                        "staleness_ms": n, "degradation": "fresh"}
//   GET  /healthz     → "ok" (200) while the server runs
//   GET  /statusz     → JSON: model version, sync lag, table sizes, ...
//   POST /admin/NAME  admin calls (checkpoint now, ...), with a bearer token
//   GET  /metrics     → Prometheus text: request latency histogram, sync
//                       freshness histogram, versions, rows and bytes
//                       applied, table rows and memory, plus whatever
//                       `extra_metrics` adds (training throughput, AUC, ...)
//
// Bad requests get a 4xx whose JSON body says why ({"error": "..."}): 400 for
// bad JSON, unknown slots, bad values or too many candidates, 413 for a body
// over max_body_bytes, 404/405 for other paths and methods; the server keeps
// serving. It binds 127.0.0.1 unless told otherwise.
//
// Thread safety: requests run on the server's worker threads; Start/Stop from
// one controlling thread.
#ifndef FRESHET_SERVE_HTTP_SERVER_H_
#define FRESHET_SERVE_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "freshet/serve/histogram.h"
#include "freshet/serve/predictor.h"
#include "freshet/serve/serving_replica.h"

namespace httplib {
class Server;
}

namespace freshet {

// The answer of an admin call.
struct AdminReply {
  int status = 200;
  nlohmann::json body;
};

struct HttpServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port())
  int threads = 4;  // worker threads
  int64_t max_body_bytes = 1 << 20;
  PredictorOptions predictor;
  // Appends more Prometheus text to /metrics (called per scrape).
  std::function<void(std::string* out)> extra_metrics;
  // Adds fields to /statusz (called per request).
  std::function<void(nlohmann::json* status)> extra_status;
  // Admin calls: POST /admin/<name> runs admin[name] with the request body,
  // on a worker thread, when the request carries the header
  // "Authorization: Bearer <admin_token>". 401 for a missing or wrong token,
  // 403 when admin_token is empty (admin calls off), 404 for another name.
  std::string admin_token;
  std::map<std::string, std::function<AdminReply(const std::string& body)>>
      admin;
};

class HttpServer {
 public:
  // Binds and starts serving on a background thread. Unavailable when the
  // address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const ServingReplica* replica, const HttpServerOptions& options);
  ~HttpServer();  // Stop()

  int port() const { return port_; }
  // Stops accepting, finishes requests in flight and joins the thread.
  void Stop();

  const Histogram& latency() const { return latency_; }
  int64_t requests() const { return requests_.load(); }
  int64_t errors() const { return errors_.load(); }
  const Predictor& predictor() const { return predictor_; }

  // The /metrics and /statusz bodies (also for tests).
  std::string MetricsText() const;
  nlohmann::json StatusJson() const;

 private:
  HttpServer(const ServingReplica* replica, const HttpServerOptions& options);

  const ServingReplica* const replica_;
  const HttpServerOptions options_;
  Predictor predictor_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  Histogram latency_;
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> rejected_[5] = {};  // 400, 404, 405, 413, other
};

}  // namespace freshet

#endif  // FRESHET_SERVE_HTTP_SERVER_H_
