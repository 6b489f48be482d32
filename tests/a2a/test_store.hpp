#pragma once
// The session store the A2A tests use: tuna's memory backend with a clock the test can move
// (TTL tests). Anonymous namespace: one copy per test file.

#include <atomic>
#include <chrono>
#include <memory>

#include "tuna/session.hpp"

namespace {

class A2aTestStore {
 public:
  A2aTestStore() {
    auto offset = offset_ms_;
    auto made = tuna::session::MakeMemorySessionStore(
        {.purge_interval = std::chrono::milliseconds(0),
         .clock = [offset] { return tuna::session::Clock::now() + std::chrono::milliseconds(offset->load()); }});
    if (made.ok()) store_ = std::move(*made);
  }
  /// The store (the memory backend cannot fail to start without a purge thread).
  tuna::session::SessionStore& operator*() { return *store_; }
  tuna::session::SessionStore* operator->() { return store_.get(); }
  /// Moves the store's clock forward.
  void Advance(std::chrono::milliseconds d) { offset_ms_->fetch_add(d.count()); }

 private:
  std::shared_ptr<std::atomic<long long>> offset_ms_ = std::make_shared<std::atomic<long long>>(0);
  tuna::session::SessionStorePtr store_;
};

}  // namespace
