#pragma once
/// The MCP Streamable HTTP transport (revisions 2025-06-18 and 2025-11-25) serving a static
/// tuna::mcp::Server or per-session handlers from a SessionFactory (tuna/mcp/session.hpp) on
/// tuna's own HTTP server: one endpoint, POST for client messages (JSON answers, or SSE streams
/// when a request sends notifications), GET for the session's standalone SSE stream of
/// server-initiated messages, event ids and resumption with Last-Event-ID, DELETE to end a
/// session, Mcp-Session-Id sessions with an idle TTL and a bound on their number,
/// MCP-Protocol-Version checks and Host/Origin validation. See docs/mcp.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tuna/mcp/server.hpp"
#include "tuna/mcp/session.hpp"
#include "tuna/status.hpp"

namespace tuna::mcp {

struct StreamableHttpOptions {
  /// The one MCP endpoint; other paths get 404.
  std::string path = "/mcp";
  /// Origins allowed to call (exact "scheme://host[:port]", compared case-insensitively; "*"
  /// allows any). Empty: only localhost origins (localhost, 127.0.0.1, [::1]). Requests without an
  /// Origin header (non-browser clients) are always allowed. A refused Origin gets 403.
  std::vector<std::string> allowed_origins;
  /// Host header names allowed (without port, case-insensitive; "*" allows any). Empty: only
  /// localhost, 127.0.0.1 and [::1], which stops DNS rebinding against a local server. A server
  /// reached under a real name lists it here. A refused Host gets 403.
  std::vector<std::string> allowed_hosts;
  /// A session unused this long is forgotten (later requests with its id get 404).
  std::chrono::milliseconds session_idle_ttl{std::chrono::minutes(30)};
  /// At most this many live sessions; an initialize beyond it gets 503.
  std::size_t max_sessions = 10000;
  /// A tools/call that asks for progress (params._meta.progressToken) is answered with an SSE
  /// stream: progress notifications, then the response. Those calls run on a pool of this many
  /// threads, with at most `max_queued_streams` waiting (beyond: a -32603 "busy" error event).
  std::size_t stream_threads = 4;
  std::size_t max_queued_streams = 256;
  /// Events each SSE stream keeps for replay to a client that reconnects with Last-Event-ID
  /// (and, on the standalone stream, server-initiated messages waiting while no GET is open).
  /// Beyond it the oldest are dropped; a resume from before them restarts from the oldest kept.
  std::size_t replay_buffer_events = 256;
  /// Finished POST streams a session keeps for resumption (the oldest are forgotten first).
  std::size_t max_retained_streams = 16;
  /// The reconnection delay announced in the priming event (`retry:`) of 2025-11-25 sessions.
  std::chrono::milliseconds sse_retry{1000};
  /// The clock for session expiry; tests inject their own. Null: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

/// Options of the HTTP server the transport runs on.
struct HttpListenOptions {
  std::size_t io_threads = 2;
  std::size_t worker_threads = 4;  // tool calls run here and may block
  std::size_t max_body_bytes = 4 << 20;
};

class StreamableHttpServer;
using StreamableHttpServerPtr = std::unique_ptr<StreamableHttpServer>;

/// An MCP server listening on its own port.
class StreamableHttpServer {
 public:
  /// Builds the transport for `server`, which must outlive it.
  static Result<StreamableHttpServerPtr> Make(const Server& server, StreamableHttpOptions options,
                                              HttpListenOptions listen = {});
  /// Builds the transport for per-session handlers made by `factory`.
  static Result<StreamableHttpServerPtr> Make(SessionFactoryPtr factory, StreamableHttpOptions options,
                                              HttpListenOptions listen = {});
  ~StreamableHttpServer();  // Stop()s
  StreamableHttpServer(const StreamableHttpServer&) = delete;
  StreamableHttpServer& operator=(const StreamableHttpServer&) = delete;

  /// Binds host:port (0: any free port) and starts serving.
  Status Start(const std::string& host, std::uint16_t port);
  /// The bound port after Start().
  std::uint16_t port() const;
  /// Stops serving and ends every session (each SessionHandler is Close()d); idempotent.
  void Stop();
  /// Live sessions (after dropping expired ones).
  std::size_t SessionCount() const;

  class Impl;

 private:
  explicit StreamableHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::mcp
