// Streamable HTTP (MCP 2025-06-18 / 2025-11-25, "Transports"): the order of checks is
// Host and Origin (403) -> method (405) -> Accept (406) -> Content-Type (415) -> JSON-RPC parse (400)
// -> session (400 missing / 404 unknown) -> MCP-Protocol-Version (400) -> the message: JSON when
// the handler sent nothing else, else SSE (its notifications, then the response); a tools/call with
// a progressToken streams live from a pool thread. GET opens the session's standalone stream.
//
// Every SSE event has an id "<stream>-<seq>": stream 0 is the session's standalone (GET) stream,
// 1, 2, ... its POST response streams. Each stream keeps its last events, so a client that
// reconnects with GET and Last-Event-ID gets what followed that id, then the rest live.

#include "net/host_policy.hpp"
#include "mcp/streamable_http_handler.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "core/ids.hpp"
#include "tuna/jsonrpc.hpp"

namespace tuna::mcp {
namespace json = boost::json;

namespace {

// Session-level errors have no JSON-RPC code of their own; these match the official SDKs.
constexpr int kSessionNotFound = -32001;
constexpr int kServerError = -32000;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Media ranges of an Accept header, lower-cased, without parameters.
std::vector<std::string> MediaRanges(std::string_view accept) {
  std::vector<std::string> out;
  while (!accept.empty()) {
    std::size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    item = Trim(item.substr(0, item.find(';')));
    if (!item.empty()) out.push_back(Lower(item));
  }
  return out;
}

bool Accepts(const std::vector<std::string>& ranges, std::string_view type, std::string_view main_wildcard) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const std::string& r) { return r == type || r == main_wildcard || r == "*/*"; });
}

net::HttpResponse JsonResponse(int status, const json::value& body) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json::serialize(body);
  return r;
}

bool WantsProgress(const jsonrpc::Message& message) {
  if (!message.IsRequest() || message.method != "tools/call" || !message.params.is_object()) return false;
  const json::value* meta = message.params.get_object().if_contains("_meta");
  if (!meta || !meta->is_object()) return false;
  const json::value* token = meta->get_object().if_contains("progressToken");
  return token && jsonrpc::IsValidId(*token);
}

net::HttpResponse Accepted() {
  net::HttpResponse r;
  r.status = 202;
  r.content_type.clear();
  return r;
}

// "3-17" -> {3, 17}.
std::optional<std::pair<std::uint64_t, std::uint64_t>> ParseEventId(std::string_view id) {
  std::size_t dash = id.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::uint64_t stream = 0, seq = 0;
  auto a = std::from_chars(id.data(), id.data() + dash, stream);
  auto b = std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
  if (a.ec != std::errc() || a.ptr != id.data() + dash || b.ec != std::errc() || b.ptr != id.data() + id.size() || dash == 0) {
    return std::nullopt;
  }
  return std::make_pair(stream, seq);
}

// Priming events (an id and empty data, SEP-1699) are a 2025-11-25 feature; older clients may
// try to parse the empty data as JSON.
bool WantsPriming(std::string_view protocol_version) { return protocol_version >= kProtocol20251125; }

// A JSON-RPC message or a sink callback may come from any thread; this collects them in order.
class Collector {
 public:
  void Add(json::value m) {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(m));
  }
  std::vector<json::value> Take() {
    std::lock_guard lock(mu_);
    return std::move(messages_);
  }

 private:
  std::mutex mu_;
  std::vector<json::value> messages_;
};

}  // namespace

// The events of one SSE stream: a bounded replay buffer and at most one connection at a time.
// A new connection (Attach) replaces the old one. Thread-safe; writers never block.
class SseEventStream : public std::enable_shared_from_this<SseEventStream> {
 public:
  SseEventStream(std::uint64_t number, std::size_t capacity, bool priming, std::chrono::milliseconds retry)
      : number_(number), capacity_(std::max<std::size_t>(capacity, 1)), priming_(priming), retry_(retry) {}

  std::uint64_t number() const { return number_; }

  // Whether connections start with a priming event; set once the protocol version is known.
  void SetPriming(bool priming) {
    std::lock_guard lock(mu_);
    priming_ = priming;
  }

  // Adds one message; sends it when a connection is attached. False once the stream is finished.
  bool Append(const json::value& message) {
    std::lock_guard lock(mu_);
    if (finished_) return false;
    std::uint64_t seq = next_seq_++;
    std::string event = "id: " + EventId(seq) + "\nevent: message\ndata: " + json::serialize(message) + "\n\n";
    if (writer_ && writer_->Send(event)) {
      delivered_ = seq;
    } else {
      writer_.reset();
    }
    events_.emplace_back(seq, std::move(event));
    if (events_.size() > capacity_) {
      if (events_.front().first > delivered_) {
        spdlog::warn("mcp: SSE stream {}: replay buffer full, dropping undelivered event {}", number_, events_.front().first);
      }
      events_.pop_front();
    }
    return true;
  }

  // No more events: an attached connection ends after what it has; later ones after the replay.
  void Finish() {
    std::lock_guard lock(mu_);
    finished_ = true;
    if (writer_) writer_->Close();
    writer_.reset();
  }

  bool finished() const {
    std::lock_guard lock(mu_);
    return finished_;
  }

  bool has_live_writer() const {
    std::lock_guard lock(mu_);
    return writer_ && !writer_->closed();
  }

  // A new connection: a priming event (2025-11-25), the events after `after` (default: those not
  // yet delivered), then live ones. A resume from before the oldest kept event restarts there.
  void Attach(net::StreamWriterPtr writer, std::optional<std::uint64_t> after) {
    std::lock_guard lock(mu_);
    if (writer_ && writer_ != writer) writer_->Close();  // the client reconnected: the old one is stale
    writer_.reset();
    std::uint64_t from = after.value_or(delivered_);
    if (from >= next_seq_) from = next_seq_ - 1;  // an id we never issued: nothing to replay
    if (!events_.empty() && from + 1 < events_.front().first) {
      spdlog::info("mcp: SSE stream {}: resume from {} is older than the replay buffer (oldest {}); restarting there",
                   number_, from, events_.front().first);
    }
    bool ok = true;
    if (priming_) {
      ok = writer->Send("id: " + EventId(from) + "\nretry: " + std::to_string(retry_.count()) + "\ndata:\n\n");
    }
    for (const auto& [seq, event] : events_) {
      if (!ok) break;
      if (seq <= from) continue;
      ok = writer->Send(event);
      if (ok) delivered_ = std::max(delivered_, seq);
    }
    if (!ok) return;  // the connection failed already; the client will reconnect
    if (finished_) {
      writer->Close();
      return;
    }
    writer_ = writer;
    std::weak_ptr<SseEventStream> weak = weak_from_this();
    writer->OnClose([weak, w = std::weak_ptr<net::StreamWriter>(writer)] {
      if (auto self = weak.lock()) self->Detach(w.lock());
    });
  }

  // The session ended: drop the connection and take no more events.
  void Close() { Finish(); }

 private:
  std::string EventId(std::uint64_t seq) const { return std::to_string(number_) + "-" + std::to_string(seq); }

  void Detach(const net::StreamWriterPtr& writer) {
    std::lock_guard lock(mu_);
    if (writer && writer_ == writer) writer_.reset();
  }

  const std::uint64_t number_;
  const std::size_t capacity_;
  bool priming_;
  const std::chrono::milliseconds retry_;
  mutable std::mutex mu_;
  std::deque<std::pair<std::uint64_t, std::string>> events_;  // seq, formatted event; bounded
  std::uint64_t next_seq_ = 1;
  std::uint64_t delivered_ = 0;  // highest seq handed to a connection
  net::StreamWriterPtr writer_;
  bool finished_ = false;
};

struct StreamableHttpHandler::Session {
  std::string id;
  std::string protocol_version;
  SessionHandlerPtr handler;
  std::shared_ptr<SseEventStream> standalone;  // stream 0: server-initiated messages
  // Kept here so that a handler may hold its notifier weakly: it works while the session lives.
  NotifierPtr notifier;
  std::chrono::steady_clock::time_point last_used;  // guarded by the handler's mu_
  std::atomic<bool> ended{false};
  std::mutex mu;  // guards the POST streams
  std::map<std::uint64_t, std::shared_ptr<SseEventStream>> post_streams;  // bounded, for resumption
  std::uint64_t next_stream = 1;
};

namespace {

// Server-initiated messages go to the session's standalone stream; the weak pointer keeps a
// handler that holds its notifier from keeping the session alive.
class SessionNotifier final : public Notifier {
 public:
  explicit SessionNotifier(std::weak_ptr<StreamableHttpHandler::Session> session) : session_(std::move(session)) {}
  bool Notify(json::value message) override {
    auto s = session_.lock();
    if (!s || s->ended.load()) return false;
    return s->standalone->Append(message);
  }
  bool alive() const override {
    auto s = session_.lock();
    return s && !s->ended.load();
  }

 private:
  std::weak_ptr<StreamableHttpHandler::Session> session_;
};

net::HttpResponse SseHeaders() {
  net::HttpResponse r;
  r.status = 200;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace

StreamableHttpHandler::StreamableHttpHandler(const Server& server, StreamableHttpOptions options)
    : StreamableHttpHandler(MakeServerSessionFactory(server), std::move(options)) {}

StreamableHttpHandler::StreamableHttpHandler(SessionFactoryPtr factory, StreamableHttpOptions options)
    : factory_(std::move(factory)), options_(std::move(options)) {
  if (options_.max_sessions == 0) options_.max_sessions = 1;
  if (options_.replay_buffer_events == 0) options_.replay_buffer_events = 1;
  if (options_.max_retained_streams == 0) options_.max_retained_streams = 1;
  stream_pool_ = std::make_unique<net::WorkerPool>(std::max<std::size_t>(1, options_.stream_threads), options_.max_queued_streams);
}

StreamableHttpHandler::~StreamableHttpHandler() {
  CloseAll();
  stream_pool_->Stop();
}

net::HttpResponse StreamableHttpHandler::ErrorResponse(int http_status, int jsonrpc_code, std::string_view message) {
  return JsonResponse(http_status, jsonrpc::MakeErrorResponse(nullptr, jsonrpc::Error{jsonrpc_code, std::string(message), nullptr}));
}

std::chrono::steady_clock::time_point StreamableHttpHandler::Now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

bool StreamableHttpHandler::OriginAllowed(std::string_view origin) const { return net::OriginAllowed(origin, options_.allowed_origins); }

bool StreamableHttpHandler::HostAllowed(std::string_view host) const { return net::HostAllowed(host, options_.allowed_hosts); }

void StreamableHttpHandler::SweepLocked(std::chrono::steady_clock::time_point now, std::vector<SessionPtr>& expired) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now - it->second->last_used < options_.session_idle_ttl) {
      ++it;
    } else if (it->second->standalone->has_live_writer()) {
      it->second->last_used = now;  // a client listening on its GET stream is not idle
      ++it;
    } else {
      expired.push_back(std::move(it->second));
      it = sessions_.erase(it);
    }
  }
}

void StreamableHttpHandler::EndSession(const SessionPtr& session, std::string_view why) {
  if (session->ended.exchange(true)) return;
  spdlog::debug("mcp: session {} ended ({})", session->id, why);
  session->standalone->Close();
  std::map<std::uint64_t, std::shared_ptr<SseEventStream>> streams;
  {
    std::lock_guard lock(session->mu);
    streams.swap(session->post_streams);
  }
  for (auto& [n, stream] : streams) stream->Close();
  session->handler->Close();
}

std::size_t StreamableHttpHandler::SessionCount() {
  std::vector<SessionPtr> expired;
  std::size_t count = 0;
  {
    std::lock_guard lock(mu_);
    SweepLocked(Now(), expired);
    count = sessions_.size();
  }
  for (const auto& s : expired) EndSession(s, "idle");
  return count;
}

void StreamableHttpHandler::CloseAll() {
  std::vector<SessionPtr> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : sessions_) all.push_back(std::move(s));
    sessions_.clear();
  }
  for (const auto& s : all) EndSession(s, "server stop");
}

net::HttpResponse StreamableHttpHandler::Handle(net::HttpRequest& request) {
  net::HttpResponse response = [&] {
    if (request.path != options_.path) return ErrorResponse(404, kServerError, "not found: the MCP endpoint is " + options_.path);
    // DNS rebinding defence: a rebound name arrives with its own Host header, and browsers
    // always send Origin on cross-origin requests.
    std::string_view host = request.Header("Host");
    if (!HostAllowed(host)) return ErrorResponse(403, kServerError, "forbidden: host not allowed: " + std::string(host));
    std::string_view origin = request.Header("Origin");
    if (!origin.empty() && !OriginAllowed(origin)) {
      return ErrorResponse(403, kServerError, "forbidden: origin not allowed: " + std::string(origin));
    }
    if (request.method == "POST") return HandlePost(request);
    if (request.method == "DELETE") return HandleDelete(request);
    // A GET stream belongs to a session; without one there is nothing to stream.
    if (request.method == "GET" && !request.Header(kSessionHeader).empty()) return HandleGet(request);
    net::HttpResponse r = ErrorResponse(405, kServerError,
                                        request.method == "GET"
                                            ? "method not allowed: GET needs an Mcp-Session-Id (initialize with POST first)"
                                            : "method not allowed: use POST, GET (with a session) or DELETE");
    r.headers.emplace_back("Allow", "GET, POST, DELETE");
    return r;
  }();
  response.route = options_.path;
  return response;
}

StreamableHttpHandler::SessionPtr StreamableHttpHandler::FindSession(const net::HttpRequest& request, net::HttpResponse& error) {
  std::string session_id(request.Header(kSessionHeader));
  if (session_id.empty()) {
    error = ErrorResponse(400, kServerError, "bad request: missing Mcp-Session-Id header (initialize first)");
    return nullptr;
  }
  SessionPtr session;
  SessionPtr expired;
  {
    std::lock_guard lock(mu_);
    auto now = Now();
    auto it = sessions_.find(session_id);
    if (it != sessions_.end() && now - it->second->last_used >= options_.session_idle_ttl &&
        !it->second->standalone->has_live_writer()) {
      expired = std::move(it->second);
      sessions_.erase(it);
      it = sessions_.end();
    }
    if (it != sessions_.end()) {
      it->second->last_used = now;
      session = it->second;
    }
  }
  if (expired) EndSession(expired, "idle");
  if (!session) {
    error = ErrorResponse(404, kSessionNotFound, "session not found (expired or terminated): initialize again");
    return nullptr;
  }
  std::string_view version = request.Header(kProtocolVersionHeader);
  if (!version.empty() && (!IsSupportedProtocolVersion(version) || version != session->protocol_version)) {
    error = ErrorResponse(400, kServerError,
                          "bad request: unsupported MCP-Protocol-Version " + std::string(version) +
                              " (this session negotiated " + session->protocol_version + ")");
    return nullptr;
  }
  return session;
}

net::HttpResponse StreamableHttpHandler::Initialize(const jsonrpc::Message& message, const net::HttpRequest& request) {
  auto now = Now();
  std::vector<SessionPtr> expired;
  bool full = false;
  {
    std::lock_guard lock(mu_);
    if (sessions_.size() >= options_.max_sessions) SweepLocked(now, expired);
    full = sessions_.size() >= options_.max_sessions;
  }
  for (const auto& s : expired) EndSession(s, "idle");
  if (full) {
    net::HttpResponse r = ErrorResponse(503, kServerError, "too many MCP sessions; try again later");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  auto session = std::make_shared<Session>();
  session->id = core::RandomHex(16);
  if (session->id.empty()) return ErrorResponse(500, jsonrpc::kInternalError, "could not generate a session id");
  // The factory may notify from inside Open: the standalone stream exists before it runs.
  session->standalone = std::make_shared<SseEventStream>(0, options_.replay_buffer_events, false, options_.sse_retry);
  SessionContext context;
  context.session_id = session->id;
  session->notifier = std::make_shared<SessionNotifier>(session);
  context.notifier = session->notifier;
  context.headers = request.headers;
  SessionStart start = factory_->Open(message, context);
  if (!start.handler) {
    if (!start.response.is_object()) return ErrorResponse(500, jsonrpc::kInternalError, "initialize produced no answer");
    return JsonResponse(200, start.response);  // an error: no session
  }
  session->protocol_version = start.protocol_version.empty() ? std::string(kLatestProtocolVersion) : start.protocol_version;
  session->handler = std::move(start.handler);
  session->standalone->SetPriming(WantsPriming(session->protocol_version));
  session->last_used = Now();
  bool inserted = false;
  {
    std::lock_guard lock(mu_);
    if (sessions_.size() < options_.max_sessions) {  // it may have filled up while we answered
      sessions_[session->id] = session;
      inserted = true;
    }
  }
  if (!inserted) {
    EndSession(session, "no room");
    return ErrorResponse(503, kServerError, "too many MCP sessions; try again later");
  }
  net::HttpResponse r = JsonResponse(200, start.response);
  r.headers.emplace_back(std::string(kSessionHeader), session->id);
  return r;
}

std::shared_ptr<SseEventStream> StreamableHttpHandler::NewPostStream(const SessionPtr& session) {
  std::lock_guard lock(session->mu);
  auto stream = std::make_shared<SseEventStream>(session->next_stream++, options_.replay_buffer_events,
                                                 WantsPriming(session->protocol_version), options_.sse_retry);
  if (session->ended.load()) {
    stream->Close();
    return stream;
  }
  session->post_streams.emplace(stream->number(), stream);
  // Forget the oldest streams beyond the bound, finished ones first.
  while (session->post_streams.size() > options_.max_retained_streams) {
    auto victim = std::find_if(session->post_streams.begin(), session->post_streams.end(),
                               [](const auto& kv) { return kv.second->finished(); });
    if (victim == session->post_streams.end()) victim = session->post_streams.begin();
    session->post_streams.erase(victim);
  }
  return stream;
}

net::HttpResponse StreamableHttpHandler::AttachResponse(std::shared_ptr<SseEventStream> stream, std::optional<std::uint64_t> after) {
  net::HttpResponse r = SseHeaders();
  r.stream = [stream = std::move(stream), after](net::StreamWriterPtr writer) { stream->Attach(std::move(writer), after); };
  return r;
}

net::HttpResponse StreamableHttpHandler::LiveStreamResponse(const SessionPtr& session, const jsonrpc::Message& message) {
  std::shared_ptr<SseEventStream> stream = NewPostStream(session);
  auto msg = std::make_shared<jsonrpc::Message>(message);
  SessionHandlerPtr handler = session->handler;
  // The call runs on the pool, not on the I/O thread that opens the stream; its events are kept
  // in the stream, so a client that drops the connection can resume with Last-Event-ID.
  bool taken = stream_pool_->TrySubmit([stream, msg, handler] {
    MessageSink sink = [stream](json::value m) { stream->Append(m); };
    std::optional<json::value> answer = handler->Handle(*msg, sink);
    if (answer) stream->Append(*answer);
    stream->Finish();
  });
  if (!taken) {
    stream->Append(jsonrpc::MakeErrorResponse(msg->id, jsonrpc::Error{jsonrpc::kInternalError, "server busy: too many streaming calls", nullptr}));
    stream->Finish();
  }
  return AttachResponse(std::move(stream), 0);
}

SessionHandlerPtr StreamableHttpHandler::RelaySession(const net::HttpRequest& request) {
  if (request.method != "POST" || request.path != options_.path || request.Header(kSessionHeader).empty()) return nullptr;
  if (!HostAllowed(request.Header("Host"))) return nullptr;
  if (std::string_view origin = request.Header("Origin"); !origin.empty() && !OriginAllowed(origin)) return nullptr;
  std::vector<std::string> ranges = MediaRanges(request.Header("Accept"));
  if (!Accepts(ranges, "application/json", "application/*") || !Accepts(ranges, "text/event-stream", "text/*")) return nullptr;
  std::string content_type = Lower(Trim(request.Header("Content-Type")));
  if (content_type.substr(0, content_type.find(';')) != "application/json") return nullptr;
  // Like FindSession, but never ends an expired session here: closing its handler may block (an
  // upstream DELETE), and relays run on I/O threads. Handle() ends it.
  const auto now = Now();
  SessionPtr session;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(std::string(request.Header(kSessionHeader)));
    if (it == sessions_.end()) return nullptr;
    if (now - it->second->last_used >= options_.session_idle_ttl && !it->second->standalone->has_live_writer()) return nullptr;
    it->second->last_used = now;
    session = it->second;
  }
  std::string_view version = request.Header(kProtocolVersionHeader);
  if (!version.empty() && version != session->protocol_version) return nullptr;
  return session->handler;
}

net::HttpResponse StreamableHttpHandler::HandlePost(net::HttpRequest& request) {
  std::vector<std::string> ranges = MediaRanges(request.Header("Accept"));
  if (!Accepts(ranges, "application/json", "application/*") || !Accepts(ranges, "text/event-stream", "text/*")) {
    return ErrorResponse(406, kServerError, "not acceptable: Accept must list both application/json and text/event-stream");
  }
  std::string content_type = Lower(Trim(request.Header("Content-Type")));
  if (content_type.substr(0, content_type.find(';')) != "application/json") {
    return ErrorResponse(415, kServerError, "unsupported media type: Content-Type must be application/json");
  }

  jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(request.body);
  if (!parsed.ok()) return JsonResponse(400, jsonrpc::MakeErrorResponse(parsed.id, parsed.error));
  const jsonrpc::Message& message = *parsed.message;

  if (message.IsRequest() && message.method == "initialize") return Initialize(message, request);

  net::HttpResponse error;
  SessionPtr session = FindSession(request, error);
  if (!session) return error;

  if (!message.IsRequest()) {
    session->handler->Handle(message, nullptr);
    return Accepted();
  }
  if (WantsProgress(message)) return LiveStreamResponse(session, message);

  // Notifications the handler sends while it runs come first, on an SSE response; a request that
  // sends none is answered with plain JSON.
  auto collected = std::make_shared<Collector>();
  MessageSink sink = [collected](json::value m) { collected->Add(std::move(m)); };
  std::optional<json::value> answer = session->handler->Handle(message, sink);
  if (!answer) answer = jsonrpc::MakeErrorResponse(message.id, jsonrpc::Error{jsonrpc::kInternalError, "request produced no answer", nullptr});
  std::vector<json::value> before = collected->Take();
  if (before.empty()) return JsonResponse(200, *answer);
  std::shared_ptr<SseEventStream> stream = NewPostStream(session);
  for (const auto& m : before) stream->Append(m);
  stream->Append(*answer);
  stream->Finish();
  return AttachResponse(std::move(stream), 0);
}

net::HttpResponse StreamableHttpHandler::HandleGet(net::HttpRequest& request) {
  std::vector<std::string> ranges = MediaRanges(request.Header("Accept"));
  if (!Accepts(ranges, "text/event-stream", "text/*")) {
    return ErrorResponse(406, kServerError, "not acceptable: a GET stream needs Accept: text/event-stream");
  }
  net::HttpResponse error;
  SessionPtr session = FindSession(request, error);
  if (!session) return error;

  std::string_view last_event_id = request.Header(kLastEventIdHeader);
  if (!last_event_id.empty()) {
    // A reconnect: resume the stream the id belongs to. An id we cannot place (forgotten or
    // malformed) reopens the standalone stream from what it still holds.
    auto parsed = ParseEventId(last_event_id);
    if (parsed && parsed->first != 0) {
      std::shared_ptr<SseEventStream> stream;
      {
        std::lock_guard lock(session->mu);
        if (auto it = session->post_streams.find(parsed->first); it != session->post_streams.end()) stream = it->second;
      }
      if (stream) return AttachResponse(std::move(stream), parsed->second);
      spdlog::info("mcp: session {}: cannot resume unknown stream of event {}; opening the standalone stream", session->id,
                   last_event_id);
    }
    std::optional<std::uint64_t> after;
    if (parsed && parsed->first == 0) after = parsed->second;
    return AttachResponse(session->standalone, after);
  }
  // One standalone stream per session: a second GET while one is open is a conflict (a client
  // whose connection died reconnects with Last-Event-ID, which replaces the old connection).
  if (session->standalone->has_live_writer()) {
    return ErrorResponse(409, kServerError, "conflict: this session already has an open GET stream");
  }
  return AttachResponse(session->standalone, std::nullopt);
}

net::HttpResponse StreamableHttpHandler::HandleDelete(net::HttpRequest& request) {
  std::string session_id(request.Header(kSessionHeader));
  if (session_id.empty()) return ErrorResponse(400, kServerError, "bad request: missing Mcp-Session-Id header");
  SessionPtr session;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return ErrorResponse(404, kSessionNotFound, "session not found");
    session = std::move(it->second);
    sessions_.erase(it);
  }
  EndSession(session, "DELETE");
  net::HttpResponse r;
  r.status = 200;
  r.content_type.clear();
  return r;
}

}  // namespace tuna::mcp
