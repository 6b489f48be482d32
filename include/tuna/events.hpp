#pragma once
/// Kubernetes-style events: what controllers did to an object and why ("Created build x",
/// "Deployed revision y", "Build failed: ..."). Kept in memory per object, bounded, like the short
/// retention of Kubernetes events; `tuna describe` shows them.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tuna/resources/object.hpp"

namespace tuna {

struct ObjectEvent {
  std::string type;     // "Normal" or "Warning"
  std::string reason;   // CamelCase
  std::string message;
  std::int64_t count = 1;  // repeats of the same (type, reason, message) are folded
  std::string first_timestamp;  // RFC 3339
  std::string last_timestamp;   // RFC 3339
  bool operator==(const ObjectEvent&) const = default;
};

/// Thread-safe, bounded store of recent events per object.
class EventRecorder {
 public:
  explicit EventRecorder(std::size_t per_object = 30, std::size_t max_objects = 20000)
      : per_object_(per_object), max_objects_(max_objects) {}

  /// Records an event; a repeat of the latest one bumps its count and last timestamp.
  void Record(const ObjectKey& key, std::string type, std::string reason, std::string message);
  /// Events of an object, oldest first.
  std::vector<ObjectEvent> List(const ObjectKey& key) const;
  /// Drops an object's events (it was deleted).
  void Forget(const ObjectKey& key);

 private:
  std::size_t per_object_;
  std::size_t max_objects_;
  mutable std::mutex mu_;
  std::map<ObjectKey, std::deque<ObjectEvent>> events_;
  std::deque<ObjectKey> order_;  // first-recorded order, for eviction
};

}  // namespace tuna
