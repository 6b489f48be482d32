#include "server/workload_routes.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/ids.hpp"
#include "net/status_response.hpp"

namespace tuna::server {
namespace {

namespace json = boost::json;

net::HttpResponse Error(const Status& st, const net::HttpRequest& req, std::string route) {
  auto r = net::StatusResponse(st, req.request_id);
  r.route = std::move(route);
  return r;
}

// Headers a proxied request must not forward (hop-by-hop, or tuna's own credentials).
bool ForwardHeader(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower != "authorization" && lower != "connection" && lower != "keep-alive" && lower != "transfer-encoding" &&
         lower != "te" && lower != "upgrade" && lower != "host" && lower != "content-length" &&
         lower != "proxy-authorization";
}

}  // namespace

std::optional<net::HttpResponse> WorkloadRoutes::Handle(net::HttpRequest& req) {
  const auto& s = req.segments;
  if (!s.empty() && s[0] == "artifacts") {
    if (s.size() == 1 && req.method == "POST") return UploadArtifact(req);
    if (s.size() == 2 && (req.method == "GET" || req.method == "HEAD")) return DownloadArtifact(req, s[1]);
    auto r = Error(Status(StatusCode::kInvalidArgument, "use POST /artifacts or GET /artifacts/{digest}"), req, "/artifacts");
    r.status = 405;
    return r;
  }
  // /apis/tuna.ai/v1alpha1/namespaces/{ns}/{plural}/{name}/{sub}...
  if (s.size() < 8 || s[0] != "apis" || s[1] != "tuna.ai" || s[2] != "v1alpha1" || s[3] != "namespaces") return std::nullopt;
  const std::string& ns = s[4];
  const std::string& plural = s[5];
  const std::string& name = s[6];
  const std::string& sub = s[7];
  if (sub == "events" && s.size() == 8 && req.method == "GET") {
    const KindInfo* kind = FindKind(plural);
    const std::string route = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}/{name}/events";
    if (kind == nullptr || kind->plural != plural) return Error(NotFound("unknown resource type \"" + plural + "\""), req, route);
    json::array items;
    if (events_ != nullptr) {
      for (const auto& e : events_->List({std::string(kind->kind), ns, name})) {
        items.push_back({{"type", e.type}, {"reason", e.reason}, {"message", e.message}, {"count", e.count},
                         {"firstTimestamp", e.first_timestamp}, {"lastTimestamp", e.last_timestamp}});
      }
    }
    net::HttpResponse r;
    r.body = json::serialize(json::object{{"kind", "EventList"}, {"items", std::move(items)}});
    r.route = route;
    return r;
  }
  if (sub == "log" && s.size() == 8 && (plural == "agentbuilds" || plural == "mcpserverbuilds")) {
    return BuildLog(req, plural == "agentbuilds" ? "AgentBuild" : "MCPServerBuild", ns, name);
  }
  if (sub == "log" && s.size() == 8 && req.method == "GET" && (plural == "agentdeployments" || plural == "mcpserverdeployments")) {
    return DeploymentLogs(req, plural == "agentdeployments" ? "AgentDeployment" : "MCPServerDeployment", ns, name);
  }
  if (sub == "proxy" && s.size() >= 9 && (plural == "agentdeployments" || plural == "mcpserverdeployments")) {
    std::string rest;
    for (std::size_t i = 9; i < s.size(); ++i) rest += "/" + s[i];
    if (rest.empty()) rest = "/";
    return Proxy(req, plural == "agentdeployments" ? "AgentDeployment" : "MCPServerDeployment", ns, name, s[8], rest);
  }
  return std::nullopt;
}

net::HttpResponse WorkloadRoutes::UploadArtifact(net::HttpRequest& req) {
  if (req.body.empty()) return Error(InvalidArgument("the body is empty: send the archive bytes"), req, "/artifacts");
  auto digest = artifacts_.PutBytes(req.body);
  if (!digest.ok()) return Error(digest.status(), req, "/artifacts");
  json::object o;
  o["digest"] = *digest;
  o["size"] = static_cast<std::int64_t>(req.body.size());
  net::HttpResponse r;
  r.status = 201;
  r.body = json::serialize(o);
  r.route = "/artifacts";
  return r;
}

net::HttpResponse WorkloadRoutes::DownloadArtifact(net::HttpRequest& req, const std::string& digest) {
  const std::string route = "/artifacts/{digest}";
  if (!IsValidDigest(digest)) return Error(InvalidArgument("not a digest: expected sha256:<64 hex>"), req, route);
  auto tmp = std::filesystem::temp_directory_path() / ("tuna-artifact-" + core::RandomHex(8));
  Status st = artifacts_.Fetch(digest, tmp);
  if (!st.ok()) return Error(st, req, route);
  std::ifstream in(tmp, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  net::HttpResponse r;
  r.content_type = "application/octet-stream";
  r.body = req.method == "HEAD" ? std::string() : ss.str();
  r.route = route;
  return r;
}

net::HttpResponse WorkloadRoutes::BuildLog(net::HttpRequest& req, const std::string& kind, const std::string& ns,
                                           const std::string& name) {
  const std::string route = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}/{name}/log";
  auto obj = store_.Get({kind, ns, name});
  if (!obj.ok()) return Error(obj.status(), req, route);
  std::size_t offset = 0;
  try {
    offset = static_cast<std::size_t>(std::stoull(req.QueryOr("offset", "0")));
  } catch (...) {
    return Error(InvalidArgument("offset: expected a non-negative integer", "offset"), req, route);
  }
  const std::string job_id = ns + "/" + name + "/" + obj->metadata.uid;
  std::string phase = "Pending";
  if (obj->status.is_object()) {
    if (auto* p = obj->status.get_object().if_contains("phase"); p && p->is_string()) phase = std::string(p->get_string());
  }
  const bool terminal = phase == "Succeeded" || phase == "Failed";
  std::string text;
  bool complete = true;
  bool found = false;
  for (const auto& driver_name : drivers_.Names()) {
    auto build = drivers_.Find(driver_name)->FindBuild(job_id);
    if (!build.ok()) continue;
    auto read = (*build)->ReadLog(offset);
    if (!read.ok()) return Error(read.status(), req, route);
    text = std::move(*read);
    complete = terminal && text.empty();
    found = true;
    break;
  }
  if (!found) {
    // The driver no longer has it (e.g. after a restart): the tail kept in status is what remains.
    if (offset == 0 && obj->status.is_object()) {
      if (auto* t = obj->status.get_object().if_contains("logTail"); t && t->is_string()) text = std::string(t->get_string());
    }
    complete = terminal || text.empty();
  }
  const std::size_t next = offset + text.size();
  net::HttpResponse r;
  r.route = route;
  if (req.QueryOr("format") == "json") {
    json::object o;
    o["log"] = text;
    o["nextOffset"] = static_cast<std::uint64_t>(next);
    o["complete"] = complete;
    o["phase"] = phase;
    r.body = json::serialize(o);
    return r;
  }
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("X-Build-Phase", phase);
  r.headers.emplace_back("X-Log-Offset", std::to_string(next));
  r.headers.emplace_back("X-Log-Complete", complete ? "true" : "false");
  r.body = std::move(text);
  return r;
}

net::HttpResponse WorkloadRoutes::DeploymentLogs(net::HttpRequest& req, const std::string& kind, const std::string& ns,
                                                 const std::string& name) {
  const std::string route = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}/{name}/log";
  if (controllers_ == nullptr) return Error(Unavailable("controllers are not running in this server"), req, route);
  constexpr std::size_t kDefaultTail = 64 << 10, kMaxTail = 4 << 20;
  std::size_t tail = kDefaultTail;
  if (req.HasQuery("tailBytes")) {
    std::string text = req.QueryOr("tailBytes");
    char* end = nullptr;
    unsigned long long n = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || end == nullptr || *end != '\0' || n == 0 || n > kMaxTail) {
      return Error(InvalidArgument("tailBytes: expected 1 to " + std::to_string(kMaxTail) + ", got \"" + text.substr(0, 40) + "\"",
                                   "tailBytes"),
                   req, route);
    }
    tail = static_cast<std::size_t>(n);
  }
  auto logs = controllers_->LogsForStage(kind, ns, name, req.QueryOr("stage", "production"), tail);
  if (!logs.ok()) return Error(logs.status(), req, route);
  net::HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(*logs);
  r.route = route;
  return r;
}

net::HttpResponse WorkloadRoutes::Proxy(net::HttpRequest& req, const std::string& kind, const std::string& ns,
                                        const std::string& name, const std::string& stage, const std::string& rest) {
  const std::string route = "/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}/{name}/proxy/{stage}";
  if (controllers_ == nullptr) return Error(Unavailable("controllers are not running in this server"), req, route);
  auto executor = controllers_->ExecutorForStage(kind, ns, name, stage);
  if (!executor.ok()) return Error(executor.status(), req, route);
  InvokeRequest call;
  call.method = req.method;
  call.path = rest;
  if (auto q = req.target.find('?'); q != std::string::npos) call.path += req.target.substr(q);
  for (const auto& [k, v] : req.headers) {
    if (ForwardHeader(k)) call.headers.emplace_back(k, v);
  }
  call.headers.emplace_back("X-Request-Id", req.request_id);
  call.body = std::move(req.body);
  auto out = (*executor)->Invoke(call);
  if (!out.ok()) return Error(out.status(), req, route);
  net::HttpResponse r;
  r.status = out->status;
  r.content_type.clear();
  for (auto& [k, v] : out->headers) {
    if (!ForwardHeader(k)) continue;
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "content-type") r.content_type = v;
    else r.headers.emplace_back(k, v);
  }
  if (r.content_type.empty()) r.content_type = "application/octet-stream";
  r.body = std::move(out->body);
  r.route = route;
  return r;
}

}  // namespace tuna::server
