// REST API routes (docs/api.md). Reads go to the store; writes go through admission.

#include "api/api_handler.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>

#include "core/ids.hpp"
#include "core/metrics.hpp"
#include "net/status_response.hpp"
#include "resources/suggest.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/codec.hpp"

namespace json = boost::json;

namespace tuna::api {

using net::HttpRequest;
using net::HttpResponse;

std::string_view WatchEventName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
    case WatchEventType::kError: return "ERROR";
  }
  return "ERROR";
}

struct ApiHandler::Shared {
  std::atomic<std::size_t> open_watches{0};
  metrics::Gauge* watches_gauge = nullptr;
};

namespace {

constexpr std::string_view kPrefix = "/apis/tuna.ai/v1alpha1";
constexpr std::string_view kRouteCollection = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}";
constexpr std::string_view kRouteAllNamespaces = "/apis/tuna.ai/v1alpha1/{plural}";
constexpr std::string_view kRouteObject = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}/{name}";
constexpr std::string_view kRouteStatus = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}/{name}/status";

enum class Format { kJson, kYaml };

bool ContainsYaml(std::string_view v) {
  std::string lower(v);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("application/yaml") != std::string::npos || lower.find("application/x-yaml") != std::string::npos ||
         lower.find("text/yaml") != std::string::npos;
}

std::string MediaType(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string t(content_type.substr(0, semi));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  std::size_t i = 0;
  while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
  t = t.substr(i);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  return t;
}

// An error with the HTTP code it answers with (usually HttpStatusFor its StatusCode; 400, 405,
// 415 where the request itself is malformed rather than invalid).
struct ApiError {
  int http;
  Status status;
};

ApiError Err(const Status& s) { return {net::HttpStatusFor(s.code()), s}; }
ApiError BadRequest(std::string msg, std::string field = {}) {
  return {400, Status(StatusCode::kInvalidArgument, std::move(msg), std::move(field))};
}

template <typename T>
using ApiResult = std::variant<T, ApiError>;

// Per-request context: request id and response format.
struct Ctx {
  HttpRequest& req;
  std::string route;
  Format out = Format::kJson;

  HttpResponse Fail(const ApiError& e) const {
    auto r = net::StatusResponse(e.http, e.status, req.request_id);
    r.route = route;
    return r;
  }
  HttpResponse Fail(const Status& s) const { return Fail(Err(s)); }

  HttpResponse Reply(int code, const json::value& v) const {
    HttpResponse r;
    r.status = code;
    r.route = route;
    if (out == Format::kYaml) {
      r.content_type = "application/yaml";
      r.body = EncodeYamlValue(v);
    } else {
      r.body = json::serialize(v);
    }
    return r;
  }
  HttpResponse Reply(int code, const Resource& obj) const { return Reply(code, ResourceToJson(obj)); }
};

std::string PluralList() {
  std::string out;
  for (const auto& k : AllKinds()) {
    if (!out.empty()) out += ", ";
    out += k.plural;
  }
  return out;
}

ApiResult<const KindInfo*> KindForPlural(std::string_view plural) {
  for (const auto& k : AllKinds()) {
    if (k.plural == plural) return &k;
  }
  std::string msg = "the server could not find the requested resource type \"" + std::string(plural) + "\"";
  if (const KindInfo* near = FindKind(plural)) {
    msg += " (did you mean " + std::string(near->plural) + "?)";
  } else {
    std::vector<std::string_view> plurals;
    for (const auto& k : AllKinds()) plurals.push_back(k.plural);
    std::string s = internal::Suggest(plural, plurals);
    if (!s.empty()) msg += " (did you mean " + s + "?)";
  }
  msg += "; valid resource types: " + PluralList();
  return ApiError{404, NotFound(msg)};
}

// Parses a request body in its Content-Type's format into JSON. Syntax errors are 400 and name
// line and column.
ApiResult<json::value> ParseBody(const HttpRequest& req, bool allow_merge_patch) {
  std::string type = MediaType(req.Header("Content-Type"));
  bool yaml = ContainsYaml(type);
  bool json_type = type.empty() || type == "application/json" || (allow_merge_patch && type == "application/merge-patch+json");
  if (!yaml && !json_type) {
    std::string msg = "unsupported Content-Type \"" + type + "\": send application/json or application/yaml";
    if (allow_merge_patch) {
      msg = "unsupported patch Content-Type \"" + type +
            "\": only JSON merge patch is supported (application/merge-patch+json, or application/yaml)";
    }
    return ApiError{415, Status(StatusCode::kInvalidArgument, msg)};
  }
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return BadRequest("request body is empty");
  }
  if (yaml) {
    auto docs = ParseYamlDocuments(req.body, "request body");
    if (!docs.ok()) return ApiError{400, docs.status()};
    if (docs->size() != 1) {
      return BadRequest("request body: expected exactly one YAML document, got " + std::to_string(docs->size()));
    }
    return std::move((*docs)[0].value);
  }
  auto v = ParseJson(req.body, "request body");
  if (!v.ok()) return ApiError{400, v.status()};
  return std::move(*v);
}

// Checks the body's kind, namespace and name against the URL and fills what the body left empty.
std::optional<ApiError> MatchPath(Resource& obj, const KindInfo& kind, const std::string& ns, const std::string* name) {
  if (obj.kind != kind.kind) {
    return BadRequest("body kind \"" + obj.kind + "\" does not match the URL's resource type " +
                          std::string(kind.plural) + " (kind " + std::string(kind.kind) + ")",
                      "kind");
  }
  if (obj.metadata.namespace_.empty()) {
    obj.metadata.namespace_ = ns;
  } else if (obj.metadata.namespace_ != ns) {
    return BadRequest("metadata.namespace \"" + obj.metadata.namespace_ + "\" does not match the namespace in the URL \"" +
                          ns + "\"",
                      "metadata.namespace");
  }
  if (name != nullptr) {
    if (obj.metadata.name.empty()) {
      obj.metadata.name = *name;
    } else if (obj.metadata.name != *name) {
      return BadRequest("metadata.name \"" + obj.metadata.name + "\" does not match the name in the URL \"" + *name + "\"",
                        "metadata.name");
    }
  }
  if (obj.metadata.name.empty()) {
    return Err(InvalidArgument("metadata.name: required field is missing", "metadata.name"));
  }
  return std::nullopt;
}

ApiResult<Resource> DecodeBody(const HttpRequest& req, const KindInfo& kind, const std::string& ns,
                               const std::string* name) {
  auto parsed = ParseBody(req, false);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  auto obj = ResourceFromJson(std::get<json::value>(parsed));
  if (!obj.ok()) return Err(obj.status());
  if (auto e = MatchPath(*obj, kind, ns, name)) return *e;
  return std::move(*obj);
}

// dryRun=All runs admission without writing; any other value is refused like Kubernetes does.
ApiResult<bool> DryRun(const HttpRequest& req) {
  auto it = req.query.find("dryRun");
  if (it == req.query.end()) return false;
  if (it->second == "All") return true;
  return BadRequest("dryRun: unsupported value \"" + it->second + "\" (supported: All)", "dryRun");
}

ApiResult<std::int64_t> NonNegativeInt(const HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  if (it == req.query.end() || it->second.empty()) return std::int64_t{0};
  std::int64_t v = 0;
  const auto& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return BadRequest(key + ": expected a non-negative integer, got \"" + s + "\"", key);
  }
  return v;
}

bool IsTrue(const HttpRequest& req, const std::string& key) {
  auto v = req.QueryOr(key);
  return v == "true" || v == "1";
}

// ---- watch -----------------------------------------------------------------------------------

std::string EventLine(const WatchEvent& ev, std::string_view request_id) {
  std::string line = "{\"type\":\"";
  line += WatchEventName(ev.type);
  line += "\",\"object\":";
  if (ev.type == WatchEventType::kError) {
    Status st = ev.error.ok() ? Internal("watch failed") : ev.error;
    line += net::StatusBodyJson(net::HttpStatusFor(st.code()), st, request_id);
  } else {
    line += EncodeJson(ev.object);
  }
  line += "}\n";
  return line;
}

// Wakes a session from the store's notify callback. Holds the writer, never the session, so the
// session (and its Watch) is never destroyed on the store's thread inside its own callback.
struct Notifier {
  std::mutex mu;
  net::StreamWriterPtr writer;
  std::function<void()> pump;  // posted to the writer's I/O thread
  std::atomic<bool> pending{false};

  void Fire() {
    if (pending.exchange(true)) return;
    std::lock_guard lock(mu);
    if (writer && pump) writer->Post(pump);
  }
  void Clear() {
    std::lock_guard lock(mu);
    writer.reset();
    pump = nullptr;
  }
};

// One watch stream: pulls events from the store's Watch while the client's buffer has room,
// driven by the store's notify and the writer's OnWritable; no thread of its own.
class WatchSession : public std::enable_shared_from_this<WatchSession> {
 public:
  WatchSession(WatchPtr watch, std::shared_ptr<ApiHandler::Shared> shared, std::string request_id)
      : watch_(std::move(watch)), shared_(std::move(shared)), request_id_(std::move(request_id)),
        notifier_(std::make_shared<Notifier>()) {}

  ~WatchSession() {
    watch_->SetNotify(nullptr);
    watch_->Stop();
    notifier_->Clear();
    shared_->open_watches.fetch_sub(1);
    if (shared_->watches_gauge) shared_->watches_gauge->Dec();
  }

  void Start(net::StreamWriterPtr writer) {
    writer_ = writer;
    std::weak_ptr<WatchSession> weak = weak_from_this();
    {
      std::lock_guard lock(notifier_->mu);
      notifier_->writer = writer;
      notifier_->pump = [weak, n = std::weak_ptr<Notifier>(notifier_)] {
        if (auto nn = n.lock()) nn->pending = false;
        if (auto s = weak.lock()) s->Pump();
      };
    }
    writer->OnClose([self = shared_from_this()] { self->OnClosed(); });
    writer->OnWritable([weak] {
      if (auto s = weak.lock()) s->Pump();
    });
    watch_->SetNotify([n = notifier_] { n->Fire(); });
    Pump();
  }

 private:
  void Pump() {
    if (done_ || !writer_) return;
    constexpr int kBatch = 256;  // yield the I/O thread to other connections between batches
    for (int i = 0; i < kBatch; ++i) {
      if (writer_->closed()) {
        done_ = true;
        return;
      }
      // Leave room: resume from OnWritable rather than overflow (overflow ends the stream).
      if (writer_->buffered() >= writer_->capacity() / 2) return;
      auto ev = watch_->Next(std::chrono::milliseconds(0));
      if (!ev) {
        if (watch_->closed()) {
          for (auto& last : watch_->Drain()) {
            if (last.type != WatchEventType::kBookmark) writer_->Send(EventLine(last, request_id_));
          }
          Finish();
        }
        return;
      }
      if (ev->type == WatchEventType::kBookmark) continue;
      if (!writer_->Send(EventLine(*ev, request_id_))) {
        done_ = true;
        return;
      }
      if (ev->type == WatchEventType::kError) {
        Finish();
        return;
      }
    }
    notifier_->Fire();  // more may be queued: continue in a later turn
  }

  void Finish() {
    done_ = true;
    watch_->Stop();
    writer_->Close();
  }

  void OnClosed() {
    done_ = true;
    watch_->SetNotify(nullptr);
    watch_->Stop();
    notifier_->Clear();
  }

  WatchPtr watch_;
  std::shared_ptr<ApiHandler::Shared> shared_;
  std::string request_id_;
  std::shared_ptr<Notifier> notifier_;
  net::StreamWriterPtr writer_;
  bool done_ = false;  // touched on the connection's I/O thread only
};

}  // namespace

// ------------------------------------------------------------------------------------------------

ApiHandler::ApiHandler(Store& store, ApiOptions options)
    : store_(store), options_(std::move(options)), shared_(std::make_shared<Shared>()) {
  if (options_.metrics != nullptr) {
    shared_->watches_gauge = &options_.metrics->AddGauge("tuna_api_watches_open", "Open watch streams.").WithLabels({});
  }
}

ApiHandler::~ApiHandler() = default;

std::size_t ApiHandler::open_watches() const { return shared_->open_watches.load(); }

Result<auth::Principal> ApiHandler::Identify(const HttpRequest& req) const {
  TUNA_ASSIGN_OR_RETURN(std::string token, auth::BearerToken(req.Header("Authorization")));
  if (options_.keys != nullptr) return options_.keys->Authenticate(token);
  if (options_.admin_token.empty() || !core::ConstantTimeEquals(token, options_.admin_token)) {
    return Unauthenticated("invalid bearer token");
  }
  auth::Principal admin;
  admin.key_id = admin.name = "admin";
  admin.scope = auth::Scope::kAdmin;
  return admin;
}

Status ApiHandler::Authenticate(const HttpRequest& req) const { return Identify(req).status(); }

namespace {

json::value DiscoveryDocument() {
  json::array resources;
  for (const auto& k : AllKinds()) {
    json::object r;
    r["name"] = k.plural;
    r["singularName"] = k.singular;
    r["namespaced"] = k.namespaced;
    r["kind"] = k.kind;
    r["verbs"] = json::array{"create", "delete", "get", "list", "patch", "update", "watch"};
    json::array shorts;
    for (auto s : k.short_names) shorts.emplace_back(s);
    r["shortNames"] = std::move(shorts);
    resources.push_back(std::move(r));
    if (k.has_status) {
      json::object s;
      s["name"] = std::string(k.plural) + "/status";
      s["singularName"] = "";
      s["namespaced"] = k.namespaced;
      s["kind"] = k.kind;
      s["verbs"] = json::array{"get", "patch", "update"};
      resources.push_back(std::move(s));
    }
  }
  json::object doc;
  doc["kind"] = "APIResourceList";
  doc["apiVersion"] = "v1";
  doc["groupVersion"] = kApiVersion;
  doc["resources"] = std::move(resources);
  return doc;
}

json::value GroupList() {
  json::object version;
  version["groupVersion"] = kApiVersion;
  version["version"] = kVersion;
  json::object group;
  group["name"] = kGroup;
  group["versions"] = json::array{version};
  group["preferredVersion"] = version;
  json::object doc;
  doc["kind"] = "APIGroupList";
  doc["apiVersion"] = "v1";
  doc["groups"] = json::array{std::move(group)};
  return doc;
}

HttpResponse MethodNotAllowed(const Ctx& ctx, std::string_view allowed) {
  auto r = ctx.Fail(ApiError{405, Status(StatusCode::kInvalidArgument,
                                          "method " + ctx.req.method + " is not allowed on " + ctx.route +
                                              " (allowed: " + std::string(allowed) + ")")});
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

// The handlers proper; one object per request keeps the signatures short.
class Request {
 public:
  Request(Store& store, const ApiOptions& options, const std::shared_ptr<ApiHandler::Shared>& shared, Ctx& ctx)
      : store_(store), options_(options), shared_(shared), ctx_(ctx) {}

  HttpResponse List(const KindInfo& kind, const std::string& ns) {
    if (IsTrue(ctx_.req, "watch")) return WatchCollection(kind, ns);
    ListOptions opts;
    opts.kind = std::string(kind.kind);
    opts.namespace_ = ns;
    opts.label_selector = ctx_.req.QueryOr("labelSelector");
    auto limit = NonNegativeInt(ctx_.req, "limit");
    if (auto* e = std::get_if<ApiError>(&limit)) return ctx_.Fail(*e);
    opts.limit = std::get<std::int64_t>(limit);
    opts.continue_token = ctx_.req.QueryOr("continue");
    auto list = store_.List(opts);
    if (!list.ok()) return ctx_.Fail(list.status());
    json::array items;
    items.reserve(list->items.size());
    for (const auto& item : list->items) items.push_back(ResourceToJson(item));
    json::object meta;
    meta["resourceVersion"] = list->resource_version;
    if (!list->continue_token.empty()) meta["continue"] = list->continue_token;
    json::object doc;
    doc["apiVersion"] = kApiVersion;
    doc["kind"] = std::string(kind.kind) + "List";
    doc["metadata"] = std::move(meta);
    doc["items"] = std::move(items);
    return ctx_.Reply(200, doc);
  }

  HttpResponse Create(const KindInfo& kind, const std::string& ns) {
    auto dry = DryRun(ctx_.req);
    if (auto* e = std::get_if<ApiError>(&dry)) return ctx_.Fail(*e);
    auto decoded = DecodeBody(ctx_.req, kind, ns, nullptr);
    if (auto* e = std::get_if<ApiError>(&decoded)) return ctx_.Fail(*e);
    Resource obj = std::move(std::get<Resource>(decoded));
    if (!obj.metadata.resource_version.empty()) {
      return ctx_.Fail(InvalidArgument("metadata.resourceVersion: must not be set on objects to be created",
                                       "metadata.resourceVersion"));
    }
    if (std::get<bool>(dry)) {
      if (auto existing = store_.Get(KeyOf(obj)); existing.ok()) {
        return ctx_.Fail(AlreadyExists(ToString(KeyOf(obj)) + " already exists"));
      }
      Status st = AdmitObject(store_, obj, AdmissionOperation::kCreate);
      if (!st.ok()) return ctx_.Fail(st);
      obj.metadata.generation = 1;
      return ctx_.Reply(201, obj);
    }
    auto created = AdmittedCreate(store_, std::move(obj));
    if (!created.ok()) return ctx_.Fail(created.status());
    return ctx_.Reply(201, *created);
  }

  HttpResponse Get(const ObjectKey& key) {
    auto obj = store_.Get(key);
    if (!obj.ok()) return ctx_.Fail(obj.status());
    return ctx_.Reply(200, *obj);
  }

  HttpResponse Replace(const KindInfo& kind, const ObjectKey& key, Subresource sub) {
    auto dry = DryRun(ctx_.req);
    if (auto* e = std::get_if<ApiError>(&dry)) return ctx_.Fail(*e);
    auto decoded = DecodeBody(ctx_.req, kind, key.namespace_, &key.name);
    if (auto* e = std::get_if<ApiError>(&decoded)) return ctx_.Fail(*e);
    Resource obj = std::move(std::get<Resource>(decoded));
    if (std::get<bool>(dry)) {
      auto current = store_.Get(key);
      if (!current.ok()) return ctx_.Fail(current.status());
      if (!obj.metadata.resource_version.empty() && obj.metadata.resource_version != current->metadata.resource_version) {
        return ctx_.Fail(Conflict(StaleMessage(key, obj.metadata.resource_version, current->metadata.resource_version)));
      }
      Resource view = Merge(*current, obj, sub);
      Status st = AdmitObject(store_, view, AdmissionOperation::kUpdate);
      if (!st.ok()) return ctx_.Fail(st);
      return ctx_.Reply(200, view);
    }
    UpdateOptions opts;
    opts.subresource = sub;
    auto updated = AdmittedUpdate(store_, std::move(obj), opts);
    if (!updated.ok()) return ctx_.Fail(updated.status());
    return ctx_.Reply(200, *updated);
  }

  HttpResponse Patch(const KindInfo& kind, const ObjectKey& key, Subresource sub) {
    auto dry = DryRun(ctx_.req);
    if (auto* e = std::get_if<ApiError>(&dry)) return ctx_.Fail(*e);
    auto parsed = ParseBody(ctx_.req, true);
    if (auto* e = std::get_if<ApiError>(&parsed)) return ctx_.Fail(*e);
    const json::value& patch = std::get<json::value>(parsed);
    if (!patch.is_object()) {
      return ctx_.Fail(BadRequest("a JSON merge patch must be an object"));
    }
    if (auto e = CheckPatchIdentity(patch.get_object(), kind, key)) return ctx_.Fail(*e);
    std::string patch_text = json::serialize(patch);
    if (std::get<bool>(dry)) {
      auto current = store_.Get(key);
      if (!current.ok()) return ctx_.Fail(current.status());
      json::value doc = ResourceToJson(*current);
      Status st = ApplyMergePatch(doc, patch_text);
      if (!st.ok()) return ctx_.Fail(st);
      auto patched = ResourceFromJson(doc);
      if (!patched.ok()) return ctx_.Fail(patched.status());
      const auto& want_rv = patched->metadata.resource_version;
      if (want_rv != current->metadata.resource_version) {
        return ctx_.Fail(Conflict(StaleMessage(key, want_rv, current->metadata.resource_version)));
      }
      Resource view = Merge(*current, *patched, sub);
      st = AdmitObject(store_, view, AdmissionOperation::kUpdate);
      if (!st.ok()) return ctx_.Fail(st);
      return ctx_.Reply(200, view);
    }
    UpdateOptions opts;
    opts.subresource = sub;
    auto updated = AdmittedPatch(store_, key, patch_text, opts);
    if (!updated.ok()) return ctx_.Fail(updated.status());
    return ctx_.Reply(200, *updated);
  }

  HttpResponse Delete(const ObjectKey& key) {
    DeleteOptions opts;
    opts.precondition_resource_version = ctx_.req.QueryOr("resourceVersion");
    // A Kubernetes DeleteOptions body may carry the preconditions instead.
    if (ctx_.req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
      auto parsed = ParseBody(ctx_.req, false);
      if (auto* e = std::get_if<ApiError>(&parsed)) return ctx_.Fail(*e);
      const auto& v = std::get<json::value>(parsed);
      if (const auto* o = v.if_object()) {
        if (const auto* pre = o->if_contains("preconditions"); pre && pre->is_object()) {
          if (const auto* rv = pre->get_object().if_contains("resourceVersion"); rv && rv->is_string()) {
            opts.precondition_resource_version = std::string(rv->get_string());
          }
          if (const auto* uid = pre->get_object().if_contains("uid"); uid && uid->is_string()) {
            opts.precondition_uid = std::string(uid->get_string());
          }
        }
      }
    }
    auto dry = DryRun(ctx_.req);
    if (auto* e = std::get_if<ApiError>(&dry)) return ctx_.Fail(*e);
    if (std::get<bool>(dry)) {
      auto current = store_.Get(key);
      if (!current.ok()) return ctx_.Fail(current.status());
      if (!opts.precondition_resource_version.empty() &&
          opts.precondition_resource_version != current->metadata.resource_version) {
        return ctx_.Fail(Conflict(StaleMessage(key, opts.precondition_resource_version, current->metadata.resource_version)));
      }
      if (!opts.precondition_uid.empty() && opts.precondition_uid != current->metadata.uid) {
        return ctx_.Fail(Conflict("precondition failed: uid " + opts.precondition_uid + " does not match " +
                                  current->metadata.uid));
      }
      return ctx_.Reply(200, *current);
    }
    auto deleted = store_.Delete(key, opts);
    if (!deleted.ok()) return ctx_.Fail(deleted.status());
    return ctx_.Reply(200, *deleted);
  }

 private:
  static std::string StaleMessage(const ObjectKey& key, const std::string& sent, const std::string& current) {
    return "the object has been modified: " + ToString(key) + " is at resourceVersion " + current + ", not " + sent +
           "; read it again and retry";
  }

  // What an update would store: the main resource never changes status; the status sub-resource
  // changes only status. Server-owned metadata comes from the stored object.
  static Resource Merge(const Resource& current, const Resource& incoming, Subresource sub) {
    Resource out = current;
    if (sub == Subresource::kStatus) {
      out.status = incoming.status;
      return out;
    }
    out.metadata.labels = incoming.metadata.labels;
    out.metadata.annotations = incoming.metadata.annotations;
    out.metadata.owner_references = incoming.metadata.owner_references;
    if (incoming.spec != current.spec) out.metadata.generation = current.metadata.generation + 1;
    out.spec = incoming.spec;
    return out;
  }

  static std::optional<ApiError> CheckPatchIdentity(const json::object& patch, const KindInfo& kind, const ObjectKey& key) {
    if (const auto* k = patch.if_contains("kind"); k && !(k->is_string() && k->get_string() == kind.kind)) {
      return BadRequest("a patch cannot change kind", "kind");
    }
    if (const auto* a = patch.if_contains("apiVersion"); a && !(a->is_string() && a->get_string() == kApiVersion)) {
      return BadRequest("a patch cannot change apiVersion", "apiVersion");
    }
    if (const auto* m = patch.if_contains("metadata"); m && m->is_object()) {
      const auto& meta = m->get_object();
      if (const auto* n = meta.if_contains("name"); n && !(n->is_string() && n->get_string() == key.name)) {
        return BadRequest("metadata.name in the patch does not match the name in the URL \"" + key.name + "\"",
                          "metadata.name");
      }
      if (const auto* n = meta.if_contains("namespace"); n && !(n->is_string() && n->get_string() == key.namespace_)) {
        return BadRequest("metadata.namespace in the patch does not match the namespace in the URL \"" +
                              key.namespace_ + "\"",
                          "metadata.namespace");
      }
    }
    return std::nullopt;
  }

  HttpResponse WatchCollection(const KindInfo& kind, const std::string& ns) {
    ctx_.route += "?watch";
    auto timeout = NonNegativeInt(ctx_.req, "timeoutSeconds");
    if (auto* e = std::get_if<ApiError>(&timeout)) return ctx_.Fail(*e);
    // Count the watch before opening it so concurrent requests cannot overshoot the bound.
    if (shared_->open_watches.fetch_add(1) >= options_.max_watches) {
      shared_->open_watches.fetch_sub(1);
      return ctx_.Fail(ResourceExhausted("too many open watches (limit " + std::to_string(options_.max_watches) +
                                         "); retry later"));
    }
    if (shared_->watches_gauge) shared_->watches_gauge->Inc();
    // Until a session owns the count, release it on every early return.
    struct Slot {
      std::shared_ptr<ApiHandler::Shared> shared;
      ~Slot() {
        if (shared) {
          shared->open_watches.fetch_sub(1);
          if (shared->watches_gauge) shared->watches_gauge->Dec();
        }
      }
    } slot{shared_};

    WatchOptions opts;
    opts.kind = std::string(kind.kind);
    opts.namespace_ = ns;
    opts.label_selector = ctx_.req.QueryOr("labelSelector");
    opts.resource_version = ctx_.req.QueryOr("resourceVersion");
    auto watch = store_.Watch(opts);

    HttpResponse r;
    r.route = ctx_.route;
    r.content_type = "application/json";
    std::int64_t seconds = std::get<std::int64_t>(timeout);
    auto max = std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_watch_duration);
    r.stream_timeout = seconds > 0 ? std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds), max) : max;
    if (!watch.ok()) {
      if (watch.status().code() != StatusCode::kGone) return ctx_.Fail(watch.status());
      // Too old a resourceVersion: like Kubernetes, a 200 stream with one ERROR event.
      WatchEvent ev;
      ev.type = WatchEventType::kError;
      ev.error = watch.status();
      std::string line = EventLine(ev, ctx_.req.request_id);
      r.stream = [line](net::StreamWriterPtr w) {
        w->Send(line);
        w->Close();
      };
      return r;
    }
    slot.shared.reset();  // the session owns the count from here
    auto session = std::make_shared<WatchSession>(std::move(*watch), shared_, ctx_.req.request_id);
    r.stream = [session](net::StreamWriterPtr w) { session->Start(std::move(w)); };
    return r;
  }

  Store& store_;
  const ApiOptions& options_;
  const std::shared_ptr<ApiHandler::Shared>& shared_;
  Ctx& ctx_;
};

}  // namespace

HttpResponse ApiHandler::Handle(HttpRequest& req) {
  Ctx ctx{req, "/apis", ContainsYaml(req.Header("Accept")) ? Format::kYaml : Format::kJson};
  const auto& seg = req.segments;
  auto principal = Identify(req);
  if (!principal.ok()) return ctx.Fail(principal.status());  // before parsing anything: an unauthenticated request changes nothing

  if (seg.size() == 1 && seg[0] == "apis") {
    if (req.method != "GET") return MethodNotAllowed(ctx, "GET");
    return ctx.Reply(200, GroupList());
  }
  if (seg.size() < 3 || seg[0] != "apis" || seg[1] != kGroup || seg[2] != kVersion) {
    ctx.route = "other";
    return ctx.Fail(NotFound("no API at " + req.path + " (the API is served under " + std::string(kPrefix) + ")"));
  }
  if (seg.size() == 3) {
    ctx.route = std::string(kPrefix);
    if (req.method != "GET") return MethodNotAllowed(ctx, "GET");
    return ctx.Reply(200, DiscoveryDocument());
  }

  Request handler(store_, options_, shared_, ctx);
  if (seg.size() == 4) {  // every namespace
    ctx.route = std::string(kRouteAllNamespaces);
    auto kind = KindForPlural(seg[3]);
    if (auto* e = std::get_if<ApiError>(&kind)) return ctx.Fail(*e);
    if (req.method != "GET") return MethodNotAllowed(ctx, "GET");
    if (!principal->is_server_admin()) {
      return ctx.Fail(PermissionDenied("API key \"" + principal->name + "\" belongs to namespace " + principal->namespace_ +
                                       "; list under " + std::string(kPrefix) + "/namespaces/" + principal->namespace_ + "/" + seg[3]));
    }
    return handler.List(*std::get<const KindInfo*>(kind), "");
  }
  if (seg[3] != "namespaces" || seg.size() < 6 || seg.size() > 8) {
    ctx.route = "other";
    return ctx.Fail(NotFound("no API at " + req.path));
  }
  const std::string& ns = seg[4];
  auto kind_or = KindForPlural(seg[5]);
  ctx.route = std::string(seg.size() == 6 ? kRouteCollection : seg.size() == 7 ? kRouteObject : kRouteStatus);
  if (auto* e = std::get_if<ApiError>(&kind_or)) return ctx.Fail(*e);
  const KindInfo& kind = *std::get<const KindInfo*>(kind_or);
  if (ns.empty()) return ctx.Fail(BadRequest("namespace in the URL is empty"));
  // Reads need invoke, writes need write, status writes (the controllers' part) need admin.
  auth::Scope needed = req.method == "GET" ? auth::Scope::kInvoke : seg.size() == 8 ? auth::Scope::kAdmin : auth::Scope::kWrite;
  if (Status allowed = principal->Check(ns, needed); !allowed.ok()) return ctx.Fail(allowed);

  if (seg.size() == 6) {
    if (req.method == "GET") return handler.List(kind, ns);
    if (req.method == "POST") return handler.Create(kind, ns);
    return MethodNotAllowed(ctx, "GET, POST");
  }
  ObjectKey key{std::string(kind.kind), ns, seg[6]};
  if (key.name.empty()) return ctx.Fail(BadRequest("name in the URL is empty"));
  if (seg.size() == 7) {
    if (req.method == "GET") return handler.Get(key);
    if (req.method == "PUT") return handler.Replace(kind, key, Subresource::kMain);
    if (req.method == "PATCH") return handler.Patch(kind, key, Subresource::kMain);
    if (req.method == "DELETE") return handler.Delete(key);
    return MethodNotAllowed(ctx, "GET, PUT, PATCH, DELETE");
  }
  if (seg[7] != "status") {
    ctx.route = "other";
    return ctx.Fail(NotFound("unknown sub-resource \"" + seg[7] + "\" (only status exists)"));
  }
  if (req.method == "GET") return handler.Get(key);
  if (req.method == "PUT") return handler.Replace(kind, key, Subresource::kStatus);
  if (req.method == "PATCH") return handler.Patch(kind, key, Subresource::kStatus);
  return MethodNotAllowed(ctx, "GET, PUT, PATCH");
}

}  // namespace tuna::api
