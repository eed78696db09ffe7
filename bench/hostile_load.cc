// The crowd setting of bench/hostile_serve.sh with a native client: holds
// idle and slow-header connections open against a Freshet HTTP server while
// paced well-behaved clients post one request body to /v1/predict and time
// every answer. One event loop on one thread, so that the client's own delay
// in the figures is small next to a server sharing its cores. One JSON line
// of results on stdout.
//
//   hostile_load --port P --body FILE [--idle 10000] [--slow 100]
//                [--slow-interval 2] [--clients 256] [--rate 10]
//                [--seconds 20]
//
// `--idle` connections send nothing; `--slow` connections send a request
// header one byte every `--slow-interval` seconds and reconnect when the
// server answers (408) or closes; `--clients` clients each post the body
// `--rate` times a second on a kept-alive connection (a new one if the server
// closes it). A request without an answer within 5 s counts as a failure.
// Latency is measured from the moment a request is sent and, to show any
// delay of the client itself, from the moment it was scheduled.
#include <sys/resource.h>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <algorithm>
#include <boost/asio.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::string body_path;
  int idle = 10000;
  int slow = 100;
  double slow_interval_s = 2.0;
  int clients = 256;
  double rate = 10.0;
  double seconds = 20.0;
};

struct Results {
  long idle_opened = 0;
  long idle_open_at_end = 0;
  long slow_connections = 0;
  long slow_cut_408 = 0;
  long good_connects = 0;
  long good_failures = 0;
  std::map<int, long> statuses;
  std::vector<double> latency_s;        // from send to the end of the answer
  std::vector<double> from_schedule_s;  // from the scheduled send time
};

// A socket closed by a sweep once its deadline has passed: the pending read
// or write then fails and the client counts a failure.
struct Watched {
  explicit Watched(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  Clock::time_point deadline = Clock::time_point::max();
};

class Load {
 public:
  Load(asio::io_context& io, Options options, std::string request)
      : io_(io),
        options_(std::move(options)),
        request_(std::move(request)),
        endpoint_(asio::ip::make_address("127.0.0.1"), options_.port) {}

  asio::awaitable<void> Run() {
    asio::co_spawn(io_, Sweep(), asio::detached);
    co_await OpenIdle();
    for (int i = 0; i < options_.slow; ++i) {
      asio::co_spawn(io_, SlowHeader(), asio::detached);
    }
    co_await Sleep(std::chrono::seconds(1));  // let the crowd settle
    const auto start = Clock::now();
    for (int i = 0; i < options_.clients; ++i) {
      // Spread the clients' first requests over one period.
      const auto offset = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(i / options_.rate / options_.clients));
      ++running_;
      asio::co_spawn(io_, GoodClient(start + offset), asio::detached);
    }
    co_await Sleep(std::chrono::duration<double>(options_.seconds));
    stop_ = true;
    while (running_ > 0) co_await Sleep(std::chrono::milliseconds(10));
    results_.idle_open_at_end = CountOpen(idle_);
    for (auto& s : idle_) s->socket.close();
    Print();
    io_.stop();
  }

 private:
  template <class Duration>
  asio::awaitable<void> Sleep(Duration d) {
    asio::steady_timer timer(io_);
    timer.expires_after(std::chrono::duration_cast<Clock::duration>(d));
    co_await timer.async_wait(asio::use_awaitable);
  }

  // Closes every watched socket whose deadline has passed, every 50 ms.
  asio::awaitable<void> Sweep() {
    while (!printed_) {
      co_await Sleep(std::chrono::milliseconds(50));
      const auto now = Clock::now();
      for (Watched* w : watched_) {
        if (w->deadline < now && w->socket.is_open()) {
          boost::system::error_code ignored;
          w->socket.close(ignored);
        }
      }
    }
  }

  asio::awaitable<void> OpenIdle() {
    // Connects a few hundred at a time; the server accepts as fast as that.
    constexpr int kInFlight = 256;
    int next = 0;
    while (next < options_.idle) {
      const int batch = std::min(kInFlight, options_.idle - next);
      std::vector<std::shared_ptr<Watched>> pending;
      int done = 0;
      asio::steady_timer all_done(io_, Clock::time_point::max());
      for (int i = 0; i < batch; ++i) {
        auto w = std::make_shared<Watched>(io_);
        pending.push_back(w);
        w->socket.async_connect(endpoint_,
                                [&, w](const boost::system::error_code& ec) {
                                  if (!ec) {
                                    idle_.push_back(w);
                                    ++results_.idle_opened;
                                  }
                                  if (++done == batch) all_done.cancel();
                                });
      }
      boost::system::error_code ec;
      co_await all_done.async_wait(
          asio::redirect_error(asio::use_awaitable, ec));
      if (results_.idle_opened < next + batch) break;  // out of descriptors
      next += batch;
    }
  }

  // How many of the sockets the server still holds open: a read that would
  // block means open; end of stream or an error means closed.
  static long CountOpen(std::vector<std::shared_ptr<Watched>>& sockets) {
    long open = 0;
    for (auto& s : sockets) {
      boost::system::error_code ec;
      s->socket.non_blocking(true, ec);
      char byte;
      s->socket.read_some(asio::buffer(&byte, 1), ec);
      if (ec == asio::error::would_block) ++open;
    }
    return open;
  }

  asio::awaitable<void> SlowHeader() {
    const std::string text =
        "POST /v1/predict HTTP/1.1\r\nHost: t\r\nX-Slow: " +
        std::string(4096, 'a');
    const auto interval =
        std::chrono::duration<double>(options_.slow_interval_s);
    while (!stop_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      co_await socket.async_connect(
          endpoint_, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        co_await Sleep(interval);
        continue;
      }
      ++results_.slow_connections;
      socket.non_blocking(true, ec);
      for (size_t i = 0; i < text.size() && !stop_; ++i) {
        co_await asio::async_write(
            socket, asio::buffer(&text[i], 1),
            asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        co_await Sleep(interval);
        char answer[64];
        const size_t n = socket.read_some(asio::buffer(answer), ec);
        if (ec == asio::error::would_block) continue;
        if (!ec && n >= 12 && std::memcmp(answer + 9, "408", 3) == 0) {
          ++results_.slow_cut_408;
        }
        break;  // answered or closed: reconnect
      }
      socket.close(ec);
    }
  }

  // Reads one answer; returns its status and whether the server closes.
  static asio::awaitable<std::pair<int, bool>> ReadResponse(
      tcp::socket& socket, std::string& buffer) {
    const size_t head_end = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::use_awaitable);
    const std::string_view head(buffer.data(), head_end);
    if (head.size() < 12) throw std::runtime_error("short status line");
    int status = 0;
    std::from_chars(head.data() + 9, head.data() + 12, status);
    size_t length = 0;
    bool close = false;
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
      const size_t end = head.find("\r\n", pos + 2);
      std::string line(head.substr(pos + 2, end - pos - 2));
      std::transform(line.begin(), line.end(), line.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (line.rfind("content-length:", 0) == 0) {
        length = std::strtoull(line.c_str() + 15, nullptr, 10);
      } else if (line.rfind("connection:", 0) == 0 &&
                 line.find("close") != std::string::npos) {
        close = true;
      }
      pos = end;
    }
    if (buffer.size() < head_end + length) {
      co_await asio::async_read(
          socket, asio::dynamic_buffer(buffer),
          asio::transfer_exactly(head_end + length - buffer.size()),
          asio::use_awaitable);
    }
    buffer.erase(0, head_end + length);
    co_return std::make_pair(status, close);
  }

  asio::awaitable<void> GoodClient(Clock::time_point next_at) {
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / options_.rate));
    Watched w(io_);
    watched_.push_back(&w);
    bool connected = false;
    std::string buffer;
    asio::steady_timer timer(io_);
    while (!stop_) {
      timer.expires_at(next_at);
      co_await timer.async_wait(asio::use_awaitable);
      const auto scheduled = next_at;
      next_at += period;
      const auto t0 = Clock::now();
      w.deadline = t0 + std::chrono::seconds(5);
      try {
        if (!connected) {
          w.socket = tcp::socket(io_);
          co_await w.socket.async_connect(endpoint_, asio::use_awaitable);
          w.socket.set_option(tcp::no_delay(true));
          ++results_.good_connects;
          connected = true;
          buffer.clear();
        }
        co_await asio::async_write(w.socket, asio::buffer(request_),
                                   asio::use_awaitable);
        const auto [status, close] = co_await ReadResponse(w.socket, buffer);
        const auto t1 = Clock::now();
        results_.latency_s.push_back(
            std::chrono::duration<double>(t1 - t0).count());
        results_.from_schedule_s.push_back(
            std::chrono::duration<double>(t1 - scheduled).count());
        ++results_.statuses[status];
        if (close) {
          w.socket.close();
          connected = false;
        }
      } catch (const std::exception&) {
        ++results_.good_failures;
        boost::system::error_code ignored;
        w.socket.close(ignored);
        connected = false;
      }
      w.deadline = Clock::time_point::max();
    }
    boost::system::error_code ignored;
    w.socket.close(ignored);
    watched_.erase(std::find(watched_.begin(), watched_.end(), &w));
    --running_;
  }

  static double Percentile(std::vector<double> xs, double p) {
    if (xs.empty()) return NAN;
    std::sort(xs.begin(), xs.end());
    const size_t i = std::min(xs.size() - 1, size_t(p / 100.0 * xs.size()));
    return xs[i];
  }

  void Print() {
    printed_ = true;
    const auto ms = [](double s) { return std::round(s * 1e6) / 1e3; };
    const long answered = results_.statuses[200];
    std::ostringstream out;
    out << "{\"client\": \"native\", \"idle\": " << options_.idle
        << ", \"slow\": " << options_.slow
        << ", \"clients\": " << options_.clients
        << ", \"rate_per_client\": " << options_.rate
        << ", \"seconds\": " << options_.seconds
        << ", \"answers_200\": " << answered << ", \"answers_per_s\": "
        << std::round(answered / options_.seconds * 10) / 10
        << ", \"p50_ms\": " << ms(Percentile(results_.latency_s, 50))
        << ", \"p99_ms\": " << ms(Percentile(results_.latency_s, 99))
        << ", \"p999_ms\": " << ms(Percentile(results_.latency_s, 99.9))
        << ", \"max_ms\": " << ms(Percentile(results_.latency_s, 100))
        << ", \"p99_from_schedule_ms\": "
        << ms(Percentile(results_.from_schedule_s, 99));
    for (const auto& [status, n] : results_.statuses) {
      out << ", \"status_" << status << "\": " << n;
    }
    out << ", \"good_connects\": " << results_.good_connects
        << ", \"good_failures\": " << results_.good_failures
        << ", \"slow_connections\": " << results_.slow_connections
        << ", \"slow_cut_408\": " << results_.slow_cut_408
        << ", \"idle_opened\": " << results_.idle_opened
        << ", \"idle_open_at_end\": " << results_.idle_open_at_end << "}";
    std::puts(out.str().c_str());
  }

  asio::io_context& io_;
  const Options options_;
  const std::string request_;
  const tcp::endpoint endpoint_;
  Results results_;
  std::vector<std::shared_ptr<Watched>> idle_;
  std::vector<Watched*> watched_;
  int running_ = 0;
  bool stop_ = false;
  bool printed_ = false;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "hostile_load: %s\nusage: hostile_load --port P --body FILE "
               "[--idle N] [--slow N] [--slow-interval S] [--clients N] "
               "[--rate R] [--seconds S]\n",
               why);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value after " + flag).c_str());
    const char* value = argv[++i];
    char* end = nullptr;
    const double number = std::strtod(value, &end);
    const bool numeric = *end == '\0' && std::isfinite(number) && number >= 0;
    if (flag == "--body") {
      o.body_path = value;
      continue;
    }
    if (!numeric) Usage(("not a number: " + flag + " " + value).c_str());
    if (flag == "--port") {
      o.port = static_cast<int>(number);
    } else if (flag == "--idle") {
      o.idle = static_cast<int>(number);
    } else if (flag == "--slow") {
      o.slow = static_cast<int>(number);
    } else if (flag == "--slow-interval") {
      o.slow_interval_s = number;
    } else if (flag == "--clients") {
      o.clients = static_cast<int>(number);
    } else if (flag == "--rate") {
      o.rate = number;
    } else if (flag == "--seconds") {
      o.seconds = number;
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (o.port <= 0 || o.port > 65535) Usage("--port is required");
  if (o.body_path.empty()) Usage("--body is required");
  if (o.rate <= 0 || o.clients <= 0) Usage("--rate and --clients must be > 0");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseOptions(argc, argv);
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  std::ifstream in(options.body_path, std::ios::binary);
  if (!in) Usage(("cannot read " + options.body_path).c_str());
  const std::string body((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  const std::string request =
      "POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  asio::io_context io(1);
  Load load(io, std::move(options), request);
  asio::co_spawn(io, load.Run(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  return 0;
}
