// LogCapture: routes the default spdlog logger into a string while alive,
// so that a test can assert on what was logged.
//
// Thread safety: the sink is thread-safe; construct and destroy on one
// thread, with no other LogCapture alive.
#ifndef FRESHET_BASE_LOG_CAPTURE_H_
#define FRESHET_BASE_LOG_CAPTURE_H_

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

namespace freshet {

class LogCapture {
 public:
  LogCapture() : saved_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(saved_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> saved_;
  std::ostringstream out_;
};

}  // namespace freshet

#endif  // FRESHET_BASE_LOG_CAPTURE_H_
