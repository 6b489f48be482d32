#pragma once
// The Streamable HTTP rules as a plain net::HttpHandler, so the gateway can mount an MCP
// endpoint on its own net::HttpServer; StreamableHttpServer wraps it with a server of its own.
// The net::HttpServer must be stopped before this handler is destroyed (streams call into it);
// then CloseAll() (or the destructor) ends the sessions.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/http_types.hpp"
#include "net/worker_pool.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/mcp/session.hpp"
#include "tuna/mcp/streamable_http.hpp"

namespace tuna::mcp {

/// Header names (HTTP header names are case-insensitive; these are the spellings we send).
inline constexpr std::string_view kSessionHeader = "Mcp-Session-Id";
inline constexpr std::string_view kProtocolVersionHeader = "MCP-Protocol-Version";
inline constexpr std::string_view kLastEventIdHeader = "Last-Event-ID";

class SseEventStream;  // one SSE stream's events, replay buffer and current connection

class StreamableHttpHandler {
 public:
  /// Serves the static `server` (which must outlive the handler) to every session.
  StreamableHttpHandler(const Server& server, StreamableHttpOptions options);
  /// Serves a SessionHandler per session, made by `factory`.
  StreamableHttpHandler(SessionFactoryPtr factory, StreamableHttpOptions options);
  ~StreamableHttpHandler();  // CloseAll()
  StreamableHttpHandler(const StreamableHttpHandler&) = delete;
  StreamableHttpHandler& operator=(const StreamableHttpHandler&) = delete;

  /// Answers one HTTP request to the MCP endpoint. Thread-safe; may block in a tool handler.
  net::HttpResponse Handle(net::HttpRequest& request);
  /// For relays that answer a POST themselves (the gateway's inline MCP relay): the handler of
  /// the session the POST names when it passes every transport rule Handle() applies (Accept,
  /// Content-Type, a live session, MCP-Protocol-Version), refreshing the session's idle TTL.
  /// Null: leave the request to Handle(), which answers it (or its error).
  SessionHandlerPtr RelaySession(const net::HttpRequest& request);
  /// Live sessions after dropping the expired ones.
  std::size_t SessionCount();
  /// Ends every session: Close()s its handler and ends its streams. Idempotent; for server stop.
  void CloseAll();

  /// The JSON-RPC error body the transport answers with (id null).
  static net::HttpResponse ErrorResponse(int http_status, int jsonrpc_code, std::string_view message);

  struct Session;  // defined in the .cpp
  using SessionPtr = std::shared_ptr<Session>;

 private:
  std::chrono::steady_clock::time_point Now() const;
  bool OriginAllowed(std::string_view origin) const;
  bool HostAllowed(std::string_view host) const;
  net::HttpResponse HandlePost(net::HttpRequest& request);
  net::HttpResponse HandleGet(net::HttpRequest& request);
  net::HttpResponse HandleDelete(net::HttpRequest& request);
  net::HttpResponse Initialize(const jsonrpc::Message& message, const net::HttpRequest& request);
  // The live session named by the request's header (refreshing its TTL), or an error response.
  SessionPtr FindSession(const net::HttpRequest& request, net::HttpResponse& error);
  net::HttpResponse LiveStreamResponse(const SessionPtr& session, const jsonrpc::Message& message);
  std::shared_ptr<SseEventStream> NewPostStream(const SessionPtr& session);
  net::HttpResponse AttachResponse(std::shared_ptr<SseEventStream> stream, std::optional<std::uint64_t> after);
  // Moves expired sessions out of the map (caller holds mu_); the caller ends them unlocked.
  void SweepLocked(std::chrono::steady_clock::time_point now, std::vector<SessionPtr>& expired);
  void EndSession(const SessionPtr& session, std::string_view why);

  SessionFactoryPtr factory_;
  StreamableHttpOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, SessionPtr> sessions_;  // bounded by options_.max_sessions
  // Last member: destroyed (its threads joined) first, while everything its tasks use still lives.
  std::unique_ptr<net::WorkerPool> stream_pool_;
};

}  // namespace tuna::mcp
