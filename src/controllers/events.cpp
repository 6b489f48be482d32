#include "tuna/events.hpp"

namespace tuna {

void EventRecorder::Record(const ObjectKey& key, std::string type, std::string reason, std::string message) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = events_.try_emplace(key);
  if (inserted) {
    order_.push_back(key);
    while (events_.size() > max_objects_ && !order_.empty()) {
      events_.erase(order_.front());
      order_.pop_front();
    }
    it = events_.find(key);
    if (it == events_.end()) return;
  }
  auto& list = it->second;
  const std::string now = NowRfc3339();
  if (!list.empty() && list.back().type == type && list.back().reason == reason && list.back().message == message) {
    ++list.back().count;
    list.back().last_timestamp = now;
    return;
  }
  list.push_back({std::move(type), std::move(reason), std::move(message), 1, now, now});
  while (list.size() > per_object_) list.pop_front();
}

std::vector<ObjectEvent> EventRecorder::List(const ObjectKey& key) const {
  std::lock_guard lock(mu_);
  auto it = events_.find(key);
  if (it == events_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

void EventRecorder::Forget(const ObjectKey& key) {
  std::lock_guard lock(mu_);
  if (events_.erase(key) == 0) return;
  for (auto it = order_.begin(); it != order_.end(); ++it) {
    if (*it == key) {
      order_.erase(it);
      break;
    }
  }
}

}  // namespace tuna
