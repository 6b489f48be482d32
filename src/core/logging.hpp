#pragma once
// The library's logger: one spdlog logger named "tuna" (stderr, colour when a terminal).
// spdlog stays out of this header so callers that only log a line need not include it.

#include <memory>

namespace spdlog {
class logger;
}

namespace tuna::core {

/// The shared "tuna" logger, created on first use (registered with spdlog so embedding programs
/// can reconfigure its sinks and level by name).
std::shared_ptr<spdlog::logger> Logger();

}  // namespace tuna::core
