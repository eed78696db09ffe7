#include "freshet/serve/http_server.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "freshet/base/clock.h"

namespace freshet {
namespace {

using json = nlohmann::json;

void SetError(HttpResponse* res, int status, std::string_view reason) {
  res->status = status;
  res->content_type = "application/json";
  res->body = json{{"error", std::string(reason)}}.dump() + "\n";
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

bool AdminName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(c >= 'a' && c <= 'z') && c != '_') return false;
  }
  return true;
}

}  // namespace

HttpServer::HttpServer(const ServingReplica* replica,
                       const HttpServerOptions& options)
    : replica_(replica),
      options_(options),
      predictor_(replica, options.predictor),
      latency_(Histogram::LatencyBounds(), 100000) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const ServingReplica* replica, const HttpServerOptions& options) {
  std::unique_ptr<HttpServer> s(new HttpServer(replica, options));
  HttpFrontEndOptions fe;
  fe.bind = options.bind;
  fe.port = options.port;
  fe.threads = std::max(1, options.threads);
  fe.max_connections = options.max_connections;
  fe.max_header_bytes = options.max_header_bytes;
  fe.max_body_bytes = options.max_body_bytes;
  fe.idle_timeout_s = options.idle_timeout_s;
  fe.request_timeout_s = options.request_timeout_s;
  HttpServer* self = s.get();
  absl::StatusOr<std::unique_ptr<HttpFrontEnd>> front_end = HttpFrontEnd::Start(
      fe, [self](const HttpRequest& req, HttpResponse* res) {
        self->Handle(req, res);
        if (res->status >= 400) {
          self->errors_.fetch_add(1, std::memory_order_relaxed);
        }
      });
  if (!front_end.ok()) return front_end.status();
  s->front_end_ = *std::move(front_end);
  s->port_ = s->front_end_->port();
  return s;
}

void HttpServer::Stop() {
  if (front_end_ != nullptr) front_end_->Stop();
}

int64_t HttpServer::errors() const {
  return errors_.load() +
         (front_end_ != nullptr ? front_end_->stats().rejected : 0);
}

void HttpServer::Handle(const HttpRequest& req, HttpResponse* res) {
  const std::string path(req.Path());
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  auto wrong_method = [&](const std::string& allowed) {
    res->headers.emplace_back("Allow", allowed);
    SetError(res, 405,
             absl::StrCat("method ", req.method, " not allowed on ", path,
                          " (use ", allowed, ")"));
  };
  if (path == "/v1/predict") {
    if (!post) return wrong_method("POST");
    return Predict(req, res);
  }
  if (absl::StartsWith(path, "/admin/") &&
      AdminName(std::string_view(path).substr(7))) {
    if (!post) return wrong_method("POST");
    return Admin(std::string_view(path).substr(7), req, res);
  }
  if (path == "/healthz" || path == "/statusz" || path == "/metrics") {
    if (!get) return wrong_method("GET");
    if (path == "/healthz") {
      res->content_type = "text/plain";
      res->body = "ok\n";
    } else if (path == "/statusz") {
      res->body = StatusJson().dump(2) + "\n";
    } else {
      res->content_type = "text/plain; version=0.0.4";
      res->body = MetricsText();
    }
    return;
  }
  SetError(res, 404, absl::StrCat("no such path: ", path));
}

void HttpServer::Predict(const HttpRequest& req, HttpResponse* res) {
  const double t0 = MonotonicSeconds();
  requests_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<PredictRequest> parsed = ParsePredictRequest(
      req.body, replica_->schema(), options_.predictor.max_candidates);
  PredictResult result;
  absl::Status status =
      parsed.ok() ? predictor_.Predict(*parsed, &result) : parsed.status();
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
  res->body = out.dump();
  latency_.Record(MonotonicSeconds() - t0);
}

void HttpServer::Admin(std::string_view name, const HttpRequest& req,
                       HttpResponse* res) {
  if (options_.admin_token.empty()) {
    SetError(res, 403,
             "admin calls are off: set serve.admin_token or "
             "FRESHET_ADMIN_TOKEN");
    return;
  }
  const std::string auth = req.Header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.compare(0, kBearer.size(), kBearer) != 0 ||
      !SameToken(std::string_view(auth).substr(kBearer.size()),
                 options_.admin_token)) {
    res->headers.emplace_back("WWW-Authenticate", "Bearer");
    SetError(res, 401, "missing or wrong admin token");
    return;
  }
  auto it = options_.admin.find(std::string(name));
  if (it == options_.admin.end()) {
    SetError(res, 404, absl::StrCat("no admin call named ", std::string(name)));
    return;
  }
  AdminReply reply = it->second(req.body);
  res->status = reply.status;
  res->body = reply.body.dump() + "\n";
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
          static_cast<double>(errors()));
  if (front_end_ != nullptr) {
    const HttpFrontEndStats fe = front_end_->stats();
    gauge("freshet_http_connections_open", "Open HTTP connections",
          static_cast<double>(fe.connections_open));
    gauge("freshet_http_connections_max",
          "Connection cap (fitted under the descriptor limit)",
          static_cast<double>(front_end_->max_connections()));
    counter("freshet_http_connections_total", "HTTP connections accepted",
            static_cast<double>(fe.connections_accepted));
    counter("freshet_http_connections_refused_total",
            "Connections answered 503 over the connection cap",
            static_cast<double>(fe.connections_refused));
    counter("freshet_http_accept_errors_total",
            "Failed accepts (descriptors exhausted); the server retried",
            static_cast<double>(fe.accept_errors));
    counter("freshet_http_timeouts_total",
            "Requests not received within the request timeout (408)",
            static_cast<double>(fe.timeouts));
  }
  latency_.AppendPrometheus("freshet_predict_latency_seconds",
                            "Latency of successful /v1/predict requests", &out);
  if (options_.extra_metrics) options_.extra_metrics(&out);
  return out;
}

}  // namespace freshet
