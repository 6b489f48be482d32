#include "gateway/mcp_endpoint.hpp"

#include <atomic>
#include <set>
#include <vector>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "controllers/workloads.hpp"
#include "core/ids.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"
#include "gateway/gateway.hpp"
#include "mcp/client_requests.hpp"
#include "mcp/streamable_http_handler.hpp"
#include "mcp/transport_sse.hpp"
#include "tuna/jsonrpc.hpp"
#include "tuna/mcp/client.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/mcp/session.hpp"
#include "tuna/openapi.hpp"

namespace tuna::gateway {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
constexpr std::string_view kSeparator = "__";

json::object ParamsObject(const jsonrpc::Message& m) {
  return m.params.is_object() ? m.params.as_object() : json::object{};
}

json::value ErrorReply(const json::value& id, int code, std::string message) {
  return jsonrpc::MakeErrorResponse(id, jsonrpc::Error{code, std::move(message), nullptr});
}

// The reply to a client request from what the upstream answered (the client's id restored).
json::value Relay(const json::value& id, const Result<jsonrpc::Message>& answered) {
  if (!answered.ok()) return jsonrpc::MakeErrorResponse(id, jsonrpc::ErrorFromStatus(answered.status()));
  if (answered->kind == jsonrpc::MessageKind::kErrorResponse) return jsonrpc::MakeErrorResponse(id, answered->error);
  return jsonrpc::MakeResponse(id, answered->result);
}

// Progress of an upstream call forwarded to the client under the client's own token.
mcp::CallOptions ForwardProgress(const jsonrpc::Message& m, const mcp::MessageSink& sink, std::chrono::milliseconds timeout) {
  mcp::CallOptions o;
  o.timeout = timeout;
  if (!m.params.is_object()) return o;
  const auto* meta = m.params.as_object().if_contains("_meta");
  const json::value* token = meta && meta->is_object() ? meta->as_object().if_contains("progressToken") : nullptr;
  if (token == nullptr || !sink) return o;
  json::value client_token = *token;
  o.on_progress = [sink, client_token](const mcp::Progress& p) {
    json::object params{{"progressToken", client_token}, {"progress", p.progress}};
    if (p.total) params["total"] = *p.total;
    if (!p.message.empty()) params["message"] = p.message;
    sink(jsonrpc::MakeNotification("notifications/progress", std::move(params)));
  };
  return o;
}

// A params object without the client's progress token (the upstream call gets its own).
json::object WithoutProgressToken(json::object params) {
  if (auto* meta = params.if_contains("_meta"); meta && meta->is_object()) {
    meta->as_object().erase("progressToken");
    if (meta->as_object().empty()) params.erase("_meta");
  }
  return params;
}

// ---- upstream connectors ------------------------------------------------------------------------

using Connector = std::function<Result<mcp::ClientPtr>(mcp::ClientOptions options)>;

// An MCP server the pool runs (stdio, or HTTP on the worker socket), reached through its executor:
// one JSON-RPC message per executor call. SSE answers are parsed; the Mcp-Session-Id a tuna-run
// HTTP server issues is kept per upstream session.
mcp::TransportFunction ExecutorFunction(controllers::WorkloadControllers* controllers, std::string ns, std::string name,
                                        std::string stage, std::string path, std::chrono::milliseconds timeout,
                                        std::string affinity) {
  auto session_id = std::make_shared<std::string>();
  auto mu = std::make_shared<std::mutex>();
  return [=](const json::value& message, const mcp::FunctionContext& ctx) -> Result<json::value> {
    if (controllers == nullptr) return Unavailable("deployed MCP servers are not running in this server");
    // One upstream session stays on one revision while a canary runs.
    TUNA_ASSIGN_OR_RETURN(auto exec, controllers->ExecutorForStage("MCPServerDeployment", ns, name, stage, affinity));
    InvokeRequest call;
    call.method = "POST";
    call.path = path;
    call.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}};
    {
      std::lock_guard lock(*mu);
      if (!session_id->empty()) call.headers.emplace_back("Mcp-Session-Id", *session_id);
    }
    for (const auto& h : ctx.headers) call.headers.push_back(h);
    call.body = json::serialize(message);
    if (ctx.emit) {  // a stdio server's progress and log messages while the call runs
      call.on_notification = [&ctx](std::string_view line) {
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        if (!ec) ctx.emit(v);
      };
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - Clock::now());
    call.timeout = ctx.deadline == mcp::Deadline::max() ? timeout : std::clamp(left, std::chrono::milliseconds(1), timeout);
    TUNA_ASSIGN_OR_RETURN(auto r, exec->Invoke(call));
    std::string content_type;
    for (const auto& [k, v] : r.headers) {
      std::string lower = k;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "mcp-session-id") {
        std::lock_guard lock(*mu);
        *session_id = v;
      } else if (lower == "content-type") {
        content_type = v;
      }
    }
    if (r.status == 404 && message.is_object() && !message.as_object().contains("method")) return NotFound("upstream session gone");
    if (r.status == 404) return NotFound("upstream MCP session is gone");
    if (r.status == 202 || r.body.empty()) return json::value(nullptr);
    if (r.status < 200 || r.status >= 300) {
      return Unavailable("MCP server " + name + " answered HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300));
    }
    if (content_type.rfind("text/event-stream", 0) == 0) {
      // Each event's data is one message; the one with the request's id is the answer, the rest go to emit.
      json::value answer;
      mcp::internal::SseParser parser(16 << 20);
      auto on_event = [&](const mcp::internal::SseEvent& e) {
        boost::system::error_code ec;
        json::value v = json::parse(e.data, ec);
        if (ec || !v.is_object()) return true;
        const auto& o = v.as_object();
        bool is_answer = o.contains("id") && !o.contains("method") && message.is_object() &&
                         message.as_object().contains("id") && o.at("id") == message.as_object().at("id");
        if (is_answer) {
          answer = std::move(v);
        } else if (ctx.emit) {
          ctx.emit(v);
        }
        return true;
      };
      parser.Feed(r.body, on_event);
      parser.Feed("\n\n", on_event);  // an event the stream left unterminated
      if (answer.is_null()) return Unavailable("MCP server " + name + " ended its SSE answer without a response");
      return answer;
    }
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec) return Unavailable("MCP server " + name + " sent a body that is not JSON: " + r.body.substr(0, 200));
    return v;
  };
}

}  // namespace

// ---- the shared state ---------------------------------------------------------------------------

class FederatedSession;

struct McpEndpoints::Impl {
  McpEndpointOptions options;
  // Relay outcomes: "relayed" (answered by the upstream), "renewed" (the upstream session had
  // expired: the call went through the MCP client, which initialized a new one), "error".
  metrics::Counter* relayed = nullptr;
  metrics::Counter* renewed = nullptr;
  metrics::Counter* relay_errors = nullptr;

  struct Endpoint {
    mcp::SessionFactoryPtr factory;
    std::unique_ptr<mcp::StreamableHttpHandler> http;
  };
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Endpoint>> endpoints;  // by base path
  bool shut_down = false;

  // HTTP tools: one in-process MCP server per HTTPToolDeployment version.
  struct ToolServer {
    std::string resource_version;
    std::shared_ptr<mcp::Server> server;
  };
  std::mutex tools_mu;
  std::map<std::string, ToolServer> tool_servers;  // "ns/name"
  openapi::HttpCallerPtr http_caller = openapi::MakeHttpCaller();

  // Federated sessions by "ns/agent", told when a binding changes.
  std::mutex fed_mu;
  std::map<std::string, std::vector<std::weak_ptr<FederatedSession>>> federated;

  WatchPtr watch;
  std::thread watch_thread;
  std::atomic<bool> stopping{false};

  Result<std::shared_ptr<mcp::Server>> ToolServerFor(const std::string& ns, const std::string& name);
  Result<Connector> ConnectorFor(const std::string& ns, ToolKind kind, const std::string& name, const std::string& stage);
  std::vector<std::pair<ToolRef, Connector>> BindingUpstreams(const std::string& ns, const std::string& agent, const std::string& stage);
  void OnBindingChange(const std::string& ns, const std::string& agent);
  void RegisterFederated(const std::string& key, const std::shared_ptr<FederatedSession>& session);
};

Result<std::shared_ptr<mcp::Server>> McpEndpoints::Impl::ToolServerFor(const std::string& ns, const std::string& name) {
  TUNA_ASSIGN_OR_RETURN(Resource r, options.store->Get({"HTTPToolDeployment", ns, name}));
  const std::string key = ns + "/" + name;
  {
    std::lock_guard lock(tools_mu);
    auto it = tool_servers.find(key);
    if (it != tool_servers.end() && it->second.resource_version == r.metadata.resource_version) return it->second.server;
  }
  TUNA_ASSIGN_OR_RETURN(auto tool, HTTPToolDeployment::FromResource(r));
  auto document = openapi::LoadSource(tool.spec.openapi);
  if (!document.ok()) return document.status().WithContext("HTTPToolDeployment " + key + ": openapi");
  auto secrets = options.secrets;
  openapi::SecretResolver resolver = [secrets, ns](const SecretKeyRef& ref) -> Result<std::string> {
    if (!secrets) return NotFound("no secret store: secret " + ref.name + " is not available");
    return secrets(ns, ref);
  };
  openapi::ToolsetOptions toolset = openapi::OptionsFromSpec(tool.spec, std::move(resolver));
  // The shared caller has the default timeout; a tool with timeoutSeconds gets its own caller
  // (made from toolset.caller), kept with this version of the tool server.
  if (!tool.spec.timeout_seconds) toolset.http = http_caller;
  TUNA_ASSIGN_OR_RETURN(auto tools, openapi::MakeTools(*document, toolset));
  auto server = std::shared_ptr<mcp::Server>(mcp::Server::Make({.name = name, .version = r.metadata.resource_version}));
  for (auto& t : tools) TUNA_RETURN_IF_ERROR(server->AddTool(std::move(t)));
  std::lock_guard lock(tools_mu);
  tool_servers[key] = {r.metadata.resource_version, server};
  return server;
}

Result<Connector> McpEndpoints::Impl::ConnectorFor(const std::string& ns, ToolKind kind, const std::string& name,
                                                    const std::string& stage) {
  if (kind == ToolKind::kHTTPToolDeployment) {
    TUNA_ASSIGN_OR_RETURN(auto server, ToolServerFor(ns, name));
    return Connector([server](mcp::ClientOptions o) -> Result<mcp::ClientPtr> {
      auto state = std::make_shared<mcp::SessionState>();
      auto mu = std::make_shared<std::mutex>();
      auto transport = mcp::MakeFunctionTransport([server, state, mu](const json::value& message,
                                                                      const mcp::FunctionContext& ctx) -> Result<json::value> {
        auto parsed = jsonrpc::ParseValue(message);
        if (!parsed.ok()) return InvalidArgument("bad message: " + parsed.error.message);
        mcp::MessageSink sink;
        if (ctx.emit) sink = [&ctx](json::value m) { ctx.emit(m); };
        // initialize writes the state; other calls only read it.
        std::optional<json::value> out;
        if (parsed.message->method == "initialize") {
          std::lock_guard lock(*mu);
          out = server->Handle(*parsed.message, *state, sink);
        } else {
          out = server->Handle(*parsed.message, *state, sink);
        }
        return out ? std::move(*out) : json::value(nullptr);
      });
      return mcp::Client::Connect(std::move(transport), std::move(o));
    });
  }
  TUNA_ASSIGN_OR_RETURN(Resource r, options.store->Get({"MCPServerDeployment", ns, name}));
  TUNA_ASSIGN_OR_RETURN(auto dep, MCPServerDeployment::FromResource(r));
  if (dep.spec.server.http && !dep.spec.server.http->url.empty()) {
    mcp::HttpTransportOptions ho;
    ho.url = dep.spec.server.http->url;
    for (const auto& [k, v] : dep.spec.server.http->headers) ho.headers.emplace_back(k, v);
    return Connector([ho](mcp::ClientOptions o) -> Result<mcp::ClientPtr> {
      TUNA_ASSIGN_OR_RETURN(auto transport, mcp::MakeHttpTransport(ho));
      return mcp::Client::Connect(std::move(transport), std::move(o));
    });
  }
  std::string path = "/";
  if (dep.spec.server.http) path = dep.spec.server.http->path.empty() ? "/mcp" : dep.spec.server.http->path;
  auto* controllers = options.controllers;
  auto timeout = options.upstream_timeout;
  return Connector([=](mcp::ClientOptions o) -> Result<mcp::ClientPtr> {
    auto transport = mcp::MakeFunctionTransport(ExecutorFunction(controllers, ns, name, stage, path, timeout, core::NewRequestId()));
    return mcp::Client::Connect(std::move(transport), std::move(o));
  });
}

// ---- one upstream, passed through ---------------------------------------------------------------

// Where the inline relay sends a pass-through session's calls: an upstream reached by plain
// http:// URL (TLS and pool-deployed servers go through the MCP client).
struct RelayTarget {
  std::string host;
  std::uint16_t port = 80;
  std::string target;  // path and query
  net::HeaderList headers;  // the deployment's own headers (upstream credentials)
};

std::optional<RelayTarget> ParseRelayTarget(const std::string& url, const std::map<std::string, std::string>& headers) {
  auto u = boost::urls::parse_uri(url);
  if (!u || u->scheme() != "http" || u->host_type() == boost::urls::host_type::name && u->host().empty()) return std::nullopt;
  RelayTarget t;
  t.host = u->host_type() == boost::urls::host_type::ipv6 ? std::string(u->encoded_host_address()) : std::string(u->host());
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  if (u->has_port()) {
    if (u->port_number() == 0) return std::nullopt;
    t.port = u->port_number();
  }
  t.target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query()) t.target += "?" + std::string(u->encoded_query());
  for (const auto& [k, v] : headers) t.headers.emplace_back(k, v);
  return t;
}

class PassThroughSession final : public mcp::SessionHandler {
 public:
  PassThroughSession(mcp::ClientPtr client, std::chrono::milliseconds timeout, std::optional<RelayTarget> relay,
                     std::shared_ptr<mcp::internal::ClientRequests> requests)
      : client_(std::move(client)), timeout_(timeout), relay_(std::move(relay)), requests_(std::move(requests)) {}

  const std::optional<RelayTarget>& relay() const { return relay_; }
  const mcp::Client& client() const { return *client_; }

  std::optional<json::value> Handle(const jsonrpc::Message& m, const mcp::MessageSink& sink) override {
    if (m.IsResponse()) {  // the client answering an upstream's sampling, elicitation or roots request
      requests_->Resolve(m);
      return std::nullopt;
    }
    if (m.IsRequest()) {
      if (m.method == "ping") return jsonrpc::MakeResponse(m.id, json::object{});
      auto options = ForwardProgress(m, sink, timeout_);
      return Relay(m.id, client_->CallRaw(m.method, WithoutProgressToken(ParamsObject(m)), options));
    }
    if (m.IsNotification() && m.method != "notifications/initialized" && m.method != "notifications/cancelled") {
      (void)client_->Notify(m.method, ParamsObject(m));
    }
    return std::nullopt;
  }

  void Close() override {
    requests_->Close();
    client_->Close();
  }

 private:
  mcp::ClientPtr client_;
  std::chrono::milliseconds timeout_;
  std::optional<RelayTarget> relay_;
  std::shared_ptr<mcp::internal::ClientRequests> requests_;
};

class PassThroughFactory final : public mcp::SessionFactory {
 public:
  PassThroughFactory(McpEndpoints::Impl& impl, std::function<Result<Connector>()> connector,
                     std::function<std::optional<RelayTarget>()> relay)
      : impl_(impl), connector_(std::move(connector)), relay_(std::move(relay)) {}

  mcp::SessionStart Open(const jsonrpc::Message& init, const mcp::SessionContext& context) override {
    mcp::SessionStart start;
    auto connector = connector_();
    if (!connector.ok()) {
      start.response = ErrorReply(init.id, -32603, connector.status().message());
      return start;
    }
    mcp::ClientOptions o;
    o.request_timeout = impl_.options.upstream_timeout;
    json::object params = ParamsObject(init);
    if (auto* v = params.if_contains("protocolVersion"); v && v->is_string() && mcp::IsSupportedProtocolVersion(v->as_string())) {
      o.protocol_version = std::string(v->as_string());
    }
    if (auto* info = params.if_contains("clientInfo"); info && info->is_object()) {
      if (auto* n = info->as_object().if_contains("name"); n && n->is_string()) o.name = "tuna-gateway/" + std::string(n->as_string());
    }
    // What the client can answer (sampling, elicitation, roots) is announced upstream as the
    // gateway's own; the upstream's requests go to the client on its GET stream and the client's
    // answers come back through Handle().
    bool client_answers_requests = false;
    if (auto* caps = params.if_contains("capabilities"); caps && caps->is_object()) {
      for (std::string_view c : {"sampling", "elicitation", "roots"}) {
        if (auto* v = caps->as_object().if_contains(c)) {
          o.capabilities[c] = *v;
          client_answers_requests = true;
        }
      }
    }
    auto requests = std::make_shared<mcp::internal::ClientRequests>(context.notifier, impl_.options.upstream_timeout);
    if (client_answers_requests) {
      o.on_request = [requests](const std::string& method, const json::value& p) { return requests->Request(method, p); };
    }
    std::weak_ptr<mcp::Notifier> notifier = context.notifier;
    o.on_notification = [notifier](const std::string& method, const json::value& p) {
      if (auto n = notifier.lock()) n->Notify(jsonrpc::MakeNotification(method, p));
    };
    auto client = (*connector)(std::move(o));
    if (!client.ok()) {
      start.response = ErrorReply(init.id, -32603, "upstream MCP server: " + client.status().message());
      return start;
    }
    mcp::ServerInfo info = (*client)->server_info();
    json::object result{{"protocolVersion", info.protocol_version}, {"capabilities", info.capabilities},
                        {"serverInfo", info.server_info}};
    if (!info.instructions.empty()) result["instructions"] = info.instructions;
    start.protocol_version = info.protocol_version;
    start.response = jsonrpc::MakeResponse(init.id, std::move(result));
    // The inline relay cannot carry upstream requests to the client in the middle of a call (it
    // passes complete answers on): sessions whose client answers such requests take the MCP client.
    start.handler = std::make_shared<PassThroughSession>(
        std::move(*client), impl_.options.upstream_timeout,
        impl_.options.upstream && !client_answers_requests ? relay_() : std::nullopt, std::move(requests));
    return start;
  }

 private:
  McpEndpoints::Impl& impl_;
  std::function<Result<Connector>()> connector_;
  std::function<std::optional<RelayTarget>()> relay_;
};

// ---- federation ---------------------------------------------------------------------------------

class FederatedSession final : public mcp::SessionHandler, public std::enable_shared_from_this<FederatedSession> {
 public:
  struct Upstream {
    std::string ref;
    std::set<std::string> allow;  // empty: every tool
    mcp::ClientPtr client;        // null when it could not be reached
    std::string error;
  };

  FederatedSession(McpEndpoints::Impl& impl, std::string ns, std::string agent, std::string stage, mcp::NotifierPtr notifier)
      : impl_(impl), ns_(std::move(ns)), agent_(std::move(agent)), stage_(std::move(stage)), notifier_(std::move(notifier)) {}

  // (Re)reads the binding: connects new upstreams, keeps unchanged ones, closes removed ones.
  // Returns true when the set changed.
  bool Refresh() {
    auto wanted = impl_.BindingUpstreams(ns_, agent_, stage_);
    std::vector<std::shared_ptr<Upstream>> next;
    std::vector<std::shared_ptr<Upstream>> closing;
    bool changed = false;
    {
      std::lock_guard lock(mu_);
      std::map<std::string, std::shared_ptr<Upstream>> current;
      for (auto& u : upstreams_) current[u->ref] = u;
      for (auto& [ref, connector] : wanted) {
        std::set<std::string> allow(ref.allow.begin(), ref.allow.end());
        auto it = current.find(ref.name);
        if (it != current.end() && it->second->allow == allow && it->second->client) {
          next.push_back(it->second);
          current.erase(it);
          continue;
        }
        changed = true;
        auto u = std::make_shared<Upstream>();
        u->ref = ref.name;
        u->allow = std::move(allow);
        mcp::ClientOptions o;
        o.request_timeout = impl_.options.upstream_timeout;
        std::weak_ptr<mcp::Notifier> weak = notifier_;
        o.on_notification = [weak](const std::string& method, const json::value&) {
          // An upstream's list changed: so did ours.
          if (method.find("list_changed") == std::string::npos) return;
          if (auto n = weak.lock()) n->Notify(jsonrpc::MakeNotification(method));
        };
        auto client = connector ? connector(std::move(o)) : Result<mcp::ClientPtr>(Unavailable("no connector"));
        if (client.ok()) {
          u->client = std::move(*client);
        } else {
          u->error = client.status().message();
          core::Logger()->warn("federated MCP session of {}/{}: upstream {} unavailable: {}", ns_, agent_, ref.name, u->error);
        }
        next.push_back(std::move(u));
      }
      for (auto& [ref, u] : current) {
        changed = true;
        closing.push_back(u);
      }
      upstreams_ = std::move(next);
      resource_owner_.clear();
    }
    for (auto& u : closing) {
      if (u->client) u->client->Close();
    }
    return changed;
  }

  std::optional<json::value> Handle(const jsonrpc::Message& m, const mcp::MessageSink& sink) override {
    if (!m.IsRequest()) return std::nullopt;
    const std::string& method = m.method;
    if (method == "ping") return jsonrpc::MakeResponse(m.id, json::object{});
    if (method == "tools/list") return ListTools(m);
    if (method == "tools/call") return CallPrefixed(m, sink, "tools/call");
    if (method == "prompts/list") return ListPrompts(m);
    if (method == "prompts/get") return CallPrefixed(m, sink, "prompts/get");
    if (method == "resources/list") return ListResources(m, "resources/list", "resources");
    if (method == "resources/templates/list") return ListResources(m, "resources/templates/list", "resourceTemplates");
    if (method == "resources/read") return ReadResource(m, sink);
    if (method == "logging/setLevel") {
      for (auto& u : Snapshot()) {
        if (u->client && u->client->server_info().HasCapability("logging")) (void)u->client->Call("logging/setLevel", ParamsObject(m));
      }
      return jsonrpc::MakeResponse(m.id, json::object{});
    }
    return ErrorReply(m.id, jsonrpc::kMethodNotFound, "method not found: " + method);
  }

  void Close() override {
    std::vector<std::shared_ptr<Upstream>> all;
    {
      std::lock_guard lock(mu_);
      all.swap(upstreams_);
    }
    for (auto& u : all) {
      if (u->client) u->client->Close();
    }
  }

  json::object Capabilities() {
    bool resources = false, prompts = false;
    for (auto& u : Snapshot()) {
      if (!u->client) continue;
      resources |= u->client->server_info().HasCapability("resources");
      prompts |= u->client->server_info().HasCapability("prompts");
    }
    json::object caps{{"tools", json::object{{"listChanged", true}}}, {"logging", json::object{}}};
    if (resources) caps["resources"] = json::object{{"listChanged", true}};
    if (prompts) caps["prompts"] = json::object{{"listChanged", true}};
    return caps;
  }

  void NotifyListsChanged() {
    for (const char* list : {"tools", "resources", "prompts"}) notifier_->Notify(mcp::ListChangedNotification(list));
  }

 private:
  std::vector<std::shared_ptr<Upstream>> Snapshot() {
    std::lock_guard lock(mu_);
    return upstreams_;
  }

  std::shared_ptr<Upstream> Find(const std::string& ref) {
    std::lock_guard lock(mu_);
    for (auto& u : upstreams_) {
      if (u->ref == ref) return u;
    }
    return nullptr;
  }

  json::value ListTools(const jsonrpc::Message& m) {
    json::array tools;
    for (auto& u : Snapshot()) {
      if (!u->client) continue;
      auto listed = u->client->ListTools();
      if (!listed.ok()) {
        core::Logger()->warn("federated MCP session of {}/{}: tools/list of {} failed: {}", ns_, agent_, u->ref, listed.status().message());
        continue;
      }
      for (auto& t : *listed) {
        if (!u->allow.empty() && !u->allow.count(t.name)) continue;
        json::object raw = t.raw;
        raw["name"] = u->ref + std::string(kSeparator) + t.name;
        if (!raw.contains("title") && !t.title.empty()) raw["title"] = t.title;
        tools.push_back(std::move(raw));
      }
    }
    return jsonrpc::MakeResponse(m.id, json::object{{"tools", std::move(tools)}});
  }

  json::value ListPrompts(const jsonrpc::Message& m) {
    json::array prompts;
    for (auto& u : Snapshot()) {
      if (!u->client || !u->client->server_info().HasCapability("prompts")) continue;
      auto listed = u->client->ListPrompts();
      if (!listed.ok()) continue;
      for (auto& p : *listed) {
        json::object raw = p.raw;
        raw["name"] = u->ref + std::string(kSeparator) + p.name;
        prompts.push_back(std::move(raw));
      }
    }
    return jsonrpc::MakeResponse(m.id, json::object{{"prompts", std::move(prompts)}});
  }

  // tools/call and prompts/get: "<ref>__<name>" goes to <ref> as <name>.
  json::value CallPrefixed(const jsonrpc::Message& m, const mcp::MessageSink& sink, const std::string& method) {
    json::object params = WithoutProgressToken(ParamsObject(m));
    const json::value* name = params.if_contains("name");
    if (name == nullptr || !name->is_string()) return ErrorReply(m.id, jsonrpc::kInvalidParams, "params.name: required string");
    std::string full(name->as_string());
    auto sep = full.find(kSeparator);
    if (sep == std::string::npos) {
      return ErrorReply(m.id, jsonrpc::kInvalidParams, "unknown " + std::string(method == "tools/call" ? "tool" : "prompt") +
                                                           " \"" + full.substr(0, 100) + "\" (federated names are <binding>__<name>)");
    }
    std::string ref = full.substr(0, sep), inner = full.substr(sep + kSeparator.size());
    auto u = Find(ref);
    if (u == nullptr || (method == "tools/call" && !u->allow.empty() && !u->allow.count(inner))) {
      return ErrorReply(m.id, jsonrpc::kInvalidParams, "unknown tool \"" + full.substr(0, 100) + "\"");
    }
    if (!u->client) {
      if (method == "tools/call") {
        return jsonrpc::MakeResponse(m.id, mcp::ToolResult::Failure("tool provider " + ref + " is unavailable: " + u->error).ToJson());
      }
      return ErrorReply(m.id, jsonrpc::kInternalError, "prompt provider " + ref + " is unavailable: " + u->error);
    }
    params["name"] = inner;
    auto answered = u->client->CallRaw(method, std::move(params), ForwardProgress(m, sink, impl_.options.upstream_timeout));
    if (!answered.ok() && method == "tools/call") {
      // Transport failures (upstream down, timeout) are results the model can see.
      return jsonrpc::MakeResponse(m.id, mcp::ToolResult::Failure(ref + ": " + answered.status().message()).ToJson());
    }
    return Relay(m.id, answered);
  }

  json::value ListResources(const jsonrpc::Message& m, const std::string& method, const std::string& field) {
    json::array items;
    for (auto& u : Snapshot()) {
      if (!u->client || !u->client->server_info().HasCapability("resources")) continue;
      auto answered = u->client->CallRaw(method, json::object{});
      if (!answered.ok() || answered->kind != jsonrpc::MessageKind::kResponse || !answered->result.is_object()) continue;
      const auto* list = answered->result.as_object().if_contains(field);
      if (list == nullptr || !list->is_array()) continue;
      std::lock_guard lock(mu_);
      for (const auto& item : list->as_array()) {
        if (const auto* uri = item.is_object() ? item.as_object().if_contains("uri") : nullptr; uri && uri->is_string()) {
          resource_owner_.emplace(std::string(uri->as_string()), u->ref);
        }
        items.push_back(item);
      }
    }
    return jsonrpc::MakeResponse(m.id, json::object{{field, std::move(items)}});
  }

  json::value ReadResource(const jsonrpc::Message& m, const mcp::MessageSink& sink) {
    json::object params = ParamsObject(m);
    const json::value* uri = params.if_contains("uri");
    if (uri == nullptr || !uri->is_string()) return ErrorReply(m.id, jsonrpc::kInvalidParams, "params.uri: required string");
    std::string owner;
    {
      std::lock_guard lock(mu_);
      if (auto it = resource_owner_.find(std::string(uri->as_string())); it != resource_owner_.end()) owner = it->second;
    }
    // Known owner first; templates and unlisted URIs: ask each upstream until one has it.
    std::vector<std::shared_ptr<Upstream>> order;
    for (auto& u : Snapshot()) {
      if (u->ref == owner) order.insert(order.begin(), u);
      else order.push_back(u);
    }
    for (auto& u : order) {
      if (!u->client || !u->client->server_info().HasCapability("resources")) continue;
      auto answered = u->client->CallRaw("resources/read", params, ForwardProgress(m, sink, impl_.options.upstream_timeout));
      if (answered.ok() && answered->kind == jsonrpc::MessageKind::kResponse) return jsonrpc::MakeResponse(m.id, answered->result);
    }
    return jsonrpc::MakeErrorResponse(
        m.id, jsonrpc::Error{mcp::kResourceNotFound, "resource not found: " + std::string(uri->as_string()).substr(0, 200),
                             json::object{{"uri", *uri}}});
  }

  McpEndpoints::Impl& impl_;
  std::string ns_, agent_, stage_;
  mcp::NotifierPtr notifier_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Upstream>> upstreams_;
  std::map<std::string, std::string> resource_owner_;  // uri -> ref
};

class FederatedFactory final : public mcp::SessionFactory {
 public:
  FederatedFactory(McpEndpoints::Impl& impl, std::string ns, std::string agent, std::string stage)
      : impl_(impl), ns_(std::move(ns)), agent_(std::move(agent)), stage_(std::move(stage)) {}

  mcp::SessionStart Open(const jsonrpc::Message& init, const mcp::SessionContext& context) override {
    mcp::SessionStart start;
    json::object params = ParamsObject(init);
    std::string version = std::string(mcp::kLatestProtocolVersion);
    if (auto* v = params.if_contains("protocolVersion"); v && v->is_string()) version = mcp::NegotiateProtocolVersion(v->as_string());
    auto session = std::make_shared<FederatedSession>(impl_, ns_, agent_, stage_, context.notifier);
    session->Refresh();
    impl_.RegisterFederated(ns_ + "/" + agent_, session);
    json::object result{{"protocolVersion", version},
                        {"capabilities", session->Capabilities()},
                        {"serverInfo", json::object{{"name", "tuna/" + ns_ + "/" + agent_}, {"version", "0.1.0"},
                                                    {"title", "Tools of agent " + agent_ + " (" + stage_ + ")"}}},
                        {"instructions", "Tools, resources and prompts agent " + agent_ +
                                             " may use. Names are <binding>__<name>."}};
    start.protocol_version = version;
    start.response = jsonrpc::MakeResponse(init.id, std::move(result));
    start.handler = session;
    return start;
  }

 private:
  McpEndpoints::Impl& impl_;
  std::string ns_, agent_, stage_;
};

std::vector<std::pair<ToolRef, Connector>> McpEndpoints::Impl::BindingUpstreams(const std::string& ns, const std::string& agent,
                                                                                const std::string& stage) {
  std::vector<std::pair<ToolRef, Connector>> out;
  ListOptions lo;
  lo.kind = "AgentResourceBinding";
  lo.namespace_ = ns;
  auto list = options.store->List(lo);
  if (!list.ok()) return out;
  std::set<std::string> seen;
  for (const auto& item : list->items) {
    auto binding = AgentResourceBinding::FromResource(item);
    if (!binding.ok() || binding->spec.agent_name != agent) continue;
    for (const auto& ref : binding->spec.tools) {
      if (!seen.insert(ref.name).second) continue;
      auto connector = ConnectorFor(ns, ref.kind, ref.name, stage);
      if (!connector.ok()) {
        core::Logger()->warn("binding {}/{}: tool {}: {}", ns, binding->metadata.name, ref.name, connector.status().message());
        std::string why = connector.status().message();
        out.emplace_back(ref, Connector([why](mcp::ClientOptions) -> Result<mcp::ClientPtr> { return Unavailable(why); }));
        continue;
      }
      out.emplace_back(ref, std::move(*connector));
    }
  }
  return out;
}

void McpEndpoints::Impl::RegisterFederated(const std::string& key, const std::shared_ptr<FederatedSession>& session) {
  std::lock_guard lock(fed_mu);
  auto& list = federated[key];
  list.erase(std::remove_if(list.begin(), list.end(), [](const auto& w) { return w.expired(); }), list.end());
  list.push_back(session);
}

void McpEndpoints::Impl::OnBindingChange(const std::string& ns, const std::string& agent) {
  std::vector<std::shared_ptr<FederatedSession>> sessions;
  {
    std::lock_guard lock(fed_mu);
    auto it = federated.find(ns + "/" + agent);
    if (it == federated.end()) return;
    for (auto& w : it->second) {
      if (auto s = w.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) {
    if (s->Refresh()) s->NotifyListsChanged();
  }
}

// ---- McpEndpoints -------------------------------------------------------------------------------

McpEndpoints::McpEndpoints(McpEndpointOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.metrics != nullptr) {
    auto& family = impl_->options.metrics->AddCounter(
        "tuna_gateway_mcp_relay_total",
        "MCP calls relayed to an upstream session on the I/O threads, by outcome (relayed, renewed: the upstream session "
        "had expired and was initialized again, error: no answer from the upstream).",
        {"outcome"});
    impl_->relayed = &family.WithLabels({"relayed"});
    impl_->renewed = &family.WithLabels({"renewed"});
    impl_->relay_errors = &family.WithLabels({"error"});
  }
}

McpEndpoints::~McpEndpoints() { Shutdown(); }

Status McpEndpoints::Start() {
  WatchOptions wo;
  wo.kind = "AgentResourceBinding";
  TUNA_ASSIGN_OR_RETURN(impl_->watch, impl_->options.store->Watch(wo));
  impl_->watch_thread = std::thread([im = impl_.get()] {
    while (!im->stopping.load()) {
      auto event = im->watch->Next(std::chrono::milliseconds(500));
      if (!event) continue;
      auto binding = AgentResourceBinding::FromResource(event->object);
      if (binding.ok()) im->OnBindingChange(binding->metadata.namespace_, binding->spec.agent_name);
    }
  });
  return Status::Ok();
}

void McpEndpoints::Shutdown() {
  impl_->stopping = true;
  if (impl_->watch) impl_->watch->Stop();
  if (impl_->watch_thread.joinable()) impl_->watch_thread.join();
  std::map<std::string, std::shared_ptr<Impl::Endpoint>> endpoints;
  {
    std::lock_guard lock(impl_->mu);
    impl_->shut_down = true;
    endpoints.swap(impl_->endpoints);
  }
  endpoints.clear();  // each handler closes its sessions
}

std::size_t McpEndpoints::SessionCount() {
  std::vector<std::shared_ptr<Impl::Endpoint>> all;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [k, e] : impl_->endpoints) all.push_back(e);
  }
  std::size_t n = 0;
  for (auto& e : all) n += e->http->SessionCount();
  return n;
}

net::HttpResponse McpEndpoints::Handle(net::HttpRequest& request, const Target& target, const auth::Principal& principal,
                                       const std::string& public_base_url) {
  (void)principal;
  (void)public_base_url;
  Impl& im = *impl_;
  std::shared_ptr<Impl::Endpoint> endpoint;
  {
    std::lock_guard lock(im.mu);
    if (im.shut_down) return mcp::StreamableHttpHandler::ErrorResponse(503, -32000, "the gateway is stopping");
    auto it = im.endpoints.find(target.base_path);
    if (it != im.endpoints.end()) endpoint = it->second;
  }
  if (!endpoint) {
    // The target must exist before sessions are made for it.
    std::string kind = target.kind == Target::Kind::kMcpServer ? "MCPServerDeployment"
                       : target.kind == Target::Kind::kHttpTool ? "HTTPToolDeployment"
                                                                : "AgentDeployment";
    auto got = im.options.store->Get({kind, target.namespace_, target.name});
    if (!got.ok()) {
      int http = got.status().code() == StatusCode::kNotFound ? 404 : 503;
      return mcp::StreamableHttpHandler::ErrorResponse(http, -32000, kind + " " + target.namespace_ + "/" + target.name +
                                                                         (http == 404 ? " not found" : ": " + got.status().message()));
    }
    auto e = std::make_shared<Impl::Endpoint>();
    std::string ns = target.namespace_, name = target.name, stage = target.stage;
    if (target.kind == Target::Kind::kFederated) {
      e->factory = std::make_shared<FederatedFactory>(im, ns, name, stage);
    } else {
      ToolKind kind_of = target.kind == Target::Kind::kMcpServer ? ToolKind::kMCPServerDeployment : ToolKind::kHTTPToolDeployment;
      e->factory = std::make_shared<PassThroughFactory>(
          im, [&im, ns, name, stage, kind_of] { return im.ConnectorFor(ns, kind_of, name, stage); },
          [&im, ns, name, kind_of]() -> std::optional<RelayTarget> {
            if (kind_of != ToolKind::kMCPServerDeployment) return std::nullopt;
            auto r = im.options.store->Get({"MCPServerDeployment", ns, name});
            if (!r.ok()) return std::nullopt;
            auto dep = MCPServerDeployment::FromResource(*r);
            if (!dep.ok() || !dep->spec.server.http || dep->spec.server.http->url.empty()) return std::nullopt;
            return ParseRelayTarget(dep->spec.server.http->url, dep->spec.server.http->headers);
          });
    }
    mcp::StreamableHttpOptions ho;
    ho.path = target.base_path;
    ho.allowed_hosts = {"*"};  // the gateway checked Host and Origin
    ho.allowed_origins = {"*"};
    ho.session_idle_ttl = im.options.session_idle_ttl;
    ho.max_sessions = im.options.max_sessions_per_endpoint;
    e->http = std::make_unique<mcp::StreamableHttpHandler>(e->factory, std::move(ho));
    std::lock_guard lock(im.mu);
    if (im.shut_down) return mcp::StreamableHttpHandler::ErrorResponse(503, -32000, "the gateway is stopping");
    endpoint = im.endpoints.emplace(target.base_path, e).first->second;
  }
  net::HttpResponse r = endpoint->http->Handle(request);
  r.route = target.route;  // the template, not the endpoint's own path (bounded metric labels)
  return r;
}

namespace {

bool AsksForProgress(const jsonrpc::Message& m) {
  if (!m.params.is_object()) return false;
  const json::value* meta = m.params.get_object().if_contains("_meta");
  return meta != nullptr && meta->is_object() && meta->get_object().contains("progressToken");
}

net::HttpResponse JsonRpcAnswer(json::value body) {
  net::HttpResponse r;
  r.status = 200;
  r.content_type = "application/json";
  r.body = json::serialize(body);
  return r;
}

net::HttpResponse UpstreamError(const json::value& id, const Status& status) {
  Status st(status.code(), "upstream MCP server: " + status.message());
  return JsonRpcAnswer(jsonrpc::MakeErrorResponse(id, jsonrpc::ErrorFromStatus(st)));
}

// An upstream's SSE answer to one POST, passed on as a complete SSE body: its messages in order,
// without the upstream's event ids (they would name events of the upstream's streams, which
// the gateway cannot resume). The answer must contain the response to the request.
std::optional<std::string> RelaySse(const std::string& body, const json::value& id) {
  mcp::internal::SseParser parser(16 << 20);
  std::string out;
  bool answered = false;
  parser.Feed(body, [&](const mcp::internal::SseEvent& e) {
    if (e.type != "message" || e.data.empty()) return true;
    if (!answered) {
      auto parsed = jsonrpc::ParseMessage(e.data);
      if (parsed.ok() && (parsed.message->kind == jsonrpc::MessageKind::kResponse ||
                          parsed.message->kind == jsonrpc::MessageKind::kErrorResponse) &&
          parsed.message->id == id) {
        answered = true;
      }
    }
    out += "event: message\ndata: ";
    out += e.data;
    out += "\n\n";
    return true;
  });
  parser.Feed("\n\n", [&](const mcp::internal::SseEvent& e) {  // an event the stream left unterminated
    if (e.type == "message" && !e.data.empty()) out += "event: message\ndata: " + e.data + "\n\n";
    return true;
  });
  if (!answered) return std::nullopt;
  return out;
}

}  // namespace

EndpointHandler::InlineRelay McpEndpoints::PrepareInline(const std::shared_ptr<net::HttpRequest>& request, const Target& target) {
  Impl& im = *impl_;
  if (target.kind != Target::Kind::kMcpServer || !im.options.upstream) return nullptr;
  std::shared_ptr<Impl::Endpoint> endpoint;
  {
    std::lock_guard lock(im.mu);
    if (im.shut_down) return nullptr;
    auto it = im.endpoints.find(target.base_path);
    if (it == im.endpoints.end()) return nullptr;
    endpoint = it->second;
  }
  auto session = std::dynamic_pointer_cast<PassThroughSession>(endpoint->http->RelaySession(*request));
  if (!session || !session->relay()) return nullptr;
  std::optional<mcp::Client::SessionRef> ref = session->client().session_ref();
  if (!ref) return nullptr;  // being initialized again: the MCP client waits for it
  jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(request->body);
  if (!parsed.ok() || !parsed.message->IsRequest()) return nullptr;
  const jsonrpc::Message& m = *parsed.message;
  if (m.method == "initialize" || m.method == "ping" || AsksForProgress(m)) return nullptr;

  return [&im, endpoint, session, ref = std::move(*ref), request, id = m.id](const auth::Principal&,
                                                                             const net::ResponderPtr& responder) {
    const RelayTarget& to = *session->relay();
    net::UpstreamRequest up;
    up.host = to.host;
    up.port = to.port;
    up.target = to.target;
    up.timeout = im.options.upstream_timeout;
    up.headers = to.headers;
    up.headers.emplace_back("Content-Type", "application/json");
    up.headers.emplace_back("Accept", "application/json, text/event-stream");
    up.headers.emplace_back(std::string(mcp::kSessionHeader), ref.id);
    up.headers.emplace_back(std::string(mcp::kProtocolVersionHeader), ref.protocol_version);
    up.headers.emplace_back("X-Request-Id", request->request_id);
    up.headers.emplace_back("traceparent", ChildTraceparent(request->Header("traceparent")));
    up.body = request->body;
    im.options.upstream->Send(std::move(up), [&im, endpoint, responder, id](Result<net::UpstreamResponse> r) {
      auto count = [](metrics::Counter* c) {
        if (c != nullptr) c->Inc();
      };
      if (!r.ok()) {
        count(im.relay_errors);
        responder->Respond(UpstreamError(id, r.status()));
        return;
      }
      if (r->status != 404) count(r->status == 200 ? im.relayed : im.relay_errors);
      std::string_view type = r->Header("Content-Type");
      auto is = [&](std::string_view media) {
        return type.size() >= media.size() && std::equal(media.begin(), media.end(), type.begin(), [](char a, char b) {
                 return a == std::tolower(static_cast<unsigned char>(b));
               });
      };
      if (r->status == 404) {
        // The upstream forgot the session: the MCP client initializes a new one and sends the
        // call there (nothing reached the upstream's tools).
        count(im.renewed);
        responder->Defer([endpoint](net::HttpRequest& req) {
          net::HttpResponse out = endpoint->http->Handle(req);
          out.route.clear();  // the gateway names the route template
          return out;
        });
        return;
      }
      if (r->status == 200 && is("application/json")) {
        net::HttpResponse out;
        out.content_type = "application/json";
        out.body = std::move(r->body);
        responder->Respond(std::move(out));
        return;
      }
      if (r->status == 200 && is("text/event-stream")) {
        if (auto sse = RelaySse(r->body, id)) {
          net::HttpResponse out;
          out.content_type = "text/event-stream";
          out.headers.emplace_back("Cache-Control", "no-cache");
          out.body = std::move(*sse);
          responder->Respond(std::move(out));
        } else {
          responder->Respond(UpstreamError(id, Unavailable("the event stream ended before the response")));
        }
        return;
      }
      std::string excerpt = r->body.substr(0, 300);
      responder->Respond(UpstreamError(
          id, Status(r->status >= 500 ? StatusCode::kUnavailable : StatusCode::kInternal,
                     "answered HTTP " + std::to_string(r->status) + (excerpt.empty() ? std::string() : ": " + excerpt))));
    });
  };
}

}  // namespace tuna::gateway
