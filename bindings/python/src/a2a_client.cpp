// tuna._tuna.A2aClient and A2aStream: tuna::a2a::Client (tuna/a2a/client.hpp) with the GIL
// released around every network call. Messages go in and events come out as dicts in the A2A 1.0
// JSON shape, whatever wire version the agent speaks: a Message {"messageId", "role":
// "ROLE_USER", "parts": [{"text": ...}], "contextId"?, "taskId"?}; events {"task": ...},
// {"message": ...}, {"statusUpdate": ...} or {"artifactUpdate": ...}.

#include <pybind11/stl.h>

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common.hpp"
#include "tuna/a2a/client.hpp"

namespace tuna::python {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;


a2a::Headers Headers(const std::map<std::string, std::string>& headers) {
  a2a::Headers out;
  for (const auto& [k, v] : headers) {
    if (k.empty() || k.find_first_of(":\r\n ") != std::string::npos) Throw(InvalidArgument("headers: invalid header name \"" + k + "\""));
    if (v.find_first_of("\r\n") != std::string::npos) Throw(InvalidArgument("headers: the value of " + k + " has a line break"));
    out.emplace_back(k, v);
  }
  return out;
}

std::optional<a2a::Version> VersionFrom(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  auto v = a2a::ParseVersion(*text);
  if (!v) Throw(InvalidArgument("version: \"" + *text + "\" is not an A2A version tuna speaks (1.0 or 0.3)", "version"));
  return v;
}

a2a::Message MessageFrom(py::handle message) {
  json::value v = FromPython(message, "message");
  auto m = a2a::MessageFromJson(v, a2a::Version::kV1_0, "message");
  if (!m.ok()) {
    // The decoder puts the path in field(); the Python message should name it too.
    const Status& s = m.status();
    if (!s.field().empty() && s.message().rfind(s.field(), 0) != 0) Throw(Status(s.code(), s.field() + ": " + s.message(), s.field()));
    Throw(s);
  }
  return std::move(m).value();
}

json::value EventJson(const a2a::StreamEvent& e) { return a2a::StreamEventToJson(e, a2a::Version::kV1_0); }

// One event stream (SendStreamingMessage or SubscribeToTask): the call runs on its own thread
// and hands events over through a bounded queue that Python drains with next().
class PyA2aStream {
 public:
  using Runner = std::function<Status(const a2a::EventCallback&, const a2a::CallOptions&)>;

  PyA2aStream(Runner run, a2a::CallOptions call) : cancel_(std::make_shared<a2a::CancellationToken>()) {
    call.cancel = cancel_;
    thread_ = std::thread([this, run = std::move(run), call = std::move(call)] {
      Status s = run(
          [this](const a2a::StreamEvent& e) {
            json::value v = EventJson(e);
            std::unique_lock lock(mu_);
            space_.wait(lock, [&] { return queue_.size() < kMaxQueued || stopped_; });
            if (stopped_) return false;
            queue_.push_back(std::move(v));
            ready_.notify_all();
            return true;
          },
          call);
      std::lock_guard lock(mu_);
      done_ = true;
      result_ = std::move(s);
      ready_.notify_all();
    });
  }
  PyA2aStream(const PyA2aStream&) = delete;
  PyA2aStream& operator=(const PyA2aStream&) = delete;
  ~PyA2aStream() {
    Stop();
    if (thread_.joinable()) {
      if (Py_IsInitialized() && PyGILState_Check()) {
        py::gil_scoped_release release;
        thread_.join();
      } else {
        thread_.join();
      }
    }
  }

  /// The next event; None when `timeout` seconds pass first; StopIteration at the end of the
  /// stream; the stream's error as a tuna exception.
  py::object Next(std::optional<double> timeout) {
    auto deadline = timeout ? std::chrono::steady_clock::now() + milliseconds(static_cast<long long>(*timeout * 1000.0))
                            : std::chrono::steady_clock::time_point::max();
    while (true) {
      std::optional<json::value> event;
      bool finished = false;
      {
        py::gil_scoped_release release;
        std::unique_lock lock(mu_);
        // Wake up now and then so Ctrl-C (a pending signal) is noticed.
        auto until = std::min(deadline, std::chrono::steady_clock::now() + milliseconds(100));
        ready_.wait_until(lock, until, [&] { return !queue_.empty() || done_; });
        if (!queue_.empty()) {
          event = std::move(queue_.front());
          queue_.pop_front();
          space_.notify_all();
        } else if (done_) {
          finished = true;
        }
      }
      if (event) return ToPython(*event);
      if (finished) {
        Status s;
        {
          std::lock_guard lock(mu_);
          s = result_;
          if (stopped_ && s.code() == StatusCode::kCancelled) s = Status::Ok();  // close() asked for it
        }
        Check(s);
        throw py::stop_iteration();
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (std::chrono::steady_clock::now() >= deadline) return py::none();
    }
  }

  /// Ends the stream (from any thread): the HTTP request is aborted; the task itself goes on
  /// (cancel it with A2aClient.cancel_task).
  void Stop() {
    cancel_->Cancel();
    std::lock_guard lock(mu_);
    stopped_ = true;
    queue_.clear();
    space_.notify_all();
  }

  void Close() {
    Stop();
    py::gil_scoped_release release;
    if (thread_.joinable()) thread_.join();
  }

 private:
  static constexpr std::size_t kMaxQueued = 1024;
  std::shared_ptr<a2a::CancellationToken> cancel_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<json::value> queue_;
  bool stopped_ = false;
  bool done_ = false;
  Status result_;
  std::thread thread_;
};

class PyA2aClient {
 public:
  /// `card`: fetch the agent card at <url>/.well-known/agent-card.json and use its JSON-RPC
  /// interface; otherwise `url` is the JSON-RPC endpoint itself (version 1.0 unless given).
  PyA2aClient(const std::string& url, std::map<std::string, std::string> headers, std::optional<std::string> version,
              bool card, double timeout, double connect_timeout) {
    a2a::ClientOptions o;
    o.version = VersionFrom(version);
    o.headers = Headers(headers);
    o.timeout = SecondsArg(timeout, "timeout");
    o.connect_timeout = SecondsArg(connect_timeout, "connect_timeout");
    const a2a::Version endpoint_version = o.version.value_or(a2a::Version::kV1_0);
    Result<a2a::ClientPtr> made = Status(StatusCode::kInternal, "unreachable");
    {
      py::gil_scoped_release release;
      made = card ? a2a::Client::Connect(url, std::move(o)) : a2a::Client::ForEndpoint(url, endpoint_version, std::move(o));
    }
    client_ = std::shared_ptr<a2a::Client>(Unwrap(std::move(made)).release());
  }

  py::object Card() const {
    const auto& card = client_->card();
    if (!card) return py::none();
    return ToPython(a2a::CardToJson(*card, client_->endpoint()));
  }
  std::string Version() const { return std::string(a2a::VersionName(client_->version())); }
  std::string Endpoint() const { return client_->endpoint(); }

  py::dict Send(py::handle message, bool blocking, std::optional<std::size_t> history_length,
                std::vector<std::string> accepted_output_modes, py::handle metadata, std::map<std::string, std::string> headers) {
    a2a::Message m = MessageFrom(message);
    a2a::SendOptions send = SendOpts(blocking, history_length, std::move(accepted_output_modes), metadata);
    a2a::CallOptions call{.headers = Headers(headers)};
    auto event = Unwrap(Blocking([&] { return client_->SendMessage(m, send, call); }));
    return ToPython(EventJson(event));
  }

  std::unique_ptr<PyA2aStream> Stream(py::handle message, std::optional<std::size_t> history_length,
                                      std::vector<std::string> accepted_output_modes, py::handle metadata,
                                      std::map<std::string, std::string> headers) {
    a2a::Message m = MessageFrom(message);
    a2a::SendOptions send = SendOpts(true, history_length, std::move(accepted_output_modes), metadata);
    auto client = client_;
    return std::make_unique<PyA2aStream>(
        [client, m = std::move(m), send = std::move(send)](const a2a::EventCallback& cb, const a2a::CallOptions& call) {
          return client->SendStreamingMessage(m, cb, send, call);
        },
        a2a::CallOptions{.headers = Headers(headers)});
  }

  std::unique_ptr<PyA2aStream> Subscribe(const std::string& task_id, std::map<std::string, std::string> headers) {
    auto client = client_;
    return std::make_unique<PyA2aStream>(
        [client, task_id](const a2a::EventCallback& cb, const a2a::CallOptions& call) {
          return client->SubscribeToTask(task_id, cb, call);
        },
        a2a::CallOptions{.headers = Headers(headers)});
  }

  py::dict GetTask(const std::string& task_id, std::optional<std::size_t> history_length, std::map<std::string, std::string> headers) {
    a2a::CallOptions call{.headers = Headers(headers)};
    auto task = Unwrap(Blocking([&] { return client_->GetTask(task_id, history_length, call); }));
    return ToPython(a2a::ToJson(task, a2a::Version::kV1_0));
  }

  py::dict CancelTask(const std::string& task_id, std::map<std::string, std::string> headers) {
    a2a::CallOptions call{.headers = Headers(headers)};
    auto task = Unwrap(Blocking([&] { return client_->CancelTask(task_id, call); }));
    return ToPython(a2a::ToJson(task, a2a::Version::kV1_0));
  }

  py::dict ListTasks(const std::string& context_id, std::optional<std::string> status, std::optional<std::size_t> page_size,
                     const std::string& page_token, std::optional<std::size_t> history_length, bool include_artifacts,
                     std::map<std::string, std::string> headers) {
    a2a::ListTasksRequest req;
    req.context_id = context_id;
    if (status) {
      req.status = a2a::ParseTaskState(*status);
      if (!req.status) Throw(InvalidArgument("status: \"" + *status + "\" is not a task state", "status"));
    }
    req.page_size = page_size;
    req.page_token = page_token;
    req.history_length = history_length;
    req.include_artifacts = include_artifacts;
    a2a::CallOptions call{.headers = Headers(headers)};
    auto page = Unwrap(Blocking([&] { return client_->ListTasks(req, call); }));
    py::list tasks;
    for (const auto& t : page.tasks) tasks.append(ToPython(a2a::ToJson(t, a2a::Version::kV1_0)));
    py::dict out;
    out["tasks"] = tasks;
    out["nextPageToken"] = page.next_page_token;
    out["totalSize"] = page.total_size;
    return out;
  }

 private:
  static a2a::SendOptions SendOpts(bool blocking, std::optional<std::size_t> history_length, std::vector<std::string> modes,
                                   py::handle metadata) {
    a2a::SendOptions send;
    send.blocking = blocking;
    send.history_length = history_length;
    send.accepted_output_modes = std::move(modes);
    if (!metadata.is_none()) {
      json::value v = FromPython(metadata, "metadata");
      if (!v.is_object()) Throw(InvalidArgument("metadata: must be a dict", "metadata"));
      send.metadata = std::move(v.as_object());
    }
    return send;
  }

  std::shared_ptr<a2a::Client> client_;
};

using StringMap = std::map<std::string, std::string>;

}  // namespace

void BindA2aClient(py::module_& m) {
  py::class_<PyA2aStream>(m, "A2aStream", "The events of a streaming A2A call (use tuna.agents.Agents.stream).")
      .def("next", &PyA2aStream::Next, py::arg("timeout") = py::none(),
           "The next event (a dict); None after `timeout` seconds; StopIteration at the end.")
      .def("stop", &PyA2aStream::Stop, "Ends the stream; safe from any thread. The task itself goes on.")
      .def("close", &PyA2aStream::Close, "Ends the stream and waits for its thread.");

  py::class_<PyA2aClient>(m, "A2aClient",
                          "tuna::a2a::Client over the JSON-RPC binding (use tuna.agents.Agents). Every call "
                          "releases the GIL.")
      .def(py::init<const std::string&, StringMap, std::optional<std::string>, bool, double, double>(), py::arg("url"),
           py::arg("headers") = StringMap{}, py::arg("version") = py::none(), py::arg("card") = true,
           py::arg("timeout") = 120.0, py::arg("connect_timeout") = 10.0)
      .def_property_readonly("card", &PyA2aClient::Card)
      .def_property_readonly("version", &PyA2aClient::Version)
      .def_property_readonly("endpoint", &PyA2aClient::Endpoint)
      .def("send", &PyA2aClient::Send, py::arg("message"), py::arg("blocking") = true, py::arg("history_length") = py::none(),
           py::arg("accepted_output_modes") = std::vector<std::string>{}, py::arg("metadata") = py::none(),
           py::arg("headers") = StringMap{})
      .def("stream", &PyA2aClient::Stream, py::arg("message"), py::arg("history_length") = py::none(),
           py::arg("accepted_output_modes") = std::vector<std::string>{}, py::arg("metadata") = py::none(),
           py::arg("headers") = StringMap{})
      .def("subscribe", &PyA2aClient::Subscribe, py::arg("task_id"), py::arg("headers") = StringMap{})
      .def("get_task", &PyA2aClient::GetTask, py::arg("task_id"), py::arg("history_length") = py::none(),
           py::arg("headers") = StringMap{})
      .def("cancel_task", &PyA2aClient::CancelTask, py::arg("task_id"), py::arg("headers") = StringMap{})
      .def("list_tasks", &PyA2aClient::ListTasks, py::arg("context_id") = "", py::arg("status") = py::none(),
           py::arg("page_size") = py::none(), py::arg("page_token") = "", py::arg("history_length") = py::none(),
           py::arg("include_artifacts") = false, py::arg("headers") = StringMap{});
}

}  // namespace tuna::python
