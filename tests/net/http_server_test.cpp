// The HTTP server against real sockets on 127.0.0.1, port 0. No timing assertions: short
// timeouts only make limits trigger sooner; every wait has a generous upper bound.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <regex>
#include <thread>

#include <boost/json.hpp>

#include "core/metrics.hpp"
#include "net/http_server.hpp"
#include "support/http_client.hpp"

namespace tuna::net {
namespace {

using namespace std::chrono_literals;
using testing::HttpConnection;
using testing::HttpResult;

// A latch the handler waits on, so tests can hold a worker busy deterministically.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void Wait() {
    std::unique_lock lock(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void WaitForWaiters(int n) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return waiting >= n; });
  }
  void Open() {
    std::lock_guard lock(mu);
    open = true;
    cv.notify_all();
  }
};

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    options.metrics = &registry_;
    server_ = std::make_unique<HttpServer>(options, [this](HttpRequest& req) { return Handle(req); });
    ASSERT_TRUE(server_->Start("127.0.0.1", 0).ok());
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    gate_.Open();
    if (server_) server_->Stop();
  }

  HttpResponse Handle(HttpRequest& req) {
    HttpResponse r;
    r.route = "/test";
    if (req.path == "/echo") {
      boost::json::object o;
      o["method"] = req.method;
      o["path"] = req.path;
      o["body"] = req.body;
      o["requestId"] = req.request_id;
      o["q"] = req.QueryOr("q");
      r.body = boost::json::serialize(o);
    } else if (req.path == "/block") {
      gate_.Wait();
      r.body = "{}";
    } else if (req.path == "/throw") {
      throw std::runtime_error("boom");
    } else if (req.path == "/stream") {
      r.content_type = "application/x-ndjson";
      if (req.HasQuery("timeout_ms")) r.stream_timeout = std::chrono::milliseconds(std::stoi(req.QueryOr("timeout_ms")));
      r.stream = [this](StreamWriterPtr w) {
        w->OnClose([this] {
          std::lock_guard lock(stream_mu_);
          ++stream_closed_;
          stream_cv_.notify_all();
        });
        std::lock_guard lock(stream_mu_);
        writers_.push_back(std::move(w));
        stream_cv_.notify_all();
      };
    } else {
      r.status = 404;
      r.body = "{}";
    }
    return r;
  }

  StreamWriterPtr WaitForWriter(std::size_t index) {
    std::unique_lock lock(stream_mu_);
    stream_cv_.wait_for(lock, 10s, [&] { return writers_.size() > index; });
    return writers_.size() > index ? writers_[index] : nullptr;
  }

  bool WaitForStreamClosed(int n) {
    std::unique_lock lock(stream_mu_);
    return stream_cv_.wait_for(lock, 10s, [&] { return stream_closed_ >= n; });
  }

  HttpConnection Connect() { return HttpConnection(server_->port()); }

  metrics::Registry registry_;
  std::unique_ptr<HttpServer> server_;
  Gate gate_;
  std::mutex stream_mu_;
  std::condition_variable stream_cv_;
  std::vector<StreamWriterPtr> writers_;
  int stream_closed_ = 0;
};

// A top-level field of a JSON body as text: strings as-is, anything else serialized ("413").
std::string Field(const HttpResult& r, const std::string& key) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return "<not a JSON object: " + r.body.substr(0, 200) + ">";
  const auto* f = v.get_object().if_contains(key);
  if (f == nullptr) return "<missing>";
  return f->is_string() ? std::string(f->get_string()) : boost::json::serialize(*f);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  auto c = Connect();
  for (int i = 0; i < 5; ++i) {
    auto r = c.Request("POST", "/echo?q=a%20b", "hello " + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(Field(r, "body"), "hello " + std::to_string(i));
    EXPECT_EQ(Field(r, "q"), "a b");
    EXPECT_TRUE(c.connected());
  }
}

TEST_F(HttpServerTest, HeadGetsHeadersWithoutABody) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c.SendRequest("HEAD", "/echo"));
  auto head = c.ReadHead();  // a body would corrupt the next response on this connection
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.Header("content-length"), "0");
  auto next = c.Request("GET", "/echo?q=after");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(Field(next, "q"), "after");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c.SendRaw("GET /echo?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?q=2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto a = c.ReadResponse();
  auto b = c.ReadResponse();
  EXPECT_EQ(Field(a, "q"), "1");
  EXPECT_EQ(Field(b, "q"), "2");
}

TEST_F(HttpServerTest, RequestIdIsEchoedWhenSaneAndGeneratedOtherwise) {
  StartServer();
  auto c = Connect();
  auto r = c.Request("GET", "/echo", "", {{"X-Request-Id", "abc-123.x"}});
  EXPECT_EQ(r.Header("x-request-id"), "abc-123.x");
  EXPECT_EQ(Field(r, "requestId"), "abc-123.x");

  auto bad = c.Request("GET", "/echo", "", {{"X-Request-Id", "has space\"quote"}});
  std::string generated = bad.Header("x-request-id");
  EXPECT_TRUE(std::regex_match(generated, std::regex("[0-9a-f]{32}"))) << generated;

  auto none = c.Request("GET", "/nope");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.Header("x-request-id").size(), 32u);
}

TEST_F(HttpServerTest, BodyOverLimitByContentLengthIs413BeforeTheBodyIsRead) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  StartServer(o);
  auto c = Connect();
  // Announce 10 MB but send none of it: the server must answer from the header alone.
  ASSERT_TRUE(c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: big-1\r\nContent-Length: 10485760\r\n\r\n"));
  auto r = c.ReadResponse();
  ASSERT_EQ(r.status, 413) << r.error;
  EXPECT_EQ(Field(r, "kind"), "Status");
  EXPECT_EQ(Field(r, "code"), "413");
  EXPECT_EQ(Field(r, "reason"), "RequestEntityTooLarge");
  EXPECT_EQ(Field(r, "requestId"), "big-1");
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413WhileReading) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  StartServer(o);
  auto c = Connect();
  ASSERT_TRUE(c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string chunk(600, 'a');
  for (int i = 0; i < 3; ++i) {
    if (!c.SendRaw("258\r\n" + chunk + "\r\n")) break;  // 0x258 = 600
  }
  auto r = c.ReadResponse();
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_EQ(Field(r, "code"), "413");
}

TEST_F(HttpServerTest, BodyWithinLimitIsAccepted) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  StartServer(o);
  auto c = Connect();
  auto r = c.Request("POST", "/echo", std::string(1024, 'x'));
  EXPECT_EQ(r.status, 200);
  // Chunked within the limit too.
  ASSERT_TRUE(c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  auto r2 = c.ReadResponse();
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(Field(r2, "body"), "hello");
}

TEST_F(HttpServerTest, HeadersOverLimitAre431) {
  HttpServerOptions o;
  o.max_header_bytes = 2048;
  StartServer(o);
  auto c = Connect();
  auto r = c.Request("GET", "/echo", "", {{"X-Big", std::string(4096, 'h')}});
  EXPECT_EQ(r.status, 431) << r.error;
  EXPECT_EQ(Field(r, "reason"), "RequestHeaderFieldsTooLarge");
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponse) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  HttpConnection& conn = c;
  // The 100 arrives before we send the body; ReadResponse skips it after the body is sent.
  ASSERT_TRUE(conn.SendRaw("hello"));
  auto r = conn.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Field(r, "body"), "hello");
}

TEST_F(HttpServerTest, SlowlorisIsCutOffWith408WhileOthersAreServed) {
  HttpServerOptions o;
  o.read_timeout = 300ms;
  StartServer(o);
  auto slow = Connect();
  ASSERT_TRUE(slow.SendRaw("GET /echo HTTP/1.1\r\nHost: x\r\n"));
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    // One header byte at a time, each well within any per-read timeout.
    std::string header = "X-Slow: " + std::string(1000, 's');
    for (char ch : header) {
      if (stop || !slow.SendRaw(std::string(1, ch))) return;
      std::this_thread::sleep_for(20ms);
    }
  });
  // Meanwhile, other clients get answers.
  for (int i = 0; i < 3; ++i) {
    auto other = Connect();
    EXPECT_EQ(other.Request("GET", "/echo").status, 200);
  }
  auto r = slow.ReadResponse();
  stop = true;
  dribble.join();
  EXPECT_EQ(r.status, 408) << r.error;
  EXPECT_EQ(Field(r, "reason"), "Timeout");
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions o;
  o.idle_timeout = 200ms;
  StartServer(o);
  auto c = Connect();
  EXPECT_EQ(c.Request("GET", "/echo").status, 200);
  EXPECT_TRUE(c.WaitClosed());
}

TEST_F(HttpServerTest, GarbageNeverCrashesTheServer) {
  HttpServerOptions o;
  o.read_timeout = 500ms;
  o.max_header_bytes = 4096;
  StartServer(o);
  std::mt19937 rng(42);
  static const char kNulHeader[] = "GET / HTTP/1.1\r\nX: \0\x01\x02\r\n\r\n";
  std::vector<std::string> inputs = {
      "\r\n\r\n",
      "GET\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
      "GET /%zz%00 HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET http://[::1 HTTP/1.1\r\n\r\n",
      std::string(kNulHeader, sizeof kNulHeader - 1),
      "GET / HTTP/1.1\r\n" + std::string(10000, ':') + "\r\n\r\n",
      std::string(100000, 'A'),
  };
  for (int i = 0; i < 40; ++i) {
    std::string junk(static_cast<std::size_t>(rng() % 5000), '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng());
    inputs.push_back(junk);
    inputs.push_back("GET /echo HTTP/1.1\r\n" + junk);
  }
  for (const auto& input : inputs) {
    auto c = Connect();
    ASSERT_TRUE(c.connected());
    c.set_timeout(3s);
    c.SendRaw(input);
    auto r = c.ReadResponse();  // any answer (or a close) is fine; the server must survive
    if (r.status != 0) EXPECT_GE(r.status, 200);
  }
  auto ok = Connect();
  EXPECT_EQ(ok.Request("GET", "/echo").status, 200);
}

TEST_F(HttpServerTest, HandlerExceptionIs500WithRequestId) {
  StartServer();
  auto c = Connect();
  auto r = c.Request("GET", "/throw", "", {{"X-Request-Id", "rid-500"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(Field(r, "requestId"), "rid-500");
  EXPECT_NE(Field(r, "message").find("rid-500"), std::string::npos);
  // The connection and server keep working.
  EXPECT_EQ(c.Request("GET", "/echo").status, 200);
}

TEST_F(HttpServerTest, FullHandlerQueueAnswers503) {
  HttpServerOptions o;
  o.worker_threads = 1;
  o.max_queued_requests = 1;
  StartServer(o);
  auto a = Connect();
  ASSERT_TRUE(a.SendRequest("GET", "/block"));
  gate_.WaitForWaiters(1);  // the only worker is busy
  auto b = Connect();
  ASSERT_TRUE(b.SendRequest("GET", "/block"));
  for (int i = 0; i < 1000 && server_->Stats().in_flight < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(server_->Stats().in_flight, 2u);  // one running, one queued
  auto c = Connect();
  auto r = c.Request("GET", "/echo");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Field(r, "reason"), "ServiceUnavailable");
  gate_.Open();
  EXPECT_EQ(a.ReadResponse().status, 200);
  EXPECT_EQ(b.ReadResponse().status, 200);
}

TEST_F(HttpServerTest, SlowHandlerGets504) {
  HttpServerOptions o;
  o.handler_timeout = 200ms;
  StartServer(o);
  auto c = Connect();
  auto r = c.Request("GET", "/block");
  EXPECT_EQ(r.status, 504);
  gate_.Open();
}

TEST_F(HttpServerTest, ConnectionsOverLimitGet503) {
  HttpServerOptions o;
  o.max_connections = 1;
  StartServer(o);
  auto a = Connect();
  ASSERT_EQ(a.Request("GET", "/echo").status, 200);  // a is open and counted
  auto b = Connect();
  auto r = b.Request("GET", "/echo");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(a.Request("GET", "/echo").status, 200);
}

TEST_F(HttpServerTest, StreamDeliversChunksInOrderThenKeepsTheConnection) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c.SendRequest("GET", "/stream"));
  auto head = c.ReadHead();
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("transfer-encoding"), "chunked");
  EXPECT_EQ(head.Header("content-type"), "application/x-ndjson");
  auto w = WaitForWriter(0);
  ASSERT_TRUE(w);
  std::thread producer([w] {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(w->Send("line " + std::to_string(i) + "\n"));
    w->Close();
  });
  for (int i = 0; i < 100; ++i) {
    auto line = c.ReadLine();
    ASSERT_TRUE(line) << i;
    EXPECT_EQ(*line, "line " + std::to_string(i));
  }
  producer.join();
  EXPECT_FALSE(c.ReadLine());
  EXPECT_TRUE(c.stream_ended());
  EXPECT_TRUE(WaitForStreamClosed(1));
  EXPECT_FALSE(w->Send("late\n"));
  // Same connection, next request.
  EXPECT_EQ(c.Request("GET", "/echo").status, 200);
}

TEST_F(HttpServerTest, StreamNoticesTheClientLeaving) {
  StartServer();
  {
    auto c = Connect();
    ASSERT_TRUE(c.SendRequest("GET", "/stream"));
    ASSERT_EQ(c.ReadHead().status, 200);
    ASSERT_TRUE(WaitForWriter(0));
  }  // client closes
  EXPECT_TRUE(WaitForStreamClosed(1));
  EXPECT_FALSE(writers_[0]->Send("x\n"));
  for (int i = 0; i < 1000 && server_->Stats().open_streams > 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server_->Stats().open_streams, 0u);
}

TEST_F(HttpServerTest, StreamToAClientThatNeverReadsIsBoundedAndSendNeverBlocks) {
  HttpServerOptions o;
  o.stream_buffer_bytes = 64 << 10;
  o.write_timeout = 500ms;
  StartServer(o);
  auto c = Connect();
  ASSERT_TRUE(c.SendRequest("GET", "/stream"));
  ASSERT_EQ(c.ReadHead().status, 200);
  auto w = WaitForWriter(0);
  ASSERT_TRUE(w);
  std::string piece(16 << 10, 'x');
  piece.back() = '\n';
  int sent = 0;
  while (sent < 100000 && w->Send(piece)) ++sent;  // the client reads nothing
  EXPECT_LT(sent, 100000);
  EXPECT_LE(w->buffered(), w->capacity());
  EXPECT_TRUE(WaitForStreamClosed(1));  // ended after the buffer, or cut by the write timeout
}

TEST_F(HttpServerTest, StreamTimeoutEndsTheStream) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c.SendRequest("GET", "/stream?timeout_ms=100"));
  ASSERT_EQ(c.ReadHead().status, 200);
  EXPECT_FALSE(c.ReadLine());
  EXPECT_TRUE(c.stream_ended());
  EXPECT_TRUE(WaitForStreamClosed(1));
}

TEST_F(HttpServerTest, StopEndsStreamsGracefullyAndIsIdempotent) {
  StartServer();
  auto c = Connect();
  ASSERT_TRUE(c.SendRequest("GET", "/stream"));
  ASSERT_EQ(c.ReadHead().status, 200);
  auto w = WaitForWriter(0);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->Send("before stop\n"));
  std::thread t1([&] { server_->Stop(); });
  std::thread t2([&] { server_->Stop(); });
  EXPECT_EQ(c.ReadLine().value_or(""), "before stop");
  EXPECT_FALSE(c.ReadLine());
  EXPECT_TRUE(c.stream_ended());
  t1.join();
  t2.join();
  server_->Stop();
  EXPECT_TRUE(WaitForStreamClosed(1));
  EXPECT_FALSE(Connect().connected());  // the listener is gone
}

TEST_F(HttpServerTest, MetricsCountRequestsByRouteMethodAndCode) {
  StartServer();
  auto c = Connect();
  ASSERT_EQ(c.Request("GET", "/echo").status, 200);
  ASSERT_EQ(c.Request("GET", "/nope").status, 404);
  std::string text = registry_.Expose();
  EXPECT_NE(text.find("tuna_http_requests_total{route=\"/test\",method=\"GET\",code=\"200\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("tuna_http_requests_total{route=\"/test\",method=\"GET\",code=\"404\"} 1"), std::string::npos);
  EXPECT_NE(text.find("tuna_http_request_duration_seconds_count{route=\"/test\",method=\"GET\"} 2"), std::string::npos);
}

TEST(HttpListenAddress, ParsesHostPortForms) {
  auto a = ParseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  auto b = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = ParseListenAddress(":7070");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_FALSE(ParseListenAddress("localhost").ok());
  EXPECT_FALSE(ParseListenAddress("::1:80").ok());
  EXPECT_FALSE(ParseListenAddress("h:99999").ok());
  EXPECT_FALSE(ParseListenAddress("h:12ab").ok());
  EXPECT_FALSE(ParseListenAddress("[::1]80").ok());
}

TEST(HttpMetrics, TextExpositionFormat) {
  metrics::Registry r;
  auto& c = r.AddCounter("t_requests_total", "Requests.\nSecond line", {"path"});
  c.WithLabels({"/a\"b\\c\nd"}).Inc(2);
  auto& g = r.AddGauge("t_open", "Open things.");
  g.WithLabels({}).Set(3);
  auto& h = r.AddHistogram("t_latency_seconds", "Latency.", {"route"}, {0.1, 1});
  h.WithLabels({"x"}).Observe(0.05);
  h.WithLabels({"x"}).Observe(0.5);
  h.WithLabels({"x"}).Observe(5);
  r.AddGaugeCallback("t_cb", "Callback.", [] { return 1.5; });
  std::string text = r.Expose();
  EXPECT_NE(text.find("# HELP t_requests_total Requests.\\nSecond line\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE t_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("t_requests_total{path=\"/a\\\"b\\\\c\\nd\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_open 3\n"), std::string::npos);
  EXPECT_NE(text.find("t_latency_seconds_bucket{route=\"x\",le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_latency_seconds_bucket{route=\"x\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("t_latency_seconds_bucket{route=\"x\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("t_latency_seconds_sum{route=\"x\"} 5.5"), std::string::npos) << text;
  EXPECT_NE(text.find("t_latency_seconds_count{route=\"x\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE t_cb gauge\nt_cb 1.5\n"), std::string::npos);
}

}  // namespace
}  // namespace tuna::net
