#pragma once
// A tiny blocking HTTP/1.1 client on plain POSIX sockets for tests: keep-alive requests, raw
// bytes (for malformed-input tests), and line-by-line reading of chunked streams. Independent of
// the server's code and of the CLI's client on purpose.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"

namespace tuna::testing {

struct HttpResult {
  int status = 0;                             // 0: no response (see error)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpConnection {
 public:
  HttpConnection() = default;
  explicit HttpConnection(std::uint16_t port, std::string host = "127.0.0.1");
  ~HttpConnection();
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&& other) noexcept;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  /// Every blocking read gives up after this (so a broken server fails a test, never hangs it).
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

  bool SendRaw(std::string_view bytes);
  /// Sends a request (adds Host and Content-Length) without reading the answer.
  bool SendRequest(const std::string& method, const std::string& path, const std::string& body = {},
                   const std::vector<std::pair<std::string, std::string>>& headers = {});
  /// Reads one whole response (Content-Length, chunked, or until close).
  HttpResult ReadResponse();
  /// SendRequest + ReadResponse.
  HttpResult Request(const std::string& method, const std::string& path, const std::string& body = {},
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

  /// Reads only the status line and headers (for streams).
  HttpResult ReadHead();
  /// Next '\n'-terminated line of a chunked body (without the '\n'); nullopt at the end of the
  /// stream, on close or on timeout (see stream_ended()).
  std::optional<std::string> ReadLine();
  /// True once the terminating chunk was read.
  bool stream_ended() const { return stream_ended_; }
  /// Waits until the peer closes the connection; false on timeout.
  bool WaitClosed();
  void Close();

 private:
  bool Fill();  // reads more bytes into buf_; false on EOF/timeout/error
  bool ReadLineRaw(std::string& line);  // CRLF-terminated line from buf_
  bool ReadExact(std::size_t n, std::string& out);
  bool ReadChunk(std::string& out, bool& last);

  int fd_ = -1;
  std::string buf_;
  std::string decoded_;
  bool stream_ended_ = false;
  std::chrono::milliseconds timeout_{15000};
};

/// Client of the tuna REST API for tests: one keep-alive connection, Bearer token.
class ApiClient {
 public:
  ApiClient(std::uint16_t port, std::string token) : port_(port), token_(std::move(token)) {}
  HttpResult Call(const std::string& method, const std::string& path, const std::string& body = {},
                  std::vector<std::pair<std::string, std::string>> headers = {});
  HttpResult Get(const std::string& path) { return Call("GET", path); }
  HttpResult Post(const std::string& path, const std::string& body) { return Call("POST", path, body); }
  HttpResult Put(const std::string& path, const std::string& body) { return Call("PUT", path, body); }
  HttpResult Patch(const std::string& path, const std::string& body) {
    return Call("PATCH", path, body, {{"Content-Type", "application/merge-patch+json"}});
  }
  HttpResult Delete(const std::string& path) { return Call("DELETE", path); }
  std::uint16_t port() const { return port_; }
  const std::string& token() const { return token_; }

 private:
  std::uint16_t port_;
  std::string token_;
  HttpConnection conn_;
};


}  // namespace tuna::testing
