#include "session/session_common.hpp"

#include <spdlog/spdlog.h>

namespace tuna::session {

Status SessionStore::Write(const std::vector<WriteOp>& ops) {
  // Bad input is refused before anything is written.
  for (const auto& op : ops) {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(op.key));
    TUNA_RETURN_IF_ERROR(internal::CheckValue(op.key, op.value));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(op.ttl));
  }
  for (const auto& op : ops) {
    if (op.kind == WriteOp::Kind::kPut) {
      TUNA_RETURN_IF_ERROR(Put(op.key, op.value, op.ttl).status());
    } else {
      TUNA_RETURN_IF_ERROR(Append(op.key, op.value, op.max_items, op.ttl).status());
    }
  }
  return Status::Ok();
}

}  // namespace tuna::session

namespace tuna::session::internal {

Status CheckKey(std::string_view key, std::string_view what) {
  if (key.empty()) return InvalidArgument("session " + std::string(what) + " must not be empty");
  if (key.size() > kMaxKeyBytes) {
    return InvalidArgument("session " + std::string(what) + " is " + std::to_string(key.size()) +
                           " bytes; the limit is " + std::to_string(kMaxKeyBytes));
  }
  if (key.find('\0') != std::string_view::npos) {
    return InvalidArgument("session " + std::string(what) + " contains a NUL byte");
  }
  return {};
}

Status CheckValue(std::string_view key, std::string_view value) {
  if (value.size() > kMaxValueBytes) {
    return InvalidArgument("session value for key \"" + std::string(key) + "\" is " + std::to_string(value.size()) +
                           " bytes; the limit is " + std::to_string(kMaxValueBytes));
  }
  return {};
}

Status CheckTtl(std::chrono::milliseconds ttl) {
  if (ttl.count() < 0) return InvalidArgument("session ttl must not be negative (got " + std::to_string(ttl.count()) + "ms)");
  return {};
}

Status CheckLimit(std::size_t limit) {
  if (limit == 0) return InvalidArgument("session limit must be greater than 0");
  return {};
}

std::function<Clock::time_point()> ClockOrDefault(std::function<Clock::time_point()> clock) {
  if (clock) return clock;
  return [] { return Clock::now(); };
}

std::optional<Clock::time_point> ExpiryFrom(Clock::time_point now, std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return std::nullopt;
  return FromMillis(ToMillis(now) + ttl.count());
}

std::int64_t ToMillis(Clock::time_point t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::time_point FromMillis(std::int64_t ms) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}

std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::nullopt;
}

PurgeThread::PurgeThread(std::chrono::milliseconds interval, std::function<void()> fn) {
  thread_ = std::thread([this, interval, fn = std::move(fn)] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (cv_.wait_for(lock, interval, [this] { return stop_; })) break;
      lock.unlock();
      fn();
      lock.lock();
    }
  });
}

PurgeThread::~PurgeThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tuna::session::internal
