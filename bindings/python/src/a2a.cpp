// tuna._tuna's A2A runtime half: a tuna::a2a::AgentExecutor whose Execute runs a Python handler
// (tuna.a2a), and the C++ A2A server (tuna::a2a::Server + HttpServer over a memory SessionStore)
// serving it. Python only runs the handler; JSON-RPC, SSE, tasks and both wire versions are C++.
//
// The GIL is taken only around Python calls: Execute takes it to start the handler (a sync
// handler runs to its end right there, on the server's executor thread; an async one is handed
// to the runtime's asyncio loop thread, and Execute waits without the GIL). Every EventQueue
// call from Python converts its Python arguments first, then releases the GIL for the C++ call.
// No C++ path takes the GIL while holding a lock of the server, so the two never deadlock.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <boost/json.hpp>
#include <pybind11/stl.h>

#include "common.hpp"
#include "tuna/a2a/http_server.hpp"
#include "tuna/a2a/server.hpp"
#include "tuna/session.hpp"

namespace tuna::python {
namespace {

namespace a2a = tuna::a2a;
namespace json = boost::json;
using namespace std::chrono_literals;

// ---- Python <-> C++ data model ------------------------------------------------------------

// The dataclasses of tuna.a2a.types, looked up once (with the GIL) and never freed: they live as
// long as the interpreter, and freeing them at exit would need the GIL.
struct PyTypes {
  py::object message;
  py::object part;
};

PyTypes& Types() {
  static PyTypes* types = [] {
    auto* t = new PyTypes;
    py::module_ m = py::module_::import("tuna.a2a.types");
    t->message = m.attr("Message");
    t->part = m.attr("Part");
    return t;
  }();
  return *types;
}

py::str Str(const std::string& s) { return py::str(s.data(), s.size()); }

py::object ObjectToPy(const json::object& o) {
  if (o.empty()) return py::dict();
  return ToPython(json::value(o));
}

json::object ObjectFromPy(py::handle h, const std::string& path) {
  if (h.is_none()) return {};
  if (py::isinstance<py::dict>(h) && py::len(h) == 0) return {};
  json::value v = FromPython(h, path);
  if (!v.is_object()) throw py::type_error(path + ": must be a dict");
  return std::move(v.as_object());
}

const char* RoleName(a2a::Role role) {
  switch (role) {
    case a2a::Role::kUser: return "user";
    case a2a::Role::kAgent: return "agent";
    default: return "";
  }
}

py::object PartToPy(const a2a::Part& p) {
  py::object none = py::none();
  py::object meta = ObjectToPy(p.metadata);
  py::str media = Str(p.media_type), file = Str(p.filename);
  switch (p.kind) {
    case a2a::Part::Kind::kText: return Types().part(Str(p.text), none, none, none, media, file, meta);
    case a2a::Part::Kind::kRaw: return Types().part(none, py::bytes(p.text), none, none, media, file, meta);
    case a2a::Part::Kind::kUrl: return Types().part(none, none, Str(p.text), none, media, file, meta);
    case a2a::Part::Kind::kData: return Types().part(none, none, none, ToPython(p.data), media, file, meta);
  }
  return none;
}

py::object MessageToPy(const a2a::Message& m) {
  py::list parts(m.parts.size());
  for (std::size_t i = 0; i < m.parts.size(); ++i) parts[i] = PartToPy(m.parts[i]);
  py::list refs(m.reference_task_ids.size());
  for (std::size_t i = 0; i < m.reference_task_ids.size(); ++i) refs[i] = Str(m.reference_task_ids[i]);
  return Types().message(parts, RoleName(m.role), Str(m.message_id), Str(m.context_id), Str(m.task_id),
                         ObjectToPy(m.metadata), refs);
}

std::string StrAttr(py::handle h, const char* name) {
  py::object v = h.attr(name);
  if (v.is_none()) return {};
  return v.cast<std::string>();
}

a2a::Part PartFromPy(py::handle h, const std::string& path) {
  if (py::isinstance<py::str>(h)) return a2a::Part::Text(h.cast<std::string>());
  a2a::Part p;
  if (py::object text = h.attr("text"); !text.is_none()) {
    p.kind = a2a::Part::Kind::kText;
    p.text = text.cast<std::string>();
  } else if (py::object raw = h.attr("raw"); !raw.is_none()) {
    p.kind = a2a::Part::Kind::kRaw;
    if (!py::isinstance<py::bytes>(raw) && !py::isinstance<py::bytearray>(raw)) {
      throw py::type_error(path + ".raw: must be bytes");
    }
    p.text = py::bytes(raw).cast<std::string>();
  } else if (py::object url = h.attr("url"); !url.is_none()) {
    p.kind = a2a::Part::Kind::kUrl;
    p.text = url.cast<std::string>();
  } else {
    p.kind = a2a::Part::Kind::kData;
    p.data = FromPython(h.attr("data"), path + ".data");
  }
  p.media_type = StrAttr(h, "media_type");
  p.filename = StrAttr(h, "filename");
  p.metadata = ObjectFromPy(h.attr("metadata"), path + ".metadata");
  return p;
}

std::vector<a2a::Part> PartsFromPy(py::handle parts, const std::string& path) {
  std::vector<a2a::Part> out;
  std::size_t i = 0;
  for (py::handle part : parts) {
    out.push_back(PartFromPy(part, path + "[" + std::to_string(i++) + "]"));
  }
  return out;
}

// A Message dataclass, or a str (one text part). The role defaults to agent.
a2a::Message MessageFromPy(py::handle h, const std::string& path) {
  if (py::isinstance<py::str>(h)) return a2a::Message::Text(a2a::Role::kAgent, h.cast<std::string>());
  a2a::Message m;
  std::string role = StrAttr(h, "role");
  m.role = role == "user" || role == "ROLE_USER" ? a2a::Role::kUser : a2a::Role::kAgent;
  m.parts = PartsFromPy(h.attr("parts"), path + ".parts");
  m.message_id = StrAttr(h, "message_id");
  m.context_id = StrAttr(h, "context_id");
  m.task_id = StrAttr(h, "task_id");
  m.metadata = ObjectFromPy(h.attr("metadata"), path + ".metadata");
  for (py::handle ref : h.attr("reference_task_ids")) m.reference_task_ids.push_back(ref.cast<std::string>());
  return m;
}

a2a::Artifact ArtifactFromPy(py::handle h) {
  a2a::Artifact a;
  a.parts = PartsFromPy(h.attr("parts"), "artifact.parts");
  a.artifact_id = StrAttr(h, "artifact_id");
  if (a.artifact_id.empty()) a.artifact_id = a2a::NewUuid();
  a.name = StrAttr(h, "name");
  a.description = StrAttr(h, "description");
  a.metadata = ObjectFromPy(h.attr("metadata"), "artifact.metadata");
  return a;
}

a2a::TaskState StateFromPy(const std::string& name) {
  auto state = a2a::ParseTaskState(name);
  if (!state || *state == a2a::TaskState::kUnspecified) throw py::value_error("unknown task state \"" + name + "\"");
  return *state;
}

// ---- one execution, as Python sees it -----------------------------------------------------

// The C++ side of one handler call (tuna.a2a's "sink"): what the request says, and the EventQueue
// to publish to while Execute runs. Python may keep a reference after Execute returned; then
// every publish is FailedPrecondition.
struct Call {
  std::string task_id;
  std::string context_id;

  std::mutex mu;
  std::condition_variable cv;
  const a2a::RequestContext* ctx = nullptr;  // null once Execute returned
  a2a::EventQueue* events = nullptr;         // null once Execute returned
  bool task_exists = false;                  // a task event was published (or the task is continued)
  bool finished = false;                     // the async handler is done (finish())
  bool cancel_requested = false;             // CancelTask reached this execution (Cancel hook)

  bool Cancelled() const { return ctx_token && ctx_token->cancelled(); }
  std::shared_ptr<const a2a::CancellationToken> ctx_token;

  // Runs `f(events)` without the GIL, under `mu` (Execute cannot return meanwhile).
  template <class F>
  void Publish(F&& f) {
    Status st;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu);
      if (events == nullptr) {
        st = FailedPrecondition("the handler of task " + task_id + " has returned: nothing more can be published");
      } else {
        st = f(*events);
      }
    }
    Check(st);
  }

  void PublishStatus(const std::string& state, py::handle message, py::handle metadata) {
    a2a::TaskState s = StateFromPy(state);
    std::optional<a2a::Message> m;
    if (!message.is_none()) m = MessageFromPy(message, "message");
    json::object meta = ObjectFromPy(metadata, "metadata");
    Publish([&](a2a::EventQueue& q) {
      auto st = q.UpdateStatus(s, std::move(m), std::move(meta));
      if (st.ok()) task_exists = true;
      return st;
    });
  }

  void PublishArtifact(py::handle artifact, bool append, bool last_chunk) {
    a2a::Artifact a = ArtifactFromPy(artifact);
    Publish([&](a2a::EventQueue& q) {
      auto st = q.UpdateArtifact(std::move(a), append, last_chunk);
      if (st.ok()) task_exists = true;
      return st;
    });
  }

  // The handler's answer: a direct message when no task exists yet, else the task completes with it.
  void PublishReply(py::handle message) {
    a2a::Message m = MessageFromPy(message, "message");
    Publish([&](a2a::EventQueue& q) {
      if (task_exists) return q.UpdateStatus(a2a::TaskState::kCompleted, std::move(m));
      return q.PublishMessage(std::move(m));
    });
  }

  // The request's data is copied under `mu` and converted after: Python code never runs while
  // `mu` is held (another thread holding the GIL may be waiting for `mu`).
  template <class T, class F>
  T CopyUnderLock(F&& f) {
    std::lock_guard<std::mutex> lock(mu);
    if (ctx == nullptr) throw py::value_error("the handler of task " + task_id + " has returned");
    return f(*ctx);
  }

  py::object MessagePy() {
    auto m = CopyUnderLock<a2a::Message>([](const a2a::RequestContext& c) { return c.message; });
    return MessageToPy(m);
  }

  py::list HistoryPy() {
    auto h = CopyUnderLock<std::vector<a2a::Message>>([](const a2a::RequestContext& c) { return c.history; });
    py::list out(h.size());
    for (std::size_t i = 0; i < h.size(); ++i) out[i] = MessageToPy(h[i]);
    return out;
  }

  py::object MetadataPy() {
    auto m = CopyUnderLock<json::object>([](const a2a::RequestContext& c) { return c.metadata; });
    return ObjectToPy(m);
  }

  py::object TaskStatePy() {
    auto state = CopyUnderLock<std::optional<a2a::TaskState>>([](const a2a::RequestContext& c) {
      return c.task ? std::optional<a2a::TaskState>(c.task->status.state) : std::nullopt;
    });
    if (!state) return py::none();
    return py::str(std::string(a2a::TaskStateName(*state, a2a::Version::kV0_3)));
  }

  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
    }
    cv.notify_all();
  }
};

// ---- the executor --------------------------------------------------------------------------

class PyExecutor final : public a2a::AgentExecutor {
 public:
  explicit PyExecutor(py::object dispatch) : dispatch_(std::move(dispatch)) {}

  ~PyExecutor() override {
    // Dropped with the GIL (the owner's destructor runs in Python's dealloc, GIL held).
    dispatch_ = py::object();
  }

  Status Execute(const a2a::RequestContext& ctx, a2a::EventQueue& events) override {
    auto call = std::make_shared<Call>();
    call->task_id = ctx.task_id;
    call->context_id = ctx.context_id;
    call->ctx = &ctx;
    call->events = &events;
    call->ctx_token = ctx.cancellation;
    call->task_exists = ctx.task.has_value();
    {
      std::lock_guard<std::mutex> lock(running_mu_);
      running_[ctx.task_id] = call;
    }
    Status result;
    PyObject* pending = nullptr;  // the async execution (its cancel()), owned; touched with the GIL only
    {
      py::gil_scoped_acquire gil;
      try {
        py::object r = dispatch_(call);
        if (!r.is_none()) pending = r.release().ptr();
      } catch (py::error_already_set& e) {
        result = Internal("the Python runtime failed: " + std::string(e.what()));
        e.restore();
        PyErr_Print();
      } catch (const std::exception& e) {
        result = Internal(std::string("the Python runtime failed: ") + e.what());
      }
    }
    if (pending != nullptr) {
      std::unique_lock<std::mutex> lock(call->mu);
      bool cancel_sent = false;
      while (!call->finished) {
        call->cv.wait_for(lock, 100ms);
        if (call->finished || cancel_sent || !(call->cancel_requested || call->Cancelled())) continue;
        cancel_sent = true;
        lock.unlock();
        {
          py::gil_scoped_acquire gil;
          try {
            py::handle(pending).attr("cancel")();
          } catch (py::error_already_set& e) {
            e.restore();
            PyErr_Print();
          }
        }
        lock.lock();
      }
    }
    {
      std::lock_guard<std::mutex> lock(call->mu);
      call->ctx = nullptr;
      call->events = nullptr;
    }
    {
      std::lock_guard<std::mutex> lock(running_mu_);
      if (auto it = running_.find(ctx.task_id); it != running_.end() && it->second.lock() == call) running_.erase(it);
    }
    if (pending != nullptr) {
      py::gil_scoped_acquire gil;
      Py_DECREF(pending);
    }
    return result;
  }

  // CancelTask: wake the waiting Execute (never takes the GIL here: the server may hold locks).
  void Cancel(const std::string& task_id) override {
    std::shared_ptr<Call> call;
    {
      std::lock_guard<std::mutex> lock(running_mu_);
      if (auto it = running_.find(task_id); it != running_.end()) call = it->second.lock();
    }
    if (!call) return;
    {
      std::lock_guard<std::mutex> lock(call->mu);
      call->cancel_requested = true;
    }
    call->cv.notify_all();
  }

 private:
  py::object dispatch_;
  std::mutex running_mu_;
  std::map<std::string, std::weak_ptr<Call>> running_;
};

// ---- the server ----------------------------------------------------------------------------

class PyServer {
 public:
  PyServer(py::object dispatch, py::handle card, std::size_t max_concurrent_tasks, std::size_t max_queued_tasks,
           double blocking_timeout, std::string public_url, std::vector<std::string> allowed_hosts,
           std::vector<std::string> allowed_origins, std::size_t io_threads, std::size_t worker_threads,
           std::size_t max_stored_tasks)
      : executor_(std::make_unique<PyExecutor>(std::move(dispatch))) {
    a2a::ServerOptions so;
    so.card = Unwrap(a2a::CardFromJson(FromPython(card, "card"), "card"));
    bool all_empty = true;
    for (const auto& i : so.card.supported_interfaces) all_empty = all_empty && i.url.empty();
    if (all_empty) so.card.supported_interfaces.clear();  // advertise 1.0 and 0.3 at the serving URL
    so.max_concurrent_tasks = max_concurrent_tasks;
    so.max_queued_tasks = max_queued_tasks;
    so.blocking_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(blocking_timeout * 1000));
    // A task takes three keys (the task, its history, its context index entry); beyond the bound
    // the oldest tasks are forgotten, so memory stays bounded under any load.
    store_ = Unwrap(session::MakeMemorySessionStore({.max_keys = 3 * max_stored_tasks}));
    server_ = Unwrap(a2a::Server::Make(*executor_, *store_, std::move(so)));
    a2a::HttpOptions ho;
    ho.rpc_path = "/";
    ho.public_url = std::move(public_url);
    ho.allowed_hosts = std::move(allowed_hosts);
    ho.allowed_origins = std::move(allowed_origins);
    a2a::HttpListenOptions lo;
    lo.io_threads = io_threads;
    lo.worker_threads = worker_threads;
    http_ = Unwrap(a2a::HttpServer::Make(*server_, std::move(ho), lo));
  }

  ~PyServer() {
    // Stopping joins executor threads that may be waiting for the GIL.
    py::gil_scoped_release release;
    Stop();
    http_.reset();
    server_.reset();
  }

  std::uint16_t Start(const std::string& host, std::uint16_t port) {
    Check(Blocking([&] { return http_->Start(host, port); }));
    return http_->port();
  }

  void Stop() {
    if (http_) http_->Stop();
    if (server_) server_->Shutdown();
  }

  void StopPy() {
    py::gil_scoped_release release;
    Stop();
  }

  // One JSON-RPC message in, its JSON answer out (no HTTP): for tests and embedding. A streaming
  // method answers with every event, one JSON-RPC response per line.
  std::string Handle(const std::string& body) {
    py::gil_scoped_release release;
    a2a::Reply reply = server_->CallText(body);
    if (!reply.stream) return json::serialize(reply.response);
    struct Collected {
      std::mutex mu;
      std::condition_variable cv;
      std::string out;
      bool done = false;
    };
    auto c = std::make_shared<Collected>();
    reply.stream->Attach(
        [c](const json::value& v) {
          std::lock_guard<std::mutex> lock(c->mu);
          c->out += json::serialize(v);
          c->out += '\n';
          return true;
        },
        [c] {
          {
            std::lock_guard<std::mutex> lock(c->mu);
            c->done = true;
          }
          c->cv.notify_all();
        });
    std::unique_lock<std::mutex> lock(c->mu);
    c->cv.wait(lock, [&] { return c->done; });
    return c->out;
  }

  py::object Card(const std::string& url) const { return ToPython(server_->CardJson(url)); }
  std::uint16_t port() const { return http_->port(); }
  std::size_t active() const { return server_->ActiveTasks(); }

 private:
  std::unique_ptr<PyExecutor> executor_;
  session::SessionStorePtr store_;
  a2a::ServerPtr server_;
  a2a::HttpServerPtr http_;
};

}  // namespace

void BindA2a(py::module_& m) {
  py::class_<Call, std::shared_ptr<Call>>(m, "A2ACall",
                                         "One handler call inside the C++ A2A server (tuna.a2a's sink; internal).")
      .def_readonly("task_id", &Call::task_id)
      .def_readonly("context_id", &Call::context_id)
      .def_property_readonly("task_exists", [](Call& c) {
        std::lock_guard<std::mutex> lock(c.mu);
        return c.task_exists;
      })
      .def_property_readonly("message", &Call::MessagePy)
      .def_property_readonly("history", &Call::HistoryPy)
      .def_property_readonly("metadata", &Call::MetadataPy)
      .def_property_readonly("task_state", &Call::TaskStatePy)
      .def("cancelled", &Call::Cancelled)
      .def("status", &Call::PublishStatus, py::arg("state"), py::arg("message") = py::none(), py::arg("metadata") = py::none())
      .def("artifact", &Call::PublishArtifact, py::arg("artifact"), py::arg("append") = false, py::arg("last_chunk") = true)
      .def("reply", &Call::PublishReply, py::arg("message"))
      .def("finish", &Call::Finish);

  py::class_<PyServer>(m, "A2AServer", "tuna::a2a::Server + HttpServer running a Python dispatcher (internal).")
      .def(py::init<py::object, py::handle, std::size_t, std::size_t, double, std::string, std::vector<std::string>,
                    std::vector<std::string>, std::size_t, std::size_t, std::size_t>(),
           py::arg("dispatch"), py::arg("card"), py::arg("max_concurrent_tasks") = 16, py::arg("max_queued_tasks") = 256,
           py::arg("blocking_timeout") = 50.0, py::arg("public_url") = "",
           py::arg("allowed_hosts") = std::vector<std::string>{}, py::arg("allowed_origins") = std::vector<std::string>{},
           py::arg("io_threads") = 2, py::arg("worker_threads") = 8, py::arg("max_stored_tasks") = 10000)
      .def("start", &PyServer::Start, py::arg("host"), py::arg("port"))
      .def("stop", &PyServer::StopPy)
      .def("handle", &PyServer::Handle, py::arg("body"))
      .def("card", &PyServer::Card, py::arg("url"))
      .def_property_readonly("port", &PyServer::port)
      .def_property_readonly("active_tasks", &PyServer::active);
}

}  // namespace tuna::python
