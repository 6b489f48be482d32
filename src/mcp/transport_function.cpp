// A ClientTransport that hands every message to a function: the gateway tunnels MCP over its
// executors with it, tests call a Server in-process.

#include <atomic>
#include <mutex>

#include <boost/json.hpp>

#include "tuna/mcp/client.hpp"

namespace tuna::mcp {
namespace {
namespace json = boost::json;

class FunctionTransport final : public ClientTransport {
 public:
  explicit FunctionTransport(TransportFunction function) : function_(std::move(function)) {}

  Status Start(IncomingHandler incoming) override {
    std::lock_guard lock(mu_);
    incoming_ = std::move(incoming);
    return Status::Ok();
  }

  Result<jsonrpc::Message> Request(const json::value& request, const RequestContext& context) override {
    if (closed_) return Status(StatusCode::kCancelled, "MCP transport is closed");
    FunctionContext fc{.deadline = context.deadline, .headers = context.headers};
    fc.emit = [this, &context](const json::value& message) { Deliver(message, context); };
    Result<json::value> reply = Status(StatusCode::kInternal, "");
    try {
      reply = function_(request, fc);
    } catch (const std::exception& e) {
      return Internal(std::string("MCP transport function threw: ") + e.what());
    }
    if (!reply.ok()) return reply.status();
    jsonrpc::ParseResult parsed = jsonrpc::ParseValue(*reply);
    if (!parsed.ok() || !parsed.message->IsResponse()) {
      return Internal("MCP transport function returned no JSON-RPC response: " + parsed.error.message);
    }
    const json::value* id = request.is_object() ? request.get_object().if_contains("id") : nullptr;
    if (id != nullptr && !parsed.message->id.is_null() && parsed.message->id != *id) {
      return Internal("MCP transport function answered another request id");
    }
    if (std::chrono::steady_clock::now() > context.deadline) return DeadlineExceeded("MCP request timed out");
    return std::move(*parsed.message);
  }

  Status Send(const json::value& message, const RequestContext& context) override {
    if (closed_) return Status(StatusCode::kCancelled, "MCP transport is closed");
    FunctionContext fc{.deadline = context.deadline, .headers = context.headers};
    fc.emit = [this, &context](const json::value& m) { Deliver(m, context); };
    try {
      auto r = function_(message, fc);
      return r.ok() ? Status::Ok() : r.status();
    } catch (const std::exception& e) {
      return Internal(std::string("MCP transport function threw: ") + e.what());
    }
  }

  void Close() override { closed_ = true; }

 private:
  void Deliver(const json::value& value, const RequestContext& context) {
    jsonrpc::ParseResult parsed = jsonrpc::ParseValue(value);
    if (!parsed.ok() || parsed.message->IsResponse()) return;
    IncomingHandler incoming;
    {
      std::lock_guard lock(mu_);
      incoming = incoming_;
    }
    std::optional<json::value> reply;
    if (incoming) {
      reply = incoming(*parsed.message);
    } else if (parsed.message->IsRequest()) {
      reply = DefaultReply(*parsed.message);
    }
    if (reply && parsed.message->IsRequest()) {
      Status s = Send(*reply, context);
      (void)s;  // the server gave up on its own request; nothing else to do
    }
  }

  TransportFunction function_;
  std::mutex mu_;
  IncomingHandler incoming_;
  std::atomic<bool> closed_{false};
};

}  // namespace

ClientTransportPtr MakeFunctionTransport(TransportFunction function) {
  return std::make_unique<FunctionTransport>(std::move(function));
}

}  // namespace tuna::mcp
