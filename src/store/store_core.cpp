// The generic Store core: Kubernetes object semantics over a raw backend.

#include "store/store_core.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <random>
#include <set>

#include "core/ids.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna {

std::string_view WatchEventTypeName(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
    case WatchEventType::kError: return "ERROR";
  }
  return "UNKNOWN";
}

namespace store_internal {
namespace {

// Runs `f`, turning any exception into an Internal status: nothing throws across the API.
template <typename F>
auto Guarded(std::string_view op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    spdlog::error("store {}: unexpected exception: {}", op, e.what());
    return Internal("store " + std::string(op) + ": " + e.what());
  } catch (...) {
    spdlog::error("store {}: unexpected exception", op);
    return Internal("store " + std::string(op) + ": unexpected exception");
  }
}

Status CheckKind(const std::string& kind, const KindInfo** info_out = nullptr) {
  if (kind.empty()) return InvalidArgument("kind: required field is missing", "kind");
  const KindInfo* info = FindKind(kind);
  if (info == nullptr || info->kind != kind) {
    std::string msg = "kind: unknown kind \"" + kind + "\"";
    if (info != nullptr) msg += " (did you mean " + std::string(info->kind) + "?)";
    return InvalidArgument(msg, "kind");
  }
  if (info_out != nullptr) *info_out = info;
  return {};
}

Status CheckKey(const ObjectKey& key) {
  const KindInfo* info = nullptr;
  TUNA_RETURN_IF_ERROR(CheckKind(key.kind, &info));
  if (key.name.empty()) return InvalidArgument("metadata.name: required field is missing", "metadata.name");
  if (info->namespaced && key.namespace_.empty()) {
    return InvalidArgument("metadata.namespace: required field is missing", "metadata.namespace");
  }
  if (!info->namespaced && !key.namespace_.empty()) {
    return InvalidArgument("metadata.namespace: must be empty for cluster-scoped kind " + key.kind,
                           "metadata.namespace");
  }
  return {};
}

Status ConflictModified(const ObjectKey& key) {
  return Conflict("Operation cannot be fulfilled on " + ToString(key) +
                  ": the object has been modified; please apply your changes to the latest version and try "
                  "again");
}

Status PreconditionFailed(const ObjectKey& key, std::string_view what, const std::string& want,
                          const std::string& have) {
  return Conflict("Operation cannot be fulfilled on " + ToString(key) + ": Precondition failed: " +
                  std::string(what) + " in precondition: " + want + ", " + std::string(what) +
                  " in object meta: " + have);
}

ChangeEventPtr MakeEvent(WatchEventType type, std::int64_t revision, Resource object,
                         std::map<std::string, std::string> prev_labels = {}) {
  auto e = std::make_shared<ChangeEvent>();
  e->type = type;
  e->revision = revision;
  e->object = std::move(object);
  e->prev_labels = std::move(prev_labels);
  return e;
}

std::optional<std::int64_t> ParseRevision(std::string_view s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(buf >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kBase64Url[(buf << (6 - bits)) & 0x3f];
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string out;
  std::uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    auto pos = kBase64Url.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    buf = (buf << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

NotifyList::~NotifyList() {
  for (auto& w : watchers_) {
    try {
      w->CallNotify();
    } catch (const std::exception& e) {
      spdlog::error("store: watch notify callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("store: watch notify callback threw");
    }
  }
}

std::string NewUuidV4() {
  // Ids need uniqueness, not secrecy: the per-thread generator (reseeded after fork).
  std::uint64_t hi = core::FastRandom64(), lo = core::FastRandom64();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string EncodeContinueToken(std::int64_t revision, const std::string& kind, const std::string& namespace_,
                                const std::string& name) {
  boost::json::object o;
  o["rv"] = revision;
  o["kind"] = kind;
  o["ns"] = namespace_;
  o["name"] = name;
  return Base64UrlEncode(boost::json::serialize(o));
}

Result<ContinuePosition> DecodeContinueToken(std::string_view token) {
  auto bad = [] { return InvalidArgument("continue: malformed continue token", "continue"); };
  auto text = Base64UrlDecode(token);
  if (!text) return bad();
  boost::system::error_code ec;
  auto v = boost::json::parse(*text, ec);
  if (ec || !v.is_object()) return bad();
  const auto& o = v.get_object();
  auto str = [&](std::string_view k) -> const boost::json::string* {
    auto* p = o.if_contains(k);
    return p != nullptr && p->is_string() ? &p->get_string() : nullptr;
  };
  const auto* rv = o.if_contains("rv");
  if (rv == nullptr || !rv->is_int64() || rv->get_int64() < 0) return bad();
  if (!str("kind") || !str("ns") || !str("name") || o.size() != 4) return bad();
  ContinuePosition pos;
  pos.revision = rv->get_int64();
  pos.kind = std::string(*str("kind"));
  pos.namespace_ = std::string(*str("ns"));
  pos.name = std::string(*str("name"));
  return pos;
}

// --- lifecycle ---------------------------------------------------------------------------------

StoreCore::~StoreCore() { Shutdown(); }

Status StoreCore::Init() {
  TUNA_ASSIGN_OR_RETURN(std::int64_t revision, DoRevision());
  TUNA_ASSIGN_OR_RETURN(std::int64_t count, DoCount());
  revision_ = revision;
  objects_ = count;
  // After a restart the window starts empty at the current revision: a watch from an older
  // revision is Gone, like etcd after compaction, and the client relists.
  hub_ = std::make_shared<EventHub>(options_.event_window, options_.watcher_queue_limit, revision);
  return {};
}

void StoreCore::Shutdown() {
  if (hub_) hub_->CloseAll();
}

// --- reads -------------------------------------------------------------------------------------

Result<Resource> StoreCore::Get(const ObjectKey& key) {
  return Guarded("get", [&]() -> Result<Resource> {
    TUNA_RETURN_IF_ERROR(CheckKey(key));
    TUNA_ASSIGN_OR_RETURN(auto found, DoGet(key));
    if (!found) return NotFound(ToString(key) + " not found");
    return std::move(*found);
  });
}

Result<ResourceList> StoreCore::List(const ListOptions& options) {
  return Guarded("list", [&]() -> Result<ResourceList> {
    TUNA_RETURN_IF_ERROR(CheckKind(options.kind));
    TUNA_ASSIGN_OR_RETURN(auto selector, LabelSelector::Parse(options.label_selector));
    if (options.limit < 0) return InvalidArgument("limit: must not be negative", "limit");
    ListQuery query;
    query.kind = options.kind;
    query.namespace_ = options.namespace_;
    query.limit = static_cast<std::size_t>(options.limit);
    if (!selector.empty()) {
      query.filter = [&selector](const Resource& r) { return selector.Matches(r.metadata.labels); };
    }
    std::optional<std::int64_t> token_revision;
    if (!options.continue_token.empty()) {
      TUNA_ASSIGN_OR_RETURN(auto pos, DecodeContinueToken(options.continue_token));
      if (pos.kind != options.kind || (!options.namespace_.empty() && pos.namespace_ != options.namespace_)) {
        return InvalidArgument("continue: the continue token belongs to a different list", "continue");
      }
      query.after = std::pair(pos.namespace_, pos.name);
      token_revision = pos.revision;
    }
    TUNA_ASSIGN_OR_RETURN(auto page, DoList(query));
    ResourceList out;
    // Later pages read the current state (there is no MVCC history to read an old revision);
    // they keep the first page's revision so a watch from it misses no change made meanwhile.
    std::int64_t revision = token_revision.value_or(page.revision);
    out.resource_version = std::to_string(revision);
    if (page.more && !page.items.empty()) {
      const auto& last = page.items.back().metadata;
      out.continue_token = EncodeContinueToken(revision, options.kind, last.namespace_, last.name);
    }
    out.items = std::move(page.items);
    return out;
  });
}

StoreStats StoreCore::Stats() {
  StoreStats s;
  s.objects = objects_.load();
  s.revision = revision_.load();
  s.watchers = hub_ ? hub_->watchers() : 0;
  return s;
}

// --- writes ------------------------------------------------------------------------------------

Status StoreCore::CommitLocked(WriteTxn& txn, std::int64_t revision, std::vector<ChangeEventPtr> events,
                               NotifyList& notify) {
  TUNA_RETURN_IF_ERROR(txn.Commit(revision));
  revision_ = revision;
  notify.watchers() = hub_->Publish(std::move(events));
  return {};
}

Result<Resource> StoreCore::Create(Resource object) {
  return Guarded("create", [&]() -> Result<Resource> {
    const ObjectKey key = KeyOf(object);
    TUNA_RETURN_IF_ERROR(CheckKey(key));
    if (object.api_version.empty()) object.api_version = std::string(kApiVersion);
    if (object.api_version != kApiVersion) {
      return InvalidArgument("apiVersion: unsupported \"" + object.api_version + "\" (expected " +
                                 std::string(kApiVersion) + ")",
                             "apiVersion");
    }
    if (!object.metadata.resource_version.empty()) {
      return InvalidArgument("metadata.resourceVersion: must not be set on create", "metadata.resourceVersion");
    }
    object.metadata.uid = NewUuidV4();
    object.metadata.generation = 1;
    object.metadata.creation_timestamp = NowRfc3339();
    object.metadata.deletion_timestamp.clear();

    NotifyList notify;
    std::lock_guard lock(write_mu_);
    TUNA_ASSIGN_OR_RETURN(auto txn, DoBeginWrite());
    TUNA_ASSIGN_OR_RETURN(auto existing, txn->Get(key));
    if (existing) return AlreadyExists(ToString(key) + " already exists");
    const std::int64_t revision = revision_ + 1;
    object.metadata.resource_version = std::to_string(revision);
    TUNA_RETURN_IF_ERROR(txn->Insert(object));
    TUNA_RETURN_IF_ERROR(CommitLocked(*txn, revision, {MakeEvent(WatchEventType::kAdded, revision, object)}, notify));
    objects_ += 1;
    return std::move(object);
  });
}

Result<Resource> StoreCore::UpdateLocked(WriteTxn& txn, const Resource& stored, Resource object,
                                         Subresource subresource, NotifyList& notify) {
  const ObjectKey key = KeyOf(stored);
  const auto& meta = object.metadata;
  if (!meta.resource_version.empty() && meta.resource_version != stored.metadata.resource_version) {
    return ConflictModified(key);
  }
  if (!meta.uid.empty() && meta.uid != stored.metadata.uid) {
    return PreconditionFailed(key, "UID", meta.uid, stored.metadata.uid);
  }
  Resource next = stored;
  if (subresource == Subresource::kMain) {
    next.spec = std::move(object.spec);
    next.metadata.labels = std::move(object.metadata.labels);
    next.metadata.annotations = std::move(object.metadata.annotations);
    next.metadata.owner_references = std::move(object.metadata.owner_references);
    if (next.spec != stored.spec) next.metadata.generation = stored.metadata.generation + 1;
  } else {
    next.status = std::move(object.status);
  }
  // Kubernetes: a write that changes nothing keeps the resourceVersion and emits no event.
  if (next == stored) return next;
  const std::int64_t revision = revision_ + 1;
  next.metadata.resource_version = std::to_string(revision);
  TUNA_RETURN_IF_ERROR(txn.Replace(stored, next));
  TUNA_RETURN_IF_ERROR(CommitLocked(
      txn, revision, {MakeEvent(WatchEventType::kModified, revision, next, stored.metadata.labels)}, notify));
  return next;
}

Result<Resource> StoreCore::Update(Resource object, UpdateOptions options) {
  return Guarded("update", [&]() -> Result<Resource> {
    const ObjectKey key = KeyOf(object);
    TUNA_RETURN_IF_ERROR(CheckKey(key));
    NotifyList notify;
    std::lock_guard lock(write_mu_);
    TUNA_ASSIGN_OR_RETURN(auto txn, DoBeginWrite());
    TUNA_ASSIGN_OR_RETURN(auto stored, txn->Get(key));
    if (!stored) return NotFound(ToString(key) + " not found");
    return UpdateLocked(*txn, *stored, std::move(object), options.subresource, notify);
  });
}

Result<Resource> StoreCore::Patch(const ObjectKey& key, std::string_view merge_patch, UpdateOptions options) {
  return Guarded("patch", [&]() -> Result<Resource> {
    TUNA_RETURN_IF_ERROR(CheckKey(key));
    NotifyList notify;
    std::lock_guard lock(write_mu_);
    TUNA_ASSIGN_OR_RETURN(auto txn, DoBeginWrite());
    TUNA_ASSIGN_OR_RETURN(auto stored, txn->Get(key));
    if (!stored) return NotFound(ToString(key) + " not found");
    boost::json::value doc = ResourceToJson(*stored);
    TUNA_RETURN_IF_ERROR(ApplyMergePatch(doc, merge_patch));
    auto patched = ResourceFromJson(doc);
    if (!patched.ok()) return patched.status().WithContext("patched object");
    if (KeyOf(*patched) != key) {
      return InvalidArgument("a patch cannot change kind, metadata.namespace or metadata.name");
    }
    // A resourceVersion set by the patch survives the merge and acts as a precondition.
    return UpdateLocked(*txn, *stored, std::move(*patched), options.subresource, notify);
  });
}

Result<Resource> StoreCore::Delete(const ObjectKey& key, DeleteOptions options) {
  return Guarded("delete", [&]() -> Result<Resource> {
    TUNA_RETURN_IF_ERROR(CheckKey(key));
    NotifyList notify;
    std::lock_guard lock(write_mu_);
    TUNA_ASSIGN_OR_RETURN(auto txn, DoBeginWrite());
    TUNA_ASSIGN_OR_RETURN(auto stored, txn->Get(key));
    if (!stored) return NotFound(ToString(key) + " not found");
    const auto& meta = stored->metadata;
    if (!options.precondition_resource_version.empty() &&
        options.precondition_resource_version != meta.resource_version) {
      return PreconditionFailed(key, "ResourceVersion", options.precondition_resource_version,
                                meta.resource_version);
    }
    if (!options.precondition_uid.empty() && options.precondition_uid != meta.uid) {
      return PreconditionFailed(key, "UID", options.precondition_uid, meta.uid);
    }
    // Breadth-first over ownerReferences (same namespace, like Kubernetes); `seen` guards cycles.
    std::vector<Resource> doomed{std::move(*stored)};
    std::set<ObjectKey> seen{key};
    for (std::size_t i = 0; i < doomed.size(); ++i) {
      if (doomed[i].metadata.uid.empty()) continue;
      TUNA_ASSIGN_OR_RETURN(auto dependents,
                            txn->Dependents(doomed[i].metadata.namespace_, doomed[i].metadata.uid));
      for (auto& dep : dependents) {
        if (!seen.insert(dep).second) continue;
        TUNA_ASSIGN_OR_RETURN(auto obj, txn->Get(dep));
        if (obj) doomed.push_back(std::move(*obj));
      }
    }
    const std::int64_t revision = revision_ + 1;
    for (const auto& obj : doomed) TUNA_RETURN_IF_ERROR(txn->Remove(obj));
    std::vector<ChangeEventPtr> events;
    // Dependents first, the owner last, as a foreground deletion would order them.
    for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {
      it->metadata.resource_version = std::to_string(revision);
      events.push_back(MakeEvent(WatchEventType::kDeleted, revision, *it));
    }
    TUNA_RETURN_IF_ERROR(CommitLocked(*txn, revision, std::move(events), notify));
    objects_ -= static_cast<std::int64_t>(doomed.size());
    return std::move(doomed.front());
  });
}

// --- watch -------------------------------------------------------------------------------------

Result<WatchPtr> StoreCore::Watch(const WatchOptions& options) {
  return Guarded("watch", [&]() -> Result<WatchPtr> {
    if (!options.kind.empty()) TUNA_RETURN_IF_ERROR(CheckKind(options.kind));
    TUNA_ASSIGN_OR_RETURN(auto selector, LabelSelector::Parse(options.label_selector));
    WatchFilter filter{options.kind, options.namespace_, options.name, selector};
    const std::string& rv = options.resource_version;
    if (!rv.empty() && rv != "0") {
      auto from = ParseRevision(rv);
      if (!from) {
        return InvalidArgument("resourceVersion: invalid value \"" + rv + "\" (expected a decimal revision)",
                               "resourceVersion");
      }
      return hub_->Register(std::move(filter), *from, {});
    }
    if (!options.send_initial_events) return hub_->Register(std::move(filter), -1, {});
    // List then watch from the list's revision. The hub replays window events newer than the
    // snapshot and drops older live ones, so nothing is lost or doubled; a snapshot that fell
    // out of the window while being read (a write storm) is retried.
    for (int attempt = 0;; ++attempt) {
      ListQuery query;
      query.kind = options.kind;
      query.namespace_ = options.namespace_;
      query.filter = [&](const Resource& r) {
        return (options.name.empty() || r.metadata.name == options.name) && selector.Matches(r.metadata.labels);
      };
      TUNA_ASSIGN_OR_RETURN(auto page, DoList(query));
      std::vector<ChangeEventPtr> initial;
      initial.reserve(page.items.size());
      for (auto& item : page.items) {
        auto item_revision = ParseRevision(item.metadata.resource_version).value_or(0);
        initial.push_back(MakeEvent(WatchEventType::kAdded, item_revision, std::move(item)));
      }
      auto watch = hub_->Register(filter, page.revision, std::move(initial));
      if (watch.ok() || watch.status().code() != StatusCode::kGone || attempt == 2) return watch;
    }
  });
}

}  // namespace store_internal
}  // namespace tuna
