// StreamableHttpServer: the Streamable HTTP handler on an HTTP server of its own, with
// transport errors (413, 408, 503, ...) answered as JSON-RPC error bodies.

#include "tuna/mcp/streamable_http.hpp"

#include <utility>

#include "mcp/streamable_http_handler.hpp"
#include "net/http_server.hpp"

namespace tuna::mcp {

class StreamableHttpServer::Impl {
 public:
  Impl(SessionFactoryPtr factory, StreamableHttpOptions options, const HttpListenOptions& listen)
      : handler_(std::move(factory), std::move(options)) {
    net::HttpServerOptions http;
    http.io_threads = listen.io_threads == 0 ? 1 : listen.io_threads;
    http.worker_threads = listen.worker_threads == 0 ? 1 : listen.worker_threads;
    http.max_body_bytes = listen.max_body_bytes;
    http.error_body = [](int status, std::string_view message, std::string_view, std::string_view) {
      return StreamableHttpHandler::ErrorResponse(status, -32000, message);
    };
    http_ = std::make_unique<net::HttpServer>(http, [this](net::HttpRequest& req) { return handler_.Handle(req); });
  }

  StreamableHttpHandler handler_;
  std::unique_ptr<net::HttpServer> http_;
};

Result<StreamableHttpServerPtr> StreamableHttpServer::Make(const Server& server, StreamableHttpOptions options,
                                                           HttpListenOptions listen) {
  return Make(MakeServerSessionFactory(server), std::move(options), listen);
}

Result<StreamableHttpServerPtr> StreamableHttpServer::Make(SessionFactoryPtr factory, StreamableHttpOptions options,
                                                           HttpListenOptions listen) {
  if (!factory) return InvalidArgument("a session factory is required", "factory");
  if (options.path.empty() || options.path.front() != '/') return InvalidArgument("MCP endpoint path must start with /", "path");
  if (options.session_idle_ttl.count() <= 0) return InvalidArgument("session_idle_ttl must be positive", "session_idle_ttl");
  if (options.max_sessions == 0) return InvalidArgument("max_sessions must be positive", "max_sessions");
  return StreamableHttpServerPtr(new StreamableHttpServer(std::make_unique<Impl>(std::move(factory), std::move(options), listen)));
}

StreamableHttpServer::StreamableHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StreamableHttpServer::~StreamableHttpServer() { Stop(); }

Status StreamableHttpServer::Start(const std::string& host, std::uint16_t port) { return impl_->http_->Start(host, port); }

std::uint16_t StreamableHttpServer::port() const { return impl_->http_->port(); }

void StreamableHttpServer::Stop() {
  impl_->http_->Stop();  // first: no request or stream runs into the handler after this
  impl_->handler_.CloseAll();
}

std::size_t StreamableHttpServer::SessionCount() const { return impl_->handler_.SessionCount(); }

}  // namespace tuna::mcp
