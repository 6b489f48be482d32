#pragma once
/// A2A over HTTP (the JSON-RPC binding): POST JSON-RPC to one endpoint (JSON answers, or an SSE
/// stream of JSON-RPC responses for SendStreamingMessage / SubscribeToTask / their 0.3 names),
/// the agent card at GET /.well-known/agent-card.json (and the 0.3 alias /.well-known/agent.json),
/// Host and Origin checks. HttpServer serves an a2a::Server on a port of its own. See docs/a2a.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tuna/a2a/server.hpp"
#include "tuna/status.hpp"

namespace tuna::a2a {

struct HttpOptions {
  /// The JSON-RPC endpoint (POST). The card is served at /.well-known/agent-card.json whatever
  /// this is.
  std::string rpc_path = "/";
  /// The public URL of the JSON-RPC endpoint written into the card ("https://agents.example.com/a2a").
  /// Empty: "http://<Host header><rpc_path>".
  std::string public_url;
  /// Origins allowed to call (exact "scheme://host[:port]", case-insensitive; "*": any). Empty: only
  /// localhost origins. Requests without Origin (non-browser clients) are allowed. Refused: 403.
  std::vector<std::string> allowed_origins;
  /// Host header names allowed (without port; "*": any). Empty: localhost, 127.0.0.1, [::1] (stops
  /// DNS rebinding). A server reached under a real name lists it here. Refused: 403.
  std::vector<std::string> allowed_hosts;
  /// Request bodies above this get 413 (the HTTP server's own bound applies first).
  std::size_t max_body_bytes = 1 << 20;
  /// An SSE stream ends after this (the client can SubscribeToTask again); zero: the HTTP
  /// server's maximum stream duration.
  std::chrono::milliseconds stream_timeout{0};
};

/// Options of the HTTP server the binding runs on.
struct HttpListenOptions {
  std::size_t io_threads = 2;
  /// Requests run on these threads, except SendMessage for a new task: it is answered from the I/O
  /// thread when its task settles, so a waiting call holds no thread (continued tasks still wait here).
  std::size_t worker_threads = 8;
  std::size_t max_body_bytes = 4 << 20;
  /// Per-stream send buffer; a client that falls this far behind is dropped.
  std::size_t stream_buffer_bytes = 1 << 20;
  std::chrono::milliseconds max_stream_duration{std::chrono::minutes(30)};
};

class HttpServer;
using HttpServerPtr = std::unique_ptr<HttpServer>;

/// An A2A agent listening on its own port.
class HttpServer {
 public:
  /// `server` must outlive the HttpServer.
  static Result<HttpServerPtr> Make(Server& server, HttpOptions options = {}, HttpListenOptions listen = {});
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds host:port (0: any free port) and starts serving.
  Status Start(const std::string& host, std::uint16_t port);
  /// The bound port after Start().
  std::uint16_t port() const;
  /// Stops serving (open streams end); idempotent.
  void Stop();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tuna::a2a
