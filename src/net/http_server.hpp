#pragma once
// tuna's HTTP/1.1 server (Boost.Beast on Asio, compiled in net/http_server.cpp only). Hosts the
// REST API now and the A2A/MCP gateway later; see docs/http.md for the design.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/http_types.hpp"
#include "tuna/status.hpp"

namespace tuna::metrics {
class Registry;
}

namespace tuna::net {

struct HttpServerOptions {
  std::size_t io_threads = 2;
  std::size_t worker_threads = 4;
  std::size_t max_queued_requests = 1024;  // handler queue bound; 503 beyond
  std::size_t max_body_bytes = 4 << 20;    // 413 beyond (Content-Length or chunked)
  std::size_t max_header_bytes = 16 << 10; // 431 beyond
  std::size_t max_connections = 1024;      // 503 and close beyond
  std::chrono::milliseconds read_timeout{30000};   // a whole request (headers+body); 408 beyond
  std::chrono::milliseconds idle_timeout{60000};   // keep-alive wait for the next request
  std::chrono::milliseconds write_timeout{30000};  // one response or stream write
  std::chrono::milliseconds handler_timeout{60000};  // queue wait + handler; 504 beyond
  std::chrono::milliseconds max_stream_duration{1800000};
  std::chrono::milliseconds drain_timeout{5000};   // graceful stop waits this long for requests
  std::size_t stream_buffer_bytes = 1 << 20;       // per-stream bound of StreamWriter
  std::string server_header = "tuna";
  /// Body of transport errors; default: Kubernetes Status JSON.
  ErrorBodyFn error_body;
  /// Metrics go here (tuna_http_*); when null the server keeps a private registry.
  metrics::Registry* metrics = nullptr;
  /// Tried on the I/O thread before the worker pool; optional (see InlineHandler).
  InlineHandler inline_handler;
};

/// Live counters for tests and /metrics.
struct HttpServerStats {
  std::size_t open_connections = 0;
  std::size_t open_streams = 0;
  std::size_t in_flight = 0;
};

class UpstreamClient;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds host:port (port 0: any free port), starts the I/O and worker threads.
  Status Start(const std::string& host, std::uint16_t port);
  /// The bound port after Start().
  std::uint16_t port() const;
  /// Stops accepting, ends streams (last chunk), lets in-flight requests finish for up to
  /// drain_timeout, then joins every thread. Idempotent and thread-safe; must not be called from
  /// a handler or stream callback (they run on the threads it joins).
  void Stop();
  HttpServerStats Stats() const;
  /// An HTTP client whose connections run on this server's I/O threads (no threads of its own),
  /// for relaying requests from an InlineHandler. It stops working when the server stops.
  std::shared_ptr<UpstreamClient> upstream_client();

  class Impl;  // named by the connection classes in http_server.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

/// "host:port", "[::1]:port" or ":port" (all interfaces) -> host and port.
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace tuna::net
