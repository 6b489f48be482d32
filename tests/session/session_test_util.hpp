#pragma once
// Helpers for the session tests: a clock the test moves by hand, and store factories.

#include <atomic>
#include <chrono>
#include <memory>

#include "tuna/session.hpp"

namespace tuna::testing_session {

/// A manual clock: starts at a fixed instant and moves only when the test says so.
class FakeClock {
 public:
  FakeClock() : ms_(std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000)) {}
  session::Clock::time_point Now() const {
    return session::Clock::time_point(std::chrono::milliseconds(ms_->load()));
  }
  void Advance(std::chrono::milliseconds d) { ms_->fetch_add(d.count()); }
  /// A copyable function for the store options (shares this clock's state).
  std::function<session::Clock::time_point()> Fn() const {
    auto ms = ms_;
    return [ms] { return session::Clock::time_point(std::chrono::milliseconds(ms->load())); };
  }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> ms_;
};

}  // namespace tuna::testing_session
