#pragma once
// The A2A JSON-RPC HTTP binding as a plain request -> response function, so the gateway can
// mount an agent on its own net::HttpServer (HandleAt with its own paths and public URL);
// a2a::HttpServer wraps it with a server of its own. Streams never hold a thread: events are
// pushed into the connection's StreamWriter by whichever thread produces them.

#include <memory>
#include <string>
#include <string_view>

#include "net/http_types.hpp"
#include "tuna/a2a/http_server.hpp"
#include "tuna/a2a/server.hpp"

namespace tuna::a2a {

inline constexpr std::string_view kVersionHeader = "A2A-Version";
inline constexpr std::string_view kCardPath = "/.well-known/agent-card.json";
inline constexpr std::string_view kLegacyCardPath = "/.well-known/agent.json";  // 0.3 clients

class HttpBinding {
 public:
  /// `server` must outlive the binding (and every stream it started: stop the HTTP server first).
  HttpBinding(Server& server, HttpOptions options);

  /// Answers a request by its own path (options.rpc_path, the card paths; others: 404).
  net::HttpResponse Handle(net::HttpRequest& request);

  /// For mounting under another server's paths: `path` is the request's path as the agent sees
  /// it ("/" or options.rpc_path for JSON-RPC, kCardPath / kLegacyCardPath for the card),
  /// `endpoint_url` the public URL of the JSON-RPC endpoint written into the card (empty: as
  /// Handle would derive it).
  net::HttpResponse HandleAt(net::HttpRequest& request, std::string_view path, std::string_view endpoint_url);

  /// On the I/O thread (net::InlineHandler): takes a well-formed SendMessage for a new task and
  /// answers it through `responder` when the task settles (Server::CallAsync), so no thread waits
  /// for the handler. Anything else (other methods, continued tasks, every error) returns false
  /// and takes Handle's path on a worker.
  bool HandleInline(const std::shared_ptr<net::HttpRequest>& request, const net::ResponderPtr& responder);

  /// A JSON-RPC error body (id null) with an HTTP status, for the transport's own errors.
  static net::HttpResponse ErrorResponse(int http_status, int jsonrpc_code, std::string_view message);

 private:
  bool OriginAllowed(std::string_view origin) const;
  bool HostAllowed(std::string_view host) const;
  std::string EndpointUrl(const net::HttpRequest& request) const;
  net::HttpResponse HandleRpc(net::HttpRequest& request);
  static CallContext ContextFor(const net::HttpRequest& request);
  static net::HttpResponse JsonRpcResponse(const Reply& reply, const std::string& route);
  net::HttpResponse HandleCard(net::HttpRequest& request, std::string_view endpoint_url);

  Server& server_;
  HttpOptions options_;
};

}  // namespace tuna::a2a
