#pragma once
// Private: token buckets per API key (the gateway's 429). In process; gateway replicas sharing
// limits need Redis (later). Buckets idle for a while are dropped, so memory is bounded by the
// number of keys active recently.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tuna/auth.hpp"

namespace tuna::gateway {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  /// Takes one token from `key`'s bucket. Returns zero when allowed, otherwise how long until a
  /// token is available (for Retry-After). An unlimited limit (per_second <= 0) always allows.
  std::chrono::milliseconds Acquire(const std::string& key, const auth::RateLimit& limit, Clock::time_point now = Clock::now());
  /// Buckets currently kept (tests, metrics).
  std::size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  static constexpr std::size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    Clock::time_point last_sweep;
  };
  Shard shards_[kShards];
};

}  // namespace tuna::gateway
