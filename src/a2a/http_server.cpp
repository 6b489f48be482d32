// a2a::HttpServer: the HTTP binding on an HTTP server of its own, with transport errors (413,
// 408, 503, ...) answered as JSON-RPC error bodies.

#include "tuna/a2a/http_server.hpp"

#include <utility>

#include "a2a/http_handler.hpp"
#include "net/http_server.hpp"

namespace tuna::a2a {

class HttpServer::Impl {
 public:
  Impl(Server& server, HttpOptions options, const HttpListenOptions& listen) : binding_(server, std::move(options)) {
    net::HttpServerOptions http;
    http.io_threads = listen.io_threads == 0 ? 1 : listen.io_threads;
    http.worker_threads = listen.worker_threads == 0 ? 1 : listen.worker_threads;
    http.max_body_bytes = listen.max_body_bytes;
    http.stream_buffer_bytes = listen.stream_buffer_bytes;
    http.max_stream_duration = listen.max_stream_duration;
    http.error_body = [](int status, std::string_view message, std::string_view, std::string_view) {
      return HttpBinding::ErrorResponse(status, -32603, message);
    };
    // SendMessage for a new task is answered from the I/O thread when the task settles: no worker
    // thread waits for the handler (docs/a2a.md); everything else runs on the workers.
    http.inline_handler = [this](const std::shared_ptr<net::HttpRequest>& req, const net::ResponderPtr& responder) {
      return binding_.HandleInline(req, responder);
    };
    http_ = std::make_unique<net::HttpServer>(http, [this](net::HttpRequest& req) { return binding_.Handle(req); });
  }

  HttpBinding binding_;
  std::unique_ptr<net::HttpServer> http_;
};

Result<HttpServerPtr> HttpServer::Make(Server& server, HttpOptions options, HttpListenOptions listen) {
  if (options.rpc_path.empty() || options.rpc_path.front() != '/') return InvalidArgument("must start with /", "rpc_path");
  if (options.max_body_bytes == 0) return InvalidArgument("must be positive", "max_body_bytes");
  return HttpServerPtr(new HttpServer(std::make_unique<Impl>(server, std::move(options), listen)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const std::string& host, std::uint16_t port) { return impl_->http_->Start(host, port); }

std::uint16_t HttpServer::port() const { return impl_->http_->port(); }

void HttpServer::Stop() { impl_->http_->Stop(); }

}  // namespace tuna::a2a
