#pragma once
// A small in-memory session::SessionStore for the A2A tests, following the interface's
// documented contract (versions, TTL, key-ordered List pages, bounded lists). Stands in until
// the real memory backend is on main; everything in an anonymous namespace (one copy per test
// file, no ODR clash).

#include <chrono>
#include <deque>
#include <map>
#include <mutex>

#include "tuna/session.hpp"

namespace {

class A2aFakeSessionStore final : public tuna::session::SessionStore {
 public:
  using Clock = tuna::session::Clock;

  tuna::Result<std::int64_t> Put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override {
    std::lock_guard<std::mutex> lock(mu_);
    Item& item = entries_[std::string(key)];
    item.entry.value = std::string(value);
    item.entry.version = ++version_;
    item.entry.expires_at = Expiry(ttl);
    ++puts_;
    return item.entry.version;
  }
  tuna::Result<std::int64_t> CompareAndSwap(std::string_view key, std::string_view value, std::int64_t expected,
                                            std::chrono::milliseconds ttl) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(std::string(key));
    bool live = it != entries_.end() && !Expired(it->second.entry);
    std::int64_t current = live ? it->second.entry.version : 0;
    if (current != expected) return tuna::FailedPrecondition("version mismatch");
    Item& item = entries_[std::string(key)];
    item.entry.value = std::string(value);
    item.entry.version = ++version_;
    item.entry.expires_at = Expiry(ttl);
    return item.entry.version;
  }
  tuna::Result<tuna::session::Entry> Get(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(std::string(key));
    if (it == entries_.end() || Expired(it->second.entry)) return tuna::NotFound(std::string(key));
    return it->second.entry;
  }
  tuna::Status Delete(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.erase(std::string(key));
    lists_.erase(std::string(key));
    return tuna::Status::Ok();
  }
  tuna::Result<std::size_t> DeletePrefix(std::string_view prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->first.starts_with(prefix)) {
        it = entries_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    for (auto it = lists_.begin(); it != lists_.end();) {
      it = it->first.starts_with(prefix) ? lists_.erase(it) : std::next(it);
    }
    return n;
  }
  tuna::Status Touch(std::string_view key, std::chrono::milliseconds ttl) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(std::string(key));
    if (it == entries_.end() || Expired(it->second.entry)) return tuna::NotFound(std::string(key));
    it->second.entry.expires_at = Expiry(ttl);
    return tuna::Status::Ok();
  }
  tuna::Result<tuna::session::ListPage> List(std::string_view prefix, std::string_view after, std::size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    tuna::session::ListPage page;
    auto it = after.empty() ? entries_.lower_bound(std::string(prefix)) : entries_.upper_bound(std::string(after));
    for (; it != entries_.end() && it->first.starts_with(prefix); ++it) {
      if (Expired(it->second.entry)) continue;
      if (page.entries.size() == limit) {
        page.next_after = page.entries.back().key;
        break;
      }
      page.entries.push_back({it->first, it->second.entry});
    }
    return page;
  }
  tuna::Result<std::int64_t> Append(std::string_view list_key, std::string_view item, std::size_t max_items,
                                    std::chrono::milliseconds ttl) override {
    std::lock_guard<std::mutex> lock(mu_);
    List_& l = lists_[std::string(list_key)];
    if (l.expires_at && *l.expires_at <= Now()) l = List_{};
    l.items.emplace_back(++l.seq, std::string(item));
    while (max_items > 0 && l.items.size() > max_items) l.items.pop_front();
    if (ttl.count() > 0) l.expires_at = Now() + ttl;
    return l.seq;
  }
  tuna::Result<std::vector<std::pair<std::int64_t, std::string>>> Range(std::string_view list_key, std::int64_t after_seq,
                                                                      std::size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::int64_t, std::string>> out;
    auto it = lists_.find(std::string(list_key));
    if (it == lists_.end() || (it->second.expires_at && *it->second.expires_at <= Now())) return out;
    for (const auto& p : it->second.items) {
      if (p.first > after_seq && out.size() < limit) out.push_back(p);
    }
    return out;
  }
  tuna::Result<std::vector<std::pair<std::int64_t, std::string>>> Tail(std::string_view list_key, std::size_t count) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::int64_t, std::string>> out;
    auto it = lists_.find(std::string(list_key));
    if (it == lists_.end() || (it->second.expires_at && *it->second.expires_at <= Now())) return out;
    const auto& items = it->second.items;
    std::size_t start = items.size() > count ? items.size() - count : 0;
    for (std::size_t i = start; i < items.size(); ++i) out.push_back(items[i]);
    return out;
  }
  tuna::Result<std::size_t> PurgeExpired() override { return std::size_t{0}; }
  tuna::Result<std::size_t> Count() override {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

  /// Moves this store's clock (TTL tests).
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    offset_ += d;
  }

 private:
  struct Item {
    tuna::session::Entry entry;
  };
  struct List_ {
    std::deque<std::pair<std::int64_t, std::string>> items;
    std::int64_t seq = 0;
    std::optional<Clock::time_point> expires_at;
  };
  Clock::time_point Now() const { return Clock::now() + offset_; }
  std::optional<Clock::time_point> Expiry(std::chrono::milliseconds ttl) const {
    if (ttl.count() <= 0) return std::nullopt;
    return Now() + ttl;
  }
  bool Expired(const tuna::session::Entry& e) const { return e.expires_at && *e.expires_at <= Now(); }

  std::mutex mu_;
  std::map<std::string, Item, std::less<>> entries_;
  std::map<std::string, List_, std::less<>> lists_;
  std::int64_t version_ = 0;
  std::size_t puts_ = 0;
  std::chrono::milliseconds offset_{0};
};

}  // namespace
