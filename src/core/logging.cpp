#include "core/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace tuna::core {

std::shared_ptr<spdlog::logger> Logger() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> logger;
  std::call_once(once, [] {
    logger = spdlog::get("tuna");
    if (!logger) {
      // An embedding program may have registered its own "tuna" logger first; keep it if so.
      try {
        logger = spdlog::stderr_color_mt("tuna");
      } catch (...) {
        logger = spdlog::get("tuna");
      }
      if (!logger) logger = spdlog::default_logger();
    }
  });
  return logger;
}

}  // namespace tuna::core
