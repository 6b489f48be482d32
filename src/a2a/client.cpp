// a2a::Client over libcurl. One easy handle per call (A2A calls are few and long compared to
// the handshake); streams are parsed as they arrive: bytes -> SSE events (blank-line separated,
// `data:` lines joined) -> JSON-RPC responses -> StreamEvents for the callback.

#include "tuna/a2a/client.hpp"

#include <curl/curl.h>

#include <atomic>
#include <mutex>

#include <boost/json.hpp>

#include "a2a/codec_util.hpp"
#include "net/status_response.hpp"

namespace tuna::a2a {

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string TrimmedLower(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The JSON-RPC error code travels in the Status field as "rpc:<code>".
constexpr std::string_view kRpcFieldPrefix = "rpc:";

Status RpcError(const json::value& error) {
  int code = jsonrpc::kInternalError;
  std::string message = "error";
  if (error.is_object()) {
    const auto& o = error.as_object();
    if (const auto* c = o.if_contains("code"); c && c->is_int64()) code = static_cast<int>(c->as_int64());
    if (const auto* m = o.if_contains("message"); m && m->is_string()) message = std::string(m->as_string());
  }
  StatusCode sc = StatusCode::kInternal;
  switch (code) {
    case kTaskNotFound: sc = StatusCode::kNotFound; break;
    case kTaskNotCancelable: sc = StatusCode::kFailedPrecondition; break;
    case kPushNotificationNotSupported:
    case kUnsupportedOperation:
    case kExtendedAgentCardNotConfigured:
    case jsonrpc::kMethodNotFound: sc = StatusCode::kUnimplemented; break;
    case kContentTypeNotSupported:
    case jsonrpc::kInvalidParams:
    case jsonrpc::kInvalidRequest:
    case jsonrpc::kParseError: sc = StatusCode::kInvalidArgument; break;
    case kVersionNotSupported: sc = StatusCode::kFailedPrecondition; break;
    default: break;
  }
  return Status(sc, "A2A error " + std::to_string(code) + ": " + message, std::string(kRpcFieldPrefix) + std::to_string(code));
}

// State of one transfer shared with the curl callbacks.
struct Transfer {
  CURL* curl = nullptr;
  long status = 0;
  bool status_known = false;
  bool is_sse = false;
  std::string content_type;
  std::string body;  // non-SSE bodies (bounded)
  std::size_t max_body = 0;
  bool too_large = false;
  std::function<bool(std::string_view)> sse_sink;  // gets SSE bytes of a 2xx event-stream
  bool stopped = false;
  const CancellationToken* cancel = nullptr;
  bool cancelled = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") t->content_type.clear();
  std::string lower = TrimmedLower(line);
  if (lower.rfind("content-type:", 0) == 0) t->content_type = TrimmedLower(lower.substr(13));
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (!t->status_known) {
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    t->status_known = true;
    t->is_sse = t->sse_sink && t->status >= 200 && t->status < 300 && t->content_type.rfind("text/event-stream", 0) == 0;
  }
  if (t->is_sse) {
    if (!t->sse_sink(std::string_view(data, n))) {
      t->stopped = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR)
    }
    return n;
  }
  if (t->body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;
  }
  t->body.append(data, n);
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->cancel != nullptr && t->cancel->cancelled()) {
    t->cancelled = true;
    return 1;
  }
  return 0;
}

// Splits an SSE byte stream into events and hands each event's data to `on_data`.
class SseParser {
 public:
  SseParser(std::size_t max_event, std::function<bool(std::string_view)> on_data)
      : max_event_(max_event), on_data_(std::move(on_data)) {}

  /// False to stop (callback said so, or an event was too large: then error() is set).
  bool Feed(std::string_view bytes) {
    buffer_.append(bytes);
    std::size_t start = 0;
    while (true) {
      std::size_t nl = buffer_.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(buffer_.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start = nl + 1;
      if (line.empty()) {
        if (have_data_) {
          bool go_on = on_data_(data_);
          data_.clear();
          have_data_ = false;
          if (!go_on) {
            buffer_.erase(0, start);
            return false;
          }
        }
        continue;
      }
      if (line.front() == ':') continue;  // comment / keep-alive
      std::string_view field = line.substr(0, line.find(':'));
      std::string_view value = field.size() < line.size() ? line.substr(field.size() + 1) : std::string_view();
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (field == "data") {
        if (have_data_) data_ += '\n';
        data_.append(value);
        have_data_ = true;
      }
    }
    buffer_.erase(0, start);
    if (buffer_.size() + data_.size() > max_event_) {
      error_ = ResourceExhausted("stream event larger than " + std::to_string(max_event_) + " bytes");
      return false;
    }
    return true;
  }

  const Status& error() const { return error_; }

 private:
  std::size_t max_event_;
  std::function<bool(std::string_view)> on_data_;
  std::string buffer_;
  std::string data_;
  bool have_data_ = false;
  Status error_;
};

}  // namespace

std::optional<int> RpcErrorCode(const Status& status) {
  const std::string& f = status.field();
  if (f.rfind(kRpcFieldPrefix, 0) != 0) return std::nullopt;
  try {
    return std::stoi(f.substr(kRpcFieldPrefix.size()));
  } catch (...) {
    return std::nullopt;
  }
}

class Client::Impl {
 public:
  Impl(std::string endpoint, Version version, ClientOptions options, std::optional<AgentCard> card)
      : endpoint_(std::move(endpoint)), version_(version), options_(std::move(options)), card_(std::move(card)) {}

  // One HTTP exchange. `sse_sink` set: a 2xx text/event-stream body goes there.
  Status Exchange(const std::string& url, const std::string* body, const CallOptions& call,
                  std::function<bool(std::string_view)> sse_sink, Transfer& t) const {
    GlobalInit();
    CURL* curl = curl_easy_init();
    if (!curl) return Internal("curl_easy_init failed");
    struct curl_slist* headers = nullptr;
    auto add = [&](const std::string& name, const std::string& value) {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    };
    if (body) {
      add("Content-Type", "application/json");
      add("Accept", sse_sink ? "text/event-stream" : "application/json");
      add("A2A-Version", std::string(VersionName(version_)));
    } else {
      add("Accept", "application/json");
    }
    for (const auto& [n, v] : options_.headers) add(n, v);
    for (const auto& [n, v] : call.headers) add(n, v);
    char error_buffer[CURL_ERROR_SIZE] = {0};
    t.curl = curl;
    t.sse_sink = std::move(sse_sink);
    t.max_body = options_.max_event_bytes;
    t.cancel = call.cancel.get();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tuna-a2a-client");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    if (!t.sse_sink) curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    if (body) {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    }
    CURLcode rc = curl_easy_perform(curl);
    if (!t.status_known) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (t.cancelled) return Status(StatusCode::kCancelled, "call to " + url + " was cancelled");
    if (rc == CURLE_WRITE_ERROR && t.stopped) return Status::Ok();
    if (t.too_large) return ResourceExhausted("response from " + url + " larger than " + std::to_string(options_.max_event_bytes) + " bytes");
    if (rc == CURLE_OPERATION_TIMEDOUT) return DeadlineExceeded("call to " + url + " timed out");
    if (rc != CURLE_OK) {
      return Unavailable("cannot reach A2A agent at " + url + ": " + (error_buffer[0] ? error_buffer : curl_easy_strerror(rc)));
    }
    return Status::Ok();
  }

  // Builds a request object with a fresh id.
  json::value Request(std::string_view method, json::value params, json::value& id) {
    id = static_cast<std::int64_t>(next_id_.fetch_add(1));
    return jsonrpc::MakeRequest(id, method, std::move(params));
  }

  // Reads a JSON-RPC response body: its result or the error as a Status.
  static Result<json::value> ParseResponse(const Transfer& t, const json::value& id) {
    boost::system::error_code ec;
    json::value v = json::parse(t.body, ec);
    if (ec || !v.is_object()) {
      return Unavailable("agent answered HTTP " + std::to_string(t.status) + " without a JSON-RPC body: " + t.body.substr(0, 200));
    }
    const json::object& o = v.as_object();
    if (const auto* err = o.if_contains("error")) {
      Status rpc = RpcError(*err);
      // A refusal before the agent (a gateway's 401, 403, 404, 429, 503): the HTTP status says
      // what kind of failure it is; the JSON-RPC code is generic there (-32000).
      if (t.status >= 400) return Status(net::StatusCodeForHttp(static_cast<int>(t.status)), rpc.message(), rpc.field());
      return rpc;
    }
    if (t.status < 200 || t.status >= 300) return Unavailable("agent answered HTTP " + std::to_string(t.status));
    const auto* rid = o.if_contains("id");
    if (!rid || *rid != id) return InvalidArgument("response id does not match the request", "id");
    const auto* result = o.if_contains("result");
    if (!result) return InvalidArgument("response without result", "result");
    return *result;
  }

  Result<json::value> Unary(std::string_view method, json::value params, const CallOptions& call) {
    json::value id;
    std::string body = json::serialize(Request(method, std::move(params), id));
    Transfer t;
    TUNA_RETURN_IF_ERROR(Exchange(endpoint_, &body, call, nullptr, t));
    return ParseResponse(t, id);
  }

  Status Streaming(std::string_view method, json::value params, const EventCallback& on_event, const CallOptions& call) {
    json::value id;
    std::string body = json::serialize(Request(method, std::move(params), id));
    Status event_error;
    SseParser parser(options_.max_event_bytes, [&](std::string_view data) {
      boost::system::error_code ec;
      json::value v = json::parse(data, ec);
      if (ec || !v.is_object()) {
        event_error = InvalidArgument("stream event is not JSON", "data");
        return false;
      }
      const json::object& o = v.as_object();
      if (const auto* err = o.if_contains("error")) {
        event_error = RpcError(*err);
        return false;
      }
      const auto* rid = o.if_contains("id");
      if (!rid || *rid != id) {
        event_error = InvalidArgument("stream event id does not match the request", "id");
        return false;
      }
      const auto* result = o.if_contains("result");
      if (!result) {
        event_error = InvalidArgument("stream event without result", "result");
        return false;
      }
      auto event = StreamEventFromJson(*result, version_, "result");
      if (!event.ok()) {
        event_error = event.status();
        return false;
      }
      return on_event(*event);
    });
    Transfer t;
    Status st = Exchange(endpoint_, &body, call, [&](std::string_view bytes) { return parser.Feed(bytes); }, t);
    if (!event_error.ok()) return event_error;
    if (!parser.error().ok()) return parser.error();
    TUNA_RETURN_IF_ERROR(st);
    if (!t.is_sse) {
      // An error (or a server that answered with plain JSON).
      auto r = ParseResponse(t, id);
      if (!r.ok()) return r.status();
      auto event = StreamEventFromJson(*r, version_, "result");
      if (!event.ok()) return event.status();
      on_event(*event);
    }
    return Status::Ok();
  }

  json::value SendParams(const Message& message, const SendOptions& send) const {
    json::object config;
    if (version_ == Version::kV1_0) {
      if (!send.blocking) config["returnImmediately"] = true;
    } else {
      config["blocking"] = send.blocking;
    }
    if (send.history_length) config["historyLength"] = *send.history_length;
    if (!send.accepted_output_modes.empty()) {
      json::array modes;
      for (const auto& m : send.accepted_output_modes) modes.emplace_back(m);
      config["acceptedOutputModes"] = std::move(modes);
    }
    json::object params{{"message", ToJson(message, version_)}};
    if (!config.empty()) params["configuration"] = std::move(config);
    if (!send.metadata.empty()) params["metadata"] = send.metadata;
    return params;
  }

  std::string Method(std::string_view v1, std::string_view v03) const { return std::string(version_ == Version::kV1_0 ? v1 : v03); }

  std::string endpoint_;
  Version version_;
  ClientOptions options_;
  std::optional<AgentCard> card_;
  std::atomic<std::int64_t> next_id_{1};
};

Result<AgentCard> Client::FetchCard(const std::string& card_url, const ClientOptions& options) {
  Client::Impl impl(card_url, Version::kV1_0, options, std::nullopt);
  Transfer t;
  TUNA_RETURN_IF_ERROR(impl.Exchange(card_url, nullptr, {}, nullptr, t));
  if (t.status != 200) return Unavailable("agent card at " + card_url + ": HTTP " + std::to_string(t.status));
  boost::system::error_code ec;
  json::value v = json::parse(t.body, ec);
  if (ec) return InvalidArgument("agent card at " + card_url + " is not JSON", "agentCard");
  return CardFromJson(v);
}

Result<ClientPtr> Client::Connect(const std::string& base_url, ClientOptions options) {
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  TUNA_ASSIGN_OR_RETURN(AgentCard card, FetchCard(base + "/.well-known/agent-card.json", options));
  const AgentInterface* chosen = nullptr;
  for (Version want : {Version::kV1_0, Version::kV0_3}) {
    if (options.version && *options.version != want) continue;
    for (const auto& i : card.supported_interfaces) {
      if (TrimmedLower(i.protocol_binding) != "jsonrpc") continue;
      auto v = ParseVersion(i.protocol_version.empty() ? "0.3" : i.protocol_version);
      if (v == want) {
        chosen = &i;
        break;
      }
    }
    if (chosen) break;
  }
  if (!chosen) return Unimplemented("agent " + card.name + " offers no JSONRPC interface" + (options.version ? " of the requested version" : ""));
  Version version = *ParseVersion(chosen->protocol_version.empty() ? "0.3" : chosen->protocol_version);
  std::string endpoint = chosen->url;
  return ClientPtr(new Client(std::make_unique<Impl>(endpoint, version, std::move(options), std::move(card))));
}

Result<ClientPtr> Client::ForEndpoint(const std::string& endpoint_url, Version version, ClientOptions options) {
  if (endpoint_url.empty()) return InvalidArgument("must not be empty", "endpoint_url");
  return ClientPtr(new Client(std::make_unique<Impl>(endpoint_url, version, std::move(options), std::nullopt)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const std::optional<AgentCard>& Client::card() const { return impl_->card_; }
Version Client::version() const { return impl_->version_; }
const std::string& Client::endpoint() const { return impl_->endpoint_; }

Result<StreamEvent> Client::SendMessage(const Message& message, const SendOptions& send, const CallOptions& call) {
  TUNA_ASSIGN_OR_RETURN(json::value result,
                        impl_->Unary(impl_->Method("SendMessage", "message/send"), impl_->SendParams(message, send), call));
  return StreamEventFromJson(result, impl_->version_, "result");
}

Status Client::SendStreamingMessage(const Message& message, const EventCallback& on_event, const SendOptions& send,
                                    const CallOptions& call) {
  return impl_->Streaming(impl_->Method("SendStreamingMessage", "message/stream"), impl_->SendParams(message, send), on_event, call);
}

Result<Task> Client::GetTask(const std::string& task_id, std::optional<std::size_t> history_length, const CallOptions& call) {
  json::object params{{"id", task_id}};
  if (history_length) params["historyLength"] = *history_length;
  TUNA_ASSIGN_OR_RETURN(json::value result, impl_->Unary(impl_->Method("GetTask", "tasks/get"), params, call));
  return TaskFromJson(result, impl_->version_, "result");
}

Result<ListTasksResult> Client::ListTasks(const ListTasksRequest& request, const CallOptions& call) {
  if (impl_->version_ != Version::kV1_0) return Unimplemented("ListTasks needs A2A 1.0");
  json::object params;
  if (!request.context_id.empty()) params["contextId"] = request.context_id;
  if (request.status) params["status"] = TaskStateName(*request.status, Version::kV1_0);
  if (request.page_size) params["pageSize"] = *request.page_size;
  if (!request.page_token.empty()) params["pageToken"] = request.page_token;
  if (request.history_length) params["historyLength"] = *request.history_length;
  if (request.include_artifacts) params["includeArtifacts"] = true;
  TUNA_ASSIGN_OR_RETURN(json::value result, impl_->Unary("ListTasks", params, call));
  if (!result.is_object()) return InvalidArgument("must be an object", "result");
  ListTasksResult out;
  const json::object& o = result.as_object();
  if (const auto* tasks = o.if_contains("tasks"); tasks && tasks->is_array()) {
    for (std::size_t i = 0; i < tasks->as_array().size(); ++i) {
      TUNA_ASSIGN_OR_RETURN(Task t, TaskFromJson(tasks->as_array()[i], Version::kV1_0, "result.tasks[" + std::to_string(i) + "]"));
      out.tasks.push_back(std::move(t));
    }
  }
  if (const auto* next = o.if_contains("nextPageToken"); next && next->is_string()) out.next_page_token = std::string(next->as_string());
  if (const auto* total = o.if_contains("totalSize"); total && total->is_int64()) out.total_size = static_cast<std::size_t>(total->as_int64());
  if (const auto* total = o.if_contains("totalSize"); total && total->is_uint64()) out.total_size = static_cast<std::size_t>(total->as_uint64());
  return out;
}

Result<Task> Client::CancelTask(const std::string& task_id, const CallOptions& call) {
  TUNA_ASSIGN_OR_RETURN(json::value result,
                        impl_->Unary(impl_->Method("CancelTask", "tasks/cancel"), json::object{{"id", task_id}}, call));
  return TaskFromJson(result, impl_->version_, "result");
}

Status Client::SubscribeToTask(const std::string& task_id, const EventCallback& on_event, const CallOptions& call) {
  return impl_->Streaming(impl_->Method("SubscribeToTask", "tasks/resubscribe"), json::object{{"id", task_id}}, on_event, call);
}

}  // namespace tuna::a2a
