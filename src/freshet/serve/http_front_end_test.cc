#include "freshet/serve/http_front_end.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace freshet {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A blocking loopback client that speaks raw bytes, so that tests can send
// what no well-behaved client library would: half a header, a pipelined
// burst, a body that never ends.
class RawClient {
 public:
  explicit RawClient(int port, double timeout_s = 5) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    timeval tv{};
    tv.tv_sec = static_cast<int>(timeout_s);
    tv.tv_usec = static_cast<int>((timeout_s - tv.tv_sec) * 1e6);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() {
    if (fd_ >= 0) close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool ok() const { return fd_ >= 0; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  struct Response {
    int status = 0;  // 0: none (closed or timed out)
    std::string head;
    std::string body;
  };

  // Reads one response (its body by Content-Length).
  Response Read() {
    Response r;
    size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    r.head = pending_.substr(0, end);
    pending_.erase(0, end + 4);
    if (r.head.size() < 12) return r;
    (void)absl::SimpleAtoi(r.head.substr(9, 3), &r.status);
    size_t length = 0;
    const size_t at = r.head.find("Content-Length: ");
    if (at != std::string::npos) {
      const size_t eol = r.head.find("\r\n", at);
      (void)absl::SimpleAtoi(r.head.substr(at + 16, eol - at - 16), &length);
    }
    while (pending_.size() < length) {
      if (!Fill()) break;
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, std::min(length, pending_.size()));
    return r;
  }

  // True when the server closes the connection (within the read timeout).
  bool Closed() {
    char buf[4096];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  bool Fill() {
    char buf[16384];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string pending_;
};

std::string Get(const std::string& path) {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: t\r\n\r\n");
}

std::string Post(const std::string& body,
                 const std::string& extra_headers = "") {
  return absl::StrCat("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ",
                      body.size(), "\r\n", extra_headers, "\r\n", body);
}

std::string Compress(std::string_view data, int window_bits) {
  z_stream zs{};
  EXPECT_EQ(
      deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class HttpFrontEndTest : public ::testing::Test {
 protected:
  void StartServer(HttpFrontEndOptions o) {
    o.bind = "127.0.0.1";
    o.port = 0;
    auto fe = HttpFrontEnd::Start(
        o, [this](const HttpRequest& req, HttpResponse* res) {
          calls_.fetch_add(1);
          res->content_type = "text/plain";
          // Echoes what it got: the path, or the size and head of the body.
          res->body =
              req.method == "POST"
                  ? absl::StrCat(req.body.size(), ":", req.body.substr(0, 32))
                  : std::string(req.Path());
        });
    ASSERT_TRUE(fe.ok()) << fe.status();
    server_ = *std::move(fe);
  }

  int port() const { return server_->port(); }

  std::unique_ptr<HttpFrontEnd> server_;
  std::atomic<int> calls_{0};
};

TEST_F(HttpFrontEndTest, IdleAndSlowClientsDoNotStarveOthers) {
  HttpFrontEndOptions o;
  o.threads = 2;
  StartServer(o);
  // Far more idle and half-sent connections than threads: a
  // thread-per-connection server would serve nobody else now.
  std::vector<std::unique_ptr<RawClient>> hogs;
  for (int i = 0; i < 64; ++i) {
    hogs.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(hogs.back()->ok());
    if (i % 2 == 1) {
      ASSERT_TRUE(hogs.back()->Send("POST /echo HTTP/1.1\r\nHost: t\r\n"));
    }
  }
  for (int i = 0; i < 20; ++i) {
    const auto t0 = Clock::now();
    RawClient c(port(), 2);
    ASSERT_TRUE(c.Send(Get(absl::StrCat("/healthz/", i))));
    RawClient::Response r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, absl::StrCat("/healthz/", i));
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
  }
  // A kept-alive hog is served too, on its own connection.
  ASSERT_TRUE(hogs[0]->Send(Get("/again")));
  EXPECT_EQ(hogs[0]->Read().body, "/again");
  // The hogs are all still open (the short-lived clients close as the
  // server sees their end).
  for (int i = 0; i < 200 && server_->stats().connections_open != 64; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_->stats().connections_open, 64);
}

TEST_F(HttpFrontEndTest, PastTheCapConnectionsAreRefusedWith503) {
  HttpFrontEndOptions o;
  o.max_connections = 3;
  StartServer(o);
  EXPECT_EQ(server_->max_connections(), 3);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(held.back()->Send(Get("/held")));
    ASSERT_EQ(held.back()->Read().status, 200);
  }
  RawClient extra(port());
  RawClient::Response refused = extra.Read();
  EXPECT_EQ(refused.status, 503);
  EXPECT_THAT(refused.body, HasSubstr("too many connections"));
  EXPECT_THAT(refused.head, HasSubstr("Retry-After"));
  EXPECT_TRUE(extra.Closed());
  EXPECT_EQ(server_->stats().connections_refused, 1);

  // Once one leaves, a newcomer is served (the count drops as it closes).
  held.pop_back();
  int status = 0;
  for (int i = 0; i < 200 && status != 200; ++i) {
    RawClient c(port());
    if (c.Send(Get("/later"))) status = c.Read().status;
    if (status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(status, 200);
}

TEST_F(HttpFrontEndTest, IdleConnectionsCloseAfterTheIdleTimeout) {
  HttpFrontEndOptions o;
  o.idle_timeout_s = 0.2;
  StartServer(o);
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/a")));
  EXPECT_EQ(c.Read().status, 200);
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.Closed());
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(150));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(HttpFrontEndTest, ATrickledRequestIsCutWith408) {
  HttpFrontEndOptions o;
  o.request_timeout_s = 0.3;
  StartServer(o);
  RawClient c(port());
  const auto t0 = Clock::now();
  // One header byte every 50 ms: each byte is activity, but the request as a
  // whole must arrive within the request timeout.
  const std::string head = "GET /slow HTTP/1.1\r\nHost: t\r\nX-Pad: ";
  ASSERT_TRUE(c.Send(head));
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    for (int i = 0; i < 40 && !done.load(); ++i) {
      if (!c.Send("a")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  RawClient::Response r = c.Read();
  done.store(true);
  trickle.join();
  EXPECT_EQ(r.status, 408);
  EXPECT_THAT(r.body, HasSubstr("not received within"));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(calls_.load(), 0);
  EXPECT_EQ(server_->stats().timeouts, 1);
}

TEST_F(HttpFrontEndTest, GzipAndDeflateBodiesAreDecodedWithinTheLimit) {
  HttpFrontEndOptions o;
  o.max_body_bytes = 64 << 10;
  StartServer(o);
  const std::string text(40000, 'x');
  RawClient c(port());
  ASSERT_TRUE(
      c.Send(Post(Compress(text, 15 + 16), "Content-Encoding: gzip\r\n")));
  RawClient::Response r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, absl::StrCat("40000:", text.substr(0, 32)));
  ASSERT_TRUE(
      c.Send(Post(Compress(text, 15), "Content-Encoding: deflate\r\n")));
  EXPECT_EQ(c.Read().body, absl::StrCat("40000:", text.substr(0, 32)));
  ASSERT_TRUE(
      c.Send(Post(Compress(text, -15), "Content-Encoding: deflate\r\n")));
  EXPECT_EQ(c.Read().body, absl::StrCat("40000:", text.substr(0, 32)));
}

TEST_F(HttpFrontEndTest, AGzipBombStopsAtTheLimit) {
  HttpFrontEndOptions o;
  o.max_body_bytes = 64 << 10;
  StartServer(o);
  // 64 MiB of zeros in ~65 KB would be fine as sent; decoded, it is 1000
  // times the limit.
  const std::string bomb = Compress(std::string(16 << 20, '\0'), 15 + 16);
  ASSERT_LT(bomb.size(), 64u << 10);
  RawClient c(port());
  ASSERT_TRUE(c.Send(Post(bomb, "Content-Encoding: gzip\r\n")));
  RawClient::Response r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("decoded request body exceeds the limit of "
                                "65536 bytes"));
  EXPECT_EQ(calls_.load(), 0);
  // Refused while inflating: the rest is unread, so the connection closes.
  EXPECT_TRUE(c.Closed());
  RawClient next(port());
  ASSERT_TRUE(next.Send(Get("/after")));
  EXPECT_EQ(next.Read().body, "/after");
}

TEST_F(HttpFrontEndTest, AGzipBodyIsDecodedAsItArrives) {
  HttpFrontEndOptions o;
  o.max_body_bytes = 64 << 10;
  StartServer(o);
  // Sent in small pieces, chunked: decoding does not wait for the whole.
  const std::string text(50000, 'z');
  const std::string gz = Compress(text, 15 + 16);
  RawClient c(port());
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
             "Content-Encoding: gzip\r\n\r\n"));
  for (size_t at = 0; at < gz.size(); at += 7) {
    const std::string piece = gz.substr(at, 7);
    ASSERT_TRUE(
        c.Send(absl::StrCat(absl::Hex(piece.size()), "\r\n", piece, "\r\n")));
  }
  ASSERT_TRUE(c.Send("0\r\n\r\n"));
  EXPECT_EQ(c.Read().body, absl::StrCat("50000:", text.substr(0, 32)));
}

TEST_F(HttpFrontEndTest, BadEncodingsAreRefusedWithAReason) {
  StartServer({});
  const std::string gz = Compress("hello", 15 + 16);
  struct Case {
    std::string request;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {Post("not gzip at all", "Content-Encoding: gzip\r\n"), 400,
       "compressed request body is corrupt"},
      {Post(gz.substr(0, gz.size() - 6), "Content-Encoding: gzip\r\n"), 400,
       "truncated"},
      {Post(gz + "extra", "Content-Encoding: gzip\r\n"), 400,
       "bytes after the end"},
      {Post("x", "Content-Encoding: br\r\n"), 415,
       "unsupported Content-Encoding \\\"br\\\""},
  };
  for (const Case& k : cases) {
    RawClient c(port());
    ASSERT_TRUE(c.Send(k.request));
    RawClient::Response r = c.Read();
    EXPECT_EQ(r.status, k.status) << k.reason;
    EXPECT_THAT(r.body, HasSubstr(k.reason));
  }
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpFrontEndTest, ChunkedBodiesAreBoundedWhileReading) {
  HttpFrontEndOptions o;
  o.max_body_bytes = 64 << 10;
  StartServer(o);
  RawClient ok(port());
  ASSERT_TRUE(ok.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  EXPECT_EQ(ok.Read().body, "11:hello world");

  // A body that never ends: the answer comes once the limit is passed.
  RawClient c(port());
  ASSERT_TRUE(c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk =
      absl::StrCat("4000\r\n", std::string(0x4000, 'y'), "\r\n");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Send(chunk));  // 80 KiB
  RawClient::Response r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("exceeds the limit of 65536 bytes"));
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(HttpFrontEndTest, ADeclaredLengthOverTheLimitIsRefusedBeforeTheBody) {
  HttpFrontEndOptions o;
  o.max_body_bytes = 1000;
  StartServer(o);
  RawClient c(port());
  ASSERT_TRUE(c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\n\r\n"));
  RawClient::Response r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("exceeds the limit of 1000 bytes"));
}

TEST_F(HttpFrontEndTest, ExpectContinueGets100ThenTheAnswer) {
  StartServer({});
  RawClient c(port());
  ASSERT_TRUE(
      c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
             "Expect: 100-continue\r\n\r\n"));
  RawClient::Response cont = c.Read();
  EXPECT_EQ(cont.status, 100);
  ASSERT_TRUE(c.Send("abc"));
  EXPECT_EQ(c.Read().body, "3:abc");
}

TEST_F(HttpFrontEndTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer({});
  RawClient c(port());
  ASSERT_TRUE(
      c.Send(absl::StrCat(Get("/one"), Post("two"), Get("/three"), Get("/4"))));
  EXPECT_EQ(c.Read().body, "/one");
  EXPECT_EQ(c.Read().body, "3:two");
  EXPECT_EQ(c.Read().body, "/three");
  EXPECT_EQ(c.Read().body, "/4");
  EXPECT_EQ(calls_.load(), 4);
}

TEST_F(HttpFrontEndTest, MalformedRequestsSayWhatIsWrong) {
  HttpFrontEndOptions o;
  o.max_header_bytes = 4096;
  StartServer(o);
  struct Case {
    std::string request;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"GARBAGE\r\n\r\n", 400, "malformed HTTP request"},
      {"GET / HTTP/9.x\r\n\r\n", 400, "malformed HTTP request"},
      {"POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400,
       "malformed HTTP request"},
      {absl::StrCat("GET / HTTP/1.1\r\nX-Big: ", std::string(8000, 'h'),
                    "\r\n\r\n"),
       431, "header exceeds the limit of 4096 bytes"},
  };
  for (const Case& k : cases) {
    RawClient c(port());
    ASSERT_TRUE(c.Send(k.request));
    RawClient::Response r = c.Read();
    EXPECT_EQ(r.status, k.status) << k.request.substr(0, 40);
    EXPECT_THAT(r.body, HasSubstr(k.reason)) << k.request.substr(0, 40);
    EXPECT_TRUE(c.Closed());
  }
  EXPECT_EQ(calls_.load(), 0);
  EXPECT_EQ(server_->stats().rejected, static_cast<int64_t>(cases.size()));
}

TEST_F(HttpFrontEndTest, Http10AndConnectionCloseEndTheConnection) {
  StartServer({});
  RawClient a(port());
  ASSERT_TRUE(a.Send("GET /old HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(a.Read().body, "/old");
  EXPECT_TRUE(a.Closed());
  RawClient b(port());
  ASSERT_TRUE(b.Send("GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(b.Read().body, "/bye");
  EXPECT_TRUE(b.Closed());
}

TEST_F(HttpFrontEndTest, TheCapFitsUnderTheDescriptorLimit) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  HttpFrontEndOptions o;
  o.max_connections = 1 << 30;
  o.reserved_fds = 100;
  StartServer(o);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);  // raised to the hard limit
  if (lim.rlim_cur != RLIM_INFINITY) {
    EXPECT_EQ(server_->max_connections(),
              static_cast<int64_t>(lim.rlim_cur) - 100);
  }
}

TEST_F(HttpFrontEndTest, RunningOutOfDescriptorsIsNotFatal) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer runtime needs descriptors of its own (UBSan's vptr check
  // probes memory through a pipe) and reports valid objects as invalid when
  // the process has none left; this test runs in the plain and TSan builds.
  GTEST_SKIP() << "exhausting descriptors breaks the ASan+UBSan runtime";
#endif
  StartServer({});
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int probe = dup(0);
  ASSERT_GE(probe, 0);
  close(probe);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(probe + 32);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  // Take every descriptor but one, connect with that one: the server's
  // accept then fails with EMFILE.
  std::vector<int> held;
  for (int fd; (fd = dup(0)) >= 0;) held.push_back(fd);
  ASSERT_FALSE(held.empty());
  close(held.back());
  held.pop_back();
  RawClient c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send(Get("/back")));
  for (int i = 0; i < 300 && server_->stats().accept_errors == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(server_->stats().accept_errors, 0);
  for (int fd : held) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  // Descriptors are back: the waiting client is accepted and answered.
  RawClient::Response r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/back");
}

TEST_F(HttpFrontEndTest, StopClosesIdleConnectionsPromptly) {
  StartServer({});
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 32; ++i) {
    idle.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(idle.back()->Send(Get("/x")));
    ASSERT_EQ(idle.back()->Read().status, 200);
  }
  const auto t0 = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  for (auto& c : idle) EXPECT_TRUE(c->Closed());
}

}  // namespace
}  // namespace freshet
