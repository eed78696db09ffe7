#include "freshet/base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>
#include <string>

namespace freshet {

void InitLogging(std::string_view level) {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_color_mt("freshet");
    l->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ %v");
    spdlog::set_default_logger(l);
    return l;
  }();
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off")
    parsed = spdlog::level::info;
  logger->set_level(parsed);
}

}  // namespace freshet
