#include "gateway/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace tuna::gateway {

std::chrono::milliseconds RateLimiter::Acquire(const std::string& key, const auth::RateLimit& limit, Clock::time_point now) {
  if (limit.per_second <= 0) return std::chrono::milliseconds(0);
  const double burst = limit.burst > 0 ? limit.burst : std::max(1.0, limit.per_second);
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  // Drop buckets that have been full for a while (idle keys) once a minute.
  if (now - shard.last_sweep > std::chrono::minutes(1)) {
    shard.last_sweep = now;
    for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
      it = now - it->second.updated > std::chrono::minutes(5) ? shard.buckets.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = shard.buckets.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * limit.per_second);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::chrono::milliseconds(0);
  }
  double wait_s = (1.0 - b.tokens) / limit.per_second;
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(wait_s * 1000)));
}

std::size_t RateLimiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace tuna::gateway
