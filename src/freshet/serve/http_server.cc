#include "freshet/serve/http_server.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/clock.h"

namespace freshet {
namespace {

using json = nlohmann::json;

void SetError(httplib::Response& res, int status, std::string_view reason) {
  res.status = status;
  res.set_content(json{{"error", std::string(reason)}}.dump() + "\n",
                  "application/json");
}

// Compares in time independent of where the strings differ.
bool SameToken(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace

HttpServer::HttpServer(const ServingReplica* replica,
                       const HttpServerOptions& options)
    : replica_(replica),
      options_(options),
      predictor_(replica, options.predictor),
      server_(std::make_unique<httplib::Server>()),
      latency_(Histogram::LatencyBounds(), 100000) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const ServingReplica* replica, const HttpServerOptions& options) {
  std::unique_ptr<HttpServer> s(new HttpServer(replica, options));
  httplib::Server& srv = *s->server_;
  HttpServer* self = s.get();
  const int threads = std::max(1, options.threads);
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // One more byte than allowed, so that an oversized body is seen and
  // refused with a reason by the handler rather than cut by the library.
  srv.set_payload_max_length(static_cast<size_t>(options.max_body_bytes) + 1);
  srv.set_keep_alive_max_count(1000000);
  // Without it, Nagle's algorithm and the client's delayed ACK hold every
  // keep-alive response for ~40 ms.
  srv.set_tcp_nodelay(true);

  srv.Post("/v1/predict", [self](const httplib::Request& req,
                                 httplib::Response& res) {
    const double t0 = MonotonicSeconds();
    self->requests_.fetch_add(1, std::memory_order_relaxed);
    if (static_cast<int64_t>(req.body.size()) > self->options_.max_body_bytes) {
      SetError(res, 413,
               absl::StrCat("request body of ", req.body.size(),
                            " bytes exceeds the limit of ",
                            self->options_.max_body_bytes));
      return;
    }
    absl::StatusOr<PredictRequest> parsed =
        ParsePredictRequest(req.body, self->replica_->schema(),
                            self->options_.predictor.max_candidates);
    PredictResult result;
    absl::Status status = parsed.ok()
                              ? self->predictor_.Predict(*parsed, &result)
                              : parsed.status();
    if (!status.ok()) {
      // The request's fault (400), or the model's (500: a non-finite score).
      SetError(res, status.code() == absl::StatusCode::kInternal ? 500 : 400,
               std::string(status.message()));
      return;
    }
    json out = {{"scores", result.scores},
                {"model_version", result.model_version},
                {"staleness_ms", result.staleness_ms},
                {"degradation", result.degradation}};
    res.set_content(out.dump(), "application/json");
    self->latency_.Record(MonotonicSeconds() - t0);
  });
  srv.Post(R"(/admin/([a-z_]+))",
           [self](const httplib::Request& req, httplib::Response& res) {
             const std::string name = req.matches[1];
             if (self->options_.admin_token.empty()) {
               SetError(res, 403,
                        "admin calls are off: set serve.admin_token or "
                        "FRESHET_ADMIN_TOKEN");
               return;
             }
             const std::string auth = req.get_header_value("Authorization");
             constexpr std::string_view kBearer = "Bearer ";
             if (auth.compare(0, kBearer.size(), kBearer) != 0 ||
                 !SameToken(std::string_view(auth).substr(kBearer.size()),
                            self->options_.admin_token)) {
               res.set_header("WWW-Authenticate", "Bearer");
               SetError(res, 401, "missing or wrong admin token");
               return;
             }
             auto it = self->options_.admin.find(name);
             if (it == self->options_.admin.end()) {
               SetError(res, 404, absl::StrCat("no admin call named ", name));
               return;
             }
             AdminReply reply = it->second(req.body);
             res.status = reply.status;
             res.set_content(reply.body.dump() + "\n", "application/json");
           });
  srv.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  srv.Get("/statusz", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->StatusJson().dump(2) + "\n", "application/json");
  });
  srv.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->MetricsText(), "text/plain; version=0.0.4");
  });
  srv.set_error_handler([self](const httplib::Request& req,
                               httplib::Response& res) {
    if (res.status < 400) return;
    self->errors_.fetch_add(1, std::memory_order_relaxed);
    if (!res.body.empty()) return;  // a handler already said why
    switch (res.status) {
      case 404:
        SetError(res, 404, absl::StrCat("no such path: ", req.path));
        break;
      case 405:
        SetError(
            res, 405,
            absl::StrCat("method ", req.method, " not allowed on ", req.path));
        break;
      case 413:
        SetError(res, 413,
                 absl::StrCat("request body exceeds the limit of ",
                              self->options_.max_body_bytes, " bytes"));
        break;
      case 400:
        SetError(res, 400,
                 "bad request (a POST needs a Content-Length header; with "
                 "curl, pass -d '')");
        break;
      default:
        SetError(res, res.status, "bad request");
    }
  });

  const int port =
      options.port == 0
          ? srv.bind_to_any_port(options.bind)
          : (srv.bind_to_port(options.bind, options.port) ? options.port : -1);
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.bind, ":", options.port));
  }
  s->port_ = port;
  s->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  // Wait until the listener runs, so that Stop() right after Start() works.
  for (int i = 0; i < 2000 && !srv.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s;
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

json HttpServer::StatusJson() const {
  const ReplicaStatus st = replica_->status();
  const int64_t staleness = predictor_.StalenessMs();
  json tables = json::array();
  for (int i = 0; i < replica_->num_tables(); ++i) {
    tables.push_back({{"name", replica_->table_name(i)},
                      {"rows", replica_->table_rows(i)},
                      {"bytes", replica_->table_bytes(i)}});
  }
  json out = {
      {"model_version", st.version},
      {"shard", st.shard},
      {"staleness_ms", staleness},
      {"degradation", predictor_.Degradation(staleness)},
      {"sync",
       {{"epoch", st.epoch},
        {"batches_applied", st.batches},
        {"full_batches_applied", st.full_batches},
        {"batches_rejected", st.rejected},
        {"duplicates_dropped", st.duplicates},
        {"version_gaps", st.version_gaps},
        {"gap_open", st.gap_open},
        {"rows_applied", st.rows_applied},
        {"deletes_applied", st.deletes_applied},
        {"bytes_received", st.bytes_received},
        {"last_apply_ms", st.last_apply_s * 1000},
        {"max_apply_ms", st.max_apply_s * 1000},
        {"examples_behind_version", st.examples},
        {"lag_ms", staleness},
        {"freshness_p50_ms", replica_->freshness().Percentile(0.5) * 1000.0},
        {"freshness_p99_ms", replica_->freshness().Percentile(0.99) * 1000.0}}},
      {"tables", tables},
      {"requests", requests_.load()},
      {"errors", errors_.load()},
  };
  if (options_.extra_status) options_.extra_status(&out);
  return out;
}

std::string HttpServer::MetricsText() const {
  std::string out;
  const ReplicaStatus st = replica_->status();
  const int64_t staleness = predictor_.StalenessMs();
  auto gauge = [&out](const char* name, const char* help, double v) {
    absl::StrAppendFormat(&out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n",
                          name, help, name, name, v);
  };
  auto counter = [&out](const char* name, const char* help, double v) {
    absl::StrAppendFormat(&out, "# HELP %s %s\n# TYPE %s counter\n%s %.17g\n",
                          name, help, name, name, v);
  };
  gauge("freshet_serving_model_version", "Last applied sync version",
        static_cast<double>(st.version));
  gauge("freshet_serving_sync_lag_seconds",
        "Age of the served version (since it was cut by training)",
        staleness < 0 ? -1 : staleness / 1000.0);
  gauge("freshet_serving_stale", "1 when serving is degraded to stale",
        predictor_.Degradation(staleness) == "stale" ? 1 : 0);
  counter("freshet_serving_sync_batches_total", "Delta batches applied",
          static_cast<double>(st.batches));
  counter("freshet_serving_sync_full_batches_total",
          "Full delta batches applied (each heals a gap)",
          static_cast<double>(st.full_batches));
  counter("freshet_serving_sync_rejected_total", "Delta batches refused",
          static_cast<double>(st.rejected));
  counter("freshet_serving_sync_duplicates_total",
          "Delta batches dropped as duplicates or older versions",
          static_cast<double>(st.duplicates));
  counter("freshet_serving_sync_gaps_total",
          "Version gaps detected (a batch built on a version never applied)",
          static_cast<double>(st.version_gaps));
  gauge("freshet_serving_sync_gap_open",
        "1 while a version gap is open (serving a consistent older version)",
        st.gap_open ? 1 : 0);
  counter("freshet_serving_sync_rows_total", "Rows applied from delta batches",
          static_cast<double>(st.rows_applied));
  counter("freshet_serving_sync_deletes_total",
          "Deleted keys applied from delta batches",
          static_cast<double>(st.deletes_applied));
  counter("freshet_serving_sync_bytes_total", "Encoded delta bytes received",
          static_cast<double>(st.bytes_received));
  gauge("freshet_serving_sync_apply_seconds",
        "Time to make the last delta batch visible (requests never wait)",
        st.last_apply_s);
  gauge("freshet_serving_sync_apply_max_seconds",
        "Longest time to make a delta batch visible", st.max_apply_s);
  replica_->freshness().AppendPrometheus(
      "freshet_sync_freshness_seconds",
      "Time from an update entering the trainer to serving applying it", &out);
  out +=
      "# HELP freshet_serving_table_rows Rows per serving table\n"
      "# TYPE freshet_serving_table_rows gauge\n";
  for (int i = 0; i < replica_->num_tables(); ++i) {
    absl::StrAppendFormat(&out, "freshet_serving_table_rows{table=\"%s\"} %d\n",
                          replica_->table_name(i), replica_->table_rows(i));
  }
  out +=
      "# HELP freshet_serving_table_bytes Memory per serving table\n"
      "# TYPE freshet_serving_table_bytes gauge\n";
  for (int i = 0; i < replica_->num_tables(); ++i) {
    absl::StrAppendFormat(&out,
                          "freshet_serving_table_bytes{table=\"%s\"} %d\n",
                          replica_->table_name(i), replica_->table_bytes(i));
  }
  counter("freshet_http_requests_total", "Prediction requests",
          static_cast<double>(requests_.load()));
  counter("freshet_http_errors_total", "Requests answered with 4xx/5xx",
          static_cast<double>(errors_.load()));
  latency_.AppendPrometheus("freshet_predict_latency_seconds",
                            "Latency of successful /v1/predict requests", &out);
  if (options_.extra_metrics) options_.extra_metrics(&out);
  return out;
}

}  // namespace freshet
