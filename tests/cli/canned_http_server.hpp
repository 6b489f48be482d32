#pragma once
// Test double: a tiny HTTP/1.1 responder on 127.0.0.1:0 written with plain sockets. It records
// every request and answers each with whatever the test's handler returns (Content-Length bodies,
// or a chunked stream for watches), keeping connections alive like a real server. It stands in for
// `tuna server` only where the API branch is not available and follows docs/api.md's contract.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tuna::testing {

class CannedHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;  // path and query
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string Header(const std::string& name) const {
      auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    }
  };

  struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::map<std::string, std::string> headers;
    /// When non-empty: a chunked response sending these pieces in order.
    std::vector<std::string> chunks;
    std::chrono::milliseconds chunk_delay{0};
    /// Keep a chunked response open after the last piece until the client goes away or Stop().
    bool hold_open = false;
    /// Wait this long before answering (for client timeouts).
    std::chrono::milliseconds delay{0};
  };

  using Handler = std::function<Response(const Request&)>;

  CannedHttpServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~CannedHttpServer() { Stop(); }

  CannedHttpServer(const CannedHttpServer&) = delete;
  CannedHttpServer& operator=(const CannedHttpServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  /// Answers every request with `handler` (replaces the queue).
  void SetHandler(Handler handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }

  /// Queues a response for the next request without a handler; an empty queue answers 599.
  void Enqueue(Response response) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(response));
  }

  /// Every request so far, in arrival order.
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

  /// Waits until at least `n` requests arrived (or the timeout passed).
  bool WaitForRequests(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      connections_.push_back(fd);
      threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // Reads into `buffer` until it holds `n` bytes or the peer closes; false on close/stop.
  bool ReadMore(int fd, std::string& buffer) {
    char chunk[8192];
    while (!stopping_) {
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r == 0) continue;
      if (r < 0) return false;
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  static bool SendAll(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  static std::string Reason(int status) {
    switch (status) {
      case 200: return "OK";
      case 201: return "Created";
      case 401: return "Unauthorized";
      case 404: return "Not Found";
      case 409: return "Conflict";
      case 422: return "Unprocessable Entity";
      default: return "Status";
    }
  }

  // True when the peer closed the connection (checked while holding a stream open).
  static bool PeerClosed(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) return false;
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
  }

  void Serve(int fd) {
    std::string buffer;
    while (!stopping_) {
      std::size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadMore(fd, buffer)) return Close(fd);
      }
      Request req;
      std::string head = buffer.substr(0, end);
      buffer.erase(0, end + 4);
      std::size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      auto sp1 = request_line.find(' ');
      auto sp2 = request_line.find(' ', sp1 + 1);
      req.method = request_line.substr(0, sp1);
      req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        std::size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        pos = e + 2;
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        req.headers[name] = value;
      }
      std::size_t length = 0;
      if (auto cl = req.Header("content-length"); !cl.empty()) length = std::stoul(cl);
      while (buffer.size() < length) {
        if (!ReadMore(fd, buffer)) return Close(fd);
      }
      req.body = buffer.substr(0, length);
      buffer.erase(0, length);

      Response resp;
      {
        std::unique_lock lock(mu_);
        requests_.push_back(req);
        cv_.notify_all();
        if (handler_) {
          Handler h = handler_;
          lock.unlock();
          resp = h(req);
        } else if (!queue_.empty()) {
          resp = std::move(queue_.front());
          queue_.pop_front();
        } else {
          resp.status = 599;
          resp.body = "no canned response";
          resp.content_type = "text/plain";
        }
      }
      if (resp.delay.count() > 0) {
        auto until = std::chrono::steady_clock::now() + resp.delay;
        while (!stopping_ && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) + "\r\n";
      out += "Content-Type: " + resp.content_type + "\r\n";
      for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
      if (resp.chunks.empty()) {
        out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n\r\n" + resp.body;
        if (!SendAll(fd, out)) return Close(fd);
        continue;
      }
      out += "Transfer-Encoding: chunked\r\n\r\n";
      if (!SendAll(fd, out)) return Close(fd);
      for (const auto& piece : resp.chunks) {
        if (resp.chunk_delay.count() > 0) std::this_thread::sleep_for(resp.chunk_delay);
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
        if (!SendAll(fd, size + piece + "\r\n")) return Close(fd);
      }
      if (resp.hold_open) {
        while (!stopping_ && !PeerClosed(fd)) {
        }
        return Close(fd);
      }
      if (!SendAll(fd, "0\r\n\r\n")) return Close(fd);
    }
    Close(fd);
  }

  void Close(int fd) {
    std::lock_guard lock(mu_);
    connections_.erase(std::remove(connections_.begin(), connections_.end(), fd), connections_.end());
    ::close(fd);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Handler handler_;
  std::deque<Response> queue_;
  std::vector<Request> requests_;
  std::vector<int> connections_;
  std::vector<std::thread> threads_;
};

}  // namespace tuna::testing
