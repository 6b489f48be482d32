#include "tuna/client.hpp"

#include <boost/json.hpp>

#include <array>

#include "client/http.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna {
namespace json = boost::json;
using internal::HttpRequest;
using internal::HttpResponse;
using internal::UrlEncode;

namespace {

constexpr std::string_view kApiPrefix = "/apis/tuna.ai/v1alpha1";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kMergePatch = "application/merge-patch+json";

constexpr std::array kAllCodes = {
    StatusCode::kInvalidArgument, StatusCode::kNotFound,         StatusCode::kAlreadyExists,
    StatusCode::kConflict,        StatusCode::kGone,             StatusCode::kUnauthenticated,
    StatusCode::kPermissionDenied, StatusCode::kResourceExhausted, StatusCode::kFailedPrecondition,
    StatusCode::kDeadlineExceeded, StatusCode::kUnavailable,     StatusCode::kCancelled,
    StatusCode::kUnimplemented,   StatusCode::kInternal,
};

StatusCode CodeFromHttp(int http) {
  switch (http) {
    case 400: case 422: return StatusCode::kInvalidArgument;
    case 401: return StatusCode::kUnauthenticated;
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 409: return StatusCode::kConflict;
    case 410: return StatusCode::kGone;
    case 412: return StatusCode::kFailedPrecondition;
    case 413: case 429: return StatusCode::kResourceExhausted;
    case 499: return StatusCode::kCancelled;
    case 501: return StatusCode::kUnimplemented;
    case 502: case 503: return StatusCode::kUnavailable;
    case 504: return StatusCode::kDeadlineExceeded;
    default: return http >= 400 && http < 500 ? StatusCode::kInvalidArgument : StatusCode::kInternal;
  }
}

std::string StringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

HttpRequest Req(std::string method, std::string target, std::string body = {}, std::string content_type = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

const KindInfo* KindOrNull(std::string_view kind) { return FindKind(kind); }

Status UnknownKind(std::string_view kind) {
  return InvalidArgument("unknown kind \"" + std::string(kind) + "\"", "kind");
}

std::string CollectionPath(const KindInfo& info, std::string_view ns) {
  std::string path(kApiPrefix);
  if (!ns.empty()) {
    path += "/namespaces/";
    path += UrlEncode(ns);
  }
  path += '/';
  path += info.plural;
  return path;
}

std::string ObjectPath(const KindInfo& info, std::string_view ns, std::string_view name,
                       Subresource sub = Subresource::kMain) {
  std::string path = CollectionPath(info, ns.empty() ? std::string_view("default") : ns);
  path += '/';
  path += UrlEncode(name);
  if (sub == Subresource::kStatus) path += "/status";
  return path;
}

void AddQuery(std::string& target, std::string_view key, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += key;
  target += '=';
  target += UrlEncode(value);
}

Result<json::value> ParseBody(const HttpResponse& r, std::string_view what) {
  auto v = ParseJson(r.body, what);
  if (!v.ok()) return Internal("server sent an unreadable " + std::string(what) + ": " + v.status().message());
  return v;
}

Result<Resource> ResourceFromBody(const HttpResponse& r) {
  TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "object"));
  auto res = ResourceFromJson(v);
  if (!res.ok()) return Internal("server sent an object the client cannot read: " + res.status().message());
  return res;
}

// List items may omit apiVersion and kind (as in Kubernetes); fill them from the list's kind.
Result<Resource> ItemFromJson(json::value item, std::string_view kind) {
  if (item.is_object()) {
    auto& o = item.get_object();
    if (!o.contains("apiVersion")) o["apiVersion"] = kApiVersion;
    if (!o.contains("kind")) o["kind"] = kind;
  }
  return ResourceFromJson(item);
}

Result<Resource> EventObject(const json::value& object, WatchEventType type) {
  auto r = ResourceFromJson(object);
  if (r.ok() || type != WatchEventType::kBookmark) return r;
  // A bookmark may carry only kind and metadata.resourceVersion.
  Resource bookmark;
  if (object.is_object()) {
    const auto& o = object.get_object();
    bookmark.kind = StringField(o, "kind");
    if (auto it = o.find("metadata"); it != o.end() && it->value().is_object()) {
      bookmark.metadata.resource_version = StringField(it->value().get_object(), "resourceVersion");
    }
  }
  return bookmark;
}

class HttpClient final : public Client {
 public:
  explicit HttpClient(ClientOptions options) : transport_(std::move(options)) {}

  const std::string& server() const override { return transport_.server(); }

  Result<Resource> Get(const ObjectKey& key) override {
    const KindInfo* info = KindOrNull(key.kind);
    if (info == nullptr) return UnknownKind(key.kind);
    if (key.name.empty()) return InvalidArgument("metadata.name: required", "metadata.name");
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", ObjectPath(*info, key.namespace_, key.name))));
    return ResourceFromBody(r);
  }

  Result<ResourceList> List(const ListOptions& options) override {
    const KindInfo* info = KindOrNull(options.kind);
    if (info == nullptr) return UnknownKind(options.kind);
    std::string target = CollectionPath(*info, options.namespace_);
    if (!options.label_selector.empty()) AddQuery(target, "labelSelector", options.label_selector);
    if (options.limit > 0) AddQuery(target, "limit", std::to_string(options.limit));
    if (!options.continue_token.empty()) AddQuery(target, "continue", options.continue_token);
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", target)));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "list"));
    if (!v.is_object()) return Internal("server sent a list that is not a JSON object");
    const auto& o = v.get_object();
    ResourceList list;
    if (auto it = o.find("metadata"); it != o.end() && it->value().is_object()) {
      list.resource_version = StringField(it->value().get_object(), "resourceVersion");
      list.continue_token = StringField(it->value().get_object(), "continue");
    }
    if (auto it = o.find("items"); it != o.end() && it->value().is_array()) {
      for (const auto& item : it->value().get_array()) {
        auto res = ItemFromJson(item, info->kind);
        if (!res.ok()) return Internal("server sent a list item the client cannot read: " + res.status().message());
        list.items.push_back(std::move(res).value());
      }
    }
    return list;
  }

  Result<ResourceList> ListAll(const ListOptions& options) override {
    ListOptions page = options;
    ResourceList all;
    for (int pages = 0;; ++pages) {
      TUNA_ASSIGN_OR_RETURN(auto list, List(page));
      if (pages == 0) all.resource_version = list.resource_version;
      for (auto& item : list.items) all.items.push_back(std::move(item));
      if (list.continue_token.empty()) break;
      if (list.continue_token == page.continue_token) {
        return Internal("server returned the same continue token twice");  // avoids looping forever
      }
      page.continue_token = list.continue_token;
    }
    return all;
  }

  Result<Resource> Create(const Resource& object, WriteOptions options) override {
    const KindInfo* info = KindOrNull(object.kind);
    if (info == nullptr) return UnknownKind(object.kind);
    std::string ns = object.metadata.namespace_.empty() ? "default" : object.metadata.namespace_;
    std::string target = CollectionPath(*info, ns);
    if (options.dry_run) AddQuery(target, "dryRun", "All");
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("POST", target, EncodeJson(object), std::string(kJson))));
    return ResourceFromBody(r);
  }

  Result<Resource> Update(const Resource& object, WriteOptions options) override {
    return Put(object, Subresource::kMain, options);
  }

  Result<Resource> UpdateStatus(const Resource& object, WriteOptions options) override {
    return Put(object, Subresource::kStatus, options);
  }

  Result<Resource> Patch(const ObjectKey& key, std::string_view merge_patch, Subresource subresource,
                         WriteOptions options) override {
    const KindInfo* info = KindOrNull(key.kind);
    if (info == nullptr) return UnknownKind(key.kind);
    if (key.name.empty()) return InvalidArgument("metadata.name: required", "metadata.name");
    std::string target = ObjectPath(*info, key.namespace_, key.name, subresource);
    if (options.dry_run) AddQuery(target, "dryRun", "All");
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("PATCH", target, std::string(merge_patch), std::string(kMergePatch))));
    return ResourceFromBody(r);
  }

  Result<Resource> Delete(const ObjectKey& key, DeleteOptions options) override {
    const KindInfo* info = KindOrNull(key.kind);
    if (info == nullptr) return UnknownKind(key.kind);
    if (key.name.empty()) return InvalidArgument("metadata.name: required", "metadata.name");
    if (!options.precondition_uid.empty()) {
      return InvalidArgument("a uid precondition is not supported by the REST API; use resourceVersion");
    }
    std::string target = ObjectPath(*info, key.namespace_, key.name);
    if (!options.precondition_resource_version.empty()) {
      AddQuery(target, "resourceVersion", options.precondition_resource_version);
    }
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("DELETE", target)));
    return ResourceFromBody(r);
  }

  Status Watch(const WatchOptions& options, const WatchCallback& on_event, WatchStreamOptions stream) override {
    const KindInfo* info = KindOrNull(options.kind);
    if (info == nullptr) return UnknownKind(options.kind);
    std::string target = CollectionPath(*info, options.namespace_);
    AddQuery(target, "watch", "true");
    if (!options.resource_version.empty()) AddQuery(target, "resourceVersion", options.resource_version);
    if (!options.label_selector.empty()) AddQuery(target, "labelSelector", options.label_selector);
    if (stream.timeout.count() > 0) AddQuery(target, "timeoutSeconds", std::to_string(stream.timeout.count()));

    std::string pending;  // bytes after the last complete line
    Status event_error;   // an ERROR event or an unreadable line ends the stream with this
    auto handle_line = [&](std::string_view line) -> bool {
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) return true;  // keep-alive
      auto v = ParseJson(line, "watch event");
      if (!v.ok() || !v->is_object()) {
        event_error = Internal("server sent an unreadable watch event: " +
                               (v.ok() ? std::string("not a JSON object") : v.status().message()));
        return false;
      }
      const auto& o = v->get_object();
      std::string type = StringField(o, "type");
      const json::value* object = o.if_contains("object");
      static const json::value kNull;
      if (object == nullptr) object = &kNull;
      if (type == "ERROR") {
        int code = 500;
        if (object->is_object()) {
          if (const auto* c = object->get_object().if_contains("code"); c != nullptr && c->is_int64()) {
            code = static_cast<int>(c->get_int64());
          }
        }
        event_error = StatusFromHttpError(code, json::serialize(*object));
        return false;
      }
      WatchEvent event;
      if (type == "ADDED") event.type = WatchEventType::kAdded;
      else if (type == "MODIFIED") event.type = WatchEventType::kModified;
      else if (type == "DELETED") event.type = WatchEventType::kDeleted;
      else if (type == "BOOKMARK") event.type = WatchEventType::kBookmark;
      else {
        event_error = Internal("server sent a watch event of unknown type \"" + type + "\"");
        return false;
      }
      auto res = EventObject(*object, event.type);
      if (!res.ok()) {
        event_error = Internal("server sent a watch object the client cannot read: " + res.status().message());
        return false;
      }
      event.object = std::move(res).value();
      if (!options.name.empty() && event.type != WatchEventType::kBookmark &&
          event.object.metadata.name != options.name) {
        return true;
      }
      return on_event(event);
    };
    internal::BodySink sink = [&](std::string_view chunk) -> bool {
      pending.append(chunk);
      std::size_t start = 0;
      for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!handle_line(std::string_view(pending).substr(start, nl - start))) return false;
      }
      pending.erase(0, start);
      return true;
    };
    bool stopped = false;
    TUNA_ASSIGN_OR_RETURN(auto r, transport_.Stream(Req("GET", target), sink, stream.cancel, stopped));
    if (r.status < 200 || r.status >= 300) return StatusFromHttpError(r.status, r.body, r.request_id);
    if (!stopped && !pending.empty()) handle_line(pending);  // a last line without '\n'
    return event_error;
  }

  Result<std::vector<ApiResourceInfo>> Discovery() override {
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", std::string(kApiPrefix))));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "discovery document"));
    std::vector<ApiResourceInfo> out;
    const json::value* resources = v.is_object() ? v.get_object().if_contains("resources") : nullptr;
    if (resources == nullptr || !resources->is_array()) {
      return Internal("server sent a discovery document without a resources list");
    }
    for (const auto& item : resources->get_array()) {
      if (!item.is_object()) continue;
      const auto& o = item.get_object();
      ApiResourceInfo info;
      info.kind = StringField(o, "kind");
      info.name = StringField(o, "name");
      info.singular_name = StringField(o, "singularName");
      if (const auto* s = o.if_contains("shortNames"); s != nullptr && s->is_array()) {
        for (const auto& n : s->get_array()) {
          if (n.is_string()) info.short_names.emplace_back(n.get_string());
        }
      }
      if (const auto* n = o.if_contains("namespaced"); n != nullptr && n->is_bool()) info.namespaced = n->get_bool();
      out.push_back(std::move(info));
    }
    return out;
  }

  Result<std::vector<ObjectEvent>> ListEvents(const ObjectKey& key) override {
    const KindInfo* info = KindOrNull(key.kind);
    if (info == nullptr) return UnknownKind(key.kind);
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", ObjectPath(*info, key.namespace_, key.name) + "/events")));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "event list"));
    std::vector<ObjectEvent> out;
    const auto* items = v.is_object() ? v.get_object().if_contains("items") : nullptr;
    if (items == nullptr || !items->is_array()) return Internal("server sent an event list without items");
    for (const auto& item : items->get_array()) {
      if (!item.is_object()) continue;
      const auto& o = item.get_object();
      ObjectEvent e;
      e.type = StringField(o, "type");
      e.reason = StringField(o, "reason");
      e.message = StringField(o, "message");
      e.first_timestamp = StringField(o, "firstTimestamp");
      e.last_timestamp = StringField(o, "lastTimestamp");
      if (const auto* c = o.if_contains("count"); c && (c->is_int64() || c->is_uint64())) e.count = c->to_number<std::int64_t>();
      out.push_back(std::move(e));
    }
    return out;
  }

  Result<BuildLogChunk> ReadBuildLog(const ObjectKey& key, std::size_t offset) override {
    const KindInfo* info = KindOrNull(key.kind);
    if (info == nullptr) return UnknownKind(key.kind);
    std::string target = ObjectPath(*info, key.namespace_, key.name) + "/log";
    AddQuery(target, "offset", std::to_string(offset));
    AddQuery(target, "format", "json");
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", target)));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "build log"));
    if (!v.is_object()) return Internal("server sent a build log that is not an object");
    const auto& o = v.get_object();
    BuildLogChunk chunk;
    chunk.text = StringField(o, "log");
    chunk.phase = StringField(o, "phase");
    if (const auto* n = o.if_contains("nextOffset"); n && (n->is_int64() || n->is_uint64())) {
      chunk.next_offset = n->to_number<std::size_t>();
    }
    if (const auto* c = o.if_contains("complete"); c && c->is_bool()) chunk.complete = c->get_bool();
    return chunk;
  }

  Result<std::string> ReadDeploymentLogs(const ObjectKey& key, std::string_view stage, std::size_t tail_bytes) override {
    const KindInfo* info = KindOrNull(key.kind);
    if (info == nullptr) return UnknownKind(key.kind);
    std::string target = ObjectPath(*info, key.namespace_, key.name) + "/log";
    AddQuery(target, "stage", std::string(stage));
    AddQuery(target, "tailBytes", std::to_string(tail_bytes));
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", target)));
    if (r.status >= 300) {
      TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "logs"));  // the error's Status
      (void)v;
      return Internal("server answered HTTP " + std::to_string(r.status));
    }
    return std::move(r.body);
  }

  Result<std::string> UploadArtifact(std::string_view bytes) override {
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("POST", "/artifacts", std::string(bytes), "application/octet-stream")));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "artifact"));
    std::string digest = v.is_object() ? StringField(v.get_object(), "digest") : std::string();
    if (digest.empty()) return Internal("server answered an upload without a \"digest\"");
    return digest;
  }

  Result<std::string> Version() override {
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", "/version")));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "version"));
    std::string version = v.is_object() ? StringField(v.get_object(), "version") : std::string();
    if (version.empty()) return Internal("server sent a version document without \"version\"");
    return version;
  }

  Status Health() override {
    HttpRequest request = Req("GET", "/healthz");
    request.authorize = false;
    auto r = Call(request);
    if (!r.ok()) return r.status();
    std::string body = r->body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    if (body != "ok") return Unavailable("tuna server at " + server() + " is not healthy: " + body);
    return Status::Ok();
  }

  Result<RepositoryInfo> CreateRepository(std::string_view ns, std::string_view name) override {
    json::object body{{"name", name}};
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("POST", RepositoriesPath(ns), json::serialize(body), "application/json")));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "repository"));
    return RepositoryFromJson(v);
  }

  Result<std::vector<RepositoryInfo>> ListRepositories(std::string_view ns) override {
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", RepositoriesPath(ns))));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "repository list"));
    std::vector<RepositoryInfo> out;
    const json::value* items = v.is_object() ? v.get_object().if_contains("items") : nullptr;
    if (items == nullptr || !items->is_array()) return Internal("server sent a repository list without items");
    for (const auto& item : items->get_array()) out.push_back(RepositoryFromJson(item));
    return out;
  }

  Status DeleteRepository(std::string_view ns, std::string_view name) override {
    auto r = Call(Req("DELETE", RepositoriesPath(ns) + "/" + UrlEncode(name)));
    return r.status();
  }

  Result<auth::CreatedKey> CreateApiKey(const auth::CreateKeyRequest& request) override {
    json::object spec{{"scope", auth::ScopeName(request.scope)}};
    if (request.rate_limit.per_second > 0 || request.rate_limit.burst > 0) {
      spec["rateLimit"] = json::object{{"requestsPerSecond", request.rate_limit.per_second}, {"burst", request.rate_limit.burst}};
    }
    if (request.ttl) spec["ttlSeconds"] = request.ttl->count();
    json::object body{{"metadata", json::object{{"name", request.name}}}, {"spec", std::move(spec)}};
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("POST", ApiKeysPath(request.namespace_), json::serialize(body), "application/json")));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "API key"));
    auth::CreatedKey out;
    out.info = ApiKeyFromJson(v);
    out.token = v.is_object() ? StringField(v.get_object(), "token") : "";
    if (out.token.empty()) return Internal("server sent an API key without its token");
    return out;
  }

  Result<std::vector<auth::ApiKeyInfo>> ListApiKeys(std::string_view ns) override {
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("GET", ApiKeysPath(ns))));
    TUNA_ASSIGN_OR_RETURN(auto v, ParseBody(r, "API key list"));
    const json::value* items = v.is_object() ? v.get_object().if_contains("items") : nullptr;
    if (items == nullptr || !items->is_array()) return Internal("server sent an API key list without items");
    std::vector<auth::ApiKeyInfo> out;
    for (const auto& item : items->get_array()) out.push_back(ApiKeyFromJson(item));
    return out;
  }

  Status DeleteApiKey(std::string_view ns, std::string_view name) override {
    return Call(Req("DELETE", ApiKeysPath(ns) + "/" + UrlEncode(name))).status();
  }

 private:
  static std::string ApiKeysPath(std::string_view ns) {
    return std::string(kApiPrefix) + "/namespaces/" + UrlEncode(ns) + "/apikeys";
  }

  static auth::ApiKeyInfo ApiKeyFromJson(const json::value& v) {
    auth::ApiKeyInfo info;
    if (!v.is_object()) return info;
    const json::value* meta = v.get_object().if_contains("metadata");
    const json::value* spec = v.get_object().if_contains("spec");
    if (meta != nullptr && meta->is_object()) {
      info.name = StringField(meta->get_object(), "name");
      info.namespace_ = StringField(meta->get_object(), "namespace");
      info.id = StringField(meta->get_object(), "uid");
      if (auto t = ParseRfc3339(StringField(meta->get_object(), "creationTimestamp")); t.ok()) info.created = *t;
    }
    if (spec != nullptr && spec->is_object()) {
      if (auto scope = auth::ParseScope(StringField(spec->get_object(), "scope")); scope.ok()) info.scope = *scope;
      if (const auto* rl = spec->get_object().if_contains("rateLimit"); rl != nullptr && rl->is_object()) {
        if (const auto* n = rl->get_object().if_contains("requestsPerSecond"); n && n->is_number()) info.rate_limit.per_second = n->to_number<double>();
        if (const auto* n = rl->get_object().if_contains("burst"); n && n->is_number()) info.rate_limit.burst = n->to_number<double>();
      }
      if (auto t = ParseRfc3339(StringField(spec->get_object(), "expirationTimestamp")); t.ok()) info.expires = *t;
    }
    return info;
  }

  static std::string RepositoriesPath(std::string_view ns) {
    return std::string(kApiPrefix) + "/namespaces/" + UrlEncode(ns) + "/repositories";
  }

  static RepositoryInfo RepositoryFromJson(const json::value& v) {
    RepositoryInfo info;
    if (!v.is_object()) return info;
    info.name = StringField(v.get_object(), "name");
    info.namespace_ = StringField(v.get_object(), "namespace");
    info.url = StringField(v.get_object(), "url");
    return info;
  }

  Result<Resource> Put(const Resource& object, Subresource sub, WriteOptions options) {
    const KindInfo* info = KindOrNull(object.kind);
    if (info == nullptr) return UnknownKind(object.kind);
    if (object.metadata.name.empty()) return InvalidArgument("metadata.name: required", "metadata.name");
    std::string target = ObjectPath(*info, object.metadata.namespace_, object.metadata.name, sub);
    if (options.dry_run) AddQuery(target, "dryRun", "All");
    TUNA_ASSIGN_OR_RETURN(auto r, Call(Req("PUT", target, EncodeJson(object), std::string(kJson))));
    return ResourceFromBody(r);
  }

  // A unary request; a non-2xx answer becomes the server's Status.
  Result<HttpResponse> Call(const HttpRequest& request) {
    TUNA_ASSIGN_OR_RETURN(auto r, transport_.Do(request));
    if (r.status < 200 || r.status >= 300) return StatusFromHttpError(r.status, r.body, r.request_id);
    return r;
  }

  internal::HttpTransport transport_;
};

}  // namespace

Status StatusFromHttpError(int http_status, std::string_view body, std::string_view request_id_header) {
  StatusCode code = CodeFromHttp(http_status);
  std::string message;
  std::string field;
  std::string request_id(request_id_header);

  boost::system::error_code ec;
  json::value v = body.empty() ? json::value() : json::parse(body, ec);
  if (!ec && v.is_object() && StringField(v.get_object(), "kind") == "Status") {
    const auto& o = v.get_object();
    std::string reason = StringField(o, "reason");
    for (StatusCode c : kAllCodes) {
      if (StatusCodeReason(c) == reason) {
        code = c;
        break;
      }
    }
    if (code == StatusCode::kConflict && reason == "AlreadyExists") code = StatusCode::kAlreadyExists;
    message = StringField(o, "message");
    field = StringField(o, "field");
    if (std::string id = StringField(o, "requestId"); !id.empty()) request_id = id;
  }
  if (message.empty()) {
    message = "server answered HTTP " + std::to_string(http_status);
    std::string_view text = body.substr(0, std::min<std::size_t>(body.size(), 200));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
      text.remove_suffix(1);
    }
    if (!text.empty() && ec) {  // not JSON: show the start of what the server said
      message += ": ";
      message += text;
    }
  }
  if (!request_id.empty()) message += " (request id " + request_id + ")";
  return Status(code, std::move(message), std::move(field));
}

Result<std::unique_ptr<Client>> Client::Make(ClientOptions options) {
  std::string& url = options.server;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return InvalidArgument("invalid server URL \"" + url + "\": must start with http:// or https://", "server");
  }
  std::string_view rest = std::string_view(url).substr(url.find("://") + 3);
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return InvalidArgument("invalid server URL \"" + url + "\": no host", "server");
  }
  if (options.timeout.count() <= 0) return InvalidArgument("timeout must be positive", "timeout");
  if (options.connect_timeout.count() <= 0) options.connect_timeout = options.timeout;
  return std::unique_ptr<Client>(new HttpClient(std::move(options)));
}

}  // namespace tuna
