#include "freshet/serve/admin_client.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace freshet {
namespace {

std::string ClientError(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "cannot connect (connection refused, or nothing listening "
             "there)";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no reply (the server closed the connection, or the read timed "
             "out)";
    case httplib::Error::Write:
      return "could not send the request";
    default:
      return "request failed: " + httplib::to_string(e);
  }
}

}  // namespace

bool ParseHostPort(std::string addr, std::string* host, int* port) {
  const std::string scheme = "http://";
  if (addr.compare(0, scheme.size(), scheme) == 0) addr.erase(0, scheme.size());
  while (!addr.empty() && addr.back() == '/') addr.pop_back();
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = addr.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  const std::string p = addr.substr(colon + 1);
  if (p.empty() || p.size() > 5 ||
      p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *port = std::stoi(p);
  return *port > 0 && *port <= 65535;
}

absl::StatusOr<std::string> CallAdmin(const std::string& addr,
                                      const std::string& token,
                                      const std::string& name,
                                      double timeout_s) {
  std::string host;
  int port = 0;
  if (!ParseHostPort(addr, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected HOST:PORT, got \"", addr, "\""));
  }
  httplib::Client client(host, port);
  client.set_connection_timeout(5);
  const auto timeout = std::chrono::duration<double>(timeout_s);
  client.set_read_timeout(
      std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client.set_write_timeout(10);
  httplib::Headers headers = {{"Authorization", "Bearer " + token}};
  httplib::Result res = client.Post("/admin/" + name, headers);
  const std::string where = absl::StrCat(host, ":", port);
  if (!res) {
    return absl::UnavailableError(
        absl::StrCat(where, ": ", ClientError(res.error())));
  }
  if (res->status == 200) return res->body;
  // The server's reason: {"error": "..."} or the body as is.
  std::string reason = res->body;
  nlohmann::json j =
      nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    reason = j["error"].get<std::string>();
  }
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) {
    reason.pop_back();
  }
  std::string what;
  absl::StatusCode code = absl::StatusCode::kInternal;
  if (res->status == 401) {
    what = " (unauthorized: wrong or missing token)";
    code = absl::StatusCode::kPermissionDenied;
  } else if (res->status == 403) {
    what = " (forbidden)";
    code = absl::StatusCode::kPermissionDenied;
  } else if (res->status == 404) {
    what = " (no such endpoint: is it `freshet run`?)";
    code = absl::StatusCode::kNotFound;
  }
  return absl::Status(code, absl::StrCat(where, ": HTTP ", res->status, what,
                                         reason.empty() ? "" : ": ", reason));
}

}  // namespace freshet
