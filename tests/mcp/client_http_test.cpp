// The Streamable HTTP client transport's wire behaviour, checked against a scripted HTTP server
// on 127.0.0.1:0 that records every request: headers after initialize, resuming a POST's SSE
// stream with GET + Last-Event-ID, the GET stream, DELETE on close. (tuna's own server has no
// resumable streams yet, so this is the one place those paths meet a server.)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "tuna/mcp/client.hpp"

namespace tuna::mcp {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

struct RecordedRequest {
  std::string method;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string JsonMethod() const {
    auto v = json::parse(body);
    return v.as_object().contains("method") ? std::string(v.at("method").as_string()) : "";
  }
};

// One request per connection (answers carry Connection: close); `respond` returns the raw
// HTTP response.
class ScriptedHttpServer {
 public:
  using Respond = std::function<std::string(const RecordedRequest&)>;
  explicit ScriptedHttpServer(Respond respond) : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~ScriptedHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }
  std::vector<RecordedRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Run() {
    while (!stop_) {
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) {
        if (stop_) return;
        continue;
      }
      Serve(conn);
      ::close(conn);
    }
  }

  void Serve(int conn) {
    std::string data;
    char buffer[4096];
    std::size_t header_end;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(conn, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      data.append(buffer, static_cast<std::size_t>(n));
    }
    RecordedRequest request;
    std::size_t line_end = data.find("\r\n");
    request.method = data.substr(0, data.find(' '));
    std::size_t pos = line_end + 2;
    while (pos < header_end) {
      std::size_t end = data.find("\r\n", pos);
      std::string line = data.substr(pos, end - pos);
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        request.headers[name] = value;
      }
      pos = end + 2;
    }
    std::size_t length = request.headers.count("content-length") ? std::stoul(request.headers["content-length"]) : 0;
    std::string body = data.substr(header_end + 4);
    while (body.size() < length) {
      ssize_t n = ::recv(conn, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      body.append(buffer, static_cast<std::size_t>(n));
    }
    request.body = body;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    std::string response = respond_(request);
    ::send(conn, response.data(), response.size(), MSG_NOSIGNAL);
  }

  Respond respond_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<RecordedRequest> requests_;
};

std::string HttpResponse(int status, const std::string& content_type, const std::string& body,
                         const std::string& extra_headers = "") {
  std::string reason = status == 200 ? "OK" : status == 202 ? "Accepted" : status == 405 ? "Method Not Allowed" : "Other";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nConnection: close\r\n" + extra_headers;
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

std::string SseResponse(const std::string& events) {
  // No Content-Length: the stream ends when the connection closes.
  return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n" + events;
}

TEST(McpClientHttpWire, HeadersResumeAndDelete) {
  std::string call_id;
  ScriptedHttpServer server([&](const RecordedRequest& r) -> std::string {
    if (r.method == "DELETE") return HttpResponse(200, "", "");
    if (r.method == "GET") {
      if (r.Header("last-event-id").empty()) return HttpResponse(405, "", "");  // no standalone stream
      // The resumed stream of the tools/call: the response.
      return SseResponse("id: e3\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":" + call_id +
                         ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"resumed\"}]}}\n\n");
    }
    json::object msg = json::parse(r.body).as_object();
    std::string method = msg.contains("method") ? std::string(msg.at("method").as_string()) : "";
    if (!msg.contains("id")) return HttpResponse(202, "", "");
    std::string id = json::serialize(msg.at("id"));
    if (method == "initialize") {
      return HttpResponse(200, "application/json",
                          "{\"jsonrpc\":\"2.0\",\"id\":" + id +
                              ",\"result\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"tools\":{}},"
                              "\"serverInfo\":{\"name\":\"scripted\",\"version\":\"9\"},\"instructions\":\"be nice\"}}",
                          "Mcp-Session-Id: sess-1\r\n");
    }
    if (method == "tools/call") {
      call_id = id;
      std::string token = json::serialize(msg.at("params").at("_meta").at("progressToken"));
      // A priming event, one progress notification, then the connection drops before the response.
      return SseResponse("id: e1\nretry: 10\ndata:\n\nid: e2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
                         "\"notifications/progress\",\"params\":{\"progressToken\":" + token +
                         ",\"progress\":1,\"total\":2}}\n\n");
    }
    return HttpResponse(200, "application/json", "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":{}}");
  });

  HttpTransportOptions options;
  options.url = server.url();
  options.headers = {{"Authorization", "Bearer secret"}};
  auto transport = MakeHttpTransport(options);
  ASSERT_TRUE(transport.ok());
  auto client = Client::Connect(std::move(*transport));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->server_info().instructions, "be nice");

  std::vector<Progress> progress;
  CallOptions call;
  call.on_progress = [&](const Progress& p) { progress.push_back(p); };
  call.headers = {{"traceparent", "00-11111111111111111111111111111111-2222222222222222-01"}};
  auto r = (*client)->CallTool("slow", {}, call);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->content.at(0).at("text").as_string(), "resumed");
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].total, 2.0);
  (*client)->Close();

  auto requests = server.requests();
  const RecordedRequest* init = nullptr;
  const RecordedRequest* initialized = nullptr;
  const RecordedRequest* tool_call = nullptr;
  const RecordedRequest* resume = nullptr;
  const RecordedRequest* del = nullptr;
  for (const auto& req : requests) {
    if (req.method == "POST" && req.JsonMethod() == "initialize") init = &req;
    if (req.method == "POST" && req.JsonMethod() == "notifications/initialized") initialized = &req;
    if (req.method == "POST" && req.JsonMethod() == "tools/call") tool_call = &req;
    if (req.method == "GET" && !req.Header("last-event-id").empty()) resume = &req;
    if (req.method == "DELETE") del = &req;
  }
  ASSERT_TRUE(init && initialized && tool_call && resume && del);
  EXPECT_EQ(init->Header("accept"), "application/json, text/event-stream");
  EXPECT_EQ(init->Header("content-type"), "application/json");
  EXPECT_EQ(init->Header("mcp-session-id"), "");
  EXPECT_EQ(init->Header("authorization"), "Bearer secret");
  for (const RecordedRequest* req : {initialized, tool_call, resume, del}) {
    EXPECT_EQ(req->Header("mcp-session-id"), "sess-1") << req->method << " " << req->body;
    EXPECT_EQ(req->Header("mcp-protocol-version"), "2025-11-25") << req->method << " " << req->body;
    EXPECT_EQ(req->Header("authorization"), "Bearer secret");
  }
  EXPECT_EQ(tool_call->Header("traceparent"), "00-11111111111111111111111111111111-2222222222222222-01");
  EXPECT_EQ(resume->Header("last-event-id"), "e2");
  EXPECT_EQ(resume->Header("accept"), "text/event-stream");
}

TEST(McpClientHttpWire, ServerRequestOnTheEventStreamIsAnswered) {
  // The GET stream carries a ping and a roots/list request; the client POSTs the answers.
  std::atomic<int> gets{0};
  ScriptedHttpServer server([&](const RecordedRequest& r) -> std::string {
    if (r.method == "DELETE") return HttpResponse(200, "", "");
    if (r.method == "GET") {
      if (gets++ > 0) return HttpResponse(405, "", "");
      return SseResponse("id: g1\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"ping\"}\n\n"
                         "id: g2\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"srv-2\",\"method\":\"roots/list\"}\n\n");
    }
    json::object msg = json::parse(r.body).as_object();
    if (!msg.contains("id") || !msg.contains("method")) return HttpResponse(202, "", "");
    std::string id = json::serialize(msg.at("id"));
    return HttpResponse(200, "application/json",
                        "{\"jsonrpc\":\"2.0\",\"id\":" + id +
                            ",\"result\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                            "\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}",
                        "Mcp-Session-Id: sess-2\r\n");
  });
  HttpTransportOptions options;
  options.url = server.url();
  options.reconnect_delay = 20ms;
  auto transport = MakeHttpTransport(options);
  ASSERT_TRUE(transport.ok());
  auto client = Client::Connect(std::move(*transport));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  // Wait for both answers to arrive (no timing assertion: a generous bound only).
  std::vector<json::value> answers;
  for (int i = 0; i < 200 && answers.size() < 2; ++i) {
    answers.clear();
    for (const auto& req : server.requests()) {
      if (req.method != "POST") continue;
      json::value v = json::parse(req.body);
      if (v.as_object().contains("result") || v.as_object().contains("error")) answers.push_back(v);
    }
    if (answers.size() < 2) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].at("id").as_string(), "srv-1");
  EXPECT_TRUE(answers[0].at("result").is_object());
  EXPECT_EQ(answers[1].at("id").as_string(), "srv-2");
  EXPECT_EQ(answers[1].at("error").at("code").to_number<int>(), jsonrpc::kMethodNotFound);
  // The second GET carried the last event id it had seen.
  bool resumed = false;
  for (const auto& req : server.requests()) resumed = resumed || (req.method == "GET" && req.Header("last-event-id") == "g2");
  EXPECT_TRUE(resumed);
  // The session id and version went with the GET too.
  for (const auto& req : server.requests()) {
    if (req.method == "GET") {
      EXPECT_EQ(req.Header("mcp-session-id"), "sess-2");
      EXPECT_EQ(req.Header("mcp-protocol-version"), "2025-06-18");
      EXPECT_EQ(req.Header("accept"), "text/event-stream");
    }
  }
}

}  // namespace
}  // namespace tuna::mcp
