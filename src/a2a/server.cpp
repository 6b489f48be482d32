// a2a::Server: JSON-RPC methods of A2A 1.0 and 0.3 over an AgentExecutor, tasks persisted in a
// SessionStore, live events fanned out in memory.
//
// One execution = one LiveTask (while it runs). Its EventQueue applies each event under the
// LiveTask's mutex: persist (task JSON, history list, context index), then push to every
// attached stream, then wake blocking waiters when the state is terminal or interrupted. A new
// task is created lazily, at its first task event, so an agent that only answers with a
// Message leaves nothing behind.

#include "tuna/a2a/server.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "a2a/codec_util.hpp"
#include "core/logging.hpp"
#include "net/worker_pool.hpp"

namespace tuna::a2a {

// ---- CancellationToken / EventQueue helpers ------------------------------------------------

bool CancellationToken::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

bool CancellationToken::WaitFor(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return cancelled_; });
}

void CancellationToken::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

namespace {
std::optional<Message> AgentText(std::string text) {
  if (text.empty()) return std::nullopt;
  return Message::Text(Role::kAgent, std::move(text));
}
}  // namespace

Status EventQueue::Working(std::string text) { return UpdateStatus(TaskState::kWorking, AgentText(std::move(text))); }
Status EventQueue::Complete(std::string text) { return UpdateStatus(TaskState::kCompleted, AgentText(std::move(text))); }
Status EventQueue::Fail(std::string text) { return UpdateStatus(TaskState::kFailed, AgentText(std::move(text))); }
Status EventQueue::RequireInput(std::string text) {
  return UpdateStatus(TaskState::kInputRequired, AgentText(std::move(text)));
}
Status EventQueue::Reply(std::string text) { return PublishMessage(Message::Text(Role::kAgent, std::move(text))); }

namespace {

using internal::Field;

jsonrpc::Error A2aError(int code, std::string message) { return {code, std::move(message), nullptr}; }

// A Status from decoding or the store, as a JSON-RPC error (field path in data).
jsonrpc::Error StatusError(const Status& status) {
  jsonrpc::Error e = jsonrpc::ErrorFromStatus(status);
  if (status.code() == StatusCode::kInvalidArgument && !status.field().empty()) {
    e.message = status.field() + ": " + status.message();
  }
  return e;
}

// The method table: 1.0 name, 0.3 name, what it is.
enum class Method {
  kSend,
  kStream,
  kGet,
  kList,
  kCancel,
  kSubscribe,
  kPushConfig,
  kExtendedCard,
};

struct MethodName {
  std::string_view name;
  Method method;
  Version version;  // the version that spells it this way
};

constexpr MethodName kMethods[] = {
    {"SendMessage", Method::kSend, Version::kV1_0},
    {"SendStreamingMessage", Method::kStream, Version::kV1_0},
    {"GetTask", Method::kGet, Version::kV1_0},
    {"ListTasks", Method::kList, Version::kV1_0},
    {"CancelTask", Method::kCancel, Version::kV1_0},
    {"SubscribeToTask", Method::kSubscribe, Version::kV1_0},
    {"CreateTaskPushNotificationConfig", Method::kPushConfig, Version::kV1_0},
    {"GetTaskPushNotificationConfig", Method::kPushConfig, Version::kV1_0},
    {"ListTaskPushNotificationConfigs", Method::kPushConfig, Version::kV1_0},
    {"ListTaskPushNotificationConfig", Method::kPushConfig, Version::kV1_0},
    {"DeleteTaskPushNotificationConfig", Method::kPushConfig, Version::kV1_0},
    {"GetExtendedAgentCard", Method::kExtendedCard, Version::kV1_0},
    {"message/send", Method::kSend, Version::kV0_3},
    {"message/stream", Method::kStream, Version::kV0_3},
    {"tasks/get", Method::kGet, Version::kV0_3},
    {"tasks/cancel", Method::kCancel, Version::kV0_3},
    {"tasks/resubscribe", Method::kSubscribe, Version::kV0_3},
    {"tasks/pushNotificationConfig/set", Method::kPushConfig, Version::kV0_3},
    {"tasks/pushNotificationConfig/get", Method::kPushConfig, Version::kV0_3},
    {"tasks/pushNotificationConfig/list", Method::kPushConfig, Version::kV0_3},
    {"tasks/pushNotificationConfig/delete", Method::kPushConfig, Version::kV0_3},
    {"agent/getAuthenticatedExtendedCard", Method::kExtendedCard, Version::kV0_3},
};

const MethodName* FindMethod(std::string_view name) {
  for (const auto& m : kMethods) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

// One stream consumer: encodes events in its version with its request id; buffers (bounded)
// until Attach, then delivers on the producer's thread.
class StreamImpl final : public EventStream {
 public:
  StreamImpl(json::value id, Version version, std::size_t max_backlog)
      : id_(std::move(id)), version_(version), max_backlog_(max_backlog) {}

  void Attach(std::function<bool(const json::value&)> on_event, std::function<void()> on_end) override {
    std::function<void()> end_now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (attached_ || detached_) return;
      attached_ = true;
      on_event_ = std::move(on_event);
      on_end_ = std::move(on_end);
      while (!backlog_.empty()) {
        if (!on_event_(backlog_.front())) {
          detached_ = true;
          backlog_.clear();
          break;
        }
        backlog_.pop_front();
      }
      if (ended_ || detached_) end_now = TakeEndLocked();
    }
    if (end_now) end_now();
  }

  void Detach() override {
    std::lock_guard<std::mutex> lock(mu_);
    detached_ = true;
    backlog_.clear();
    on_event_ = nullptr;
    on_end_ = nullptr;
  }

  /// Delivers one event; false when this stream is finished (detached, ended or overflowed).
  bool Push(const StreamEvent& event) { return PushResponse(jsonrpc::MakeResponse(id_, StreamEventToJson(event, version_))); }

  bool PushError(const jsonrpc::Error& error) { return PushResponse(jsonrpc::MakeErrorResponse(id_, error)); }

  /// No more events: on_end runs (now if attached, else at Attach).
  void End() {
    std::function<void()> end_now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_) return;
      ended_ = true;
      if (attached_) end_now = TakeEndLocked();
    }
    if (end_now) end_now();
  }

  bool finished() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_ || detached_;
  }

 private:
  bool PushResponse(json::value response) {
    std::function<void()> end_now;
    bool ok = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_ || detached_) return false;
      if (!attached_) {
        if (backlog_.size() >= max_backlog_) {
          // The consumer never showed up in time: end with an error rather than grow.
          backlog_.push_back(jsonrpc::MakeErrorResponse(
              id_, A2aError(jsonrpc::kInternalError, "stream backlog exceeded; resubscribe to the task")));
          ended_ = true;
          return false;
        }
        backlog_.push_back(std::move(response));
        return true;
      }
      if (!on_event_(response)) {
        detached_ = true;
        ok = false;
        end_now = TakeEndLocked();
      }
    }
    if (end_now) end_now();
    return ok;
  }

  std::function<void()> TakeEndLocked() {
    std::function<void()> fn = std::move(on_end_);
    on_end_ = nullptr;
    on_event_ = nullptr;
    return fn;
  }

  const json::value id_;
  const Version version_;
  const std::size_t max_backlog_;
  mutable std::mutex mu_;
  std::deque<json::value> backlog_;
  std::function<bool(const json::value&)> on_event_;
  std::function<void()> on_end_;
  bool attached_ = false;
  bool detached_ = false;
  bool ended_ = false;
};

// A stream that is already complete (snapshot of a task that is not running here).
EventStreamPtr FinishedStream(const json::value& id, Version version, const std::vector<StreamEvent>& events) {
  auto s = std::make_shared<StreamImpl>(id, version, events.size() + 1);
  for (const auto& e : events) s->Push(e);
  s->End();
  return s;
}

}  // namespace

// ---- Impl ----------------------------------------------------------------------------------

class Server::Impl {
 public:
  // One running execution of a task.
  struct LiveTask {
    std::mutex mu;
    std::condition_variable cv;
    Task task;              // current state, without history
    bool created = false;   // persisted (has had a task event, or was continued)
    bool settled = false;   // terminal / interrupted / message: blocking callers may answer
    bool any_event = false; // first event seen: non-blocking callers may answer
    bool finished = false;  // Execute returned
    std::optional<Message> direct_message;
    Message incoming;       // the user message (history entry when the task is created)
    // Write-behind (ServerOptions::persist_interval): the history as this server knows it (the
    // stored part plus what is pending), what the store does not have yet, and since when.
    std::vector<Message> history;
    std::vector<Message> pending_history;
    bool dirty = false;
    bool indexed = false;   // the context index entry is written
    std::chrono::steady_clock::time_point dirty_since{};
    std::vector<std::shared_ptr<StreamImpl>> streams;
    std::shared_ptr<CancellationToken> token = std::make_shared<CancellationToken>();
    // A SendMessage answered asynchronously (CallAsync): answered once ready, or at its deadline.
    struct Waiter {
      json::value id;
      Version version = Version::kV1_0;
      bool blocking = true;
      std::optional<std::size_t> history_length;
      std::chrono::steady_clock::time_point deadline;
      std::function<void(Reply)> done;
    };
    std::optional<Waiter> waiter;
  };
  using LivePtr = std::shared_ptr<LiveTask>;

  class Queue;

  Impl(AgentExecutor& executor, session::SessionStore& store, ServerOptions options)
      : executor_(executor),
        store_(store),
        options_(std::move(options)),
        prefix_("a2a/" + options_.scope + "/"),
        // Admission is counted in live_ (running + queued); the pool's own bound never bites first.
        pool_(std::make_unique<net::WorkerPool>(options_.max_concurrent_tasks,
                                                options_.max_concurrent_tasks + options_.max_queued_tasks + 1)) {
    flusher_ = std::thread([this] { FlushLoop(); });
  }

  ~Impl() { Shutdown(); }

  // Writes the changes of running tasks that have waited persist_interval (a task that emits an
  // event and then works silently still reaches the store), and answers asynchronous SendMessage
  // calls whose blocking_timeout passed.
  void FlushLoop() {
    const auto tick = options_.persist_interval.count() > 0
                          ? std::clamp(options_.persist_interval / 2, std::chrono::milliseconds(5), std::chrono::milliseconds(100))
                          : std::chrono::milliseconds(100);
    std::unique_lock<std::mutex> lock(flush_mu_);
    while (!flush_stop_) {
      flush_cv_.wait_for(lock, tick, [&] { return flush_stop_; });
      if (flush_stop_) break;
      lock.unlock();
      std::vector<LivePtr> live;
      {
        std::lock_guard<std::mutex> live_lock(live_mu_);
        live.reserve(live_.size());
        for (auto& [id, t] : live_) live.push_back(t);
      }
      const auto now = std::chrono::steady_clock::now();
      for (auto& t : live) {
        std::lock_guard<std::mutex> task_lock(t->mu);
        if (t->dirty && options_.persist_interval.count() > 0 && now - t->dirty_since >= options_.persist_interval) {
          (void)FlushLocked(*t);
        }
        if (t->waiter && now >= t->waiter->deadline) AnswerWaiterLocked(*t);
      }
      lock.lock();
    }
  }

  void Shutdown() {
    std::vector<LivePtr> live;
    {
      std::lock_guard<std::mutex> lock(live_mu_);
      if (stopping_) return;
      stopping_ = true;
      for (auto& [id, t] : live_) live.push_back(t);
    }
    for (auto& t : live) t->token->Cancel();
    pool_->Stop();  // joins; queued executions never start
    for (auto& t : live) {
      std::lock_guard<std::mutex> lock(t->mu);
      if (!t->settled) (void)ApplyStatusLocked(*t, TaskState::kFailed, Message::Text(Role::kAgent, "server stopped"), {});
      if (t->dirty) (void)FlushLocked(*t);
      FinishLocked(*t);
    }
    {
      std::lock_guard<std::mutex> lock(flush_mu_);
      flush_stop_ = true;
    }
    flush_cv_.notify_all();
    if (flusher_.joinable()) flusher_.join();
  }

  std::size_t ActiveTasks() const {
    std::lock_guard<std::mutex> lock(live_mu_);
    return live_.size();
  }

  // ---- store ----

  std::string TaskKey(std::string_view id) const { return prefix_ + "task/" + std::string(id); }
  std::string HistoryKey(std::string_view id) const { return prefix_ + "history/" + std::string(id); }
  std::string ContextPrefix(std::string_view ctx) const { return prefix_ + "context/" + std::string(ctx) + "/"; }

  // Writes the task, with `index` its entry under the context (ListTasks by context), and
  // `history` appended to its history, in one batch. The index is written with the task's first
  // write and again when it ends (its TTL then runs from the same moment as the task's).
  Status PersistTask(const Task& task, bool index, const std::vector<Message>& history = {}) {
    using Op = session::SessionStore::WriteOp;
    std::vector<Op> ops;
    ops.reserve(2 + history.size());
    ops.push_back({.kind = Op::Kind::kPut,
                   .key = TaskKey(task.id),
                   .value = json::serialize(ToJson(task, Version::kV1_0, 0)),
                   .ttl = options_.task_ttl});
    if (index) {
      ops.push_back({.kind = Op::Kind::kPut, .key = ContextPrefix(task.context_id) + task.id, .value = "", .ttl = options_.task_ttl});
    }
    for (const Message& message : history) {
      ops.push_back({.kind = Op::Kind::kAppend,
                     .key = HistoryKey(task.id),
                     .value = json::serialize(ToJson(message, Version::kV1_0)),
                     .ttl = options_.task_ttl,
                     .max_items = options_.max_history});
    }
    return store_.Write(ops);
  }

  Result<Task> LoadTask(std::string_view id, std::optional<std::size_t> history_length) {
    auto entry = store_.Get(TaskKey(id));
    if (!entry.ok()) return entry.status();
    boost::system::error_code ec;
    json::value v = json::parse(entry->value, ec);
    if (ec) return Internal("stored task " + std::string(id) + " is not JSON");
    TUNA_ASSIGN_OR_RETURN(Task task, TaskFromJson(v, Version::kV1_0, "task"));
    std::size_t want = history_length ? std::min(*history_length, options_.max_history) : options_.max_history;
    if (want > 0) {
      auto items = store_.Tail(HistoryKey(id), want);
      if (!items.ok()) return items.status();
      for (const auto& [seq, text] : *items) {
        json::value mv = json::parse(text, ec);
        if (ec) continue;
        auto m = MessageFromJson(mv, Version::kV1_0);
        if (m.ok()) task.history.push_back(std::move(*m));
      }
    }
    return task;
  }

  // ---- applying events (LiveTask mutex held) ----

  void Broadcast(LiveTask& t, const StreamEvent& event) {
    auto& s = t.streams;
    s.erase(std::remove_if(s.begin(), s.end(), [&](const std::shared_ptr<StreamImpl>& st) { return !st->Push(event); }),
            s.end());
  }

  void FinishLocked(LiveTask& t) {
    for (auto& s : t.streams) s->End();
    t.streams.clear();
    t.settled = true;
    t.any_event = true;
    WakeLocked(t);
  }

  void FillAgentMessage(const LiveTask& t, Message& m) {
    if (m.message_id.empty()) m.message_id = NewUuid();
    if (m.role == Role::kUnspecified) m.role = Role::kAgent;
    if (m.task_id.empty()) m.task_id = t.task.id;
    if (m.context_id.empty()) m.context_id = t.task.context_id;
  }

  // ---- write-behind (LiveTask mutex held) ----

  void AddHistoryLocked(LiveTask& t, const Message& message) {
    t.history.push_back(message);
    if (t.history.size() > options_.max_history) t.history.erase(t.history.begin());
    t.pending_history.push_back(message);
  }

  // Notes a change; writes it now when `now` (an end, input-required) or when writing is not
  // deferred, else leaves it to a later change or the flusher.
  Status ChangedLocked(LiveTask& t, bool now) {
    if (!t.dirty) {
      t.dirty = true;
      t.dirty_since = std::chrono::steady_clock::now();
    }
    if (now || options_.persist_interval.count() <= 0 ||
        std::chrono::steady_clock::now() - t.dirty_since >= options_.persist_interval) {
      return FlushLocked(t);
    }
    return Status::Ok();
  }

  Status FlushLocked(LiveTask& t) {
    if (!t.dirty) return Status::Ok();
    const bool ended = IsTerminal(t.task.status.state) || IsInterrupted(t.task.status.state);
    // One batch (one SQLite transaction).
    Status st = PersistTask(t.task, /*index=*/!t.indexed || ended, t.pending_history);
    if (!st.ok()) {
      // Nothing is lost: the next change or the flusher tries the whole batch again.
      core::Logger()->warn("a2a task={} persist failed: {}", t.task.id, st.ToString());
      return st;
    }
    t.indexed = true;
    t.pending_history.clear();
    t.dirty = false;
    return Status::Ok();
  }

  // The task as this server knows it, with the last `history_length` messages (all when nullopt).
  Task SnapshotLocked(const LiveTask& t, std::optional<std::size_t> history_length) const {
    Task snapshot = t.task;
    std::size_t want = history_length ? std::min(*history_length, options_.max_history) : options_.max_history;
    std::size_t from = t.history.size() > want ? t.history.size() - want : 0;
    snapshot.history.assign(t.history.begin() + static_cast<std::ptrdiff_t>(from), t.history.end());
    return snapshot;
  }

  // A live task's current state from memory, else the stored one.
  Result<Task> CurrentTask(const std::string& id, std::optional<std::size_t> history_length) {
    if (LivePtr t = FindLive(id)) {
      std::lock_guard<std::mutex> lock(t->mu);
      if (t->created) return SnapshotLocked(*t, history_length);
    }
    return LoadTask(id, history_length);
  }

  // The SendMessage answer for `t` as it is now.
  json::value AnswerLocked(LiveTask& t, const json::value& id, Version version, std::optional<std::size_t> history_length) {
    if (t.direct_message) return jsonrpc::MakeResponse(id, StreamEventToJson(*t.direct_message, version));
    if (!t.created) {
      // Nothing yet (non-blocking call, or a slow first event): report the task as submitted.
      (void)EnsureCreatedLocked(t);
    }
    json::value task_json = ToJson(SnapshotLocked(t, history_length), version, history_length);
    if (version == Version::kV1_0) return jsonrpc::MakeResponse(id, json::object{{"task", std::move(task_json)}});
    return jsonrpc::MakeResponse(id, std::move(task_json));
  }

  void AnswerWaiterLocked(LiveTask& t) {
    LiveTask::Waiter w = std::move(*t.waiter);
    t.waiter.reset();
    Reply reply;
    reply.response = AnswerLocked(t, w.id, w.version, w.history_length);
    reply.version = w.version;
    w.done(std::move(reply));
  }

  // Wakes blocking waiters, and answers an asynchronous one that is now ready.
  void WakeLocked(LiveTask& t) {
    t.cv.notify_all();
    if (t.waiter && (t.waiter->blocking ? t.settled : t.any_event)) AnswerWaiterLocked(t);
  }

  Status EnsureCreatedLocked(LiveTask& t) {
    if (t.created) return Status::Ok();
    t.created = true;
    t.task.status = TaskStatus{.state = TaskState::kSubmitted, .message = std::nullopt, .timestamp = NowTimestamp()};
    AddHistoryLocked(t, t.incoming);
    TUNA_RETURN_IF_ERROR(ChangedLocked(t, /*now=*/false));
    Task snapshot = t.task;
    snapshot.history.push_back(t.incoming);
    Broadcast(t, snapshot);
    return Status::Ok();
  }

  Status ApplyStatusLocked(LiveTask& t, TaskState state, std::optional<Message> message, json::object metadata) {
    if (t.direct_message) return FailedPrecondition("the agent already answered with a message");
    if (t.created && IsTerminal(t.task.status.state)) {
      return FailedPrecondition(std::string("task is already ") + std::string(TaskStateName(t.task.status.state, Version::kV0_3)));
    }
    TUNA_RETURN_IF_ERROR(EnsureCreatedLocked(t));
    if (message) FillAgentMessage(t, *message);
    t.task.status = TaskStatus{.state = state, .message = message, .timestamp = NowTimestamp()};
    bool last = IsTerminal(state) || IsInterrupted(state);
    if (message) AddHistoryLocked(t, *message);
    Status persisted = ChangedLocked(t, /*now=*/last);
    Broadcast(t, TaskStatusUpdateEvent{.task_id = t.task.id,
                                       .context_id = t.task.context_id,
                                       .status = t.task.status,
                                       .final = last,
                                       .metadata = std::move(metadata)});
    t.any_event = true;
    if (last) {
      FinishLocked(t);
    } else {
      WakeLocked(t);
    }
    return persisted;
  }

  Status ApplyArtifactLocked(LiveTask& t, Artifact artifact, bool append, bool last_chunk) {
    if (t.direct_message) return FailedPrecondition("the agent already answered with a message");
    if (t.created && IsTerminal(t.task.status.state)) return FailedPrecondition("task is already finished");
    TUNA_RETURN_IF_ERROR(EnsureCreatedLocked(t));
    if (artifact.artifact_id.empty()) artifact.artifact_id = NewUuid();
    auto it = std::find_if(t.task.artifacts.begin(), t.task.artifacts.end(),
                           [&](const Artifact& a) { return a.artifact_id == artifact.artifact_id; });
    if (it != t.task.artifacts.end() && append) {
      it->parts.insert(it->parts.end(), artifact.parts.begin(), artifact.parts.end());
      for (const auto& [k, v] : artifact.metadata) it->metadata[k] = v;
    } else if (it != t.task.artifacts.end()) {
      *it = artifact;
    } else {
      t.task.artifacts.push_back(artifact);
    }
    Status persisted = ChangedLocked(t, /*now=*/false);
    Broadcast(t, TaskArtifactUpdateEvent{.task_id = t.task.id,
                                         .context_id = t.task.context_id,
                                         .artifact = std::move(artifact),
                                         .append = append,
                                         .last_chunk = last_chunk,
                                         .metadata = {}});
    t.any_event = true;
    WakeLocked(t);
    return persisted;
  }

  Status ApplyMessageLocked(LiveTask& t, Message message) {
    if (t.created) return FailedPrecondition("a task exists: answer with a status update carrying the message");
    if (t.direct_message) return FailedPrecondition("the agent already answered with a message");
    if (message.message_id.empty()) message.message_id = NewUuid();
    if (message.role == Role::kUnspecified) message.role = Role::kAgent;
    if (message.context_id.empty()) message.context_id = t.task.context_id;
    t.direct_message = message;
    Broadcast(t, message);
    FinishLocked(t);
    return Status::Ok();
  }

  // ---- execution ----

  void Run(const LivePtr& t, std::shared_ptr<RequestContext> context);

  // Forgets `t` (not a newer execution of the same task that replaced it).
  void Unregister(const LivePtr& t) {
    std::lock_guard<std::mutex> lock(live_mu_);
    auto it = live_.find(t->task.id);
    if (it != live_.end() && it->second == t) live_.erase(it);
  }

  // An execution that still owns its task: not yet settled, or settled in a terminal state.
  // One that stopped at input-required may still be returning; a continuation may replace it.
  static bool Busy(LiveTask& t) {
    std::lock_guard<std::mutex> lock(t.mu);
    return !(t.settled && t.created && IsInterrupted(t.task.status.state));
  }

  LivePtr FindLive(const std::string& id) {
    std::lock_guard<std::mutex> lock(live_mu_);
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : it->second;
  }

  // ---- methods ----

  Reply Dispatch(const jsonrpc::Message& message, const CallContext& context,
                 std::function<void(Reply)>* done = nullptr);

  // `done` (SendMessage only): when the answer must wait, Send keeps *done to answer through it
  // later (leaving *done empty) and returns null; otherwise it returns the answer.
  json::value Send(const json::value& id, const json::value& params, Version version, bool streaming, EventStreamPtr* stream,
                   const CallContext& call, std::function<void(Reply)>* done = nullptr);
  json::value Get(const json::value& id, const json::value& params, Version version);
  json::value List(const json::value& id, const json::value& params, Version version);
  json::value Cancel(const json::value& id, const json::value& params, Version version);
  json::value Subscribe(const json::value& id, const json::value& params, Version version, EventStreamPtr* stream);

  AgentExecutor& executor_;
  session::SessionStore& store_;
  ServerOptions options_;
  std::string prefix_;
  mutable std::mutex live_mu_;
  std::unordered_map<std::string, LivePtr> live_;
  bool stopping_ = false;
  std::unique_ptr<net::WorkerPool> pool_;
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  bool flush_stop_ = false;
  std::thread flusher_;
};

class Server::Impl::Queue final : public EventQueue {
 public:
  Queue(Impl& impl, LivePtr t) : impl_(impl), t_(std::move(t)), task_id_(t_->task.id), context_id_(t_->task.context_id) {}
  Status PublishMessage(Message message) override {
    std::lock_guard<std::mutex> lock(t_->mu);
    return impl_.ApplyMessageLocked(*t_, std::move(message));
  }
  Status UpdateStatus(TaskState state, std::optional<Message> message, json::object metadata) override {
    if (state == TaskState::kUnspecified) return InvalidArgument("task state must be set", "state");
    std::lock_guard<std::mutex> lock(t_->mu);
    return impl_.ApplyStatusLocked(*t_, state, std::move(message), std::move(metadata));
  }
  Status UpdateArtifact(Artifact artifact, bool append, bool last_chunk) override {
    std::lock_guard<std::mutex> lock(t_->mu);
    return impl_.ApplyArtifactLocked(*t_, std::move(artifact), append, last_chunk);
  }
  const std::string& task_id() const override { return task_id_; }
  const std::string& context_id() const override { return context_id_; }

 private:
  Impl& impl_;
  LivePtr t_;
  const std::string task_id_;
  const std::string context_id_;
};

void Server::Impl::Run(const LivePtr& t, std::shared_ptr<RequestContext> context) {
  const auto started = std::chrono::steady_clock::now();
  Queue queue(*this, t);
  Status status;
  try {
    status = executor_.Execute(*context, queue);
  } catch (const std::exception& e) {
    status = Internal(std::string("agent threw: ") + e.what());
  } catch (...) {
    status = Internal("agent threw a non-standard exception");
  }
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (!status.ok()) {
      core::Logger()->warn("a2a task={} context={} executor failed: {}", t->task.id, t->task.context_id, status.ToString());
      if (!t->direct_message && !(t->created && IsTerminal(t->task.status.state))) {
        (void)ApplyStatusLocked(*t, TaskState::kFailed, Message::Text(Role::kAgent, "agent failed: " + status.message()), {});
      }
    } else if (!t->direct_message && !t->settled) {
      // Returned without a final word: the work is done (or was given up on cancellation).
      (void)ApplyStatusLocked(*t, t->token->cancelled() ? TaskState::kCanceled : TaskState::kCompleted, std::nullopt, {});
    }
    t->finished = true;
    FinishLocked(*t);
    core::Logger()->debug("a2a task={} context={} state={} duration_ms={:.3f}", t->task.id, t->task.context_id,
                          t->direct_message ? "message" : TaskStateName(t->task.status.state, Version::kV0_3),
                          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  }
  Unregister(t);
}

namespace {

struct SendParams {
  Message message;
  bool blocking = true;
  std::optional<std::size_t> history_length;
  json::object metadata;
};

Result<SendParams> DecodeSendParams(const json::value& params, Version version) {
  if (!params.is_object()) return InvalidArgument("must be an object", "params");
  const json::object& o = params.as_object();
  Field f(o, "params");
  SendParams p;
  const json::value* m = f.Get("message");
  if (!m) return InvalidArgument("required", "params.message");
  TUNA_ASSIGN_OR_RETURN(p.message, MessageFromJson(*m, version, "params.message"));
  if (p.message.role != Role::kUser) return InvalidArgument("must be the user role", "params.message.role");
  if (p.message.parts.empty()) return InvalidArgument("must not be empty", "params.message.parts");
  TUNA_RETURN_IF_ERROR(f.OptObject("metadata", p.metadata));
  if (const json::value* c = f.Get("configuration")) {
    if (!c->is_object()) return InvalidArgument("must be an object", "params.configuration");
    Field fc(c->as_object(), "params.configuration");
    bool return_immediately = false;
    TUNA_RETURN_IF_ERROR(fc.OptBool("returnImmediately", return_immediately));
    TUNA_RETURN_IF_ERROR(fc.OptBool("blocking", p.blocking));
    if (return_immediately) p.blocking = false;
    TUNA_RETURN_IF_ERROR(fc.OptCount("historyLength", p.history_length));
    std::vector<std::string> modes;
    TUNA_RETURN_IF_ERROR(fc.OptStrings("acceptedOutputModes", modes));
    if (fc.Get("taskPushNotificationConfig") || fc.Get("pushNotificationConfig")) {
      return Unimplemented("push notifications");
    }
  }
  return p;
}

Result<std::string> DecodeTaskId(const json::value& params, std::optional<std::size_t>* history_length) {
  if (!params.is_object()) return InvalidArgument("must be an object", "params");
  Field f(params.as_object(), "params");
  std::string id;
  TUNA_RETURN_IF_ERROR(f.ReqString("id", id));
  if (id.empty()) return InvalidArgument("must not be empty", "params.id");
  if (history_length) TUNA_RETURN_IF_ERROR(f.OptCount("historyLength", *history_length));
  return id;
}

}  // namespace

json::value Server::Impl::Send(const json::value& id, const json::value& params, Version version, bool streaming,
                               EventStreamPtr* stream, const CallContext& call, std::function<void(Reply)>* done) {
  auto decoded = DecodeSendParams(params, version);
  if (!decoded.ok()) {
    if (decoded.status().code() == StatusCode::kUnimplemented) {
      return jsonrpc::MakeErrorResponse(id, A2aError(kPushNotificationNotSupported, "push notifications are not supported"));
    }
    return jsonrpc::MakeErrorResponse(id, StatusError(decoded.status()));
  }
  SendParams p = std::move(*decoded);

  auto t = std::make_shared<LiveTask>();
  auto context = std::make_shared<RequestContext>();
  context->version = version;
  context->metadata = p.metadata;
  context->cancellation = t->token;
  context->call_headers = call.headers;
  if (!p.message.task_id.empty()) {
    // Continues a task that waits for input.
    auto existing = LoadTask(p.message.task_id, std::nullopt);
    if (!existing.ok()) {
      if (existing.status().code() == StatusCode::kNotFound) {
        return jsonrpc::MakeErrorResponse(id, A2aError(kTaskNotFound, "task " + p.message.task_id + " not found"));
      }
      return jsonrpc::MakeErrorResponse(id, StatusError(existing.status()));
    }
    TaskState state = existing->status.state;
    if (IsTerminal(state)) {
      return jsonrpc::MakeErrorResponse(
          id, A2aError(kUnsupportedOperation, "task " + existing->id + " is " + std::string(TaskStateName(state, Version::kV0_3)) +
                                                  " and accepts no more messages"));
    }
    LivePtr previous = FindLive(existing->id);
    if (!IsInterrupted(state) || (previous && Busy(*previous))) {
      return jsonrpc::MakeErrorResponse(
          id, A2aError(kUnsupportedOperation, "task " + existing->id + " is still running; wait for input-required"));
    }
    if (!p.message.context_id.empty() && p.message.context_id != existing->context_id) {
      return jsonrpc::MakeErrorResponse(
          id, StatusError(InvalidArgument("does not match the task's context " + existing->context_id, "params.message.contextId")));
    }
    p.message.context_id = existing->context_id;
    t->history = existing->history;
    context->history = std::move(existing->history);
    existing->history.clear();
    context->task = *existing;
    t->task = std::move(*existing);
    t->created = true;
    t->indexed = true;
  } else {
    t->task.id = NewUuid();
    t->task.context_id = p.message.context_id.empty() ? NewUuid() : p.message.context_id;
    p.message.task_id = t->task.id;
    p.message.context_id = t->task.context_id;
  }
  context->task_id = t->task.id;
  context->context_id = t->task.context_id;
  context->message = p.message;
  t->incoming = p.message;

  std::shared_ptr<StreamImpl> s;
  if (streaming) s = std::make_shared<StreamImpl>(id, version, options_.max_stream_backlog);
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    if (stopping_) return jsonrpc::MakeErrorResponse(id, A2aError(jsonrpc::kInternalError, "server is stopping"));
    if (live_.size() >= options_.max_concurrent_tasks + options_.max_queued_tasks) {
      return jsonrpc::MakeErrorResponse(id, A2aError(jsonrpc::kInternalError, "server busy: too many running tasks"));
    }
    if (auto it = live_.find(t->task.id); it != live_.end() && Busy(*it->second)) {
      return jsonrpc::MakeErrorResponse(id, A2aError(kUnsupportedOperation, "task " + t->task.id + " is still running"));
    }
    live_[t->task.id] = t;
  }
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (s) t->streams.push_back(s);
    if (t->created) {
      if (s) {  // a stream starts with the task as it is
        Task snapshot = t->task;
        snapshot.history = context->history;
        snapshot.history.push_back(p.message);
        s->Push(snapshot);
      }
      // A continued task: the user's answer goes into history and the task works again.
      AddHistoryLocked(*t, p.message);
      (void)ApplyStatusLocked(*t, TaskState::kWorking, std::nullopt, {});
    }
  }
  bool submitted = pool_->TrySubmit([this, t, context] { Run(t, context); });
  if (!submitted) {
    Unregister(t);
    std::lock_guard<std::mutex> lock(t->mu);
    if (t->created) (void)ApplyStatusLocked(*t, TaskState::kFailed, Message::Text(Role::kAgent, "server busy"), {});
    for (auto& st : t->streams) st->End();
    t->streams.clear();
    return jsonrpc::MakeErrorResponse(id, A2aError(jsonrpc::kInternalError, "server busy: too many running tasks"));
  }
  if (streaming) {
    *stream = s;
    return nullptr;
  }

  std::unique_lock<std::mutex> lock(t->mu);
  if (done) {
    if (p.blocking ? t->settled : t->any_event) return AnswerLocked(*t, id, version, p.history_length);
    t->waiter = LiveTask::Waiter{.id = id,
                                 .version = version,
                                 .blocking = p.blocking,
                                 .history_length = p.history_length,
                                 .deadline = std::chrono::steady_clock::now() + options_.blocking_timeout,
                                 .done = std::move(*done)};
    *done = nullptr;
    return nullptr;
  }
  t->cv.wait_for(lock, options_.blocking_timeout, [&] { return p.blocking ? t->settled : t->any_event; });
  return AnswerLocked(*t, id, version, p.history_length);
}

json::value Server::Impl::Get(const json::value& id, const json::value& params, Version version) {
  std::optional<std::size_t> history_length;
  auto task_id = DecodeTaskId(params, &history_length);
  if (!task_id.ok()) return jsonrpc::MakeErrorResponse(id, StatusError(task_id.status()));
  auto task = CurrentTask(*task_id, history_length);
  if (!task.ok()) {
    if (task.status().code() == StatusCode::kNotFound) {
      return jsonrpc::MakeErrorResponse(id, A2aError(kTaskNotFound, "task " + *task_id + " not found"));
    }
    return jsonrpc::MakeErrorResponse(id, StatusError(task.status()));
  }
  return jsonrpc::MakeResponse(id, ToJson(*task, version, history_length));
}

json::value Server::Impl::List(const json::value& id, const json::value& params, Version version) {
  json::object empty;
  const json::object& o = params.is_object() ? params.as_object() : empty;
  if (!params.is_null() && !params.is_object()) {
    return jsonrpc::MakeErrorResponse(id, StatusError(InvalidArgument("must be an object", "params")));
  }
  Field f(o, "params");
  std::string context_id, status_text, page_token;
  std::optional<std::size_t> page_size, history_length;
  bool include_artifacts = false;
  Status st = f.OptString("contextId", context_id);
  if (st.ok()) st = f.OptString("status", status_text);
  if (st.ok()) st = f.OptString("pageToken", page_token);
  if (st.ok()) st = f.OptCount("pageSize", page_size);
  if (st.ok()) st = f.OptCount("historyLength", history_length);
  if (st.ok()) st = f.OptBool("includeArtifacts", include_artifacts);
  std::optional<TaskState> status_filter;
  if (st.ok() && !status_text.empty() && status_text != "TASK_STATE_UNSPECIFIED") {
    status_filter = ParseTaskState(status_text);
    if (!status_filter) st = InvalidArgument("unknown task state", "params.status");
  }
  if (st.ok() && page_size && (*page_size < 1 || *page_size > options_.max_page_size)) {
    st = InvalidArgument("must be between 1 and " + std::to_string(options_.max_page_size), "params.pageSize");
  }
  if (!st.ok()) return jsonrpc::MakeErrorResponse(id, StatusError(st));
  std::size_t size = page_size.value_or(options_.default_page_size);

  // Candidate ids: the context index, or every task.
  std::vector<std::string> ids;
  const std::string prefix = context_id.empty() ? prefix_ + "task/" : ContextPrefix(context_id);
  std::string after;
  while (ids.size() < options_.max_list_scan) {
    auto page = store_.List(prefix, after, std::min<std::size_t>(1000, options_.max_list_scan - ids.size()));
    if (!page.ok()) return jsonrpc::MakeErrorResponse(id, StatusError(page.status()));
    for (const auto& e : page->entries) ids.push_back(e.key.substr(prefix.size()));
    if (page->next_after.empty()) break;
    after = page->next_after;
  }
  // Live tasks come from memory: the store may not have them yet, or not their latest state.
  {
    std::vector<LivePtr> live;
    {
      std::lock_guard<std::mutex> lock(live_mu_);
      for (auto& [tid, t] : live_) live.push_back(t);
    }
    for (auto& t : live) {
      std::lock_guard<std::mutex> lock(t->mu);
      if (t->created && (context_id.empty() || t->task.context_id == context_id)) ids.push_back(t->task.id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  std::vector<Task> tasks;
  for (const auto& tid : ids) {
    auto t = CurrentTask(tid, history_length.value_or(0));
    if (!t.ok()) continue;  // expired between List and Get
    if (status_filter && t->status.state != *status_filter) continue;
    tasks.push_back(std::move(*t));
  }
  // Newest change first; the id breaks ties so pages are stable.
  auto key = [](const Task& t) { return t.status.timestamp + "|" + t.id; };
  std::sort(tasks.begin(), tasks.end(), [&](const Task& a, const Task& b) { return key(a) > key(b); });
  std::size_t start = 0;
  if (!page_token.empty()) {
    auto decoded = internal::Base64Decode(page_token);
    if (!decoded) return jsonrpc::MakeErrorResponse(id, StatusError(InvalidArgument("not a page token of this server", "params.pageToken")));
    while (start < tasks.size() && key(tasks[start]) >= *decoded) ++start;
  }
  json::array out;
  std::size_t end = std::min(tasks.size(), start + size);
  for (std::size_t i = start; i < end; ++i) {
    if (!include_artifacts) tasks[i].artifacts.clear();
    out.push_back(ToJson(tasks[i], version, history_length.value_or(0)));
  }
  std::string next = end < tasks.size() && end > start ? internal::Base64Encode(key(tasks[end - 1])) : "";
  return jsonrpc::MakeResponse(id, json::object{{"tasks", std::move(out)},
                                                {"nextPageToken", next},
                                                {"pageSize", size},
                                                {"totalSize", tasks.size()}});
}

json::value Server::Impl::Cancel(const json::value& id, const json::value& params, Version version) {
  auto task_id = DecodeTaskId(params, nullptr);
  if (!task_id.ok()) return jsonrpc::MakeErrorResponse(id, StatusError(task_id.status()));
  if (LivePtr t = FindLive(*task_id)) {
    bool fired = false;
    {
      std::lock_guard<std::mutex> lock(t->mu);
      if (t->direct_message || (t->created && IsTerminal(t->task.status.state))) {
        return jsonrpc::MakeErrorResponse(id, A2aError(kTaskNotCancelable, "task " + *task_id + " is already finished"));
      }
      t->token->Cancel();
      fired = true;
      (void)ApplyStatusLocked(*t, TaskState::kCanceled, std::nullopt, {});
    }
    if (fired) executor_.Cancel(*task_id);
  } else {
    auto task = LoadTask(*task_id, 0);
    if (!task.ok()) {
      if (task.status().code() == StatusCode::kNotFound) {
        return jsonrpc::MakeErrorResponse(id, A2aError(kTaskNotFound, "task " + *task_id + " not found"));
      }
      return jsonrpc::MakeErrorResponse(id, StatusError(task.status()));
    }
    if (IsTerminal(task->status.state)) {
      return jsonrpc::MakeErrorResponse(
          id, A2aError(kTaskNotCancelable,
                       "task " + *task_id + " is " + std::string(TaskStateName(task->status.state, Version::kV0_3)) + " and cannot be canceled"));
    }
    task->status = TaskStatus{.state = TaskState::kCanceled, .message = std::nullopt, .timestamp = NowTimestamp()};
    Status st = PersistTask(*task, /*index=*/true);
    if (!st.ok()) return jsonrpc::MakeErrorResponse(id, StatusError(st));
  }
  auto task = CurrentTask(*task_id, std::nullopt);
  if (!task.ok()) return jsonrpc::MakeErrorResponse(id, StatusError(task.status()));
  return jsonrpc::MakeResponse(id, ToJson(*task, version));
}

json::value Server::Impl::Subscribe(const json::value& id, const json::value& params, Version version, EventStreamPtr* stream) {
  auto task_id = DecodeTaskId(params, nullptr);
  if (!task_id.ok()) return jsonrpc::MakeErrorResponse(id, StatusError(task_id.status()));
  if (LivePtr t = FindLive(*task_id)) {
    std::lock_guard<std::mutex> lock(t->mu);
    if (!t->settled && t->created) {
      auto s = std::make_shared<StreamImpl>(id, version, options_.max_stream_backlog);
      // The current state first, then live events (we hold the task's lock: nothing is missed).
      s->Push(SnapshotLocked(*t, std::nullopt));
      t->streams.push_back(s);
      *stream = s;
      return nullptr;
    }
  }
  auto task = LoadTask(*task_id, std::nullopt);
  if (!task.ok()) {
    if (task.status().code() == StatusCode::kNotFound) {
      return jsonrpc::MakeErrorResponse(id, A2aError(kTaskNotFound, "task " + *task_id + " not found"));
    }
    return jsonrpc::MakeErrorResponse(id, StatusError(task.status()));
  }
  if (IsTerminal(task->status.state)) {
    return jsonrpc::MakeErrorResponse(
        id, A2aError(kUnsupportedOperation, "task " + *task_id + " is " +
                                                std::string(TaskStateName(task->status.state, Version::kV0_3)) +
                                                "; there is nothing to subscribe to"));
  }
  // Not running here (waiting for input, or running in another process): its state, then the end.
  *stream = FinishedStream(id, version, {StreamEvent(*task)});
  return nullptr;
}

Reply Server::Impl::Dispatch(const jsonrpc::Message& message, const CallContext& context,
                             std::function<void(Reply)>* done) {
  Reply reply;
  if (!message.IsRequest()) return reply;  // notifications and responses are never answered
  const MethodName* m = FindMethod(message.method);
  Version version = m ? m->version : Version::kV1_0;
  if (context.version_header) {
    auto v = ParseVersion(*context.version_header);
    if (!v) {
      reply.response = jsonrpc::MakeErrorResponse(
          message.id, {kVersionNotSupported, "A2A version \"" + *context.version_header + "\" is not supported (1.0, 0.3)",
                       json::object{{"supportedVersions", json::array{"1.0", "0.3"}}}});
      return reply;
    }
    version = *v;
  }
  reply.version = version;
  if (!m) {
    reply.response = jsonrpc::MakeErrorResponse(message.id, {jsonrpc::kMethodNotFound, "method not found: " + message.method, nullptr});
    return reply;
  }
  const json::value& params = message.params;
  switch (m->method) {
    case Method::kSend:
      reply.response = Send(message.id, params, version, false, nullptr, context, done);
      break;
    case Method::kStream:
      if (!options_.card.capabilities.streaming) {
        reply.response = jsonrpc::MakeErrorResponse(message.id, A2aError(kUnsupportedOperation, "streaming is not supported"));
        break;
      }
      reply.response = Send(message.id, params, version, true, &reply.stream, context);
      break;
    case Method::kGet:
      reply.response = Get(message.id, params, version);
      break;
    case Method::kList:
      reply.response = List(message.id, params, version);
      break;
    case Method::kCancel:
      reply.response = Cancel(message.id, params, version);
      break;
    case Method::kSubscribe:
      reply.response = Subscribe(message.id, params, version, &reply.stream);
      break;
    case Method::kPushConfig:
      reply.response = jsonrpc::MakeErrorResponse(message.id, A2aError(kPushNotificationNotSupported, "push notifications are not supported"));
      break;
    case Method::kExtendedCard:
      reply.response = jsonrpc::MakeErrorResponse(message.id, A2aError(kExtendedAgentCardNotConfigured, "no extended agent card is configured"));
      break;
  }
  return reply;
}

// ---- Server --------------------------------------------------------------------------------

Result<ServerPtr> Server::Make(AgentExecutor& executor, session::SessionStore& store, ServerOptions options) {
  if (options.card.name.empty()) return InvalidArgument("the agent card needs a name", "card.name");
  if (options.scope.empty() || options.scope.find('/') != std::string::npos) {
    return InvalidArgument("must be non-empty and contain no '/'", "scope");
  }
  if (options.max_concurrent_tasks == 0) return InvalidArgument("must be positive", "max_concurrent_tasks");
  if (options.task_ttl.count() <= 0) return InvalidArgument("must be positive", "task_ttl");
  if (options.max_history == 0) return InvalidArgument("must be positive", "max_history");
  if (options.max_stream_backlog == 0) return InvalidArgument("must be positive", "max_stream_backlog");
  if (options.max_page_size == 0 || options.default_page_size == 0 || options.default_page_size > options.max_page_size) {
    return InvalidArgument("page sizes must be positive, default <= max", "default_page_size");
  }
  return ServerPtr(new Server(std::make_unique<Impl>(executor, store, std::move(options))));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { impl_->Shutdown(); }

Reply Server::Call(const jsonrpc::Message& message, const CallContext& context) {
  try {
    return impl_->Dispatch(message, context);
  } catch (const std::exception& e) {
    Reply r;
    r.response = jsonrpc::MakeErrorResponse(message.id, {jsonrpc::kInternalError, std::string("internal error: ") + e.what(), nullptr});
    return r;
  }
}

void Server::CallAsync(const jsonrpc::Message& message, const CallContext& context, std::function<void(Reply)> done) {
  Reply reply;
  try {
    reply = impl_->Dispatch(message, context, &done);
  } catch (const std::exception& e) {
    reply = Reply{};
    reply.response = jsonrpc::MakeErrorResponse(message.id, {jsonrpc::kInternalError, std::string("internal error: ") + e.what(), nullptr});
  }
  if (done) done(std::move(reply));  // not kept for later: answered now
}

Reply Server::CallText(std::string_view body, const CallContext& context) {
  jsonrpc::ParseResult parsed = jsonrpc::ParseMessage(body);
  if (!parsed.ok()) {
    Reply r;
    r.response = jsonrpc::MakeErrorResponse(parsed.id, parsed.error);
    return r;
  }
  return Call(*parsed.message, context);
}

const AgentCard& Server::card() const { return impl_->options_.card; }

json::value Server::CardJson(std::string_view endpoint_url) const { return CardToJson(impl_->options_.card, endpoint_url); }

Result<Task> Server::GetTask(std::string_view task_id, std::optional<std::size_t> history_length) {
  return impl_->CurrentTask(std::string(task_id), history_length);
}

std::size_t Server::ActiveTasks() const { return impl_->ActiveTasks(); }

void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace tuna::a2a
