// The relay client (net/upstream_client) and the server's inline handlers, against real
// HttpServers on 127.0.0.1 port 0. Every wait has a generous bound; no timing assertions.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "net/http_server.hpp"
#include "net/upstream_client.hpp"
#include "support/http_client.hpp"

namespace tuna::net {
namespace {

using namespace std::chrono_literals;

// An io_context on a thread of its own, like an HttpServer's I/O threads.
class Loop {
 public:
  Loop() : work_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
  ~Loop() {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  boost::asio::io_context& ioc() { return ioc_; }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

Result<UpstreamResponse> SendAndWait(UpstreamClient& client, UpstreamRequest request) {
  auto promise = std::make_shared<std::promise<Result<UpstreamResponse>>>();
  auto future = promise->get_future();
  client.Send(std::move(request), [promise](Result<UpstreamResponse> r) { promise->set_value(std::move(r)); });
  if (future.wait_for(30s) != std::future_status::ready) return Internal("no callback within 30 s");
  return future.get();
}

UpstreamRequest To(std::uint16_t port, std::string target, std::string body = {}) {
  UpstreamRequest r;
  r.host = "127.0.0.1";
  r.port = port;
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = {{"Content-Type", "text/plain"}, {"X-Probe", "1"}};
  return r;
}

HttpServerOptions SmallServer() {
  HttpServerOptions o;
  o.io_threads = 1;
  o.worker_threads = 2;
  return o;
}

TEST(UpstreamClient, SendsTheRequestAndReusesTheConnection) {
  std::atomic<int> calls{0};
  std::mutex mu;
  std::set<std::string> peers;
  HttpServer upstream(SmallServer(), [&](HttpRequest& req) {
    calls.fetch_add(1);
    {
      std::lock_guard lock(mu);
      peers.insert(req.remote_address);
    }
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = req.method + " " + req.target + " " + std::string(req.Header("X-Probe")) + " " + req.body;
    r.headers.emplace_back("X-Answer", "yes");
    return r;
  });
  ASSERT_TRUE(upstream.Start("127.0.0.1", 0).ok());
  Loop loop;
  auto client = MakeUpstreamClient(loop.ioc());
  for (int i = 0; i < 5; ++i) {
    auto r = SendAndWait(*client, To(upstream.port(), "/echo?x=" + std::to_string(i), "body" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "POST /echo?x=" + std::to_string(i) + " 1 body" + std::to_string(i));
    EXPECT_EQ(r->Header("x-answer"), "yes");
  }
  EXPECT_EQ(calls.load(), 5);
  std::lock_guard lock(mu);
  EXPECT_EQ(peers.size(), 1u) << "sequential requests should share one keep-alive connection";
  client->Shutdown();
}

TEST(UpstreamClient, RetriesOnceWhenThePooledConnectionWasClosedByTheUpstream) {
  HttpServerOptions o = SmallServer();
  o.idle_timeout = 100ms;  // the upstream closes idle keep-alive connections quickly
  std::atomic<int> calls{0};
  HttpServer upstream(o, [&](HttpRequest&) {
    calls.fetch_add(1);
    HttpResponse r;
    r.body = "{}";
    return r;
  });
  ASSERT_TRUE(upstream.Start("127.0.0.1", 0).ok());
  Loop loop;
  auto client = MakeUpstreamClient(loop.ioc());
  ASSERT_TRUE(SendAndWait(*client, To(upstream.port(), "/a")).ok());
  // Wait until the upstream has dropped the idle connection.
  for (int i = 0; i < 200 && upstream.Stats().open_connections > 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(upstream.Stats().open_connections, 0u);
  auto again = SendAndWait(*client, To(upstream.port(), "/b"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(calls.load(), 2) << "the retried request must reach the upstream exactly once";
}

TEST(UpstreamClient, FailuresNameWhatWentWrong) {
  Loop loop;
  UpstreamClientOptions options;
  options.max_response_bytes = 1024;
  auto client = MakeUpstreamClient(loop.ioc(), options);

  // Nothing listens: the request never left.
  std::uint16_t dead_port = 0;
  {
    HttpServer gone(SmallServer(), [](HttpRequest&) { return HttpResponse{}; });
    ASSERT_TRUE(gone.Start("127.0.0.1", 0).ok());
    dead_port = gone.port();
  }
  auto refused = SendAndWait(*client, To(dead_port, "/"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("127.0.0.1:" + std::to_string(dead_port)), std::string::npos);

  std::promise<void> release;
  auto released = release.get_future().share();
  HttpServer upstream(SmallServer(), [&](HttpRequest& req) {
    HttpResponse r;
    if (req.path == "/hang") released.wait_for(30s);
    if (req.path == "/big") r.body.assign(4096, 'x');
    return r;
  });
  ASSERT_TRUE(upstream.Start("127.0.0.1", 0).ok());

  UpstreamRequest hang = To(upstream.port(), "/hang");
  hang.timeout = 200ms;
  auto timed_out = SendAndWait(*client, hang);
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.status().code(), StatusCode::kDeadlineExceeded) << timed_out.status().ToString();
  release.set_value();

  auto big = SendAndWait(*client, To(upstream.port(), "/big"));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted) << big.status().ToString();

  // The client still works after failures, and refuses politely once shut down.
  auto ok = SendAndWait(*client, To(upstream.port(), "/fine"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  client->Shutdown();
  auto after = SendAndWait(*client, To(upstream.port(), "/fine"));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kCancelled);
}

TEST(HttpServerInline, AnInlineHandlerAnswersRelaysOrDefersToTheWorkers) {
  HttpServer upstream(SmallServer(), [](HttpRequest& req) {
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = "upstream saw " + req.body;
    return r;
  });
  ASSERT_TRUE(upstream.Start("127.0.0.1", 0).ok());

  HttpServerOptions o = SmallServer();
  std::shared_ptr<UpstreamClient> relay;
  std::atomic<std::thread::id> inline_thread{};
  o.inline_handler = [&](const std::shared_ptr<HttpRequest>& req, const ResponderPtr& responder) {
    inline_thread = std::this_thread::get_id();
    if (req->path == "/inline") {
      HttpResponse r;
      r.content_type = "text/plain";
      r.body = "inline";
      responder->Respond(std::move(r));
      responder->Respond(HttpResponse{});  // a second answer is ignored
      return true;
    }
    if (req->path == "/relay") {
      relay->Send(To(upstream.port(), "/", req->body), [responder](Result<UpstreamResponse> r) {
        HttpResponse out;
        out.content_type = "text/plain";
        out.body = r.ok() ? r->body : r.status().ToString();
        responder->Respond(std::move(out));
      });
      return true;
    }
    if (req->path == "/defer") {
      responder->Defer([](HttpRequest& r) {
        HttpResponse out;
        out.content_type = "text/plain";
        out.body = "deferred " + r.body;
        return out;
      });
      return true;
    }
    if (req->path == "/throws") throw std::runtime_error("boom");
    return false;
  };
  std::atomic<std::thread::id> handler_thread{};
  HttpServer server(o, [&](HttpRequest& req) {
    handler_thread = std::this_thread::get_id();
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = "handler " + req.path;
    return r;
  });
  relay = server.upstream_client();
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());

  testing::HttpConnection c(server.port());
  EXPECT_EQ(c.Request("GET", "/inline").body, "inline");
  EXPECT_EQ(c.Request("POST", "/relay", "ping").body, "upstream saw ping");
  EXPECT_EQ(c.Request("POST", "/defer", "me").body, "deferred me");
  EXPECT_EQ(c.Request("GET", "/other").body, "handler /other");
  EXPECT_EQ(c.Request("GET", "/throws").body, "handler /throws");  // a throwing inline handler declines
  EXPECT_NE(inline_thread.load(), handler_thread.load()) << "inline handlers run on the I/O thread, not a worker";
  server.Stop();
}

}  // namespace
}  // namespace tuna::net
