#pragma once
// Request/response types of tuna's HTTP server. Free of Asio and Beast on purpose: handlers
// (the REST API now, the A2A/MCP gateway later) include only this header.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tuna::net {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;                 // "GET", upper case as sent
  std::string target;                 // raw request-target ("/a/b?c=d")
  std::string path;                   // percent-decoded path
  std::vector<std::string> segments;  // percent-decoded path segments (so "a%2Fb" stays one)
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps the last value
  HeaderList headers;                 // as received
  std::string body;
  std::string request_id;             // X-Request-Id if sane, else generated
  std::string remote_address;
  std::chrono::steady_clock::time_point received;

  /// First header with this name (case-insensitive); empty if absent.
  std::string_view Header(std::string_view name) const;
  bool HasQuery(std::string_view key) const { return query.find(std::string(key)) != query.end(); }
  /// Query value or `fallback`.
  std::string QueryOr(std::string_view key, std::string fallback = {}) const;
};

/// Writes a streaming response body (chunked transfer encoding). Thread-safe; Send() never
/// blocks: bytes go to a bounded buffer that the connection's I/O thread drains. No thread is
/// held per stream.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  /// Queues bytes (sent as one chunk, possibly coalesced with others). Returns false when the
  /// stream is closed, the client is gone, or the buffer bound would be exceeded; in the last
  /// case the stream is ended after what is already buffered (a slow client is dropped, never
  /// allowed to grow server memory).
  virtual bool Send(std::string data) = 0;
  /// Ends the response (the last chunk follows whatever is buffered). Idempotent.
  virtual void Close() = 0;
  /// True once the stream ended for any reason (or is ending).
  virtual bool closed() const = 0;
  /// Bytes queued but not yet written to the socket.
  virtual std::size_t buffered() const = 0;
  /// The buffer bound.
  virtual std::size_t capacity() const = 0;
  /// Runs `fn` once when the stream ends (finished, client gone, timeout, server stop). If it has
  /// already ended, `fn` runs soon on the I/O thread. Callbacks run on the connection's I/O
  /// thread and must not block.
  virtual void OnClose(std::function<void()> fn) = 0;
  /// Runs `fn` (on the I/O thread) each time a write completes and the buffer has dropped below
  /// half its capacity: producers that stopped because the buffer was full resume here.
  virtual void OnWritable(std::function<void()> fn) = 0;
  /// Runs `fn` on the connection's I/O thread, serialized with its writes.
  virtual void Post(std::function<void()> fn) = 0;
};
using StreamWriterPtr = std::shared_ptr<StreamWriter>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;
  std::string body;
  /// Route template for metrics and logs ("/apis/tuna.ai/v1alpha1/namespaces/{namespace}/{plural}");
  /// bounded cardinality, so never the raw path. Empty: "other".
  std::string route;
  /// When set, the body is ignored: the server sends the headers with chunked encoding, then
  /// calls this (on the I/O thread) with the stream's writer.
  std::function<void(StreamWriterPtr)> stream;
  /// A stream ends after this; zero: the server's maximum stream duration.
  std::chrono::milliseconds stream_timeout{0};
  /// Close the connection after this response.
  bool close_connection = false;
};

/// Runs on a worker thread; may block on store I/O. Exceptions become a 500 with the request id.
using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

/// Completes a request an InlineHandler took. Exactly one of Respond or Defer, once, from any
/// thread; later calls are ignored. The server's handler timeout still applies (504).
class Responder {
 public:
  virtual ~Responder() = default;
  /// Sends the response (on the connection's I/O thread).
  virtual void Respond(HttpResponse response) = 0;
  /// Runs `work` on a worker thread (it may block) and sends what it returns; null `work` runs
  /// the server's HttpHandler. A full handler queue answers 503.
  virtual void Defer(std::function<HttpResponse(HttpRequest&)> work = nullptr) = 0;
};
using ResponderPtr = std::shared_ptr<Responder>;

/// Runs on the connection's I/O thread before any worker thread sees the request, for paths that
/// must not pay a thread hand-off (the gateway's MCP relay). Must never block. Returns false to
/// leave the request to the HttpHandler; true when it took it and will complete it through the
/// Responder. Exceptions count as false.
using InlineHandler = std::function<bool(const std::shared_ptr<HttpRequest>& request, const ResponderPtr& responder)>;

/// Builds the body of an error the transport itself produces (413, 431, 408, 503, 500, 400).
/// Lets the API answer Kubernetes Status objects and the gateway JSON-RPC errors.
using ErrorBodyFn = std::function<HttpResponse(int http_status, std::string_view message, std::string_view request_id)>;

}  // namespace tuna::net
