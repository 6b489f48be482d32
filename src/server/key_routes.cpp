#include "server/key_routes.hpp"

#include <boost/json.hpp>

#include "auth/agent_keys.hpp"
#include "net/status_response.hpp"
#include "tuna/resources/object.hpp"

namespace tuna::server {
namespace {

namespace json = boost::json;
constexpr std::string_view kRoute = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/apikeys";

net::HttpResponse Fail(const Status& st, const net::HttpRequest& req, std::string_view route) {
  auto r = net::StatusResponse(st, req.request_id);
  r.route = std::string(route);
  return r;
}

net::HttpResponse Json(int status, const json::value& v, std::string_view route) {
  net::HttpResponse r;
  r.status = status;
  r.body = json::serialize(v);
  r.route = std::string(route);
  return r;
}

json::object KeyJson(const auth::ApiKeyInfo& k) {
  json::object meta{{"name", k.name}, {"namespace", k.namespace_}, {"uid", k.id},
                    {"creationTimestamp", ToRfc3339(k.created)}};
  // An agent key (src/auth/agent_keys.hpp): its AgentDeployment owns it.
  if (auth::IsAgentKeyName(k.name)) meta["labels"] = json::object{{"tuna.ai/managed-by", "AgentDeployment"}};
  json::object spec{{"scope", auth::ScopeName(k.scope)}};
  if (k.rate_limit.per_second > 0) {
    spec["rateLimit"] = json::object{{"requestsPerSecond", k.rate_limit.per_second}, {"burst", k.rate_limit.burst}};
  }
  if (k.expires) spec["expirationTimestamp"] = ToRfc3339(*k.expires);
  return json::object{{"apiVersion", "tuna.ai/v1alpha1"}, {"kind", "APIKey"}, {"metadata", std::move(meta)}, {"spec", std::move(spec)}};
}

Result<double> NonNegativeNumber(const json::value& v, const std::string& field) {
  if (!v.is_number()) return InvalidArgument(field + ": must be a number", field);
  double d = v.to_number<double>();
  if (d < 0) return InvalidArgument(field + ": must not be negative", field);
  return d;
}

// {"metadata":{"name"}|"name", "spec":{"scope","rateLimit":{"requestsPerSecond","burst"},"ttlSeconds"}}
Result<auth::CreateKeyRequest> ParseCreate(const std::string& body, const std::string& ns) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec) return InvalidArgument("body is not JSON: " + ec.message());
  if (!doc.is_object()) return InvalidArgument("body must be a JSON object");
  const json::object& o = doc.as_object();
  auth::CreateKeyRequest out;
  out.namespace_ = ns;
  for (const auto& [k, v] : o) {
    if (k != "apiVersion" && k != "kind" && k != "metadata" && k != "spec") {
      return InvalidArgument(std::string(k) + ": unknown field (expected metadata and spec)", std::string(k));
    }
  }
  if (const auto* m = o.if_contains("metadata")) {
    if (!m->is_object()) return InvalidArgument("metadata: must be an object", "metadata");
    for (const auto& [k, v] : m->as_object()) {
      if (k == "name") {
        if (!v.is_string()) return InvalidArgument("metadata.name: must be a string", "metadata.name");
        out.name = std::string(v.as_string());
      } else if (k == "namespace") {
        if (!v.is_string() || v.as_string() != ns) {
          return InvalidArgument("metadata.namespace: must match the namespace in the URL (" + ns + ")", "metadata.namespace");
        }
      } else {
        return InvalidArgument("metadata." + std::string(k) + ": unknown field", "metadata." + std::string(k));
      }
    }
  }
  if (out.name.empty()) return InvalidArgument("metadata.name: required", "metadata.name");
  if (const auto* s = o.if_contains("spec")) {
    if (!s->is_object()) return InvalidArgument("spec: must be an object", "spec");
    for (const auto& [k, v] : s->as_object()) {
      std::string field = "spec." + std::string(k);
      if (k == "scope") {
        if (!v.is_string()) return InvalidArgument(field + ": must be a string", field);
        auto scope = auth::ParseScope(v.as_string());
        if (!scope.ok()) return InvalidArgument("spec." + scope.status().message(), field);
        out.scope = *scope;
      } else if (k == "rateLimit") {
        if (!v.is_object()) return InvalidArgument(field + ": must be an object", field);
        for (const auto& [rk, rv] : v.as_object()) {
          std::string rfield = field + "." + std::string(rk);
          if (rk == "requestsPerSecond") {
            TUNA_ASSIGN_OR_RETURN(out.rate_limit.per_second, NonNegativeNumber(rv, rfield));
          } else if (rk == "burst") {
            TUNA_ASSIGN_OR_RETURN(out.rate_limit.burst, NonNegativeNumber(rv, rfield));
          } else {
            return InvalidArgument(rfield + ": unknown field (expected requestsPerSecond, burst)", rfield);
          }
        }
      } else if (k == "ttlSeconds") {
        if (!v.is_int64() && !v.is_uint64()) return InvalidArgument(field + ": must be an integer", field);
        auto ttl = v.to_number<std::int64_t>();
        if (ttl <= 0) return InvalidArgument(field + ": must be positive", field);
        out.ttl = std::chrono::seconds(ttl);
      } else {
        return InvalidArgument(field + ": unknown field (expected scope, rateLimit, ttlSeconds)", field);
      }
    }
  }
  return out;
}

}  // namespace

std::optional<net::HttpResponse> KeyRoutes::Handle(const net::HttpRequest& req, const auth::Principal& principal) {
  const auto& s = req.segments;
  if (s.size() < 6 || s.size() > 7 || s[0] != "apis" || s[1] != "tuna.ai" || s[2] != "v1alpha1" || s[3] != "namespaces" ||
      s[5] != "apikeys") {
    return std::nullopt;
  }
  const std::string& ns = s[4];
  std::string route = std::string(kRoute) + (s.size() == 7 ? "/{name}" : "");
  if (Status allowed = principal.Check(ns, auth::Scope::kAdmin); !allowed.ok()) return Fail(allowed, req, route);
  if (s.size() == 6) {
    if (req.method == "GET") {
      auto keys = keys_.List(ns);
      if (!keys.ok()) return Fail(keys.status(), req, route);
      json::array items;
      for (const auto& k : *keys) items.push_back(KeyJson(k));
      return Json(200, json::object{{"apiVersion", "tuna.ai/v1alpha1"}, {"kind", "APIKeyList"}, {"items", std::move(items)}}, route);
    }
    if (req.method == "POST") {
      auto request = ParseCreate(req.body, ns);
      if (!request.ok()) return Fail(request.status(), req, route);
      auto created = keys_.Create(*request);
      if (!created.ok()) return Fail(created.status(), req, route);
      json::object o = KeyJson(created->info);
      o["token"] = created->token;
      return Json(201, o, route);
    }
  } else {
    if (req.method == "GET") {
      auto key = keys_.Get(ns, s[6]);
      if (!key.ok()) return Fail(key.status(), req, route);
      return Json(200, KeyJson(*key), route);
    }
    if (req.method == "DELETE") {
      auto key = keys_.Get(ns, s[6]);
      if (!key.ok()) return Fail(key.status(), req, route);
      if (Status st = keys_.Delete(ns, s[6]); !st.ok()) return Fail(st, req, route);
      return Json(200, KeyJson(*key), route);
    }
  }
  auto r = Fail(Status(StatusCode::kInvalidArgument, "method " + req.method + " is not allowed on " + route), req, route);
  r.status = 405;
  return r;
}

}  // namespace tuna::server
