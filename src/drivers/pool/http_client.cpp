#include "drivers/pool/http_client.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstring>
#include <optional>

namespace tuna::pool {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxIdlePerSocket = 16;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 1 << 30));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

HttpCallResult Fail(HttpFailure failure, Status status) {
  HttpCallResult result;
  result.failure = failure;
  result.status = std::move(status);
  return result;
}

// Reads from a non-blocking socket into `buffer`; 0 on EOF, -1 on error/timeout (errno set:
// ETIMEDOUT, or ECANCELED when `cancelled` says so; it is asked every 50 ms while waiting).
ssize_t ReadSome(int fd, std::string& buffer, Clock::time_point deadline, const std::function<bool()>& cancelled = nullptr) {
  char chunk[16384];
  for (;;) {
    if (cancelled && cancelled()) {
      errno = ECANCELED;
      return -1;
    }
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      return n;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    pollfd pfd = {fd, POLLIN, 0};
    int wait = MillisLeft(deadline);
    if (cancelled && wait > 50) wait = 50;
    int rc = ::poll(&pfd, 1, wait);
    if (rc == 0) {
      if (cancelled && Clock::now() < deadline) continue;
      errno = ETIMEDOUT;
      return -1;
    }
    if (rc < 0 && errno != EINTR) return -1;
  }
}

int Connect(const std::filesystem::path& path, Clock::time_point deadline, int* error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof addr.sun_path) {
    *error = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = errno;
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EAGAIN && errno != EINPROGRESS) {
      *error = errno;
      ::close(fd);
      return -1;
    }
    // A full backlog: wait for the server to accept.
    pollfd pfd = {fd, POLLOUT, 0};
    int rc = ::poll(&pfd, 1, MillisLeft(deadline));
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (rc <= 0 || so_error != 0) {
      *error = rc == 0 ? ETIMEDOUT : so_error;
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

}  // namespace

UnixHttpClient::~UnixHttpClient() { CloseIdle(); }

void UnixHttpClient::CloseIdle() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : idle_) ::close(fd);
  idle_.clear();
}

HttpCallResult UnixHttpClient::Call(const InvokeRequest& request, Clock::time_point deadline) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (fd < 0 && !idle_.empty()) {
      fd = idle_.back();
      idle_.pop_back();
      // An idle connection with something to read is one the server closed (EOF) or broke:
      // drop it before sending. After sending, a broken connection is never retried here, since
      // the server may have acted on the request.
      pollfd pfd = {fd, POLLIN, 0};
      if (::poll(&pfd, 1, 0) != 0) {
        ::close(fd);
        fd = -1;
      }
    }
  }
  if (fd < 0) {
    int error = 0;
    fd = Connect(socket_path_, deadline, &error);
    if (fd < 0) {
      return Fail(error == ETIMEDOUT ? HttpFailure::kTimeout : HttpFailure::kConnect,
                  Unavailable("connect to worker socket " + socket_path_.string() + ": " + std::strerror(error)));
    }
  }
  bool reusable = false;
  HttpCallResult result = CallOnce(fd, request, deadline, &reusable);
  if (result.status.ok() && reusable) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdlePerSocket) {
      idle_.push_back(fd);
      fd = -1;
    }
  }
  if (fd >= 0) ::close(fd);
  return result;
}

namespace {
// The caller's body sink asked to stop: the connection is dropped (not reusable).
HttpCallResult Stopped() {
  HttpCallResult r;
  r.status = Status(StatusCode::kCancelled, "the caller stopped reading the response");
  r.failure = HttpFailure::kStopped;
  return r;
}
}  // namespace

HttpCallResult UnixHttpClient::CallOnce(int fd, const InvokeRequest& request, Clock::time_point deadline,
                                        bool* reusable) {
  *reusable = false;
  std::string out;
  out.reserve(256 + request.body.size());
  out += request.method.empty() ? "GET" : request.method;
  out += ' ';
  out += request.path.empty() ? "/" : request.path;
  out += " HTTP/1.1\r\nHost: worker\r\n";
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "connection") ||
        EqualsIgnoreCase(name, "host") || EqualsIgnoreCase(name, "transfer-encoding")) {
      continue;  // framing is ours
    }
    if (name.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
      return Fail(HttpFailure::kProtocol, InvalidArgument("header '" + name + "' has a line break or colon"));
    }
    has_content_type |= EqualsIgnoreCase(name, "content-type");
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!has_content_type && !request.body.empty()) out += "Content-Type: application/json\r\n";
  out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n\r\n";
  out += request.body;

  std::size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd = {fd, POLLOUT, 0};
      if (::poll(&pfd, 1, MillisLeft(deadline)) == 0) {
        return Fail(HttpFailure::kTimeout, DeadlineExceeded("timed out sending the request to the worker"));
      }
      continue;
    }
    return Fail(HttpFailure::kBrokenConnection,
                Unavailable(std::string("worker connection broke while sending: ") + std::strerror(errno)));
  }

  std::string buffer;
  auto read_more = [&](const char* while_doing) -> std::optional<HttpCallResult> {
    ssize_t n = ReadSome(fd, buffer, deadline, request.cancelled);
    if (n > 0) return std::nullopt;
    if (n < 0 && errno == ECANCELED) return Stopped();
    if (n < 0 && errno == ETIMEDOUT) {
      return Fail(HttpFailure::kTimeout,
                  DeadlineExceeded(std::string("timed out waiting for the worker while ") + while_doing));
    }
    std::string why = n == 0 ? "connection closed" : std::strerror(errno);
    return Fail(HttpFailure::kBrokenConnection,
                Unavailable("worker connection lost while " + std::string(while_doing) + " (" + why + ")"));
  };

  std::size_t header_end;
  while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (buffer.size() > kMaxHeaderBytes) {
      return Fail(HttpFailure::kProtocol, Internal("worker response headers exceed 64 KiB"));
    }
    if (auto failure = read_more("reading the response headers")) return *failure;
  }
  HttpCallResult result;
  std::string_view head(buffer.data(), header_end);
  std::size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    return Fail(HttpFailure::kProtocol, Internal("worker sent a malformed status line"));
  }
  result.response.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  bool keep_alive = status_line.starts_with("HTTP/1.1");
  std::optional<std::size_t> content_length;
  bool chunked = false;
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = Trim(line.substr(0, colon));
    std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "content-length")) {
      content_length = static_cast<std::size_t>(std::strtoull(std::string(value).c_str(), nullptr, 10));
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked = value.find("chunked") != std::string_view::npos;
    } else if (EqualsIgnoreCase(name, "connection")) {
      if (EqualsIgnoreCase(value, "close")) keep_alive = false;
      if (EqualsIgnoreCase(value, "keep-alive")) keep_alive = true;
    }
    result.response.headers.emplace_back(std::string(name), std::string(value));
  }
  buffer.erase(0, header_end + 4);

  int code = result.response.status;
  bool no_body = request.method == "HEAD" || code == 204 || code == 304 || (code >= 100 && code < 200);
  if (no_body) {
    // nothing
  } else if (chunked) {
    std::string body;
    for (;;) {
      std::size_t size_end;
      while ((size_end = buffer.find("\r\n")) == std::string::npos) {
        if (auto failure = read_more("reading a chunk")) return *failure;
      }
      std::size_t size = std::strtoull(buffer.substr(0, size_end).c_str(), nullptr, 16);
      buffer.erase(0, size_end + 2);
      if (size == 0) {
        // No trailers ("\r\n") or trailers ending with an empty line.
        while (!buffer.starts_with("\r\n") && buffer.find("\r\n\r\n") == std::string::npos) {
          if (auto failure = read_more("reading the chunked trailer")) return *failure;
        }
        break;
      }
      if (request.on_body) {
        // Hand over what has arrived of the chunk at once (an event may be a small part of it).
        std::size_t left = size;
        while (left > 0) {
          if (buffer.empty()) {
            if (auto failure = read_more("reading a chunk")) return *failure;
          }
          std::size_t take = std::min(left, buffer.size());
          if (!request.on_body(std::string_view(buffer.data(), take))) return Stopped();
          buffer.erase(0, take);
          left -= take;
        }
        while (buffer.size() < 2) {
          if (auto failure = read_more("reading a chunk")) return *failure;
        }
        buffer.erase(0, 2);
        continue;
      }
      while (buffer.size() < size + 2) {
        if (auto failure = read_more("reading a chunk")) return *failure;
      }
      body.append(buffer, 0, size);
      buffer.erase(0, size + 2);
    }
    result.response.body = std::move(body);
  } else if (content_length && request.on_body) {
    std::size_t left = *content_length;
    while (left > 0) {
      if (buffer.empty()) {
        if (auto failure = read_more("reading the response body")) return *failure;
      }
      std::size_t take = std::min(left, buffer.size());
      if (!request.on_body(std::string_view(buffer.data(), take))) return Stopped();
      buffer.erase(0, take);
      left -= take;
    }
  } else if (content_length) {
    while (buffer.size() < *content_length) {
      if (auto failure = read_more("reading the response body")) return *failure;
    }
    result.response.body = buffer.substr(0, *content_length);
  } else if (request.on_body) {
    keep_alive = false;
    if (!buffer.empty() && !request.on_body(buffer)) return Stopped();
    for (;;) {
      buffer.clear();
      ssize_t n = ReadSome(fd, buffer, deadline, request.cancelled);
      if (n > 0) {
        if (!request.on_body(buffer)) return Stopped();
        continue;
      }
      if (n == 0) break;
      if (errno == ECANCELED) return Stopped();
      if (errno == ETIMEDOUT) return Fail(HttpFailure::kTimeout, DeadlineExceeded("timed out reading the response"));
      return Fail(HttpFailure::kBrokenConnection, Unavailable("worker connection lost while reading the response"));
    }
  } else {
    // Delimited by close.
    keep_alive = false;
    for (;;) {
      ssize_t n = ReadSome(fd, buffer, deadline);
      if (n > 0) continue;
      if (n == 0) break;
      if (errno == ETIMEDOUT) return Fail(HttpFailure::kTimeout, DeadlineExceeded("timed out reading the response"));
      return Fail(HttpFailure::kBrokenConnection, Unavailable("worker connection lost while reading the response"));
    }
    result.response.body = std::move(buffer);
  }
  *reusable = keep_alive;
  return result;
}

}  // namespace tuna::pool
