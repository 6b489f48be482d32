#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace tuna::testing {

HttpConnection::HttpConnection(std::uint16_t port, std::string host) {
  bool v6 = host.find(':') != std::string::npos;
  fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  int rc = -1;
  if (v6) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &addr.sin6_addr);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } else {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  if (rc != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpConnection::~HttpConnection() { Close(); }

HttpConnection::HttpConnection(HttpConnection&& other) noexcept { *this = std::move(other); }

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    buf_ = std::move(other.buf_);
    decoded_ = std::move(other.decoded_);
    stream_ended_ = other.stream_ended_;
    timeout_ = other.timeout_;
  }
  return *this;
}

void HttpConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
  decoded_.clear();
}

bool HttpConnection::SendRaw(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool HttpConnection::SendRequest(const std::string& method, const std::string& path, const std::string& body,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "content-length" || lower == "transfer-encoding") has_length = true;
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")) {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  return SendRaw(req);
}

bool HttpConnection::Fill() {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, static_cast<int>(timeout_.count()));
  if (rc <= 0) return false;
  char tmp[16384];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

bool HttpConnection::ReadLineRaw(std::string& line) {
  for (;;) {
    auto pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      line = buf_.substr(0, pos);
      buf_.erase(0, pos + 2);
      return true;
    }
    if (!Fill()) return false;
  }
}

bool HttpConnection::ReadExact(std::size_t n, std::string& out) {
  while (buf_.size() < n) {
    if (!Fill()) return false;
  }
  out.append(buf_, 0, n);
  buf_.erase(0, n);
  return true;
}

bool HttpConnection::ReadChunk(std::string& out, bool& last) {
  std::string size_line;
  if (!ReadLineRaw(size_line)) return false;
  std::size_t size = std::strtoul(size_line.c_str(), nullptr, 16);
  last = size == 0;
  if (last) {
    std::string trailer;
    do {
      if (!ReadLineRaw(trailer)) return false;
    } while (!trailer.empty());
    return true;
  }
  if (!ReadExact(size, out)) return false;
  std::string crlf;
  return ReadLineRaw(crlf);
}

HttpResult HttpConnection::ReadHead() {
  HttpResult r;
  std::string line;
  do {
    if (!ReadLineRaw(line)) {
      r.error = "no status line";
      return r;
    }
    if (line.rfind("HTTP/1.1 100", 0) == 0) {  // interim 100 Continue: skip it and its blank line
      std::string blank;
      while (ReadLineRaw(blank) && !blank.empty()) {
      }
      line.clear();
    }
  } while (line.empty());
  if (line.size() < 12 || line.rfind("HTTP/1.", 0) != 0) {
    r.error = "bad status line: " + line;
    return r;
  }
  r.status = std::atoi(line.c_str() + 9);
  for (;;) {
    if (!ReadLineRaw(line)) {
      r.error = "truncated headers";
      r.status = 0;
      return r;
    }
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[name] = value;
  }
  stream_ended_ = false;
  decoded_.clear();
  return r;
}

HttpResult HttpConnection::ReadResponse() {
  HttpResult r = ReadHead();
  if (r.status == 0) return r;
  if (r.Header("transfer-encoding").find("chunked") != std::string::npos) {
    for (;;) {
      bool last = false;
      if (!ReadChunk(r.body, last)) {
        r.error = "truncated chunked body";
        break;
      }
      if (last) break;
    }
  } else if (!r.Header("content-length").empty()) {
    std::size_t n = std::strtoul(r.Header("content-length").c_str(), nullptr, 10);
    if (!ReadExact(n, r.body)) r.error = "truncated body";
  } else {
    while (Fill()) {
    }
    r.body = std::move(buf_);
    buf_.clear();
  }
  if (r.Header("connection") == "close") Close();
  return r;
}

HttpResult HttpConnection::Request(const std::string& method, const std::string& path, const std::string& body,
                                   const std::vector<std::pair<std::string, std::string>>& headers) {
  if (!SendRequest(method, path, body, headers)) {
    HttpResult r;
    r.error = "send failed";
    return r;
  }
  return ReadResponse();
}

std::optional<std::string> HttpConnection::ReadLine() {
  for (;;) {
    auto pos = decoded_.find('\n');
    if (pos != std::string::npos) {
      std::string line = decoded_.substr(0, pos);
      decoded_.erase(0, pos + 1);
      return line;
    }
    if (stream_ended_) return std::nullopt;
    bool last = false;
    if (!ReadChunk(decoded_, last)) return std::nullopt;
    if (last) stream_ended_ = true;
  }
}

bool HttpConnection::WaitClosed() {
  while (Fill()) {
    buf_.clear();
  }
  if (fd_ < 0) return true;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;  // Fill() gave up on a timeout: still open
  char c;
  return ::recv(fd_, &c, 1, MSG_DONTWAIT) <= 0;
}

HttpResult ApiClient::Call(const std::string& method, const std::string& path, const std::string& body,
                           std::vector<std::pair<std::string, std::string>> headers) {
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  bool has_type = std::any_of(headers.begin(), headers.end(), [](const auto& h) {
    return h.first == "Content-Type";
  });
  if (!body.empty() && !has_type) headers.emplace_back("Content-Type", "application/json");
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = conn_.connected();
    if (!reused) conn_ = HttpConnection(port_);
    if (!conn_.SendRequest(method, path, body, headers)) {
      conn_.Close();
      if (reused) continue;
      break;
    }
    HttpResult r = conn_.ReadResponse();
    if (r.status == 0 && reused) {  // the server closed an idle keep-alive connection: retry once
      conn_.Close();
      continue;
    }
    return r;
  }
  HttpResult r;
  r.error = "could not reach 127.0.0.1:" + std::to_string(port_);
  return r;
}


}  // namespace tuna::testing
