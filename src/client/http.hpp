#pragma once
// Private: a small libcurl-based HTTP transport for tuna::Client. libcurl stays out of headers.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/client.hpp"
#include "tuna/status.hpp"

namespace tuna::internal {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, starting with '/'
  std::string body;
  std::string content_type;  // of the body
  bool authorize = true;     // send the bearer token
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string request_id;  // X-Request-Id
};

/// Receives a streamed response body piece by piece; return false to stop the transfer.
using BodySink = std::function<bool(std::string_view)>;

/// Pools curl easy handles (each keeps its connection alive) for one server; thread-safe.
class HttpTransport {
 public:
  explicit HttpTransport(ClientOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  /// A unary request; transport failures become kUnavailable / kDeadlineExceeded statuses.
  Result<HttpResponse> Do(const HttpRequest& request);

  /// A streaming GET: a 2xx body goes to `sink` as it arrives; an error status is returned with
  /// its whole body in the response (and nothing is sent to the sink). `stopped` tells whether
  /// the sink asked to stop. No overall timeout; `cancel` aborts the transfer (kCancelled).
  Result<HttpResponse> Stream(const HttpRequest& request, const BodySink& sink,
                              const CancelToken* cancel, bool& stopped);

  const std::string& server() const { return options_.server; }

 private:
  void* Acquire();
  void Release(void* handle);
  Status TransportError(int curl_code, const std::string& detail) const;

  ClientOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL*
};

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view text);

}  // namespace tuna::internal
