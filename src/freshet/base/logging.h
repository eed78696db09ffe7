// Logging for Freshet: a thin layer over spdlog.
//
// Log lines go to stderr so that stdout stays free for command output (tables,
// JSON). Use the FRESHET_LOG_* macros; they accept fmt-style format strings.
// Thread-safe.
#ifndef FRESHET_BASE_LOGGING_H_
#define FRESHET_BASE_LOGGING_H_

#include <spdlog/spdlog.h>

#include <string_view>

namespace freshet {

// Configures the process-wide logger: level is one of trace, debug, info,
// warn, error, off. Unknown levels fall back to info. Safe to call again.
void InitLogging(std::string_view level = "info");

}  // namespace freshet

#define FRESHET_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define FRESHET_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define FRESHET_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define FRESHET_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)

#endif  // FRESHET_BASE_LOGGING_H_
