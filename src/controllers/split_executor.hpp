#pragma once
// Private: the executor behind a canary rollout. It sends a share of a stage's calls to the
// stage's newest revision (the canary) and the rest to the previous one (the stable revision).
// WorkloadControllers::ExecutorForStage hands it out, so every caller gets the split for free.

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "tuna/driver.hpp"

namespace tuna::controllers {

/// Which revision serves a call (or a whole pinned conversation).
enum class CanarySide { kStable, kCanary };

/// The side an affinity key (an A2A task or context id, an MCP session id) is pinned to for a
/// canary getting `canary_percent` of the traffic. The key hashes (FNV-1a, then a 64-bit mixer)
/// to a bucket 0..99 and goes to the canary when the bucket is below the percent, so the same key
/// always lands on the same side, and raising the percent only moves keys from stable to canary.
CanarySide AffinitySide(std::string_view affinity_key, std::int64_t canary_percent);

/// Splits calls between two executors of one stage.
///
/// Without an affinity key each call is a weighted random draw (a seeded mt19937_64, not a
/// counter): callers such as the proxy route and the gateway make a fresh executor per request,
/// so a per-executor counter would always start at the same side, and a counter shared across
/// requests would need shared state across gateway replicas; independent draws need neither and
/// converge to the percent. With an affinity key every call goes to AffinitySide(key).
class SplitExecutor final : public Executor {
 public:
  struct Options {
    ExecutorPtr stable;  // the previous revision; required
    ExecutorPtr canary;  // the newest revision; required
    std::int64_t canary_percent = 0;  // clamped to 0..100
    std::string affinity_key;         // empty: a draw per call
    std::optional<std::uint64_t> seed;  // fixed for tests; default: a fresh process-wide seed
  };

  explicit SplitExecutor(Options options);

  /// The side the next call goes to (consumes a draw when not pinned).
  CanarySide Pick();

  Result<InvokeResponse> Invoke(const InvokeRequest& request) override;

 private:
  Options options_;
  std::optional<CanarySide> pinned_;
  std::mutex mu_;  // the engine; Invoke may run on many threads
  std::mt19937_64 engine_;
};

}  // namespace tuna::controllers
