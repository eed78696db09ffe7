#include "freshet/serve/http_front_end.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "freshet/base/clock.h"
#include "freshet/base/logging.h"

namespace freshet {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr size_t kDrainChunk = 4096;
// What a closing connection still reads (and drops) from a client that was
// sending when it was answered, so that the answer reaches it rather than a
// reset.
constexpr size_t kLingerBytes = 256 << 10;
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);

std::string Str(beast::string_view s) {
  return std::string(s.data(), s.size());
}

std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

std::string ErrorBody(std::string_view reason) {
  // A JSON string needs its quotes and backslashes escaped; reasons are ours
  // or Beast's, but may quote a header.
  std::string out = "{\"error\": \"";
  for (char c : reason) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += "\"}\n";
  return out;
}

// A request body as Beast reads it, decoded as it arrives: identity bytes
// are appended, gzip and deflate are inflated in steps, and the decoded size
// never passes the limit by more than one byte (413 then). Beast's own body
// limit bounds the bytes as sent, so a connection holds at most the decoded
// body and its read buffer, never a whole compressed body beside it.
//
// Inflated bytes go to pages mapped for the request alone (mmap, touched as
// they are written, unmapped when the body is done), not to the heap: freed
// heap blocks stay resident, so a crowd of bombs would leave the process
// holding more than limit x connections long after they were refused.
class MappedBuffer {
 public:
  MappedBuffer() = default;
  MappedBuffer(MappedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  MappedBuffer& operator=(MappedBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }
  ~MappedBuffer() { Release(); }

  // Maps `capacity` bytes (reserved, not yet resident); false when mmap
  // fails.
  bool Map(size_t capacity) {
    Release();
    void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    data_ = static_cast<char*>(p);
    capacity_ = capacity;
    return true;
  }
  void Release() {
    if (data_ != nullptr) munmap(data_, capacity_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  char* data() { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  void set_size(size_t n) { size_ = n; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

struct DecodedBody {
  struct value_type {
    std::string data;
    MappedBuffer inflated;  // while inflating
    int64_t limit = 0;
    // Set when the body was refused: the status and why.
    int status = 0;
    std::string reason;
  };

  class reader {
   public:
    // Beast makes the reader with the parser, before the header is read;
    // init() reads the encoding from it.
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>& h, value_type& body)
        : fields_(h), body_(body) {}
    ~reader() {
      if (inflating_) inflateEnd(&zs_);
    }
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;

    void init(const boost::optional<std::uint64_t>& length,
              beast::error_code& ec) {
      ec = {};
      body_.data.clear();
      std::string encoding =
          absl::AsciiStrToLower(Str(fields_[http::field::content_encoding]));
      absl::StripAsciiWhitespace(&encoding);
      if (encoding.empty() || encoding == "identity") {
        mode_ = Mode::kIdentity;
      } else if (encoding == "gzip" || encoding == "x-gzip") {
        mode_ = Mode::kGzip;
      } else if (encoding == "deflate") {
        mode_ = Mode::kDeflate;
      } else {
        mode_ = Mode::kUnsupported;
        encoding_ = std::move(encoding);
      }
      if (mode_ == Mode::kUnsupported) {
        return Refuse(415,
                      absl::StrCat("unsupported Content-Encoding \"", encoding_,
                                   "\" (identity, gzip and deflate are "
                                   "understood)"),
                      ec);
      }
      // Beast has checked a declared length against the limit already.
      if (mode_ == Mode::kIdentity && length) {
        body_.data.reserve(static_cast<size_t>(*length));
      }
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      size_t used = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        const std::string_view in(static_cast<const char*>(b.data()), b.size());
        if (mode_ == Mode::kIdentity) {
          body_.data.append(in);
        } else if (!Inflate(in, ec)) {
          return used;
        }
        used += in.size();
      }
      return used;
    }

    void finish(beast::error_code& ec) {
      ec = {};
      if (mode_ == Mode::kIdentity) return;
      if (!ended_) {
        return Refuse(400, "the compressed request body is truncated", ec);
      }
      MappedBuffer& out = body_.inflated;
      body_.data.assign(out.data() != nullptr ? out.data() : "", out.size());
      out.Release();
    }

   private:
    enum class Mode { kIdentity, kGzip, kDeflate, kUnsupported };

    void Refuse(int status, std::string reason, beast::error_code& ec) {
      body_.status = status;
      body_.reason = std::move(reason);
      body_.data.clear();
      body_.data.shrink_to_fit();
      body_.inflated.Release();
      // Any error stops the parser; the connection answers body_.status.
      ec = http::error::bad_transfer_encoding;
    }

    bool RefuseTooLarge(beast::error_code& ec) {
      Refuse(413,
             absl::StrCat("decoded request body exceeds the limit of ",
                          body_.limit, " bytes"),
             ec);
      return false;
    }

    bool Inflate(std::string_view in, beast::error_code& ec) {
      if (ended_) {
        if (!in.empty()) {
          Refuse(400, "bytes after the end of the compressed request body", ec);
          return false;
        }
        return true;
      }
      if (!inflating_) {
        int bits = 15 + 32;  // a gzip or a zlib header, detected
        std::string first;
        if (mode_ == Mode::kDeflate) {
          // "deflate" is zlib's format, but some clients send raw deflate:
          // a zlib stream starts with two bytes whose check bits hold.
          pending_.append(in);
          if (pending_.size() < 2) return true;
          const auto b0 = static_cast<unsigned char>(pending_[0]);
          const auto b1 = static_cast<unsigned char>(pending_[1]);
          if ((b0 & 0x0f) != 8 || (b0 * 256 + b1) % 31 != 0) bits = -15;
          first = std::move(pending_);
          pending_.clear();
        }
        if (inflateInit2(&zs_, bits) != Z_OK) {
          Refuse(500, "cannot start decompression", ec);
          return false;
        }
        inflating_ = true;
        if (!first.empty()) return Feed(first, ec);
      }
      return Feed(in, ec);
    }

    bool Feed(std::string_view in, beast::error_code& ec) {
      zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs_.avail_in = static_cast<uInt>(in.size());
      const size_t cap = static_cast<size_t>(body_.limit) + 1;
      MappedBuffer& out = body_.inflated;
      if (out.data() == nullptr && !out.Map(cap)) {
        Refuse(500, "cannot map memory for the decoded request body", ec);
        return false;
      }
      while (zs_.avail_in > 0 && !ended_) {
        const size_t have = out.size();
        if (have >= cap) {
          return RefuseTooLarge(ec);
        }
        const size_t room = std::min<size_t>(64 << 10, cap - have);
        zs_.next_out = reinterpret_cast<Bytef*>(out.data() + have);
        zs_.avail_out = static_cast<uInt>(room);
        const uInt in_before = zs_.avail_in;
        const int rc = inflate(&zs_, Z_NO_FLUSH);
        const bool stuck = zs_.avail_in == in_before && zs_.avail_out == room;
        out.set_size(have + room - zs_.avail_out);
        if (rc == Z_STREAM_END) {
          ended_ = true;
        } else if ((rc != Z_OK && rc != Z_BUF_ERROR) || stuck) {
          Refuse(400,
                 absl::StrCat("the compressed request body is corrupt (",
                              zs_.msg != nullptr ? zs_.msg : "bad data", ")"),
                 ec);
          return false;
        }
      }
      if (static_cast<int64_t>(out.size()) > body_.limit) {
        return RefuseTooLarge(ec);
      }
      if (ended_ && zs_.avail_in > 0) {
        Refuse(400, "bytes after the end of the compressed request body", ec);
        return false;
      }
      return true;
    }

    const http::fields& fields_;
    value_type& body_;
    Mode mode_ = Mode::kIdentity;
    std::string encoding_;
    std::string pending_;
    z_stream zs_{};
    bool inflating_ = false;
    bool ended_ = false;
  };
};

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k,
                               absl::string_view(name.data(), name.size()))) {
      return v;
    }
  }
  return "";
}

std::string_view HttpRequest::Path() const {
  std::string_view t = target;
  const size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

class Session;

struct HttpFrontEnd::Impl {
  Impl(const HttpFrontEndOptions& o, Handler h)
      : options(o),
        handler(std::move(h)),
        loops(MakeLoops(o.threads)),
        acceptor(*loops[0]),
        accept_retry(*loops[0]) {}

  // One event loop per thread, each run by its thread alone: a connection
  // lives on one loop, so its handlers need no strand and no other thread
  // is woken to run them.
  static std::vector<std::unique_ptr<net::io_context>> MakeLoops(int n) {
    std::vector<std::unique_ptr<net::io_context>> out;
    for (int i = 0; i < std::max(1, n); ++i) {
      out.push_back(std::make_unique<net::io_context>(1));
    }
    return out;
  }
  net::io_context& NextLoop() { return *loops[next_loop++ % loops.size()]; }

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Register(Session* s, std::weak_ptr<Session> w) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.emplace(s, std::move(w));
  }
  void Unregister(Session* s) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(s);
  }

  // Declared before the event loop: sessions destroyed with the loop's
  // pending handlers still count themselves out here.
  const HttpFrontEndOptions options;
  const Handler handler;
  int cap = 0;
  int port = 0;
  std::atomic<int64_t> open{0};
  std::atomic<int64_t> accepted{0};
  std::atomic<int64_t> refused{0};
  std::atomic<int64_t> accept_errors{0};
  std::atomic<int64_t> timeouts{0};
  std::atomic<int64_t> rejected{0};
  std::atomic<bool> stopping{false};
  std::atomic<double> last_accept_log{-1e9};
  std::mutex mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  std::vector<std::unique_ptr<net::io_context>> loops;
  size_t next_loop = 0;  // the acceptor's loop only
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
};

// One connection: reads requests one after the other (pipelined ones from
// the buffer), answers each through the handler, enforces the deadlines with
// one timer. All of it runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpFrontEnd::Impl* fe, bool refuse)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(static_cast<size_t>(fe->options.max_header_bytes) + (64 << 10)),
        fe_(fe),
        refuse_(refuse) {
    if (!refuse_) fe_->open.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() {
    if (!refuse_) fe_->open.fetch_sub(1, std::memory_order_relaxed);
    fe_->Unregister(this);
  }

  void Start() {
    fe_->Register(this, weak_from_this());
    beast::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    net::dispatch(socket_.get_executor(),
                  [self = shared_from_this()] { self->Begin(); });
  }

  // From Stop(): an idle connection closes now, a busy one after its answer.
  void Shutdown(bool force) {
    net::dispatch(socket_.get_executor(), [self = shared_from_this(), force] {
      self->stopping_ = true;
      if (force || self->idle_) {
        beast::error_code ec;
        self->socket_.cancel(ec);
        self->socket_.close(ec);
        self->timer_.cancel();
      }
    });
  }

 private:
  void Begin() {
    if (refuse_) {
      HttpResponse res;
      res.status = 503;
      res.body = ErrorBody(absl::StrCat("too many connections (the limit is ",
                                        fe_->cap, "); retry later"));
      res.headers.emplace_back("Retry-After", "1");
      Write(std::move(res), /*close=*/true);
      return;
    }
    WaitForRequest();
  }

  // Arms the deadline of what runs next; when it passes, the socket's
  // operations are cancelled and complete with timed_out_ set.
  void SetDeadline(std::chrono::steady_clock::duration d) {
    const uint64_t gen = ++deadline_gen_;
    timed_out_ = false;
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this(), gen](beast::error_code ec) {
      if (ec || gen != self->deadline_gen_) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

  void WaitForRequest() {
    if (stopping_) return Close();
    if (buffer_.size() > 0) return ReadHeader();  // pipelined
    // An idle connection holds no buffer: wait until it is readable.
    buffer_.shrink_to_fit();
    idle_ = true;
    SetDeadline(Seconds(fe_->options.idle_timeout_s));
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](beast::error_code ec) {
                         self->idle_ = false;
                         // Closed by the client, idle too long or stopping.
                         if (ec || self->stopping_) return self->Close();
                         self->ReadHeader();
                       });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<int64_t>(
        fe_->options.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    parser_->body_limit(static_cast<uint64_t>(fe_->options.max_body_bytes));
    parser_->get().body().limit = fe_->options.max_body_bytes;
    SetDeadline(Seconds(fe_->options.request_timeout_s));
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->ReadFailed(ec);
          self->OnHeader();
        });
  }

  void OnHeader() {
    const auto& req = parser_->get();
    if (absl::EqualsIgnoreCase(Str(req[http::field::expect]), "100-continue") &&
        !parser_->is_done()) {
      static constexpr std::string_view kContinue =
          "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(
          socket_, net::buffer(kContinue),
          [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return self->Close();
            self->ReadBody();
          });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->ReadFailed(ec);
                       self->OnRequest();
                     });
  }

  void ReadFailed(beast::error_code ec) {
    if (parser_ && parser_->get().body().status != 0) {
      // The body was refused while it was read (decoded too large, corrupt,
      // an unknown encoding): the rest of it is unread, so close.
      DecodedBody::value_type& body = parser_->get().body();
      return Refuse(body.status, std::move(body.reason));
    }
    if (timed_out_) {
      fe_->timeouts.fetch_add(1, std::memory_order_relaxed);
      return Refuse(408, absl::StrCat("request not received within ",
                                      fe_->options.request_timeout_s, " s"));
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted ||
        ec.category() !=
            http::make_error_code(http::error::bad_method).category()) {
      // The client went away (or the server is stopping): nobody to answer.
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Refuse(413, absl::StrCat("request body exceeds the limit of ",
                                      fe_->options.max_body_bytes, " bytes"));
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return Refuse(431, absl::StrCat("request header exceeds the limit of ",
                                      fe_->options.max_header_bytes, " bytes"));
    }
    if (ec == http::error::partial_message) return Close();
    return Refuse(400, absl::StrCat("malformed HTTP request: ", ec.message()));
  }

  // Answers a request the stream cannot be trusted after, and closes.
  void Refuse(int status, std::string reason) {
    fe_->rejected.fetch_add(1, std::memory_order_relaxed);
    HttpResponse res;
    res.status = status;
    res.body = ErrorBody(reason);
    Write(std::move(res), /*close=*/true);
  }

  void OnRequest() {
    http::request<DecodedBody> req = parser_->release();
    parser_.reset();
    HttpRequest in;
    in.method = Str(req.method_string());
    in.target = Str(req.target());
    for (const auto& f : req) {
      in.headers.emplace_back(Str(f.name_string()), Str(f.value()));
    }
    const bool keep_alive = req.keep_alive();
    version_ = req.version();
    in.body = std::move(req.body().data);
    req = {};
    HttpResponse res;
    try {
      fe_->handler(in, &res);
    } catch (const std::exception& e) {
      res = HttpResponse{};
      res.status = 500;
      res.body = ErrorBody(absl::StrCat("internal error: ", e.what()));
    }
    Write(std::move(res), !keep_alive);
  }

  void Write(HttpResponse in, bool close) {
    close = close || stopping_;
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(in.status), version_);
    res->set(http::field::server, "freshet");
    res->set(http::field::content_type, in.content_type);
    for (auto& [k, v] : in.headers) {
      res->set(beast::string_view(k.data(), k.size()), v);
    }
    res->body() = std::move(in.body);
    res->keep_alive(!close);
    res->prepare_payload();
    SetDeadline(Seconds(fe_->options.request_timeout_s));
    http::async_write(
        socket_, *res,
        [self = shared_from_this(), res, close](beast::error_code ec, size_t) {
          if (ec) return self->Close();
          if (close) return self->Linger();
          self->WaitForRequest();
        });
  }

  // Half-closes and drains what the client is still sending for a moment,
  // so that the answer is read rather than lost to a reset.
  void Linger() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    SetDeadline(kLingerTime);
    Drain();
  }

  void Drain() {
    if (drain_ == nullptr) drain_ = std::make_unique<char[]>(kDrainChunk);
    socket_.async_read_some(
        net::buffer(drain_.get(), kDrainChunk),
        [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->drained_ += n;
          if (ec || self->drained_ >= kLingerBytes) return self->Close();
          self->Drain();
        });
  }

  void Close() {
    beast::error_code ec;
    timer_.cancel();
    socket_.close(ec);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<DecodedBody>> parser_;
  HttpFrontEnd::Impl* const fe_;
  const bool refuse_;
  unsigned version_ = 11;
  uint64_t deadline_gen_ = 0;
  bool timed_out_ = false;
  bool idle_ = false;
  bool stopping_ = false;
  size_t drained_ = 0;
  std::unique_ptr<char[]> drain_;
};

void HttpFrontEnd::Impl::DoAccept() {
  acceptor.async_accept(NextLoop(),
                        [this](beast::error_code ec, tcp::socket socket) {
                          OnAccept(ec, std::move(socket));
                        });
}

void HttpFrontEnd::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping.load() || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors (EMFILE, ENFILE) or memory: the connection waits in
    // the listen queue; pause and retry instead of spinning or giving up.
    accept_errors.fetch_add(1, std::memory_order_relaxed);
    const double now = MonotonicSeconds();
    if (now - last_accept_log.load() > 10) {
      last_accept_log.store(now);
      FRESHET_LOG_WARN(
          "HTTP server cannot accept a connection ({}); retrying every {} ms",
          ec.message(), kAcceptRetry.count());
    }
    accept_retry.expires_after(kAcceptRetry);
    accept_retry.async_wait([this](beast::error_code e) {
      if (!e && !stopping.load()) DoAccept();
    });
    return;
  }
  accepted.fetch_add(1, std::memory_order_relaxed);
  const bool refuse = open.load(std::memory_order_relaxed) >= cap;
  if (refuse) refused.fetch_add(1, std::memory_order_relaxed);
  std::make_shared<Session>(std::move(socket), this, refuse)->Start();
  DoAccept();
}

HttpFrontEnd::HttpFrontEnd(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

HttpFrontEnd::~HttpFrontEnd() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpFrontEnd>> HttpFrontEnd::Start(
    const HttpFrontEndOptions& options, Handler handler) {
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  // Connections are descriptors: raise the soft limit to the hard one, and
  // keep the cap under it with a reserve, so that a crowd of clients cannot
  // take the descriptors the rest of the process needs (data files,
  // checkpoints, sync).
  struct rlimit lim {};
  int64_t fd_limit = 1024;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    if (lim.rlim_cur < lim.rlim_max) {
      struct rlimit raised = lim;
      raised.rlim_cur = lim.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    fd_limit = lim.rlim_cur == RLIM_INFINITY
                   ? int64_t{1} << 30
                   : static_cast<int64_t>(lim.rlim_cur);
  }
  const int64_t fit =
      std::max<int64_t>(1, fd_limit - std::max(16, options.reserved_fds));
  impl->cap = static_cast<int>(
      std::min<int64_t>(std::max(1, options.max_connections), fit));
  if (impl->cap < options.max_connections) {
    FRESHET_LOG_WARN(
        "HTTP connections capped at {} (the descriptor limit is {}; raise it "
        "with ulimit -n)",
        impl->cap, fd_limit);
  }

  beast::error_code ec;
  const auto address = net::ip::make_address(options.bind, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on ", options.bind, ":", options.port,
                     ": not an IP address"));
  }
  const tcp::endpoint endpoint(address,
                               static_cast<unsigned short>(options.port));
  tcp::acceptor& acc = impl->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ",
                                               options.bind, ":", options.port,
                                               ": ", ec.message()));
  }
  impl->port = acc.local_endpoint().port();
  Impl* raw = impl.get();
  for (auto& loop : impl->loops) {
    impl->work.push_back(net::make_work_guard(*loop));
  }
  net::dispatch(acc.get_executor(), [raw] { raw->DoAccept(); });
  for (auto& loop : impl->loops) {
    net::io_context* l = loop.get();
    impl->threads.emplace_back([l] { l->run(); });
  }
  return std::unique_ptr<HttpFrontEnd>(new HttpFrontEnd(std::move(impl)));
}

int HttpFrontEnd::port() const { return impl_->port; }
int HttpFrontEnd::max_connections() const { return impl_->cap; }

HttpFrontEndStats HttpFrontEnd::stats() const {
  HttpFrontEndStats s;
  s.connections_open = impl_->open.load();
  s.connections_accepted = impl_->accepted.load();
  s.connections_refused = impl_->refused.load();
  s.accept_errors = impl_->accept_errors.load();
  s.timeouts = impl_->timeouts.load();
  s.rejected = impl_->rejected.load();
  return s;
}

void HttpFrontEnd::Stop() {
  Impl& fe = *impl_;
  if (fe.threads.empty()) return;
  fe.stopping.store(true);
  net::dispatch(fe.acceptor.get_executor(), [&fe] {
    beast::error_code ec;
    fe.acceptor.close(ec);
    fe.accept_retry.cancel();
  });
  auto shutdown_all = [&fe](bool force) {
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> lock(fe.mu);
      for (auto& [_, w] : fe.sessions) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->Shutdown(force);
  };
  shutdown_all(/*force=*/false);
  // Requests in flight get a second to finish.
  for (int i = 0; i < 100 && fe.open.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  shutdown_all(/*force=*/true);
  for (auto& w : fe.work) w.reset();
  for (int i = 0; i < 100 && fe.open.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (fe.open.load() > 0) {
    for (auto& loop : fe.loops) loop->stop();
  }
  for (std::thread& t : fe.threads) t.join();
  fe.threads.clear();
}

}  // namespace freshet
