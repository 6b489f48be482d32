// tuna::mcp::Client: the MCP lifecycle and methods over a ClientTransport.
//
// Session state machine: kNew → (Initialize) → kInitializing → kReady | kFailed; an expired
// session (kNotFound from the transport) sends the Client back through kInitializing once per
// generation, and calls wait for it instead of going out on a half-initialized session.

#include "tuna/mcp/client.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>

#include <boost/json.hpp>

#include "core/logging.hpp"

namespace tuna::mcp {
namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;

std::string StringField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

std::optional<json::object> ObjectField(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return std::nullopt;
  return it->value().get_object();
}

Deadline DeadlineFor(const CallOptions& call, const ClientOptions& client) {
  auto timeout = call.timeout.count() > 0 ? call.timeout : client.request_timeout;
  // "No timeout" is a far deadline, not time_point::max(): condition waits convert it.
  if (timeout.count() <= 0 || timeout > std::chrono::hours(24 * 365)) timeout = std::chrono::hours(24 * 365);
  return Clock::now() + timeout;
}

std::optional<double> Number(const json::value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

}  // namespace

json::value DefaultReply(const jsonrpc::Message& request) {
  if (request.method == "ping") return jsonrpc::MakeResponse(request.id, json::object{});
  return jsonrpc::MakeErrorResponse(
      request.id, {jsonrpc::kMethodNotFound, "Method not found: " + request.method + " (not supported by this client)", nullptr});
}

Status StatusFromJsonRpcError(std::string_view method, const jsonrpc::Error& error) {
  std::string message = std::string(method) + ": " + error.message + " (JSON-RPC error " + std::to_string(error.code) + ")";
  switch (error.code) {
    case jsonrpc::kInvalidParams:
      return InvalidArgument(std::move(message));
    case jsonrpc::kMethodNotFound:
      return Unimplemented(std::move(message));
    case kResourceNotFound:
      return NotFound(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

bool ServerInfo::HasCapability(std::string_view capability) const { return capabilities.contains(capability); }

class Client::Impl {
 public:
  Impl(ClientTransportPtr transport, ClientOptions options)
      : transport_(std::move(transport)), options_(std::move(options)) {
    if (options_.max_in_flight == 0) options_.max_in_flight = 1;
  }

  ~Impl() { Close(); }

  Status Initialize(const CallOptions& call, bool again) {
    Deadline deadline = DeadlineFor(call, options_);
    std::unique_lock lock(mu_);
    if (state_ == State::kClosed) return Status(StatusCode::kCancelled, "MCP client is closed");
    if (!started_) {
      Status s = transport_->Start([this](const jsonrpc::Message& m) { return OnIncoming(m); });
      if (!s.ok()) return s;
      started_ = true;
    }
    if (state_ == State::kInitializing) {
      // Someone else is initializing: its outcome is ours.
      std::uint64_t generation = generation_;
      if (!cv_.wait_until(lock, deadline, [&] { return state_ != State::kInitializing; })) {
        return DeadlineExceeded("MCP initialize did not finish in time");
      }
      if (state_ == State::kReady && (generation_ != generation || !again)) return Status::Ok();
      if (state_ == State::kClosed) return Status(StatusCode::kCancelled, "MCP client is closed");
      if (state_ == State::kFailed && !again) return last_error_;
    }
    if (state_ == State::kReady && !again) return Status::Ok();
    return RunInitialize(lock, deadline, call.headers);
  }

  ServerInfo server_info() const {
    std::lock_guard lock(mu_);
    return server_;
  }

  std::uint64_t generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }

  std::optional<Client::SessionRef> session_ref() const {
    std::string version;
    {
      std::lock_guard lock(mu_);
      if (state_ != State::kReady) return std::nullopt;
      version = server_.protocol_version;
    }
    std::string id = transport_->SessionId();
    if (id.empty()) return std::nullopt;
    return Client::SessionRef{std::move(id), std::move(version)};
  }

  Result<jsonrpc::Message> CallRaw(std::string_view method, json::object params, const CallOptions& call) {
    Deadline deadline = DeadlineFor(call, options_);
    // A bounded number of requests in flight: wait for a slot until the deadline.
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_until(lock, deadline, [&] { return in_flight_ < options_.max_in_flight || state_ == State::kClosed; })) {
        return DeadlineExceeded(std::string(method) + ": " + std::to_string(options_.max_in_flight) +
                                " MCP requests already in flight; no slot before the deadline");
      }
      if (state_ == State::kClosed) return Status(StatusCode::kCancelled, "MCP client is closed");
      ++in_flight_;
    }
    struct SlotRelease {
      Impl* impl;
      ~SlotRelease() {
        std::lock_guard lock(impl->mu_);
        --impl->in_flight_;
        impl->cv_.notify_all();
      }
    } release{this};

    for (int attempt = 0;; ++attempt) {
      auto generation = WaitReady(deadline, method);
      if (!generation.ok()) return generation.status();
      auto r = SendRequest(method, params, call, deadline);
      if (r.ok() || r.status().code() != StatusCode::kNotFound) return r;
      // The transport says the session is gone.
      if (!options_.auto_reinitialize || attempt > 0) return r;
      spdlog::info("mcp client: session expired ({}); initializing again", r.status().message());
      Status s = ReinitializeFrom(*generation, deadline, call.headers);
      if (!s.ok()) return s.WithContext(std::string(method) + ": session expired and initialize again failed");
    }
  }

  Status Notify(std::string_view method, json::object params) {
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kClosed) return Status(StatusCode::kCancelled, "MCP client is closed");
      if (state_ != State::kReady) return FailedPrecondition("MCP session is not initialized");
    }
    RequestContext context{.deadline = DeadlineFor({}, options_)};
    return transport_->Send(jsonrpc::MakeNotification(method, params.empty() ? json::value() : json::value(std::move(params))),
                            context);
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kClosed) return;
      state_ = State::kClosed;
      cv_.notify_all();
    }
    transport_->Close();
    {
      std::lock_guard lock(notify_mu_);
      notify_stop_ = true;
      notify_cv_.notify_all();
    }
    if (notify_thread_.joinable()) notify_thread_.join();
  }

 private:
  enum class State { kNew, kInitializing, kReady, kFailed, kClosed };

  // Waits until the session is ready; returns its generation.
  Result<std::uint64_t> WaitReady(Deadline deadline, std::string_view method) {
    std::unique_lock lock(mu_);
    for (;;) {
      switch (state_) {
        case State::kReady:
          return generation_;
        case State::kClosed:
          return Status(StatusCode::kCancelled, "MCP client is closed");
        case State::kNew:
          return FailedPrecondition(std::string(method) + ": MCP session is not initialized (call Initialize first)");
        case State::kFailed:
          if (!options_.auto_reinitialize) return Unavailable(std::string(method) + ": " + last_error_.message());
          {
            Status s = RunInitialize(lock, deadline, {});
            if (!s.ok()) return s;
          }
          continue;
        case State::kInitializing:
          if (!cv_.wait_until(lock, deadline, [&] { return state_ != State::kInitializing; })) {
            return DeadlineExceeded(std::string(method) + ": MCP session still initializing at the deadline");
          }
          continue;
      }
    }
  }

  // Initializes again unless another caller already moved past `generation`.
  Status ReinitializeFrom(std::uint64_t generation, Deadline deadline, const std::vector<Header>& headers) {
    std::unique_lock lock(mu_);
    if (state_ == State::kClosed) return Status(StatusCode::kCancelled, "MCP client is closed");
    if (generation_ != generation || state_ == State::kInitializing) return Status::Ok();  // WaitReady follows it
    return RunInitialize(lock, deadline, headers);
  }

  // Called with mu_ held; releases it during the handshake.
  Status RunInitialize(std::unique_lock<std::mutex>& lock, Deadline deadline, const std::vector<Header>& headers) {
    bool reset = state_ != State::kNew;
    state_ = State::kInitializing;
    lock.unlock();
    if (reset) transport_->ResetSession();
    ServerInfo info;
    Status s = Handshake(deadline, headers, info);
    lock.lock();
    if (state_ == State::kClosed) return Status(StatusCode::kCancelled, "MCP client closed during initialize");
    if (s.ok()) {
      server_ = std::move(info);
      state_ = State::kReady;
      ++generation_;
    } else {
      state_ = State::kFailed;
      last_error_ = s;
    }
    cv_.notify_all();
    return s;
  }

  Status Handshake(Deadline deadline, const std::vector<Header>& headers, ServerInfo& info) {
    json::object client_info{{"name", options_.name}, {"version", options_.version}};
    if (!options_.title.empty()) client_info["title"] = options_.title;
    json::object params{{"protocolVersion", options_.protocol_version},
                        {"capabilities", options_.capabilities},
                        {"clientInfo", std::move(client_info)}};
    RequestContext context{.deadline = deadline, .headers = headers};
    auto r = transport_->Request(jsonrpc::MakeRequest(NextId(), "initialize", std::move(params)), context);
    if (!r.ok()) return r.status().WithContext("MCP initialize");
    if (r->kind == jsonrpc::MessageKind::kErrorResponse) return StatusFromJsonRpcError("initialize", r->error);
    if (!r->result.is_object()) return Internal("MCP initialize: the result is not an object");
    const json::object& result = r->result.get_object();
    info.protocol_version = StringField(result, "protocolVersion");
    if (!IsSupportedProtocolVersion(info.protocol_version)) {
      return FailedPrecondition("MCP initialize: the server speaks protocol version \"" + info.protocol_version +
                                "\", which this client does not (it speaks 2025-11-25 and 2025-06-18)");
    }
    info.capabilities = ObjectField(result, "capabilities").value_or(json::object{});
    info.server_info = ObjectField(result, "serverInfo").value_or(json::object{});
    info.name = StringField(info.server_info, "name");
    info.version = StringField(info.server_info, "version");
    info.instructions = StringField(result, "instructions");
    Status s = transport_->Send(jsonrpc::MakeNotification("notifications/initialized"), context);
    if (!s.ok()) return s.WithContext("MCP notifications/initialized");
    transport_->SessionReady();
    StartNotificationThread();
    spdlog::debug("mcp client: initialized with {} {} (protocol {})", info.name, info.version, info.protocol_version);
    return Status::Ok();
  }

  Result<jsonrpc::Message> SendRequest(std::string_view method, const json::object& params_in, const CallOptions& call,
                                       Deadline deadline) {
    json::value id = NextId();
    json::object params = params_in;
    std::string token;
    if (call.on_progress) {
      token = "tuna-progress-" + std::to_string(id.as_int64());
      json::object meta = ObjectField(params, "_meta").value_or(json::object{});
      meta["progressToken"] = token;
      params["_meta"] = std::move(meta);
      std::lock_guard lock(progress_mu_);
      progress_[token] = call.on_progress;
    }
    RequestContext context{.deadline = deadline, .headers = call.headers};
    auto r = transport_->Request(jsonrpc::MakeRequest(id, method, params.empty() ? json::value() : json::value(std::move(params))),
                                 context);
    if (!token.empty()) {
      std::lock_guard lock(progress_mu_);
      progress_.erase(token);
    }
    if (!r.ok() && r.status().code() == StatusCode::kDeadlineExceeded) {
      // Tell the server to stop working on it; best effort, briefly.
      RequestContext cancel_context{.deadline = Clock::now() + std::chrono::seconds(2), .headers = call.headers};
      Status s = transport_->Send(
          jsonrpc::MakeNotification("notifications/cancelled",
                                    json::object{{"requestId", id}, {"reason", "timed out in the client"}}),
          cancel_context);
      if (!s.ok()) spdlog::debug("mcp client: notifications/cancelled for {} not sent: {}", json::serialize(id), s.ToString());
    }
    if (!r.ok()) return r.status().WithContext(method);
    return r;
  }

  json::value NextId() { return json::value(static_cast<std::int64_t>(next_id_.fetch_add(1) + 1)); }

  std::optional<json::value> OnIncoming(const jsonrpc::Message& message) {
    if (message.IsRequest()) {
      if (message.method == "ping" || !options_.on_request) return DefaultReply(message);
      Result<json::value> r = Status(StatusCode::kInternal, "");
      try {
        r = options_.on_request(message.method, message.params);
      } catch (const std::exception& e) {
        r = Internal(std::string("client request handler threw: ") + e.what());
      }
      if (!r.ok()) return jsonrpc::MakeErrorResponse(message.id, jsonrpc::ErrorFromStatus(r.status()));
      return jsonrpc::MakeResponse(message.id, std::move(*r));
    }
    if (!message.IsNotification()) return std::nullopt;
    if (message.method == "notifications/progress") {
      if (!message.params.is_object()) return std::nullopt;
      const json::object& p = message.params.get_object();
      auto token_it = p.find("progressToken");
      if (token_it == p.end() || !token_it->value().is_string()) return std::nullopt;
      ProgressCallback callback;
      {
        std::lock_guard lock(progress_mu_);
        auto it = progress_.find(std::string(token_it->value().get_string()));
        if (it != progress_.end()) callback = it->second;
      }
      if (!callback) return std::nullopt;
      Progress progress;
      progress.progress = Number(p.if_contains("progress")).value_or(0);
      progress.total = Number(p.if_contains("total"));
      progress.message = StringField(p, "message");
      try {
        callback(progress);
      } catch (...) {
        spdlog::warn("mcp client: a progress callback threw; ignored");
      }
      return std::nullopt;
    }
    if (!options_.on_notification) return std::nullopt;
    std::lock_guard lock(notify_mu_);
    if (notify_queue_.size() >= options_.max_queued_notifications) {
      spdlog::warn("mcp client: notification queue full ({}); dropped {}", notify_queue_.size(), message.method);
      return std::nullopt;
    }
    notify_queue_.emplace_back(message.method, message.params);
    notify_cv_.notify_one();
    return std::nullopt;
  }

  void StartNotificationThread() {
    if (!options_.on_notification) return;
    std::lock_guard lock(notify_mu_);
    if (notify_thread_.joinable() || notify_stop_) return;
    notify_thread_ = std::thread([this] {
      std::unique_lock lock(notify_mu_);
      for (;;) {
        notify_cv_.wait(lock, [&] { return notify_stop_ || !notify_queue_.empty(); });
        if (notify_stop_) return;
        auto [method, params] = std::move(notify_queue_.front());
        notify_queue_.pop_front();
        lock.unlock();
        try {
          options_.on_notification(method, params);
        } catch (...) {
          spdlog::warn("mcp client: a notification handler threw on {}; ignored", method);
        }
        lock.lock();
      }
    });
  }

  ClientTransportPtr transport_;
  ClientOptions options_;
  std::atomic<std::uint64_t> next_id_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kNew;
  bool started_ = false;
  std::uint64_t generation_ = 0;
  std::size_t in_flight_ = 0;
  ServerInfo server_;
  Status last_error_;

  std::mutex progress_mu_;
  std::map<std::string, ProgressCallback> progress_;

  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  std::deque<std::pair<std::string, json::value>> notify_queue_;
  bool notify_stop_ = false;
  std::thread notify_thread_;
};

namespace {

template <typename T, typename Parse>
Result<std::vector<T>> ListAll(Client& client, std::string_view method, std::string_view key, const CallOptions& options,
                               Parse parse) {
  std::vector<T> items;
  std::string cursor;
  constexpr int kMaxPages = 10000;  // a server that keeps handing out cursors must not loop us forever
  for (int page = 0; page < kMaxPages; ++page) {
    json::object params;
    if (!cursor.empty()) params["cursor"] = cursor;
    TUNA_ASSIGN_OR_RETURN(json::value result, client.Call(method, std::move(params), options));
    if (!result.is_object()) return Internal(std::string(method) + ": the result is not an object");
    const json::object& o = result.get_object();
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_array()) return Internal(std::string(method) + ": the result has no " + std::string(key) + " array");
    for (const json::value& item : it->value().get_array()) {
      if (item.is_object()) items.push_back(parse(item.get_object()));
    }
    std::string next = StringField(o, "nextCursor");
    if (next.empty()) return items;
    if (next == cursor) return Internal(std::string(method) + ": the server returned the same cursor twice");
    cursor = std::move(next);
  }
  return ResourceExhausted(std::string(method) + ": more than " + std::to_string(kMaxPages) + " pages");
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

ClientPtr Client::Make(ClientTransportPtr transport, ClientOptions options) {
  return ClientPtr(new Client(std::make_unique<Impl>(std::move(transport), std::move(options))));
}

Result<ClientPtr> Client::Connect(ClientTransportPtr transport, ClientOptions options) {
  ClientPtr client = Make(std::move(transport), std::move(options));
  TUNA_RETURN_IF_ERROR(client->Initialize());
  return client;
}

Status Client::Initialize(const CallOptions& options) { return impl_->Initialize(options, false); }
Status Client::Reinitialize(const CallOptions& options) { return impl_->Initialize(options, true); }
ServerInfo Client::server_info() const { return impl_->server_info(); }
std::uint64_t Client::session_generation() const { return impl_->generation(); }
std::optional<Client::SessionRef> Client::session_ref() const { return impl_->session_ref(); }
void Client::Close() { impl_->Close(); }

Result<jsonrpc::Message> Client::CallRaw(std::string_view method, json::object params, const CallOptions& options) {
  return impl_->CallRaw(method, std::move(params), options);
}

Result<json::value> Client::Call(std::string_view method, json::object params, const CallOptions& options) {
  TUNA_ASSIGN_OR_RETURN(jsonrpc::Message response, CallRaw(method, std::move(params), options));
  if (response.kind == jsonrpc::MessageKind::kErrorResponse) return StatusFromJsonRpcError(method, response.error);
  return std::move(response.result);
}

Status Client::Notify(std::string_view method, json::object params) { return impl_->Notify(method, std::move(params)); }

Status Client::Ping(const CallOptions& options) {
  auto r = Call("ping", {}, options);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::vector<ToolInfo>> Client::ListTools(const CallOptions& options) {
  return ListAll<ToolInfo>(*this, "tools/list", "tools", options, [](const json::object& o) {
    ToolInfo t;
    t.name = StringField(o, "name");
    t.title = StringField(o, "title");
    t.description = StringField(o, "description");
    t.input_schema = ObjectField(o, "inputSchema").value_or(json::object{{"type", "object"}});
    t.output_schema = ObjectField(o, "outputSchema");
    t.raw = o;
    return t;
  });
}

Result<ToolResult> Client::CallTool(std::string_view name, json::object arguments, const CallOptions& options) {
  json::object params{{"name", name}, {"arguments", std::move(arguments)}};
  TUNA_ASSIGN_OR_RETURN(json::value result, Call("tools/call", std::move(params), options));
  if (!result.is_object()) return Internal("tools/call: the result is not an object");
  const json::object& o = result.get_object();
  ToolResult tool_result;
  if (auto it = o.find("content"); it != o.end() && it->value().is_array()) tool_result.content = it->value().get_array();
  if (auto it = o.find("isError"); it != o.end() && it->value().is_bool()) tool_result.is_error = it->value().get_bool();
  tool_result.structured_content = ObjectField(o, "structuredContent");
  return tool_result;
}

Result<std::vector<ResourceInfo>> Client::ListResources(const CallOptions& options) {
  return ListAll<ResourceInfo>(*this, "resources/list", "resources", options, [](const json::object& o) {
    return ResourceInfo{.uri = StringField(o, "uri"),
                        .name = StringField(o, "name"),
                        .title = StringField(o, "title"),
                        .description = StringField(o, "description"),
                        .mime_type = StringField(o, "mimeType"),
                        .raw = o};
  });
}

Result<std::vector<ResourceTemplateInfo>> Client::ListResourceTemplates(const CallOptions& options) {
  return ListAll<ResourceTemplateInfo>(*this, "resources/templates/list", "resourceTemplates", options, [](const json::object& o) {
    return ResourceTemplateInfo{.uri_template = StringField(o, "uriTemplate"),
                                .name = StringField(o, "name"),
                                .title = StringField(o, "title"),
                                .description = StringField(o, "description"),
                                .mime_type = StringField(o, "mimeType"),
                                .raw = o};
  });
}

Result<std::vector<ResourceContents>> Client::ReadResource(std::string_view uri, const CallOptions& options) {
  TUNA_ASSIGN_OR_RETURN(json::value result, Call("resources/read", json::object{{"uri", uri}}, options));
  const json::array* contents = result.is_object() ? result.get_object().if_contains("contents") ? result.get_object().at("contents").if_array() : nullptr : nullptr;
  if (contents == nullptr) return Internal("resources/read: the result has no contents array");
  std::vector<ResourceContents> out;
  for (const json::value& item : *contents) {
    if (!item.is_object()) continue;
    const json::object& o = item.get_object();
    ResourceContents c{.uri = StringField(o, "uri"), .mime_type = StringField(o, "mimeType")};
    if (auto it = o.find("text"); it != o.end() && it->value().is_string()) c.text = std::string(it->value().get_string());
    if (auto it = o.find("blob"); it != o.end() && it->value().is_string()) c.blob = std::string(it->value().get_string());
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<PromptInfo>> Client::ListPrompts(const CallOptions& options) {
  return ListAll<PromptInfo>(*this, "prompts/list", "prompts", options, [](const json::object& o) {
    PromptInfo p{.name = StringField(o, "name"), .title = StringField(o, "title"), .description = StringField(o, "description"), .raw = o};
    if (auto it = o.find("arguments"); it != o.end() && it->value().is_array()) {
      for (const json::value& a : it->value().get_array()) {
        if (!a.is_object()) continue;
        const json::object& ao = a.get_object();
        const json::value* required = ao.if_contains("required");
        p.arguments.push_back({.name = StringField(ao, "name"),
                               .description = StringField(ao, "description"),
                               .required = required != nullptr && required->is_bool() && required->get_bool()});
      }
    }
    return p;
  });
}

Result<PromptResult> Client::GetPrompt(std::string_view name, const std::map<std::string, std::string>& arguments,
                                       const CallOptions& options) {
  json::object args;
  for (const auto& [k, v] : arguments) args[k] = v;
  TUNA_ASSIGN_OR_RETURN(json::value result, Call("prompts/get", json::object{{"name", name}, {"arguments", std::move(args)}}, options));
  if (!result.is_object()) return Internal("prompts/get: the result is not an object");
  const json::object& o = result.get_object();
  PromptResult prompt{.description = StringField(o, "description")};
  if (auto it = o.find("messages"); it != o.end() && it->value().is_array()) {
    for (const json::value& m : it->value().get_array()) {
      if (!m.is_object()) continue;
      prompt.messages.push_back({.role = StringField(m.get_object(), "role"),
                                 .content = ObjectField(m.get_object(), "content").value_or(json::object{})});
    }
  }
  return prompt;
}

}  // namespace tuna::mcp
