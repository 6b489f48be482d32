// The relay client of net/upstream_client.hpp: Beast on the caller's io_context, one strand per
// connection, keep-alive connections pooled per host:port.

#include "net/upstream_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace tuna::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string_view UpstreamResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

namespace {

struct Conn {
  explicit Conn(asio::any_io_executor ex) : stream(std::move(ex)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;
};
using ConnPtr = std::shared_ptr<Conn>;

class Client;

struct Op {
  std::shared_ptr<Client> client;
  std::string host;
  std::uint16_t port = 0;
  std::string key;  // host:port
  http::request<http::string_body> req;
  std::optional<http::response_parser<http::string_body>> parser;
  UpstreamCallback done;
  Clock::time_point deadline;
  ConnPtr conn;
  bool reused = false;
  int attempt = 0;
};
using OpPtr = std::shared_ptr<Op>;

std::string Describe(const Op& op) { return "upstream " + op.key; }

class Client final : public UpstreamClient, public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& ioc, UpstreamClientOptions options) : ioc_(ioc), options_(options) {}

  void Send(UpstreamRequest r, UpstreamCallback done) override {
    if (shut_down_.load()) {
      done(Status(StatusCode::kCancelled, "the HTTP client is shut down"));
      return;
    }
    auto op = std::make_shared<Op>();
    op->client = shared_from_this();
    op->host = std::move(r.host);
    op->port = r.port;
    op->key = op->host + ":" + std::to_string(op->port);
    op->done = std::move(done);
    op->deadline = Clock::now() + r.timeout;
    op->req.version(11);
    op->req.method_string(r.method);
    op->req.target(r.target);
    bool has_host = false;
    for (auto& [k, v] : r.headers) {
      if (beast::iequals(k, "Host")) has_host = true;
      op->req.insert(k, v);
    }
    if (!has_host) op->req.set(http::field::host, op->key);
    op->req.keep_alive(true);
    op->req.body() = std::move(r.body);
    op->req.prepare_payload();
    Run(op, TakeIdle(op->key));
  }

  void Shutdown() override {
    shut_down_.store(true);
    std::unordered_map<std::string, std::vector<ConnPtr>> idle;
    {
      std::lock_guard lock(mu_);
      idle.swap(idle_);
    }
    for (auto& [k, list] : idle) {
      for (auto& c : list) {
        boost::system::error_code ec;
        c->stream.socket().close(ec);
      }
    }
  }

 private:
  ConnPtr TakeIdle(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    const auto now = Clock::now();
    while (!list.empty()) {
      ConnPtr c = std::move(list.back());
      list.pop_back();
      if (now - c->idle_since < options_.idle_timeout && c->stream.socket().is_open()) return c;
    }
    return nullptr;
  }

  void PutIdle(const std::string& key, ConnPtr c) {
    if (shut_down_.load() || c->buffer.size() != 0) return;  // leftover bytes: not a clean HTTP/1.1 exchange
    c->stream.expires_never();
    c->idle_since = Clock::now();
    std::lock_guard lock(mu_);
    auto& list = idle_[key];
    if (list.size() < options_.max_idle_per_host) list.push_back(std::move(c));
  }

  void Run(const OpPtr& op, ConnPtr reused) {
    if (reused) {
      op->conn = std::move(reused);
      op->reused = true;
      op->conn->stream.expires_at(op->deadline);
      Write(op);
      return;
    }
    op->reused = false;
    op->conn = std::make_shared<Conn>(asio::make_strand(ioc_));
    op->conn->stream.expires_at(op->deadline);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(op->host == "localhost" ? "127.0.0.1" : op->host, ec);
    if (!ec) {
      op->conn->stream.async_connect(tcp::endpoint(address, op->port), [op](boost::system::error_code ec) {
        if (ec) return Fail(op, ec, /*sent=*/false);
        op->client->Connected(op);
      });
      return;
    }
    auto resolver = std::make_shared<tcp::resolver>(op->conn->stream.get_executor());
    resolver->async_resolve(op->host, std::to_string(op->port),
                            [op, resolver](boost::system::error_code ec, tcp::resolver::results_type results) {
                              if (ec) {
                                Finish(op, Unavailable(Describe(*op) + ": cannot resolve " + op->host + ": " + ec.message()));
                                return;
                              }
                              op->conn->stream.async_connect(results, [op](boost::system::error_code ec, const tcp::endpoint&) {
                                if (ec) return Fail(op, ec, /*sent=*/false);
                                op->client->Connected(op);
                              });
                            });
  }

  void Connected(const OpPtr& op) {
    boost::system::error_code ignored;
    op->conn->stream.socket().set_option(tcp::no_delay(true), ignored);
    Write(op);
  }

  void Write(const OpPtr& op) {
    http::async_write(op->conn->stream, op->req, [op](boost::system::error_code ec, std::size_t) {
      if (ec) return Fail(op, ec, /*sent=*/false);
      op->client->Read(op);
    });
  }

  void Read(const OpPtr& op) {
    op->parser.emplace();
    op->parser->body_limit(options_.max_response_bytes);
    op->parser->header_limit(64 << 10);
    http::async_read(op->conn->stream, op->conn->buffer, *op->parser, [op](boost::system::error_code ec, std::size_t) {
      if (ec) return Fail(op, ec, /*sent=*/true);
      auto res = op->parser->release();
      UpstreamResponse out;
      out.status = static_cast<int>(res.result_int());
      out.headers.reserve(8);
      for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      out.body = std::move(res.body());
      if (res.keep_alive()) {
        op->client->PutIdle(op->key, std::move(op->conn));
      } else {
        boost::system::error_code ignored;
        op->conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      }
      Finish(op, std::move(out));
    });
  }

  // A pooled connection the upstream already closed fails before any answer byte: retry once on
  // a new connection (the request cannot have been processed: nothing was read for it).
  static void Fail(const OpPtr& op, boost::system::error_code ec, bool sent) {
    const bool nothing_read = !op->parser || !op->parser->got_some();
    if (op->reused && op->attempt == 0 && nothing_read && ec != beast::error::timeout &&
        (!sent || ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe)) {
      op->attempt = 1;
      op->parser.reset();
      op->conn.reset();
      op->client->Run(op, nullptr);
      return;
    }
    if (op->conn) {
      boost::system::error_code ignored;
      op->conn->stream.socket().close(ignored);
    }
    if (ec == beast::error::timeout) {
      Finish(op, DeadlineExceeded(Describe(*op) + ": no answer in time"));
    } else if (ec == http::error::body_limit) {
      Finish(op, ResourceExhausted(Describe(*op) + ": answer larger than " + std::to_string(op->client->options_.max_response_bytes) +
                                   " bytes"));
    } else if (!sent) {
      Finish(op, Unavailable(Describe(*op) + ": " + ec.message()));
    } else {
      Finish(op, Status(StatusCode::kInternal, Describe(*op) + ": the connection broke after the request was sent, before the answer was complete (" +
                                                           ec.message() + "); the upstream may have acted on it"));
    }
  }

  static void Finish(const OpPtr& op, Result<UpstreamResponse> result) {
    auto done = std::move(op->done);
    op->conn.reset();
    op->client.reset();  // breaks the op -> client cycle before the callback runs
    if (done) done(std::move(result));
  }

  asio::io_context& ioc_;
  const UpstreamClientOptions options_;
  std::atomic<bool> shut_down_{false};
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<ConnPtr>> idle_;
};

}  // namespace

std::shared_ptr<UpstreamClient> MakeUpstreamClient(asio::io_context& ioc, UpstreamClientOptions options) {
  return std::make_shared<Client>(ioc, options);
}

}  // namespace tuna::net
