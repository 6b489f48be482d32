#pragma once
// Condition waits for tests: poll a predicate until it holds or a deadline passes (never a bare
// sleep standing in for "long enough").

#include <chrono>
#include <thread>

namespace tuna::testing {

/// Calls `done` every `every` until it returns true (then true) or `limit` passes (then false).
template <typename Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds limit, std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace tuna::testing
