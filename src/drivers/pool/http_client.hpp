#pragma once
// A small HTTP/1.1 client over a Unix socket (POSIX sockets, no Asio): the pool driver's side of
// the worker protocol. Keeps idle keep-alive connections per socket path. Private.

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "tuna/driver.hpp"

namespace tuna::pool {

/// How a call failed, so the caller can tell "the worker went away" from "the worker is slow".
/// kConnect: the request was never sent (safe to retry elsewhere); kBrokenConnection: it was
/// sent, or partly, and the connection broke (the server may have acted on it).
/// kStopped: InvokeRequest::on_body returned false.
enum class HttpFailure { kNone, kConnect, kBrokenConnection, kTimeout, kProtocol, kStopped };

struct HttpCallResult {
  Status status;                     // OK when a complete response was read
  HttpFailure failure = HttpFailure::kNone;
  InvokeResponse response;
};

/// Connections to one Unix socket, reused while the server keeps them open.
class UnixHttpClient {
 public:
  explicit UnixHttpClient(std::filesystem::path socket_path) : socket_path_(std::move(socket_path)) {}
  ~UnixHttpClient();
  UnixHttpClient(const UnixHttpClient&) = delete;
  UnixHttpClient& operator=(const UnixHttpClient&) = delete;

  /// One request/response; `deadline` bounds connect, write and read together.
  HttpCallResult Call(const InvokeRequest& request, std::chrono::steady_clock::time_point deadline);

  /// Closes idle connections.
  void CloseIdle();

  const std::filesystem::path& socket_path() const { return socket_path_; }

 private:
  HttpCallResult CallOnce(int fd, const InvokeRequest& request, std::chrono::steady_clock::time_point deadline,
                          bool* reusable);

  std::filesystem::path socket_path_;
  std::mutex mu_;
  std::vector<int> idle_;
};

}  // namespace tuna::pool
