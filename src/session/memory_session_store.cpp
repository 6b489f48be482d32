// Memory backend of SessionStore: keys hashed over shards, each a mutex and an ordered map, so
// writers of different keys rarely meet. Expired entries are invisible at once, dropped when
// a write or read touches them, and swept by PurgeExpired (and the purge thread).

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "session/session_common.hpp"

namespace tuna::session {
namespace {

using internal::IsLive;

constexpr std::size_t kShards = 16;

struct ValueRecord {
  std::string value;
  std::int64_t version = 0;
  std::optional<Clock::time_point> expires_at;
};

struct ListRecord {
  std::deque<std::pair<std::int64_t, std::string>> items;  // consecutive sequence numbers
  std::int64_t next_seq = 1;
  std::optional<Clock::time_point> expires_at;
};

// A key may hold a value, a list, or both (Delete removes both).
struct Node {
  std::optional<ValueRecord> value;
  std::unique_ptr<ListRecord> list;
  std::uint64_t seq = 0;  // creation order within its shard (the bound evicts the oldest first)

  bool empty() const { return !value && !list; }
  bool live(Clock::time_point now) const {
    return (value && IsLive(value->expires_at, now)) || (list && IsLive(list->expires_at, now));
  }
  // Drops expired parts; returns how many went.
  std::size_t Prune(Clock::time_point now) {
    std::size_t n = 0;
    if (value && !IsLive(value->expires_at, now)) {
      value.reset();
      ++n;
    }
    if (list && !IsLive(list->expires_at, now)) {
      list.reset();
      ++n;
    }
    return n;
  }
};

// The keys of a shard, ordered (List and DeletePrefix walk a prefix) with a hash index for point
// lookups: keys share long prefixes ("a2a/<scope>/task/<uuid>"), which made every lookup in the
// ordered map alone a chain of long memcmp calls (13% of the A2A server's CPU per request).
class NodeMap {
 public:
  using Ordered = std::map<std::string, Node, std::less<>>;
  using iterator = Ordered::iterator;
  using const_iterator = Ordered::const_iterator;

  iterator find(std::string_view key) {
    auto it = index_.find(key);
    return it == index_.end() ? ordered_.end() : it->second;
  }
  std::pair<iterator, bool> emplace(std::string key, Node node) {
    auto [it, inserted] = ordered_.emplace(std::move(key), std::move(node));
    if (inserted) {
      index_.emplace(std::string_view(it->first), it);
      if (track_creation_) {
        it->second.seq = ++next_seq_;
        created_.emplace(it->second.seq, it);
      }
    }
    return {it, inserted};
  }
  iterator erase(iterator it) {
    index_.erase(std::string_view(it->first));
    if (track_creation_) created_.erase(it->second.seq);
    return ordered_.erase(it);
  }
  /// Keeps the creation order oldest() needs (only a bounded store pays for it). Call while empty.
  void track_creation() { track_creation_ = true; }
  std::size_t size() const { return ordered_.size(); }
  /// The key created first among those left (size() > 0).
  iterator oldest() { return created_.begin()->second; }
  iterator begin() { return ordered_.begin(); }
  iterator end() { return ordered_.end(); }
  const_iterator begin() const { return ordered_.begin(); }
  const_iterator end() const { return ordered_.end(); }
  const_iterator lower_bound(std::string_view key) const { return ordered_.lower_bound(key); }
  const_iterator upper_bound(std::string_view key) const { return ordered_.upper_bound(key); }
  iterator lower_bound(std::string_view key) { return ordered_.lower_bound(key); }

 private:
  Ordered ordered_;
  std::unordered_map<std::string_view, iterator> index_;
  std::map<std::uint64_t, iterator> created_;
  std::uint64_t next_seq_ = 0;
  bool track_creation_ = false;
};

class MemorySessionStore final : public SessionStore {
 public:
  explicit MemorySessionStore(MemorySessionStoreOptions options)
      : clock_(internal::ClockOrDefault(std::move(options.clock))),
        max_per_shard_(options.max_keys == 0 ? 0 : std::max<std::size_t>(1, (options.max_keys + kShards - 1) / kShards)) {
    if (max_per_shard_ > 0) {
      for (auto& shard : shards_) shard.nodes.track_creation();
    }
    if (options.purge_interval.count() > 0) {
      purger_ = std::make_unique<internal::PurgeThread>(options.purge_interval, [this] {
        auto n = PurgeExpired();
        if (n.ok() && *n > 0) spdlog::debug("memory session store: purged {} expired entries", *n);
      });
    }
  }
  // The purge thread stops before the shards go.
  ~MemorySessionStore() override { purger_.reset(); }

  Result<std::int64_t> Put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    TUNA_RETURN_IF_ERROR(internal::CheckValue(key, value));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    const auto now = clock_();
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mu);
    Node& node = FindOrInsert(shard, key);
    return Write(node, value, ttl, now);
  }

  Result<std::int64_t> CompareAndSwap(std::string_view key, std::string_view value, std::int64_t expected_version,
                                      std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    TUNA_RETURN_IF_ERROR(internal::CheckValue(key, value));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    if (expected_version < 0) return InvalidArgument("session expected version must not be negative");
    const auto now = clock_();
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.nodes.find(key);
    std::int64_t current = 0;
    if (it != shard.nodes.end()) {
      it->second.Prune(now);
      if (it->second.value) current = it->second.value->version;
    }
    if (current != expected_version) {
      if (it != shard.nodes.end() && it->second.empty()) shard.nodes.erase(it);
      return VersionMismatch(key, expected_version, current);
    }
    Node& node = it != shard.nodes.end() ? it->second : FindOrInsert(shard, key);
    return Write(node, value, ttl, now);
  }

  Result<Entry> Get(std::string_view key) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    const auto now = clock_();
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.nodes.find(key);
    if (it == shard.nodes.end()) return Missing(key);
    if (it->second.Prune(now) > 0 && it->second.empty()) {
      shard.nodes.erase(it);
      return Missing(key);
    }
    if (!it->second.value) return Missing(key);
    const ValueRecord& v = *it->second.value;
    return Entry{v.value, v.version, v.expires_at};
  }

  Status Delete(std::string_view key) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mu);
    if (auto it = shard.nodes.find(key); it != shard.nodes.end()) shard.nodes.erase(it);
    return {};
  }

  Result<std::size_t> DeletePrefix(std::string_view prefix) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(prefix, "prefix"));
    const auto now = clock_();
    std::size_t removed = 0;
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      auto it = shard.nodes.lower_bound(prefix);
      while (it != shard.nodes.end() && std::string_view(it->first).starts_with(prefix)) {
        if (it->second.live(now)) ++removed;
        it = shard.nodes.erase(it);
      }
    }
    return removed;
  }

  Status Touch(std::string_view key, std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(key));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    const auto now = clock_();
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.nodes.find(key);
    if (it == shard.nodes.end()) return Missing(key);
    it->second.Prune(now);
    if (it->second.empty()) {
      shard.nodes.erase(it);
      return Missing(key);
    }
    const auto expires_at = internal::ExpiryFrom(now, ttl);
    if (it->second.value) it->second.value->expires_at = expires_at;
    if (it->second.list) it->second.list->expires_at = expires_at;
    return {};
  }

  Result<ListPage> List(std::string_view prefix, std::string_view after, std::size_t limit) override {
    if (!prefix.empty()) TUNA_RETURN_IF_ERROR(internal::CheckKey(prefix, "prefix"));
    TUNA_RETURN_IF_ERROR(internal::CheckLimit(limit));
    const auto now = clock_();
    // All shards locked (always in index order) so the page is one consistent snapshot; a
    // k-way merge copies only the entries returned.
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(kShards);
    std::array<NodeMap::const_iterator, kShards> pos;
    for (std::size_t i = 0; i < kShards; ++i) {
      locks.emplace_back(shards_[i].mu);
      const NodeMap& nodes = shards_[i].nodes;
      pos[i] = (after.empty() || after < prefix) ? nodes.lower_bound(prefix) : nodes.upper_bound(after);
    }
    auto in_range = [&](std::size_t i) {
      return pos[i] != shards_[i].nodes.end() && std::string_view(pos[i]->first).starts_with(prefix);
    };
    auto skip_dead = [&](std::size_t i) {
      while (in_range(i)) {
        const Node& n = pos[i]->second;
        if (n.value && IsLive(n.value->expires_at, now)) return;
        ++pos[i];
      }
    };
    for (std::size_t i = 0; i < kShards; ++i) skip_dead(i);
    ListPage page;
    while (true) {
      std::size_t best = kShards;
      for (std::size_t i = 0; i < kShards; ++i) {
        if (in_range(i) && (best == kShards || pos[i]->first < pos[best]->first)) best = i;
      }
      if (best == kShards) break;
      if (page.entries.size() == limit) {
        page.next_after = page.entries.back().key;
        break;
      }
      const ValueRecord& v = *pos[best]->second.value;
      page.entries.push_back(KeyedEntry{pos[best]->first, Entry{v.value, v.version, v.expires_at}});
      ++pos[best];
      skip_dead(best);
    }
    return page;
  }

  Result<std::int64_t> Append(std::string_view list_key, std::string_view item, std::size_t max_items,
                              std::chrono::milliseconds ttl) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(list_key));
    TUNA_RETURN_IF_ERROR(internal::CheckValue(list_key, item));
    TUNA_RETURN_IF_ERROR(internal::CheckTtl(ttl));
    const auto now = clock_();
    Shard& shard = ShardFor(list_key);
    std::lock_guard lock(shard.mu);
    Node& node = FindOrInsert(shard, list_key);
    node.Prune(now);
    if (!node.list) node.list = std::make_unique<ListRecord>();
    ListRecord& list = *node.list;
    const std::int64_t seq = list.next_seq++;
    list.items.emplace_back(seq, std::string(item));
    if (max_items > 0) {
      while (list.items.size() > max_items) list.items.pop_front();
    }
    if (ttl.count() > 0) list.expires_at = internal::ExpiryFrom(now, ttl);
    return seq;
  }

  Result<std::vector<std::pair<std::int64_t, std::string>>> Range(std::string_view list_key, std::int64_t after_seq,
                                                                  std::size_t limit) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(list_key));
    TUNA_RETURN_IF_ERROR(internal::CheckLimit(limit));
    if (after_seq < 0) return InvalidArgument("session list after_seq must not be negative");
    std::vector<std::pair<std::int64_t, std::string>> out;
    WithLiveList(list_key, [&](const ListRecord& list) {
      if (list.items.empty()) return;
      const std::int64_t first = list.items.front().first;
      std::size_t start = after_seq < first ? 0 : static_cast<std::size_t>(after_seq - first + 1);
      for (std::size_t i = start; i < list.items.size() && out.size() < limit; ++i) out.push_back(list.items[i]);
    });
    return out;
  }

  Result<std::vector<std::pair<std::int64_t, std::string>>> Tail(std::string_view list_key,
                                                                 std::size_t count) override {
    TUNA_RETURN_IF_ERROR(internal::CheckKey(list_key));
    std::vector<std::pair<std::int64_t, std::string>> out;
    WithLiveList(list_key, [&](const ListRecord& list) {
      std::size_t n = std::min(count, list.items.size());
      out.assign(list.items.end() - static_cast<std::ptrdiff_t>(n), list.items.end());
    });
    return out;
  }

  Result<std::size_t> PurgeExpired() override {
    const auto now = clock_();
    std::size_t removed = 0;
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      for (auto it = shard.nodes.begin(); it != shard.nodes.end();) {
        removed += it->second.Prune(now);
        it = it->second.empty() ? shard.nodes.erase(it) : std::next(it);
      }
    }
    return removed;
  }

  Result<std::size_t> Count() override {
    const auto now = clock_();
    std::size_t n = 0;
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      for (const auto& [key, node] : shard.nodes) n += node.live(now) ? 1 : 0;
    }
    return n;
  }

 private:
  struct Shard {
    std::mutex mu;
    NodeMap nodes;
  };

  Shard& ShardFor(std::string_view key) { return shards_[std::hash<std::string_view>{}(key) % kShards]; }

  // With max_keys, a new key beyond the shard's share evicts the shard's oldest keys.
  Node& FindOrInsert(Shard& shard, std::string_view key) {
    auto it = shard.nodes.find(key);
    if (it != shard.nodes.end()) return it->second;
    it = shard.nodes.emplace(std::string(key), Node{}).first;
    while (max_per_shard_ > 0 && shard.nodes.size() > max_per_shard_) {
      auto victim = shard.nodes.oldest();
      if (victim == it) break;
      shard.nodes.erase(victim);
      evicted_.fetch_add(1, std::memory_order_relaxed);
    }
    return it->second;
  }

  // Called with the shard locked.
  std::int64_t Write(Node& node, std::string_view value, std::chrono::milliseconds ttl, Clock::time_point now) {
    const std::int64_t version = next_version_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!node.value) node.value.emplace();
    node.value->value.assign(value);
    node.value->version = version;
    node.value->expires_at = internal::ExpiryFrom(now, ttl);
    return version;
  }

  template <typename Fn>
  void WithLiveList(std::string_view key, Fn&& fn) {
    const auto now = clock_();
    Shard& shard = ShardFor(key);
    std::lock_guard lock(shard.mu);
    auto it = shard.nodes.find(key);
    if (it == shard.nodes.end()) return;
    it->second.Prune(now);
    if (it->second.empty()) {
      shard.nodes.erase(it);
      return;
    }
    if (it->second.list) fn(*it->second.list);
  }

  static Status Missing(std::string_view key) { return NotFound("session key \"" + std::string(key) + "\" not found"); }
  static Status VersionMismatch(std::string_view key, std::int64_t expected, std::int64_t current) {
    return FailedPrecondition("session key \"" + std::string(key) + "\": expected version " + std::to_string(expected) +
                              ", current version " + std::to_string(current));
  }

  std::function<Clock::time_point()> clock_;
  std::array<Shard, kShards> shards_;
  // Store-wide, so a key deleted and written again never repeats a version (no ABA for CAS).
  std::atomic<std::int64_t> next_version_{0};
  const std::size_t max_per_shard_;
  std::atomic<std::uint64_t> evicted_{0};
  std::unique_ptr<internal::PurgeThread> purger_;
};

}  // namespace

Result<SessionStorePtr> MakeMemorySessionStore(MemorySessionStoreOptions options) {
  if (options.purge_interval.count() < 0) return InvalidArgument("session purge_interval must not be negative");
  try {
    return SessionStorePtr(std::make_unique<MemorySessionStore>(std::move(options)));
  } catch (const std::exception& e) {  // std::thread for the purge thread may throw
    return Internal(std::string("memory session store: ") + e.what());
  }
}

}  // namespace tuna::session
