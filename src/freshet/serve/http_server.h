// HttpServer: the HTTP/JSON front end of a serving replica, on the
// event-driven HttpFrontEnd (connection cap, timeouts, body limits).
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
// bad JSON, unknown slots, bad values, too many candidates or malformed HTTP,
// 413 for a body (as sent or decoded) over max_body_bytes, 431 for a header
// over max_header_bytes, 415 for an unknown Content-Encoding, 408 for a
// request not received in time, 503 past max_connections, 404/405 for other
// paths and methods; the server keeps serving. It binds 127.0.0.1 unless told
// otherwise.
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

#include "absl/status/statusor.h"
#include "freshet/serve/histogram.h"
#include "freshet/serve/http_front_end.h"
#include "freshet/serve/predictor.h"
#include "freshet/serve/serving_replica.h"

namespace freshet {

// The answer of an admin call.
struct AdminReply {
  int status = 200;
  nlohmann::json body;
};

struct HttpServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port())
  int threads = 4;  // event-loop threads
  int64_t max_body_bytes = 1 << 20;
  int64_t max_header_bytes = 16 << 10;
  int max_connections = 16384;    // fitted under the descriptor limit
  double idle_timeout_s = 60;     // a kept-alive connection's wait
  double request_timeout_s = 10;  // first byte to end of body
  PredictorOptions predictor;
  // Appends more Prometheus text to /metrics (called per scrape).
  std::function<void(std::string* out)> extra_metrics;
  // Adds fields to /statusz (called per request).
  std::function<void(nlohmann::json* status)> extra_status;
  // Admin calls: POST /admin/<name> runs admin[name] with the request body,
  // on an event-loop thread, when the request carries the header
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
  // Requests answered with 4xx/5xx, by the handlers or the front end.
  int64_t errors() const;
  HttpFrontEndStats connection_stats() const { return front_end_->stats(); }
  int max_connections() const { return front_end_->max_connections(); }
  const Predictor& predictor() const { return predictor_; }

  // The /metrics and /statusz bodies (also for tests).
  std::string MetricsText() const;
  nlohmann::json StatusJson() const;

 private:
  HttpServer(const ServingReplica* replica, const HttpServerOptions& options);

  const ServingReplica* const replica_;
  const HttpServerOptions options_;
  Predictor predictor_;
  void Handle(const HttpRequest& req, HttpResponse* res);
  void Predict(const HttpRequest& req, HttpResponse* res);
  void Admin(std::string_view name, const HttpRequest& req, HttpResponse* res);

  std::unique_ptr<HttpFrontEnd> front_end_;
  int port_ = 0;
  Histogram latency_;
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> errors_{0};
};

}  // namespace freshet

#endif  // FRESHET_SERVE_HTTP_SERVER_H_
