// The HTTP/1.1 server: Beast connections on Asio strands, handlers on a bounded worker pool,
// chunked streams fed by a non-blocking writer. Design notes: docs/http.md.

#include "net/http_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/ids.hpp"
#include "core/logging.hpp"
#include "core/metrics.hpp"
#include "net/status_response.hpp"
#include "net/upstream_client.hpp"
#include "net/worker_pool.hpp"

namespace tuna::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

std::string HttpRequest::QueryOr(std::string_view key, std::string fallback) const {
  auto it = query.find(std::string(key));
  return it == query.end() ? std::move(fallback) : it->second;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("listen address \"" + std::string(text) + "\": expected [ipv6]:port");
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument("listen address \"" + std::string(text) + "\": expected host:port");
    }
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return InvalidArgument("listen address \"" + std::string(text) + "\": write IPv6 hosts as [addr]:port");
    }
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) out.host = "0.0.0.0";
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    return InvalidArgument("listen address \"" + std::string(text) + "\": bad port \"" + std::string(port_text) + "\"");
  }
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

namespace {

std::string MethodLabel(std::string_view m) {
  static constexpr std::string_view kKnown[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  for (auto k : kKnown) {
    if (m == k) return std::string(k);
  }
  return "other";
}

std::string Hex(std::size_t n) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n, 16);
  return std::string(buf, p);
}

}  // namespace

class Connection;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    if (!options_.error_body) {
      options_.error_body = [](int code, std::string_view message, std::string_view rid) {
        return StatusResponse(code, Status(StatusCodeForHttp(code), std::string(message)), rid);
      };
    }
    if (options_.metrics == nullptr) {
      own_metrics_ = std::make_unique<metrics::Registry>();
      options_.metrics = own_metrics_.get();
    }
    auto& m = *options_.metrics;
    requests_ = &m.AddCounter("tuna_http_requests_total", "HTTP requests by route template, method and status code.",
                              {"route", "method", "code"});
    latency_ = &m.AddHistogram("tuna_http_request_duration_seconds",
                               "Time from the start of reading a request to its response (streams: its headers) being handed to the socket.",
                               {"route", "method"});
    in_flight_gauge_ = &m.AddGauge("tuna_http_requests_in_flight", "Requests queued or running in a handler.").WithLabels({});
    connections_gauge_ = &m.AddGauge("tuna_http_connections_open", "Open client connections.").WithLabels({});
    streams_gauge_ = &m.AddGauge("tuna_http_streams_open", "Open streaming responses.").WithLabels({});
    rejected_ = &m.AddCounter("tuna_http_rejected_total",
                              "Requests or connections refused by a server limit.", {"reason"});
    pool_ = std::make_unique<WorkerPool>(options_.worker_threads, options_.max_queued_requests);
  }

  ~Impl() { Stop(); }

  Status Start(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return InvalidArgument("listen host \"" + host + "\": " + ec.message());
    tcp::endpoint ep(address, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    DoAccept();
    std::size_t n = std::max<std::size_t>(1, options_.io_threads);
    for (std::size_t i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception& e) {
            // A handler escaped an exception; log it and keep the I/O thread serving.
            core::Logger()->error("http: I/O thread caught: {}", e.what());
          }
        }
      });
    }
    started_ = true;
    return {};
  }

  void Stop();

  void DoAccept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
      if (stopping_) return;
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
        // Out of descriptors and similar: back off briefly instead of spinning.
        core::Logger()->warn("http: accept: {}", ec.message());
        accept_retry_.expires_after(std::chrono::milliseconds(50));
        accept_retry_.async_wait([this](boost::system::error_code e) {
          if (!e && !stopping_) DoAccept();
        });
        return;
      }
      OnAccepted(std::move(socket));
      DoAccept();
    });
  }

  void OnAccepted(tcp::socket socket);

  void Register(Connection* c, std::weak_ptr<Connection> w) {
    std::lock_guard lock(conns_mu_);
    conns_[c] = std::move(w);
  }
  void Unregister(Connection* c) {
    {
      std::lock_guard lock(conns_mu_);
      conns_.erase(c);
    }
    drained_cv_.notify_all();
  }

  void Record(std::string_view route, std::string_view method, int code, Clock::time_point start,
              std::string_view path, std::string_view request_id) {
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::string r = route.empty() ? "other" : std::string(route);
    std::string m = MethodLabel(method);
    requests_->WithLabels({r, m, std::to_string(code)}).Inc();
    latency_->WithLabels({r, m}).Observe(seconds);
    auto level = code >= 500 ? spdlog::level::warn : spdlog::level::debug;
    auto logger = core::Logger();
    if (logger->should_log(level)) {
      logger->log(level, "http method={} route={} path={} status={} duration_ms={:.3f} request_id={}", m, r,
                  path, code, seconds * 1000, request_id);
    }
  }

  HttpServerOptions options_;
  HttpHandler handler_;
  std::unique_ptr<metrics::Registry> own_metrics_;
  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* latency_ = nullptr;
  metrics::Gauge* in_flight_gauge_ = nullptr;
  metrics::Gauge* connections_gauge_ = nullptr;
  metrics::Gauge* streams_gauge_ = nullptr;
  metrics::CounterFamily* rejected_ = nullptr;

  // Declared before the io_context: connections (destroyed with it) touch these.
  std::mutex conns_mu_;
  std::condition_variable drained_cv_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns_;
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<std::size_t> open_streams_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  bool stopped_ = false;
  bool started_ = false;
  std::uint16_t port_ = 0;

  asio::io_context ioc_;
  tcp::acceptor acceptor_{asio::make_strand(ioc_)};
  asio::steady_timer accept_retry_{acceptor_.get_executor()};
  // Destroyed before the io_context: dropped tasks own connections whose sockets need it.
  std::unique_ptr<WorkerPool> pool_;
  std::vector<std::thread> threads_;
  std::mutex upstream_mu_;
  std::shared_ptr<UpstreamClient> upstream_;  // made on first use
};

// ------------------------------------------------------------------------------------------------

class StreamWriterImpl;
class InlineResponder;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl& srv, tcp::socket socket)
      : srv_(srv),
        stream_(std::move(socket)),
        buffer_(srv.options_.max_header_bytes + 8192),
        handler_timer_(stream_.get_executor()),
        read_timer_(stream_.get_executor()),
        write_timer_(stream_.get_executor()),
        stream_deadline_(stream_.get_executor()) {
    srv_.open_connections_.fetch_add(1);
    srv_.connections_gauge_->Inc();
    boost::system::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  ~Connection();

  void Start() {
    srv_.Register(this, weak_from_this());
    DoWaitForRequest();
  }

  // Over max_connections: one 503 and close.
  void Reject() {
    srv_.Register(this, weak_from_this());
    srv_.rejected_->WithLabels({"max_connections"}).Inc();
    started_ = Clock::now();
    request_id_ = core::NewRequestId();
    keep_alive_ = false;
    WriteError(503, "too many connections");
  }

  void OnServerStop() {
    switch (state_) {
      case State::kIdle:
      case State::kReading:
        Close();
        break;
      case State::kStreaming:
        EndStreamGracefully();
        break;
      default:
        break;  // a handler or write finishes, then the connection closes (keep-alive off)
    }
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  void FlushStream();
  void AbortStream();

 private:
  friend class StreamWriterImpl;
  friend class InlineResponder;
  enum class State { kIdle, kReading, kHandling, kWriting, kStreaming, kAfterStream, kClosed };

  void DoWaitForRequest() {
    state_ = State::kIdle;
    if (srv_.stopping_) {
      Close();
      return;
    }
    if (buffer_.size() > 0) {  // a pipelined request is already here
      DoReadHeader();
      return;
    }
    read_timer_.expires_after(srv_.options_.idle_timeout);
    read_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && self->state_ == State::kIdle) self->Close();  // idle keep-alive connection
    });
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec || self->state_ == State::kClosed) {
        self->Close();  // idle timeout, client closed, or server stop: nothing to answer
        return;
      }
      self->buffer_.commit(n);
      self->DoReadHeader();
    });
  }

  void DoReadHeader() {
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(srv_.options_.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(srv_.options_.max_body_bytes);
    started_ = Clock::now();
    request_id_.clear();
    method_.clear();
    path_.clear();
    // One deadline for the whole request, not per read: a client dribbling a byte at a time
    // (slowloris) is cut off when it expires. The timer cancels the read (Beast's own stream
    // timeout would close the socket, leaving no way to answer 408).
    read_timed_out_ = false;
    read_timer_.expires_after(srv_.options_.read_timeout);
    read_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->state_ != State::kReading) return;
      self->read_timed_out_ = true;
      boost::system::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(boost::system::error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec) {
      OnReadError(ec);
      return;
    }
    auto& msg = parser_->get();
    TakeRequestId(msg);
    method_ = std::string(msg.method_string());
    path_ = std::string(msg.target().substr(0, 256));
    auto expect = msg[http::field::expect];
    if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                          if (ec) return self->Close();
                          self->DoReadBody();
                        });
      return;
    }
    DoReadBody();
  }

  void DoReadBody() {
    if (parser_->is_done()) {
      OnRequest();
      return;
    }
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (self->state_ == State::kClosed) return;
      if (ec) return self->OnReadError(ec);
      self->OnRequest();
    });
  }

  template <typename Msg>
  void TakeRequestId(const Msg& msg) {
    auto rid = msg["X-Request-Id"];
    std::string_view v(rid.data(), rid.size());
    request_id_ = core::IsSaneRequestId(v) ? std::string(v) : core::NewRequestId();
  }

  void OnReadError(boost::system::error_code ec) {
    if (request_id_.empty()) {
      if (parser_ && parser_->got_some()) TakeRequestId(parser_->get());
      if (request_id_.empty()) request_id_ = core::NewRequestId();
    }
    keep_alive_ = false;
    read_timer_.cancel();
    if (read_timed_out_) {
      srv_.rejected_->WithLabels({"read_timeout"}).Inc();
      WriteError(408, "request not received within " + std::to_string(srv_.options_.read_timeout.count()) + " ms");
    } else if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || srv_.stopping_) {
      Close();
    } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      srv_.rejected_->WithLabels({"header_limit"}).Inc();
      WriteError(431, "request headers exceed " + std::to_string(srv_.options_.max_header_bytes) + " bytes");
    } else if (ec == http::error::body_limit) {
      srv_.rejected_->WithLabels({"body_limit"}).Inc();
      WriteError(413, "request body exceeds " + std::to_string(srv_.options_.max_body_bytes) + " bytes");
    } else {
      WriteError(400, "malformed HTTP request: " + ec.message());
    }
  }

  void OnRequest() {
    read_timer_.cancel();
    auto& msg = parser_->get();
    auto req = std::make_shared<HttpRequest>();
    req->method = method_;
    req->target = std::string(msg.target());
    req->request_id = request_id_;
    req->remote_address = remote_;
    req->received = started_;
    keep_alive_ = msg.keep_alive();
    auto parsed = boost::urls::parse_origin_form(req->target);
    if (!parsed) {
      WriteError(400, "malformed request target");
      return;
    }
    try {
      req->path = parsed->path();
      for (auto seg : parsed->segments()) req->segments.push_back(seg);
      for (auto param : parsed->params()) req->query[param.key] = param.has_value ? param.value : std::string();
    } catch (const std::exception&) {
      WriteError(400, "malformed request target");
      return;
    }
    req->headers.reserve(16);
    for (const auto& f : msg) req->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req->body = std::move(msg.body());
    parser_.reset();

    state_ = State::kHandling;
    const std::uint64_t seq = ++seq_;
    srv_.in_flight_.fetch_add(1);
    srv_.in_flight_gauge_->Inc();
    handler_timer_.expires_after(srv_.options_.handler_timeout);
    handler_timer_.async_wait([self = shared_from_this(), seq](boost::system::error_code ec) {
      if (ec || self->seq_ != seq || self->state_ != State::kHandling) return;
      // The handler thread cannot be interrupted; answer now and discard its late result.
      self->LeaveHandling();
      self->keep_alive_ = false;
      self->WriteError(504, "request not handled within " + std::to_string(self->srv_.options_.handler_timeout.count()) + " ms");
    });
    if (srv_.options_.inline_handler && TryInline(req, seq)) return;
    Submit(req, seq, nullptr);
  }

  bool TryInline(const std::shared_ptr<HttpRequest>& req, std::uint64_t seq);

  // Runs `work` (null: the server's handler) on a worker thread; its response comes back here.
  void Submit(const std::shared_ptr<HttpRequest>& req, std::uint64_t seq, std::function<HttpResponse(HttpRequest&)> work) {
    auto self = shared_from_this();
    bool queued = srv_.pool_->TrySubmit([self, req, seq, work = std::move(work)] {
      HttpResponse resp;
      try {
        resp = work ? work(*req) : self->srv_.handler_(*req);
      } catch (const std::exception& e) {
        core::Logger()->error("http: handler threw: {} request_id={}", e.what(), req->request_id);
        resp = self->srv_.options_.error_body(500, "internal error (request id " + req->request_id + ")", req->request_id);
      } catch (...) {
        resp = self->srv_.options_.error_body(500, "internal error (request id " + req->request_id + ")", req->request_id);
      }
      asio::post(self->stream_.get_executor(), [self, seq, resp = std::move(resp)]() mutable {
        self->OnHandlerDone(seq, std::move(resp));
      });
    });
    if (!queued) {
      if (seq != seq_ || state_ != State::kHandling) return;
      LeaveHandling();
      srv_.rejected_->WithLabels({"queue_full"}).Inc();
      WriteError(503, "server busy: handler queue full", /*keep=*/true);
    }
  }

  void LeaveHandling() {
    handler_timer_.cancel();
    srv_.in_flight_.fetch_sub(1);
    srv_.in_flight_gauge_->Dec();
  }

  void OnHandlerDone(std::uint64_t seq, HttpResponse resp) {
    if (seq != seq_ || state_ != State::kHandling) return;  // answered 504 already, or closed
    LeaveHandling();
    route_ = resp.route;
    if (resp.stream) {
      StartStream(std::move(resp));
    } else {
      WriteResponse(std::move(resp));
    }
  }

  void WriteError(int code, const std::string& message, bool keep = false) {
    HttpResponse r = srv_.options_.error_body(code, message, request_id_);
    if (!keep) keep_alive_ = false;
    WriteResponse(std::move(r));
  }

  void WriteResponse(HttpResponse r) {
    state_ = State::kWriting;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::server, srv_.options_.server_header);
    if (!r.content_type.empty()) res->set(http::field::content_type, r.content_type);
    res->set("X-Request-Id", request_id_);
    for (auto& [k, v] : r.headers) res->insert(k, v);
    res->body() = std::move(r.body);
    const bool keep = keep_alive_ && !r.close_connection && !srv_.stopping_;
    res->keep_alive(keep);
    res->prepare_payload();
    if (method_ == "HEAD") {  // same headers as GET, never a body
      auto n = res->body().size();
      res->body().clear();
      res->content_length(n);
    }
    status_ = r.status;
    if (!r.route.empty()) route_ = r.route;
    // Recorded before the write so a client that has its answer also sees it counted.
    srv_.Record(route_, method_, status_, started_, path_, request_id_);
    route_.clear();
    write_timer_.expires_after(srv_.options_.write_timeout);
    write_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && self->state_ == State::kWriting) self->Close();  // the client stopped reading
    });
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep](boost::system::error_code ec, std::size_t) {
      self->write_timer_.cancel();
      if (ec || self->state_ == State::kClosed) return self->Close();
      if (!keep) return self->LingeringClose();
      self->DoWaitForRequest();
    });
  }

  void StartStream(HttpResponse r);
  void StreamReadWatch();
  void EndStreamGracefully();
  void OnStreamEnded();
  void RunCloseCallbacks();

  // After an error answer the client may still be sending (a body we refused): closing at once
  // could reset the connection before it reads our answer, so half-close and drain briefly.
  void LingeringClose() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    read_timer_.expires_after(std::chrono::seconds(2));
    read_timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->CloseSocket();
    });
    Drain();
  }

  void Drain() {
    auto scratch = std::make_shared<std::array<char, 4096>>();
    stream_.async_read_some(asio::buffer(*scratch), [self = shared_from_this(), scratch](boost::system::error_code ec, std::size_t) {
      if (ec) {
        self->CloseSocket();
        return;
      }
      self->Drain();
    });
  }

  void Close() {
    state_ = State::kClosed;
    CloseSocket();
  }

  void CloseSocket() {
    handler_timer_.cancel();
    read_timer_.cancel();
    write_timer_.cancel();
    stream_deadline_.cancel();
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  HttpServer::Impl& srv_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  asio::steady_timer handler_timer_;
  asio::steady_timer read_timer_;   // idle wait, whole-request deadline, lingering close
  asio::steady_timer write_timer_;
  asio::steady_timer stream_deadline_;
  State state_ = State::kIdle;
  bool keep_alive_ = false;
  bool read_timed_out_ = false;
  std::uint64_t seq_ = 0;
  std::string remote_;
  std::string request_id_;
  std::string method_;
  std::string path_;
  std::string route_;
  int status_ = 0;
  Clock::time_point started_ = Clock::now();

  // Streaming state (touched only on this connection's strand).
  std::shared_ptr<StreamWriterImpl> writer_;
  std::shared_ptr<http::response<http::empty_body>> stream_res_;
  std::shared_ptr<http::response_serializer<http::empty_body>> stream_sr_;
  std::string out_;
  bool stream_writing_ = false;
  bool stream_reading_ = false;
  bool final_in_flight_ = false;
  bool stream_counted_ = false;
};

// ------------------------------------------------------------------------------------------------

class StreamWriterImpl : public StreamWriter, public std::enable_shared_from_this<StreamWriterImpl> {
 public:
  StreamWriterImpl(std::weak_ptr<Connection> conn, asio::any_io_executor exec, std::size_t capacity)
      : conn_(std::move(conn)), exec_(std::move(exec)), capacity_(std::max<std::size_t>(capacity, 1)) {}

  bool Send(std::string data) override {
    bool accepted = true;
    {
      std::lock_guard lock(mu_);
      if (ended_ || closing_) return false;
      if (pending_.size() + in_flight_ + data.size() > capacity_) {
        // Too slow a reader: end the stream after what it already has rather than buffer more.
        closing_ = true;
        accepted = false;
      } else {
        pending_ += data;
      }
      if (flush_scheduled_) return accepted;
      flush_scheduled_ = true;
    }
    ScheduleFlush();
    return accepted;
  }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (ended_ || closing_) return;
      closing_ = true;
      if (flush_scheduled_) return;
      flush_scheduled_ = true;
    }
    ScheduleFlush();
  }

  bool closed() const override {
    std::lock_guard lock(mu_);
    return ended_ || closing_;
  }

  std::size_t buffered() const override {
    std::lock_guard lock(mu_);
    return pending_.size() + in_flight_;
  }

  std::size_t capacity() const override { return capacity_; }

  void OnClose(std::function<void()> fn) override {
    {
      std::lock_guard lock(mu_);
      if (!ended_) {
        on_close_.push_back(std::move(fn));
        return;
      }
    }
    asio::post(exec_, std::move(fn));
  }

  void OnWritable(std::function<void()> fn) override {
    std::lock_guard lock(mu_);
    on_writable_ = std::move(fn);
  }

  void Post(std::function<void()> fn) override { asio::post(exec_, std::move(fn)); }

  // --- used by Connection, on its strand ---
  // Takes what is pending; `final` is set once when the stream should end after it.
  std::string Take(bool& final) {
    std::lock_guard lock(mu_);
    std::string out;
    out.swap(pending_);
    in_flight_ = out.size();
    flush_scheduled_ = false;
    final = closing_ && !final_taken_;
    if (final) final_taken_ = true;
    return out;
  }

  void WriteDone() {
    std::function<void()> writable;
    {
      std::lock_guard lock(mu_);
      in_flight_ = 0;
      if (!closing_ && pending_.size() < capacity_ / 2) writable = on_writable_;
    }
    if (writable) writable();
  }

  void RequestEnd() {
    std::lock_guard lock(mu_);
    closing_ = true;
  }

  std::vector<std::function<void()>> MarkEnded() {
    std::lock_guard lock(mu_);
    ended_ = true;
    closing_ = true;
    on_writable_ = nullptr;
    return std::move(on_close_);
  }

 private:
  void ScheduleFlush() {
    asio::post(exec_, [conn = conn_]() {
      if (auto c = conn.lock()) c->FlushStream();
    });
  }

  std::weak_ptr<Connection> conn_;
  asio::any_io_executor exec_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::string pending_;
  std::size_t in_flight_ = 0;
  bool closing_ = false;
  bool final_taken_ = false;
  bool ended_ = false;
  bool flush_scheduled_ = false;
  std::vector<std::function<void()>> on_close_;
  std::function<void()> on_writable_;
};

Connection::~Connection() {
  if (writer_) {
    // The connection went away with the stream open (server teardown): tell the producer.
    for (auto& fn : writer_->MarkEnded()) {
      try {
        fn();
      } catch (...) {
      }
    }
    if (stream_counted_) {
      srv_.open_streams_.fetch_sub(1);
      srv_.streams_gauge_->Dec();
    }
  }
  if (state_ == State::kHandling) {
    srv_.in_flight_.fetch_sub(1);
    srv_.in_flight_gauge_->Dec();
  }
  srv_.connections_gauge_->Dec();
  srv_.open_connections_.fetch_sub(1);
  srv_.Unregister(this);
}

// Completes a request an InlineHandler took; everything it does runs on the connection's strand.
class InlineResponder final : public Responder {
 public:
  InlineResponder(std::shared_ptr<Connection> conn, std::shared_ptr<HttpRequest> req, std::uint64_t seq)
      : conn_(std::move(conn)), req_(std::move(req)), seq_(seq) {}

  void Respond(HttpResponse response) override {
    if (done_.exchange(true)) return;
    auto c = std::move(conn_);
    req_.reset();
    asio::post(c->executor(), [c, seq = seq_, r = std::move(response)]() mutable { c->OnHandlerDone(seq, std::move(r)); });
  }

  void Defer(std::function<HttpResponse(HttpRequest&)> work) override {
    if (done_.exchange(true)) return;
    auto c = std::move(conn_);
    auto req = std::move(req_);
    asio::post(c->executor(), [c, req, seq = seq_, work = std::move(work)]() mutable {
      if (seq != c->seq_ || c->state_ != Connection::State::kHandling) return;  // answered 504 already, or closed
      c->Submit(req, seq, std::move(work));
    });
  }

  // The handler declined: later calls must do nothing.
  void Disarm() {
    done_.store(true);
    conn_.reset();
    req_.reset();
  }

 private:
  std::shared_ptr<Connection> conn_;
  std::shared_ptr<HttpRequest> req_;
  const std::uint64_t seq_;
  std::atomic<bool> done_{false};
};

bool Connection::TryInline(const std::shared_ptr<HttpRequest>& req, std::uint64_t seq) {
  auto responder = std::make_shared<InlineResponder>(shared_from_this(), req, seq);
  bool taken = false;
  try {
    taken = srv_.options_.inline_handler(req, responder);
  } catch (const std::exception& e) {
    core::Logger()->error("http: inline handler threw: {} request_id={}", e.what(), req->request_id);
  } catch (...) {
  }
  if (!taken) responder->Disarm();
  return taken;
}

void Connection::StartStream(HttpResponse r) {
  state_ = State::kStreaming;
  status_ = r.status;
  srv_.open_streams_.fetch_add(1);
  srv_.streams_gauge_->Inc();
  stream_counted_ = true;
  stream_res_ = std::make_shared<http::response<http::empty_body>>();
  stream_res_->version(11);
  stream_res_->result(static_cast<unsigned>(r.status));
  stream_res_->set(http::field::server, srv_.options_.server_header);
  if (!r.content_type.empty()) stream_res_->set(http::field::content_type, r.content_type);
  stream_res_->set(http::field::cache_control, "no-cache");
  stream_res_->set("X-Request-Id", request_id_);
  for (auto& [k, v] : r.headers) stream_res_->insert(k, v);
  keep_alive_ = keep_alive_ && !r.close_connection && !srv_.stopping_;
  stream_res_->keep_alive(keep_alive_);
  stream_res_->chunked(true);
  stream_sr_ = std::make_shared<http::response_serializer<http::empty_body>>(*stream_res_);
  writer_ = std::make_shared<StreamWriterImpl>(weak_from_this(), stream_.get_executor(), srv_.options_.stream_buffer_bytes);

  stream_writing_ = true;
  write_timer_.expires_after(srv_.options_.write_timeout);
  write_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->stream_writing_) self->AbortStream();
  });
  srv_.Record(route_, method_, status_, started_, path_, request_id_);
  auto timeout = r.stream_timeout.count() > 0 ? std::min(r.stream_timeout, srv_.options_.max_stream_duration)
                                              : srv_.options_.max_stream_duration;
  http::async_write_header(stream_, *stream_sr_, [self = shared_from_this(), start = std::move(r.stream), timeout](
                                                      boost::system::error_code ec, std::size_t) {
    self->stream_writing_ = false;
    self->write_timer_.cancel();
    if (ec || self->state_ != State::kStreaming) {
      self->AbortStream();
      return;
    }
    self->stream_deadline_.expires_after(timeout);
    self->stream_deadline_.async_wait([self](boost::system::error_code e) {
      if (!e && self->state_ == State::kStreaming) self->EndStreamGracefully();
    });
    self->StreamReadWatch();
    try {
      start(self->writer_);
    } catch (const std::exception& e) {
      core::Logger()->error("http: stream start threw: {} request_id={}", e.what(), self->request_id_);
      self->writer_->Close();
    } catch (...) {
      self->writer_->Close();
    }
    self->FlushStream();
  });
}

// While a stream is open the client should only read; a read that fails means it went away.
// Bytes it does send (a pipelined request) are kept for after the stream.
void Connection::StreamReadWatch() {
  if (buffer_.size() + 1024 > buffer_.max_size()) return;  // keep what we have; stop watching
  stream_reading_ = true;
  stream_.async_read_some(buffer_.prepare(1024), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
    self->stream_reading_ = false;
    if (!ec) {
      self->buffer_.commit(n);
      if (self->state_ == State::kStreaming) self->StreamReadWatch();
      else if (self->state_ == State::kAfterStream) self->DoWaitForRequest();
      return;
    }
    if (self->state_ == State::kAfterStream && ec == asio::error::operation_aborted) {
      self->DoWaitForRequest();
      return;
    }
    if (self->state_ == State::kStreaming) self->AbortStream();
  });
}

void Connection::FlushStream() {
  if (state_ != State::kStreaming || stream_writing_ || !writer_) return;
  bool final = false;
  std::string data = writer_->Take(final);
  if (data.empty() && !final) return;
  out_.clear();
  if (!data.empty()) {
    out_.reserve(data.size() + 16);
    out_ += Hex(data.size());
    out_ += "\r\n";
    out_ += data;
    out_ += "\r\n";
  }
  if (final) out_ += "0\r\n\r\n";
  final_in_flight_ = final;
  stream_writing_ = true;
  write_timer_.expires_after(srv_.options_.write_timeout);
  write_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->stream_writing_) self->AbortStream();  // the client stopped reading
  });
  asio::async_write(stream_, asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->stream_writing_ = false;
    self->write_timer_.cancel();
    if (self->state_ != State::kStreaming) return;
    if (ec) {
      self->AbortStream();
      return;
    }
    if (self->final_in_flight_) {
      self->OnStreamEnded();
      return;
    }
    self->writer_->WriteDone();
    self->FlushStream();
  });
}

void Connection::EndStreamGracefully() {
  if (state_ != State::kStreaming || !writer_) return;
  writer_->RequestEnd();
  FlushStream();
}

void Connection::RunCloseCallbacks() {
  if (!writer_) return;
  for (auto& fn : writer_->MarkEnded()) {
    try {
      fn();
    } catch (const std::exception& e) {
      core::Logger()->error("http: stream OnClose threw: {}", e.what());
    } catch (...) {
    }
  }
  if (stream_counted_) {
    stream_counted_ = false;
    srv_.open_streams_.fetch_sub(1);
    srv_.streams_gauge_->Dec();
  }
}

void Connection::OnStreamEnded() {
  stream_deadline_.cancel();
  RunCloseCallbacks();
  writer_.reset();
  stream_sr_.reset();
  stream_res_.reset();
  if (!keep_alive_ || srv_.stopping_) {
    Close();
    return;
  }
  state_ = State::kAfterStream;
  if (stream_reading_) {
    stream_.socket().cancel();  // the read watcher's completion resumes the request loop
  } else {
    DoWaitForRequest();
  }
}

void Connection::AbortStream() {
  if (state_ != State::kClosed) Close();
  RunCloseCallbacks();
}

// ------------------------------------------------------------------------------------------------

void HttpServer::Impl::OnAccepted(tcp::socket socket) {
  auto conn = std::make_shared<Connection>(*this, std::move(socket));
  // This connection is already counted, hence ">".
  if (open_connections_.load() > options_.max_connections) {
    conn->Reject();
  } else {
    conn->Start();
  }
}

void HttpServer::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  if (started_) {
    asio::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      accept_retry_.cancel();
    });
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(conns_mu_);
      for (auto& [ptr, weak] : conns_) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) asio::post(c->executor(), [c] { c->OnServerStop(); });
    live.clear();
    // Let in-flight requests answer and streams send their last chunk.
    std::unique_lock lock(conns_mu_);
    drained_cv_.wait_for(lock, options_.drain_timeout, [this] { return conns_.empty(); });
  }
  ioc_.stop();
  for (auto& t : threads_) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // Stop() from an I/O thread: cannot join itself
    } else if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  // The posted close above may not have run before ioc_.stop(); no I/O thread runs now, so
  // closing here is safe and guarantees the port no longer accepts.
  boost::system::error_code ec;
  acceptor_.close(ec);
  pool_->Stop();
  std::lock_guard lock(upstream_mu_);
  if (upstream_) upstream_->Shutdown();
}

// ------------------------------------------------------------------------------------------------

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start(const std::string& host, std::uint16_t port) {
  try {
    return impl_->Start(host, port);
  } catch (const std::exception& e) {
    return Internal(std::string("http server start: ") + e.what());
  }
}

std::uint16_t HttpServer::port() const { return impl_->port_; }

void HttpServer::Stop() { impl_->Stop(); }

std::shared_ptr<UpstreamClient> HttpServer::upstream_client() {
  std::lock_guard lock(impl_->upstream_mu_);
  if (!impl_->upstream_) {
    impl_->upstream_ = MakeUpstreamClient(impl_->ioc_);
    if (impl_->stopping_.load()) impl_->upstream_->Shutdown();
  }
  return impl_->upstream_;
}

HttpServerStats HttpServer::Stats() const {
  return {impl_->open_connections_.load(), impl_->open_streams_.load(), impl_->in_flight_.load()};
}

}  // namespace tuna::net
