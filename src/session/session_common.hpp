#pragma once
// Private helpers shared by the session backends: argument checks (so both backends reject the
// same input with the same message), millisecond time, prefix ranges and the purge thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "tuna/session.hpp"

namespace tuna::session::internal {

/// Longest key accepted (bytes). Keys are prefixes plus ids, far below this.
inline constexpr std::size_t kMaxKeyBytes = 1024;
/// Largest value or list item accepted (bytes).
inline constexpr std::size_t kMaxValueBytes = 16 * 1024 * 1024;

Status CheckKey(std::string_view key, std::string_view what = "key");
Status CheckValue(std::string_view key, std::string_view value);
Status CheckTtl(std::chrono::milliseconds ttl);
Status CheckLimit(std::size_t limit);

/// The clock to use: the injected one, or Clock::now.
std::function<Clock::time_point()> ClockOrDefault(std::function<Clock::time_point()> clock);

/// now + ttl, truncated to milliseconds (the SQLite backend stores milliseconds; the memory
/// backend truncates too so both report the same expires_at). nullopt when ttl is kNoTtl.
std::optional<Clock::time_point> ExpiryFrom(Clock::time_point now, std::chrono::milliseconds ttl);

/// True when an entry with this expiry is still visible at `now`.
inline bool IsLive(const std::optional<Clock::time_point>& expires_at, Clock::time_point now) {
  return !expires_at || *expires_at > now;
}

std::int64_t ToMillis(Clock::time_point t);
Clock::time_point FromMillis(std::int64_t ms);

/// The smallest string greater than every string starting with `prefix`; nullopt when there is
/// none (empty prefix or all bytes 0xff).
std::optional<std::string> PrefixEnd(std::string_view prefix);

/// Runs `fn` every `interval` on its own thread until destroyed. The destructor wakes the thread
/// and joins it, so `fn` never runs after it returns.
class PurgeThread {
 public:
  PurgeThread(std::chrono::milliseconds interval, std::function<void()> fn);
  ~PurgeThread();
  PurgeThread(const PurgeThread&) = delete;
  PurgeThread& operator=(const PurgeThread&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tuna::session::internal
