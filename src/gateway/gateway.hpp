#pragma once
// Private: the gateway — one way in for users and agents to every deployed agent (A2A) and tool
// (MCP), per stage, with API keys, tenancy, rate limits, Origin/Host validation, request ids and
// trace context, and metrics per route (docs/gateway.md).
//
//   /a2a/{ns}/{agent}[/{stage}]                      A2A JSON-RPC endpoint (stage default production)
//   /a2a/{ns}/{agent}[/{stage}]/.well-known/agent-card.json   its agent card (URLs point here)
//   /mcp/{ns}/servers/{name}[/{stage}]               an MCPServerDeployment over Streamable HTTP
//   /mcp/{ns}/tools/{name}                           an HTTPToolDeployment's operations as MCP tools
//   /mcp/{ns}/agents/{agent}[/{stage}]               everything the agent's AgentResourceBinding allows
//   /memory/{ns}/{agent}/{memory}/{context}[/{key}]  an AgentMemory the agent's binding lists
//
// Checks, in order: route (404), Host and Origin (403), API key (401), scope invoke in {ns}
// (403), rate limit of the key (429 with Retry-After), then the protocol's own rules.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/http_types.hpp"
#include "tuna/auth.hpp"
#include "tuna/status.hpp"

namespace tuna::metrics {
class Registry;
}

namespace tuna::gateway {

/// What a gateway route names.
struct Target {
  enum class Protocol { kA2a, kMcp, kMemory } protocol = Protocol::kA2a;
  enum class Kind { kAgent, kMcpServer, kHttpTool, kFederated } kind = Kind::kAgent;
  std::string namespace_;
  std::string name;
  std::string stage = "production";  // "staging" | "production"; HTTP tools have none
  std::string rest;                  // what follows the endpoint ("" or ".well-known/agent-card.json"; memory: the key)
  std::string memory;                // memory routes: the AgentMemory's name
  std::string context;               // memory routes: the context (conversation) id
  std::string base_path;             // "/a2a/default/echo/staging": the endpoint's own path
  std::string route;                 // route template for metrics
};

/// Parses a gateway path (segments after percent-decoding). nullopt: not a gateway path;
/// an error Status: a gateway path that names nothing valid (400/404 with the reason).
std::optional<Result<Target>> ParseTarget(const std::vector<std::string>& segments);

/// Serves one protocol endpoint once the gateway's checks passed. Implementations may block.
class EndpointHandler {
 public:
  virtual ~EndpointHandler() = default;
  virtual net::HttpResponse Handle(net::HttpRequest& request, const Target& target, const auth::Principal& principal,
                                   const std::string& public_base_url) = 0;

  /// Completes a request without a worker thread once the gateway's checks passed; runs on an
  /// I/O thread and must not block.
  using InlineRelay = std::function<void(const auth::Principal& principal, const net::ResponderPtr& responder)>;
  /// An inline relay for this request, or null to serve it through Handle() on a worker thread.
  /// Called on an I/O thread before the gateway's checks (so it must be cheap and must not block).
  virtual InlineRelay PrepareInline(const std::shared_ptr<net::HttpRequest>& request, const Target& target) {
    (void)request;
    (void)target;
    return nullptr;
  }
};

struct GatewayOptions {
  const auth::KeyStore* keys = nullptr;  // required
  metrics::Registry* metrics = nullptr;  // may be null
  /// Origins allowed to call (exact "scheme://host[:port]", "*" any). Empty: localhost origins only.
  /// Requests without Origin (non-browser clients) are allowed.
  std::vector<std::string> allowed_origins;
  /// Host names allowed (no port; "*" any). Empty: localhost names only (DNS rebinding guard).
  std::vector<std::string> allowed_hosts;
  /// Applied to keys without a rate limit of their own (per_second 0: unlimited).
  auth::RateLimit default_rate_limit;
  /// The server's public URL ("https://agents.example.com"), for agent-card URLs; called per
  /// request. Null or empty: "http://" + the request's Host header.
  std::function<std::string()> public_url;
  EndpointHandler* a2a = nullptr;  // not owned; null: 501
  EndpointHandler* mcp = nullptr;  // not owned; null: 501
  EndpointHandler* memory = nullptr;  // not owned; null: 501
};

class Gateway {
 public:
  explicit Gateway(GatewayOptions options);
  ~Gateway();
  /// Answers the request when its path is a gateway path.
  std::optional<net::HttpResponse> Handle(net::HttpRequest& request);
  /// The net::InlineHandler: takes requests an endpoint can relay without a worker thread (the
  /// MCP relay to an upstream's session), after the same checks as Handle(). False: use Handle().
  bool HandleInline(const std::shared_ptr<net::HttpRequest>& request, const net::ResponderPtr& responder);

  /// A JSON-RPC error body (id null) with an HTTP status, as every gateway refusal is sent.
  static net::HttpResponse Refusal(int http_status, int jsonrpc_code, std::string_view message, std::string_view request_id);

  struct Impl;  // named by the helpers in gateway.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

/// W3C trace context: the request's `traceparent` when valid, otherwise a new one (new trace id,
/// new span id, sampled flag 01). Upstream calls carry a child: same trace id, new span id.
std::string ChildTraceparent(std::string_view incoming);

}  // namespace tuna::gateway
