#pragma once
// A small in-test Store following the documented contract of tuna/store.hpp for what admission
// uses (Get, List, Create, Update with resourceVersion compare-and-swap and the status
// sub-resource, Delete with cascade). Watch and Patch are not needed by admission and answer
// Unimplemented. Hooks let tests inject concurrent writes and failures.
// To be replaced by MakeMemoryStore() once the store branch is merged.

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "tuna/store.hpp"

namespace tuna::testing {

class FakeStore : public Store {
 public:
  /// Called at the start of every Update, before the compare-and-swap (simulates a racing writer).
  std::function<void(FakeStore&, const Resource&)> before_update;
  /// When set, the next Create fails with this status.
  std::optional<Status> fail_next_create;
  int creates = 0;
  int updates = 0;

  Result<Resource> Get(const ObjectKey& key) override {
    auto it = objects_.find(key);
    if (it == objects_.end()) return NotFound(ToString(key) + " not found");
    return it->second;
  }

  Result<ResourceList> List(const ListOptions& options) override {
    if (!options.label_selector.empty()) return Unimplemented("fake store: label selectors");
    ResourceList out;
    for (const auto& [key, r] : objects_) {
      if (key.kind == options.kind && (options.namespace_.empty() || key.namespace_ == options.namespace_)) {
        out.items.push_back(r);
      }
    }
    out.resource_version = std::to_string(revision_);
    return out;
  }

  Result<Resource> Create(Resource object) override {
    if (fail_next_create) {
      Status s = *fail_next_create;
      fail_next_create.reset();
      return s;
    }
    if (!object.metadata.resource_version.empty()) return InvalidArgument("metadata.resourceVersion: must be empty on create");
    auto key = KeyOf(object);
    if (objects_.count(key)) return AlreadyExists(ToString(key) + " already exists");
    ++creates;
    object.metadata.uid = "uid-" + std::to_string(++next_uid_);
    object.metadata.resource_version = std::to_string(++revision_);
    object.metadata.generation = 1;
    object.metadata.creation_timestamp = NowRfc3339();
    objects_[key] = object;
    return object;
  }

  Result<Resource> Update(Resource object, UpdateOptions options = {}) override {
    if (before_update) {
      auto hook = std::move(before_update);
      before_update = nullptr;  // one shot: the hook's own writes do not recurse
      hook(*this, object);
    }
    auto it = objects_.find(KeyOf(object));
    if (it == objects_.end()) return NotFound(ToString(KeyOf(object)) + " not found");
    Resource& stored = it->second;
    if (!object.metadata.resource_version.empty() && object.metadata.resource_version != stored.metadata.resource_version) {
      return Conflict(ToString(KeyOf(object)) + ": resourceVersion " + object.metadata.resource_version +
                      " is stale (current " + stored.metadata.resource_version + ")");
    }
    ++updates;
    Resource next = stored;
    if (options.subresource == Subresource::kStatus) {
      next.status = object.status;
    } else {
      next.metadata.labels = object.metadata.labels;
      next.metadata.annotations = object.metadata.annotations;
      next.metadata.owner_references = object.metadata.owner_references;
      if (object.spec != stored.spec) ++next.metadata.generation;
      next.spec = object.spec;
    }
    next.metadata.resource_version = std::to_string(++revision_);
    stored = next;
    return next;
  }

  Result<Resource> Patch(const ObjectKey&, std::string_view, UpdateOptions = {}) override {
    return Unimplemented("fake store: Patch (admission patches through Get + Update)");
  }

  Result<Resource> Delete(const ObjectKey& key, DeleteOptions options = {}) override {
    auto it = objects_.find(key);
    if (it == objects_.end()) return NotFound(ToString(key) + " not found");
    if (!options.precondition_uid.empty() && options.precondition_uid != it->second.metadata.uid) {
      return Conflict("uid precondition failed");
    }
    Resource gone = it->second;
    objects_.erase(it);
    ++revision_;
    // Cascade to owned objects.
    std::vector<ObjectKey> owned;
    for (const auto& [k, r] : objects_) {
      for (const auto& ref : r.metadata.owner_references) {
        if (ref.uid == gone.metadata.uid) owned.push_back(k);
      }
    }
    for (const auto& k : owned) (void)Delete(k);
    return gone;
  }

  Result<WatchPtr> Watch(const WatchOptions&) override { return Unimplemented("fake store: Watch"); }

  StoreStats Stats() override {
    return {static_cast<std::int64_t>(objects_.size()), revision_, 0};
  }

  /// Writes an object straight into the map (a racing writer), bumping the revision.
  void Put(Resource r) {
    r.metadata.resource_version = std::to_string(++revision_);
    if (r.metadata.uid.empty()) r.metadata.uid = "uid-" + std::to_string(++next_uid_);
    objects_[KeyOf(r)] = std::move(r);
  }

 private:
  std::map<ObjectKey, Resource> objects_;
  std::int64_t revision_ = 0;
  int next_uid_ = 0;
};

}  // namespace tuna::testing
