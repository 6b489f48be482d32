// The MCP Streamable HTTP client transport (revisions 2025-06-18 and 2025-11-25) over libcurl.
//
// Each request is one POST on the caller's thread, answered with JSON or an SSE stream that
// carries notifications/requests and then the response. The session id from initialize and
// the negotiated MCP-Protocol-Version go on every later request. A background thread keeps the
// optional GET stream for server-initiated messages, reconnecting with Last-Event-ID.

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "mcp/transport_sse.hpp"
#include "tuna/mcp/client.hpp"

namespace tuna::mcp {
namespace {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxIdleHandles = 8;
constexpr auto kSendTimeout = std::chrono::seconds(30);   // replies to server requests
constexpr auto kDeleteTimeout = std::chrono::seconds(5);  // DELETE on close

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool IStartsWith(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
  }
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// One HTTP exchange and what the curl callbacks learned about it.
struct Exchange {
  // in
  std::string method;  // POST, GET, DELETE
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  Deadline deadline = Deadline::max();
  std::function<bool()> aborted;     // true: abort the transfer (transport closed, session reset)
  internal::SseParser::EventSink on_event;
  std::size_t max_body = 16 << 20;
  // out
  CURL* curl = nullptr;
  long status = 0;
  bool status_known = false;
  std::string content_type;
  std::string session_id;
  std::string body_out;
  bool sse = false;
  bool stopped = false;  // the event sink asked to stop (or the body was too large)
  bool too_large = false;
  bool was_aborted = false;
  internal::SseParser parser{16 << 20};
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  if (IStartsWith(line, "HTTP/")) {  // a new response (after 100 Continue): forget the last one
    ex->content_type.clear();
    ex->session_id.clear();
    ex->status_known = false;
  } else if (IStartsWith(line, "content-type:")) {
    ex->content_type = Trim(line.substr(13));
  } else if (IStartsWith(line, "mcp-session-id:")) {
    ex->session_id = Trim(line.substr(15));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::size_t n = size * count;
  if (!ex->status_known) {
    curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &ex->status);
    ex->status_known = true;
    std::string type = ex->content_type;
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
    ex->sse = ex->status >= 200 && ex->status < 300 && type.rfind("text/event-stream", 0) == 0;
  }
  if (ex->sse) {
    if (!ex->parser.Feed(std::string_view(data, n), ex->on_event)) {
      ex->stopped = true;
      ex->too_large = ex->parser.too_large();
      return 0;  // curl ends the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  if (ex->body_out.size() + n > ex->max_body) {
    ex->too_large = true;
    ex->stopped = true;
    return 0;
  }
  ex->body_out.append(data, n);
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->aborted && ex->aborted()) {
    ex->was_aborted = true;
    return 1;
  }
  return 0;
}

// The message of a JSON-RPC error body, if the body is one.
// The message of a JSON-RPC error body (even one without an id, as some servers send), else
// the start of the body.
std::string ErrorBodyMessage(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::value* error = v.get_object().if_contains("error");
    const json::value* message = error != nullptr && error->is_object() ? error->get_object().if_contains("message") : nullptr;
    if (message != nullptr && message->is_string()) return std::string(message->get_string());
  }
  return body.substr(0, 200);
}

class HttpTransport final : public ClientTransport {
 public:
  explicit HttpTransport(HttpTransportOptions options) : options_(std::move(options)) { GlobalInit(); }

  ~HttpTransport() override {
    Close();
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  Status Start(IncomingHandler incoming) override {
    std::lock_guard lock(mu_);
    incoming_ = std::move(incoming);
    return Status::Ok();
  }

  Result<jsonrpc::Message> Request(const json::value& request, const RequestContext& context) override {
    if (closed_) return Status(StatusCode::kCancelled, "MCP transport is closed");
    const json::object* o = request.if_object();
    const json::value* id_ptr = o ? o->if_contains("id") : nullptr;
    if (id_ptr == nullptr) return InvalidArgument("MCP request without an id");
    json::value id = *id_ptr;
    bool is_initialize = o->contains("method") && o->at("method") == "initialize";

    std::optional<jsonrpc::Message> response;
    auto on_event = [&](const internal::SseEvent& event) { return OnStreamEvent(event, id, response); };

    Exchange ex;
    ex.method = "POST";
    ex.body = json::serialize(request);
    ex.deadline = context.deadline;
    ex.on_event = on_event;
    std::string session_used;
    ex.headers = Headers("application/json, text/event-stream", context, &session_used, is_initialize);
    ex.headers.push_back("Content-Type: application/json");
    TUNA_RETURN_IF_ERROR(Perform(ex));

    if (ex.status < 200 || ex.status >= 300) {
      if (SessionGone(ex, session_used)) return HttpError(ex, session_used);
      // A JSON-RPC error naming this request is its answer, whatever the HTTP status.
      jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(ex.body_out);
      if (parsed.ok() && parsed.message->kind == jsonrpc::MessageKind::kErrorResponse &&
          parsed.message->id == id) {
        return std::move(*parsed.message);
      }
      return HttpError(ex, session_used);
    }
    if (ex.too_large) return ResourceExhausted("MCP response larger than " + std::to_string(options_.max_message_bytes) + " bytes");
    if (!ex.sse) {
      jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(ex.body_out);
      if (!parsed.ok() || !parsed.message->IsResponse()) {
        return Unavailable("MCP server at " + options_.url + " answered HTTP " + std::to_string(ex.status) +
                           " without a JSON-RPC response (" + parsed.error.message + ")");
      }
      if (parsed.message->id != id) return Unavailable("MCP server answered another request id than " + json::serialize(id));
      response = std::move(*parsed.message);
    }
    // An SSE stream that ended before the response: resume it with GET + Last-Event-ID.
    // A server may close the stream at will once it has sent an event id (SEP-1699 polling):
    // only attempts that brought no new event count against max_resume_attempts.
    std::string last_id = ex.parser.last_event_id();
    std::optional<long> retry_ms = ex.parser.retry_ms();
    for (int idle_attempts = 0; !response && !last_id.empty() && idle_attempts < options_.max_resume_attempts;) {
      auto delay = std::chrono::milliseconds(retry_ms.value_or(options_.reconnect_delay.count()));
      if (Clock::now() + delay >= context.deadline) break;
      if (!SleepUnlessClosed(delay)) return Status(StatusCode::kCancelled, "MCP transport is closed");
      Exchange resume;
      resume.method = "GET";
      resume.deadline = context.deadline;
      resume.on_event = on_event;
      resume.headers = Headers("text/event-stream", context, nullptr, false);
      resume.headers.push_back("Last-Event-ID: " + last_id);
      TUNA_RETURN_IF_ERROR(Perform(resume));
      if (resume.status < 200 || resume.status >= 300 || !resume.sse) {
        return Unavailable("MCP SSE stream for request " + json::serialize(id) + " ended early and resuming it failed (HTTP " +
                           std::to_string(resume.status) + ")");
      }
      if (resume.parser.retry_ms()) retry_ms = resume.parser.retry_ms();
      if (!resume.parser.last_event_id().empty() && resume.parser.last_event_id() != last_id) {
        last_id = resume.parser.last_event_id();
        idle_attempts = 0;
      } else {
        ++idle_attempts;
      }
    }
    if (!response) {
      if (Clock::now() >= context.deadline) return DeadlineExceeded("MCP request " + json::serialize(id) + " timed out");
      return Unavailable("MCP server at " + options_.url + " closed the SSE stream before answering request " + json::serialize(id));
    }
    if (is_initialize && response->kind == jsonrpc::MessageKind::kResponse) {
      std::lock_guard lock(mu_);
      session_id_ = ex.session_id;
      protocol_version_.clear();
      if (const json::object* result = response->result.if_object()) {
        if (const json::value* v = result->if_contains("protocolVersion"); v && v->is_string()) {
          protocol_version_ = std::string(v->get_string());
        }
      }
    }
    return std::move(*response);
  }

  Status Send(const json::value& message, const RequestContext& context) override {
    if (closed_) return Status(StatusCode::kCancelled, "MCP transport is closed");
    Exchange ex;
    ex.method = "POST";
    ex.body = json::serialize(message);
    ex.deadline = context.deadline;
    ex.on_event = [](const internal::SseEvent&) { return true; };
    std::string session_used;
    ex.headers = Headers("application/json, text/event-stream", context, &session_used, false);
    ex.headers.push_back("Content-Type: application/json");
    TUNA_RETURN_IF_ERROR(Perform(ex));
    if (ex.status >= 200 && ex.status < 300) return Status::Ok();
    return HttpError(ex, session_used);
  }

  void SessionReady() override {
    if (!options_.open_event_stream || closed_) return;
    StopEventStream();
    std::lock_guard lock(stream_mu_);
    stream_stop_ = false;
    std::uint64_t epoch = epoch_.load();
    stream_thread_ = std::thread([this, epoch] { RunEventStream(epoch); });
  }

  void ResetSession() override {
    StopEventStream();
    if (!closed_) DeleteSession();  // a session given up on purpose should not linger on the server
    std::lock_guard lock(mu_);
    session_id_.clear();
    protocol_version_.clear();
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    StopEventStream();
    DeleteSession();
  }

  std::string SessionId() override {
    std::lock_guard lock(mu_);
    return session_id_;
  }

 private:
  void DeleteSession() {
    std::string session;
    {
      std::lock_guard lock(mu_);
      session = session_id_;
    }
    if (session.empty() || !options_.delete_session_on_close) return;
    Exchange ex;
    ex.method = "DELETE";
    ex.deadline = Clock::now() + kDeleteTimeout;
    RequestContext context;
    ex.headers = Headers("application/json, text/event-stream", context, nullptr, false);
    Status s = Perform(ex, /*ignore_closed=*/true);
    if (!s.ok()) {
      spdlog::debug("mcp client: DELETE of session at {} failed: {}", options_.url, s.ToString());
    } else if (ex.status != 200 && ex.status != 204 && ex.status != 202 && ex.status != 404 && ex.status != 405) {
      spdlog::debug("mcp client: DELETE of session at {} answered HTTP {}", options_.url, ex.status);
    }
  }

  std::vector<std::string> Headers(std::string_view accept, const RequestContext& context, std::string* session_used,
                                   bool is_initialize) {
    std::vector<std::string> headers;
    headers.push_back("Accept: " + std::string(accept));
    {
      std::lock_guard lock(mu_);
      if (!is_initialize && !session_id_.empty()) {
        headers.push_back("Mcp-Session-Id: " + session_id_);
        if (session_used != nullptr) *session_used = session_id_;
      }
      if (!is_initialize && !protocol_version_.empty()) headers.push_back("MCP-Protocol-Version: " + protocol_version_);
    }
    for (const auto& [name, value] : options_.headers) headers.push_back(name + ": " + value);
    if (options_.header_source) {
      for (const auto& [name, value] : options_.header_source()) headers.push_back(name + ": " + value);
    }
    for (const auto& [name, value] : context.headers) headers.push_back(name + ": " + value);
    headers.push_back("Expect:");  // no 100-continue round trip
    return headers;
  }

  // Runs one exchange. Transport failures are statuses; HTTP answers are in `ex`.
  Status Perform(Exchange& ex, bool ignore_closed = false) {
    if (!ignore_closed) {
      ex.aborted = [this, epoch = epoch_.load(), stream = ex.method == "GET" && ex.deadline == Deadline::max()] {
        return closed_.load() || (stream && epoch_.load() != epoch);
      };
    }
    ex.max_body = options_.max_message_bytes;
    ex.parser = internal::SseParser(options_.max_message_bytes);
    CURL* curl = Acquire();
    if (curl == nullptr) return Internal("curl_easy_init failed");
    ex.curl = curl;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    for (const auto& h : ex.headers) headers = curl_slist_append(headers, h.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "tuna-mcp-client");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    if (ex.deadline != Deadline::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ex.deadline - Clock::now()).count();
      if (left <= 0) {
        Release(curl, true);
        curl_slist_free_all(headers);
        return DeadlineExceeded("MCP request to " + options_.url + " timed out");
      }
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(left));
    }
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ex);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ex);
    if (ex.aborted) {
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &ex);
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    if (ex.method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (ex.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, ex.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(ex.body.size()));
    } else {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, ex.method.c_str());
    }
    CURLcode rc = curl_easy_perform(curl);
    if (!ex.status_known) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ex.status);
    curl_slist_free_all(headers);
    bool reusable = rc == CURLE_OK;
    Release(curl, !reusable);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && ex.stopped)) return Status::Ok();
    if (ex.was_aborted || rc == CURLE_ABORTED_BY_CALLBACK) {
      return Status(StatusCode::kCancelled, "MCP transport closed during a request to " + options_.url);
    }
    std::string what = error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(curl_easy_strerror(rc));
    if (rc == CURLE_OPERATION_TIMEDOUT) return DeadlineExceeded("MCP request to " + options_.url + " timed out: " + what);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return InvalidArgument("invalid MCP server URL \"" + options_.url + "\": " + what);
    }
    return Unavailable("cannot reach MCP server at " + options_.url + ": " + what);
  }

  // The server no longer knows the session: 404 (the spec), or a 400 whose message is about
  // the session ("No valid session ID provided" is what SDK-based servers answer for an unknown
  // or terminated session).
  static bool SessionGone(const Exchange& ex, const std::string& session_used) {
    if (session_used.empty()) return false;
    if (ex.status == 404) return true;
    if (ex.status != 400) return false;
    std::string body = ErrorBodyMessage(ex.body_out);
    std::transform(body.begin(), body.end(), body.begin(), [](unsigned char c) { return std::tolower(c); });
    for (std::string_view phrase : {"session id", "session not found", "unknown session", "invalid session", "session expired"}) {
      if (body.find(phrase) != std::string::npos) return true;
    }
    return false;
  }

  Status HttpError(const Exchange& ex, const std::string& session_used) const {
    std::string detail = " from MCP server at " + options_.url;
    std::string body = ErrorBodyMessage(ex.body_out);
    if (!body.empty()) detail += ": " + body;
    if (SessionGone(ex, session_used)) {
      return NotFound("MCP session " + session_used + " expired or was terminated (HTTP " + std::to_string(ex.status) + detail + ")");
    }
    switch (ex.status) {
      case 404:
        return FailedPrecondition("no MCP endpoint (HTTP 404" + detail + ")");
      case 400:
        return InvalidArgument("HTTP 400" + detail);
      case 401:
        return Unauthenticated("HTTP 401" + detail);
      case 403:
        return PermissionDenied("HTTP 403" + detail);
      case 405:
        return Unimplemented("HTTP 405" + detail);
      case 406:
      case 415:
        return FailedPrecondition("HTTP " + std::to_string(ex.status) + detail);
      case 408:
      case 504:
        return DeadlineExceeded("HTTP " + std::to_string(ex.status) + detail);
      case 413:
      case 429:
        return ResourceExhausted("HTTP " + std::to_string(ex.status) + detail);
      default:
        if (ex.status >= 500) return Unavailable("HTTP " + std::to_string(ex.status) + detail);
        return Internal("unexpected HTTP " + std::to_string(ex.status) + detail);
    }
  }

  // A message on a POST's SSE stream: the response ends the stream; anything else is delivered.
  bool OnStreamEvent(const internal::SseEvent& event, const json::value& id, std::optional<jsonrpc::Message>& response) {
    if (event.type != "message" || event.data.empty()) return true;
    jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(event.data);
    if (!parsed.ok()) {
      spdlog::warn("mcp client: ignoring an SSE event from {} that is not a JSON-RPC message: {}", options_.url,
                   parsed.error.message);
      return true;
    }
    if (parsed.message->IsResponse()) {
      if (parsed.message->id == id) {
        response = std::move(*parsed.message);
        return false;
      }
      return true;
    }
    Dispatch(*parsed.message);
    return true;
  }

  void Dispatch(const jsonrpc::Message& message) {
    IncomingHandler incoming;
    {
      std::lock_guard lock(mu_);
      incoming = incoming_;
    }
    std::optional<json::value> reply;
    if (incoming) {
      reply = incoming(message);
    } else if (message.IsRequest()) {
      reply = DefaultReply(message);
    }
    if (message.IsRequest() && reply) {
      Status s = Send(*reply, RequestContext{.deadline = Clock::now() + kSendTimeout});
      if (!s.ok()) spdlog::debug("mcp client: reply to server request {} not delivered: {}", message.method, s.ToString());
    }
  }

  void RunEventStream(std::uint64_t epoch) {
    std::string last_id;
    auto delay = options_.reconnect_delay;
    auto live = [&] { return !closed_ && epoch_.load() == epoch; };
    while (live()) {
      Exchange ex;
      ex.method = "GET";
      ex.on_event = [this, &live](const internal::SseEvent& event) {
        if (!live()) return false;
        if (event.type != "message" || event.data.empty()) return true;
        jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(event.data);
        if (parsed.ok() && !parsed.message->IsResponse()) Dispatch(*parsed.message);
        return true;
      };
      RequestContext context;
      ex.headers = Headers("text/event-stream", context, nullptr, false);
      if (!last_id.empty()) ex.headers.push_back("Last-Event-ID: " + last_id);
      Status s = Perform(ex);
      if (!live()) return;
      if (!ex.parser.last_event_id().empty()) last_id = ex.parser.last_event_id();
      if (s.ok() && ex.status == 405) {
        spdlog::debug("mcp client: {} offers no GET stream (405)", options_.url);
        return;
      }
      if (s.ok() && (ex.status == 404 || ex.status == 400)) {
        spdlog::debug("mcp client: GET stream of {} refused (HTTP {}); the next request will tell", options_.url, ex.status);
        return;
      }
      if (s.ok() && ex.sse) {
        delay = std::chrono::milliseconds(ex.parser.retry_ms().value_or(options_.reconnect_delay.count()));
      } else {
        if (!s.ok()) spdlog::debug("mcp client: GET stream of {}: {}", options_.url, s.ToString());
        delay = std::min(delay * 2, options_.max_reconnect_delay);
      }
      std::unique_lock lock(stream_mu_);
      stream_cv_.wait_for(lock, delay, [&] { return stream_stop_; });
      if (stream_stop_) return;
    }
  }

  void StopEventStream() {
    std::thread thread;
    {
      std::lock_guard lock(stream_mu_);
      stream_stop_ = true;
      ++epoch_;
      stream_cv_.notify_all();
      thread = std::move(stream_thread_);
    }
    if (thread.joinable()) thread.join();
  }

  bool SleepUnlessClosed(std::chrono::milliseconds delay) {
    auto until = Clock::now() + delay;
    while (Clock::now() < until) {
      if (closed_) return false;
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(delay, std::chrono::milliseconds(50)));
    }
    return !closed_;
  }

  CURL* Acquire() {
    {
      std::lock_guard lock(pool_mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        curl_easy_reset(h);
        return h;
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* handle, bool discard) {
    if (!discard) {
      std::lock_guard lock(pool_mu_);
      if (idle_.size() < kMaxIdleHandles) {
        idle_.push_back(handle);
        return;
      }
    }
    curl_easy_cleanup(handle);
  }

  HttpTransportOptions options_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint64_t> epoch_{0};  // bumped when the GET stream must stop

  std::mutex mu_;
  IncomingHandler incoming_;
  std::string session_id_;
  std::string protocol_version_;

  std::mutex stream_mu_;
  std::condition_variable stream_cv_;
  bool stream_stop_ = false;
  std::thread stream_thread_;

  std::mutex pool_mu_;
  std::vector<CURL*> idle_;
};

}  // namespace

Result<ClientTransportPtr> MakeHttpTransport(HttpTransportOptions options) {
  if (!IStartsWith(options.url, "http://") && !IStartsWith(options.url, "https://")) {
    return InvalidArgument("MCP server URL must start with http:// or https://: \"" + options.url + "\"", "url");
  }
  if (options.max_message_bytes == 0) options.max_message_bytes = 16 << 20;
  return ClientTransportPtr(std::make_unique<HttpTransport>(std::move(options)));
}

}  // namespace tuna::mcp
