#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "support/temp_dir.hpp"
#include "drivers/pool/http_client.hpp"
#include "gtest/gtest.h"

namespace tuna::pool {
namespace {

using namespace std::chrono_literals;

// A one-shot-per-connection Unix socket server answering each request with a canned response.
class CannedServer {
 public:
  CannedServer(const std::filesystem::path& path, std::vector<std::string> responses)
      : responses_(std::move(responses)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int connections() const { return connections_; }
  const std::string& last_request() const { return last_request_; }

 private:
  void Serve() {
    std::size_t next = 0;
    while (next < responses_.size()) {
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      ++connections_;
      // Serve requests on this connection until the response says to close or we run out.
      for (;;) {
        std::string request;
        char buffer[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::read(conn, buffer, sizeof buffer);
          if (n <= 0) break;
          request.append(buffer, n);
        }
        if (request.empty() || next >= responses_.size()) break;
        last_request_ = request;
        const std::string& response = responses_[next++];
        ssize_t ignored = ::write(conn, response.data(), response.size());
        (void)ignored;
        if (response.find("Connection: close") != std::string::npos || response.find("HTTP/1.0") == 0) break;
      }
      ::close(conn);
    }
  }

  int fd_;
  std::vector<std::string> responses_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::string last_request_;
};

InvokeRequest Get(const std::string& path) {
  InvokeRequest request;
  request.method = "GET";
  request.path = path;
  return request;
}

TEST(PoolHttpClientTest, ContentLengthChunkedAndCloseDelimited) {
  testing::TempDir dir;
  auto socket = dir / "s.sock";
  CannedServer server(socket, {
                                  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
                                  "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n",
                                  "HTTP/1.1 204 No Content\r\n\r\n",
                                  "HTTP/1.0 200 OK\r\n\r\nuntil close",
                              });
  UnixHttpClient client(socket);
  auto deadline = [] { return std::chrono::steady_clock::now() + 10s; };
  auto r1 = client.Call(Get("/a"), deadline());
  ASSERT_TRUE(r1.status.ok()) << r1.status.ToString();
  EXPECT_EQ(r1.response.status, 200);
  EXPECT_EQ(r1.response.body, "hello");
  EXPECT_EQ(r1.response.headers.at(1), (std::pair<std::string, std::string>{"X-A", "b"}));
  auto r2 = client.Call(Get("/b"), deadline());
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  EXPECT_EQ(r2.response.status, 201);
  EXPECT_EQ(r2.response.body, "abcdefg");
  auto r3 = client.Call(Get("/c"), deadline());
  ASSERT_TRUE(r3.status.ok()) << r3.status.ToString();
  EXPECT_EQ(r3.response.status, 204);
  auto r4 = client.Call(Get("/d"), deadline());
  ASSERT_TRUE(r4.status.ok()) << r4.status.ToString();
  EXPECT_EQ(r4.response.body, "until close");
  // The first three shared one kept-alive connection.
  EXPECT_EQ(server.connections(), 1);
}

TEST(PoolHttpClientTest, FailuresAreClassified) {
  testing::TempDir dir;
  UnixHttpClient missing(dir / "nobody.sock");
  auto refused = missing.Call(Get("/"), std::chrono::steady_clock::now() + 1s);
  EXPECT_EQ(refused.failure, HttpFailure::kConnect);
  EXPECT_EQ(refused.status.code(), StatusCode::kUnavailable);

  auto socket = dir / "s.sock";
  {
    // Headers promise more body than arrives before the server closes.
    CannedServer server(socket, {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort"});
    UnixHttpClient client(socket);
    auto cut = client.Call(Get("/"), std::chrono::steady_clock::now() + 10s);
    EXPECT_EQ(cut.failure, HttpFailure::kBrokenConnection);
    EXPECT_EQ(cut.status.code(), StatusCode::kUnavailable);
  }
  InvokeRequest bad = Get("/");
  bad.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  std::filesystem::remove(socket);
  CannedServer server(socket, {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"});
  UnixHttpClient client(socket);
  EXPECT_EQ(client.Call(bad, std::chrono::steady_clock::now() + 10s).status.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tuna::pool
