#pragma once
// An asynchronous HTTP/1.1 client for relaying requests to upstreams without a thread per call:
// its connections run on an existing io_context (an HttpServer's I/O threads), keep-alive
// connections are pooled per host:port, and completions run on those I/O threads. The gateway's
// MCP relay uses it from an InlineHandler. Free of Asio in this header on purpose.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "net/http_types.hpp"
#include "tuna/status.hpp"

namespace boost::asio {
class io_context;
}

namespace tuna::net {

struct UpstreamRequest {
  std::string host;  // an IP literal or a name (resolved per new connection)
  std::uint16_t port = 80;
  std::string method = "POST";
  std::string target = "/";  // origin-form: "/mcp?x=y"
  HeaderList headers;        // Host is set from host:port unless given
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  // connect + write + whole response
};

struct UpstreamResponse {
  int status = 0;
  HeaderList headers;
  std::string body;
  /// First header with this name (case-insensitive); empty if absent.
  std::string_view Header(std::string_view name) const;
};

/// Called once, on an I/O thread. Failures: kUnavailable (could not connect: the request never
/// left), kDeadlineExceeded (no complete answer in time), kResourceExhausted (answer too large),
/// kInternal (the connection broke after the request was sent: the upstream may have acted on
/// it), kCancelled (the client was shut down).
using UpstreamCallback = std::function<void(Result<UpstreamResponse>)>;

struct UpstreamClientOptions {
  std::size_t max_idle_per_host = 64;         // idle keep-alive connections kept per host:port
  std::size_t max_response_bytes = 16 << 20;  // larger answers fail with kResourceExhausted
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};  // idle connections older are not reused
};

class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  /// Sends the request; `done` runs exactly once. A pooled connection the upstream had closed
  /// (the request failed before any byte of an answer) is retried once on a new connection.
  virtual void Send(UpstreamRequest request, UpstreamCallback done) = 0;
  /// Closes idle connections and fails later Sends with kCancelled. Idempotent.
  virtual void Shutdown() = 0;
};

/// A client on `ioc`, which must outlive every operation (call Shutdown() before it stops).
std::shared_ptr<UpstreamClient> MakeUpstreamClient(boost::asio::io_context& ioc, UpstreamClientOptions options = {});

}  // namespace tuna::net
