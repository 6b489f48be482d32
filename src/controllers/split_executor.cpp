// The canary split executor: a weighted draw per call, or a side pinned by an affinity key.

#include "controllers/split_executor.hpp"

#include <algorithm>
#include <atomic>

namespace tuna::controllers {
namespace {

// SplitMix64's finalizer: spreads FNV's weak low bits over the whole word.
std::uint64_t Mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

std::uint64_t Fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// One random_device read per process; every executor after that gets the next mixed value, so
// per-request executors cost no system call and never share a seed.
std::uint64_t NextSeed() {
  static std::atomic<std::uint64_t> counter{(static_cast<std::uint64_t>(std::random_device{}()) << 32) ^
                                            std::random_device{}()};
  return Mix64(counter.fetch_add(0x9e3779b97f4a7c15ULL, std::memory_order_relaxed));
}

std::int64_t ClampPercent(std::int64_t p) { return std::clamp<std::int64_t>(p, 0, 100); }

}  // namespace

CanarySide AffinitySide(std::string_view affinity_key, std::int64_t canary_percent) {
  const auto bucket = static_cast<std::int64_t>(Mix64(Fnv1a64(affinity_key)) % 100);
  return bucket < ClampPercent(canary_percent) ? CanarySide::kCanary : CanarySide::kStable;
}

SplitExecutor::SplitExecutor(Options options) : options_(std::move(options)), engine_(options_.seed.value_or(NextSeed())) {
  options_.canary_percent = ClampPercent(options_.canary_percent);
  if (!options_.affinity_key.empty()) pinned_ = AffinitySide(options_.affinity_key, options_.canary_percent);
}

CanarySide SplitExecutor::Pick() {
  if (pinned_) return *pinned_;
  if (options_.canary_percent <= 0) return CanarySide::kStable;
  if (options_.canary_percent >= 100) return CanarySide::kCanary;
  std::lock_guard lock(mu_);
  // mt19937_64's output is fixed by the standard, so a seed gives the same sequence everywhere;
  // the modulo bias over 2^64 is far below anything measurable.
  const auto draw = static_cast<std::int64_t>(engine_() % 100);
  return draw < options_.canary_percent ? CanarySide::kCanary : CanarySide::kStable;
}

Result<InvokeResponse> SplitExecutor::Invoke(const InvokeRequest& request) {
  const ExecutorPtr& target = Pick() == CanarySide::kCanary ? options_.canary : options_.stable;
  if (!target) return FailedPrecondition("canary split: no executor for the chosen revision");
  return target->Invoke(request);
}

}  // namespace tuna::controllers
