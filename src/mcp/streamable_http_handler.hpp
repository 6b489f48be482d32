#pragma once
// The Streamable HTTP rules as a plain net::HttpHandler, so the gateway can mount an MCP
// endpoint on its own net::HttpServer; StreamableHttpServer wraps it with a server of its own.
// The net::HttpServer must be stopped before this handler is destroyed (streams call into it).

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/http_types.hpp"
#include "net/worker_pool.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace tuna::mcp {

/// Header names (HTTP header names are case-insensitive; these are the spellings we send).
inline constexpr std::string_view kSessionHeader = "Mcp-Session-Id";
inline constexpr std::string_view kProtocolVersionHeader = "MCP-Protocol-Version";

class StreamableHttpHandler {
 public:
  StreamableHttpHandler(const Server& server, StreamableHttpOptions options);

  /// Answers one HTTP request to the MCP endpoint. Thread-safe; may block in a tool handler.
  net::HttpResponse Handle(net::HttpRequest& request);
  /// Live sessions after dropping the expired ones.
  std::size_t SessionCount();

  /// The JSON-RPC error body the transport answers with (id null).
  static net::HttpResponse ErrorResponse(int http_status, int jsonrpc_code, std::string_view message);

 private:
  struct Session {
    SessionState state;
    std::chrono::steady_clock::time_point last_used;
  };

  std::chrono::steady_clock::time_point Now() const;
  bool OriginAllowed(std::string_view origin) const;
  bool HostAllowed(std::string_view host) const;
  net::HttpResponse HandlePost(net::HttpRequest& request);
  net::HttpResponse HandleDelete(net::HttpRequest& request);
  net::HttpResponse StreamResponse(const jsonrpc::Message& message, const SessionState& state);
  void SweepLocked(std::chrono::steady_clock::time_point now);

  const Server& server_;
  StreamableHttpOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Session> sessions_;  // bounded by options_.max_sessions
  // Last member: destroyed (its threads joined) first, while everything its tasks use still lives.
  std::unique_ptr<net::WorkerPool> stream_pool_;
};

}  // namespace tuna::mcp
