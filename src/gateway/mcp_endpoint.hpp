#pragma once
// Private: the gateway's MCP endpoints (Streamable HTTP), one per target:
//   servers/{name}/{stage}  an MCPServerDeployment: each client session gets its own upstream
//                           session, and every message passes through unchanged (the gateway
//                           loses nothing: the conformance suite sees the upstream);
//   tools/{name}            an HTTPToolDeployment's OpenAPI operations as tools, in process;
//   agents/{agent}/{stage}  federation of what the agent's AgentResourceBinding allows: tools,
//                           resources and prompts of several upstreams behind one session, tool
//                           and prompt names prefixed "<ref>__" (refs are DNS labels, so the
//                           prefix never collides), allowlists applied, list_changed sent when
//                           a binding changes.
// Upstream sessions that expire are initialized again by the MCP client (never half alive).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/gateway.hpp"
#include "net/upstream_client.hpp"
#include "tuna/resources/kinds.hpp"
#include "tuna/store.hpp"

namespace tuna::metrics {
class Registry;
}

namespace tuna::controllers {
class WorkloadControllers;
}

namespace tuna::gateway {

struct McpEndpointOptions {
  Store* store = nullptr;                                   // required
  controllers::WorkloadControllers* controllers = nullptr;  // null: deployed MCP servers unavailable
  /// Resolves an HTTP tool's credential secret (namespace, secret name, key).
  std::function<Result<std::string>(const std::string& ns, const SecretKeyRef& ref)> secrets;
  std::chrono::milliseconds session_idle_ttl{std::chrono::minutes(30)};
  std::size_t max_sessions_per_endpoint = 10000;
  std::chrono::milliseconds upstream_timeout{std::chrono::seconds(60)};
  /// Relays calls of pass-through sessions to upstreams reached by URL on the I/O threads (see
  /// PrepareInline). Null: every call goes through a worker thread and the MCP client.
  std::shared_ptr<net::UpstreamClient> upstream;
  /// tuna_gateway_mcp_relay_total{outcome} goes here; may be null.
  metrics::Registry* metrics = nullptr;
};

class McpEndpoints final : public EndpointHandler {
 public:
  explicit McpEndpoints(McpEndpointOptions options);
  ~McpEndpoints() override;
  /// Starts the binding watch (list_changed on binding changes).
  Status Start();
  /// Ends every session and stops the watch. Idempotent.
  void Shutdown();
  net::HttpResponse Handle(net::HttpRequest& request, const Target& target, const auth::Principal& principal,
                           const std::string& public_base_url) override;
  /// The relay of a pass-through session to an upstream reached by URL: a request (not
  /// initialize, not one asking for progress) on a live session is sent as received (same
  /// JSON-RPC id, same bytes) on the upstream session over a pooled keep-alive connection, and
  /// the answer's bytes come back, without a worker thread or a JSON round trip. Anything else,
  /// and an upstream session that expired (404), takes Handle().
  InlineRelay PrepareInline(const std::shared_ptr<net::HttpRequest>& request, const Target& target) override;
  /// Open client sessions across endpoints (metrics).
  std::size_t SessionCount();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::gateway
