// tuna._tuna.Client and Watch: tuna::Client with the GIL released around every network call.

#include <pybind11/stl.h>

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common.hpp"
#include "tuna/client.hpp"
#include "tuna/version.hpp"

namespace tuna::python {
namespace {

using std::chrono::milliseconds;

milliseconds Millis(double seconds) { return milliseconds(static_cast<long long>(seconds * 1000.0)); }

ObjectKey Key(std::string kind, std::string ns, std::string name) {
  return {std::move(kind), std::move(ns), std::move(name)};
}

py::dict ListToPython(const ResourceList& list) {
  py::list items;
  for (const auto& r : list.items) items.append(ResourceToPython(r));
  py::dict out;
  out["items"] = items;
  out["resourceVersion"] = list.resource_version;
  out["continue"] = list.continue_token;
  return out;
}

// One watch stream: tuna::Client::Watch runs on its own thread (it blocks, calling back per
// event) and hands events over through a bounded queue that Python drains with next().
class PyWatch {
 public:
  PyWatch(std::shared_ptr<Client> client, WatchOptions options, std::chrono::seconds server_timeout)
      : client_(std::move(client)) {
    thread_ = std::thread([this, options = std::move(options), server_timeout] {
      Status s = client_->Watch(
          options,
          [this](const WatchEvent& e) {
            std::unique_lock lock(mu_);
            space_.wait(lock, [&] { return queue_.size() < kMaxQueued || stopped_; });
            if (stopped_) return false;
            queue_.push_back(e);
            ready_.notify_all();
            return true;
          },
          {.timeout = server_timeout, .cancel = &cancel_});
      std::lock_guard lock(mu_);
      done_ = true;
      result_ = std::move(s);
      ready_.notify_all();
    });
  }
  PyWatch(const PyWatch&) = delete;
  PyWatch& operator=(const PyWatch&) = delete;
  ~PyWatch() {
    Stop();
    if (thread_.joinable()) thread_.join();
  }

  /// The next event as (type, object); None when `timeout` (seconds) passes first; raises
  /// StopIteration at the end of the stream, or the stream's error.
  py::object Next(std::optional<double> timeout) {
    auto deadline = timeout ? std::chrono::steady_clock::now() + Millis(*timeout)
                            : std::chrono::steady_clock::time_point::max();
    while (true) {
      std::optional<WatchEvent> event;
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
      if (event) {
        return py::make_tuple(std::string(WatchEventTypeName(event->type)), ResourceToPython(event->object));
      }
      if (finished) {
        Status s;
        {
          std::lock_guard lock(mu_);
          s = result_;
          // A stop we asked for ends the stream cleanly.
          if (stopped_ && s.code() == StatusCode::kCancelled) s = Status::Ok();
        }
        Check(s);
        throw py::stop_iteration();
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (std::chrono::steady_clock::now() >= deadline) return py::none();
    }
  }

  /// Ends the stream (from any thread); next() then drains nothing more and stops.
  void Stop() {
    cancel_.Cancel();
    std::lock_guard lock(mu_);
    stopped_ = true;
    queue_.clear();
    space_.notify_all();
  }

  /// Stops and waits for the stream's thread (the GIL is released meanwhile).
  void Close() {
    Stop();
    py::gil_scoped_release release;
    if (thread_.joinable()) thread_.join();
  }

 private:
  static constexpr std::size_t kMaxQueued = 1024;
  std::shared_ptr<Client> client_;
  CancelToken cancel_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<WatchEvent> queue_;
  bool stopped_ = false;
  bool done_ = false;
  Status result_;
  std::thread thread_;
};

class PyClient {
 public:
  PyClient(std::string server, std::string token, double timeout, double connect_timeout, std::string user_agent) {
    ClientOptions o;
    o.server = std::move(server);
    o.token = std::move(token);
    o.timeout = Millis(timeout);
    o.connect_timeout = Millis(connect_timeout);
    o.user_agent = user_agent.empty() ? "tuna-python/" + std::string(TUNA_VERSION) : std::move(user_agent);
    client_ = Unwrap(Client::Make(std::move(o)));
  }

  std::string server() const { return client_->server(); }

  py::object Get(std::string kind, std::string ns, std::string name) {
    auto key = Key(std::move(kind), std::move(ns), std::move(name));
    return ResourceToPython(Unwrap(Blocking([&] { return client_->Get(key); })));
  }

  py::dict List(std::string kind, std::string ns, std::string selector, std::int64_t limit, std::string cont, bool all) {
    ListOptions o{std::move(kind), std::move(ns), std::move(selector), limit, std::move(cont)};
    auto list = Unwrap(Blocking([&] { return all ? client_->ListAll(o) : client_->List(o); }));
    return ListToPython(list);
  }

  py::object Create(py::handle obj, bool dry_run) {
    Resource r = ResourceFromPython(obj);
    return ResourceToPython(Unwrap(Blocking([&] { return client_->Create(r, {dry_run}); })));
  }

  py::object Update(py::handle obj, bool status, bool dry_run) {
    Resource r = ResourceFromPython(obj);
    return ResourceToPython(Unwrap(Blocking([&] {
      return status ? client_->UpdateStatus(r, {dry_run}) : client_->Update(r, {dry_run});
    })));
  }

  py::object Patch(std::string kind, std::string ns, std::string name, py::handle patch, bool status, bool dry_run) {
    auto key = Key(std::move(kind), std::move(ns), std::move(name));
    std::string body = py::isinstance<py::str>(patch) ? patch.cast<std::string>()
                                                       : boost::json::serialize(FromPython(patch));
    auto sub = status ? Subresource::kStatus : Subresource::kMain;
    return ResourceToPython(Unwrap(Blocking([&] { return client_->Patch(key, body, sub, {dry_run}); })));
  }

  py::object Delete(std::string kind, std::string ns, std::string name, std::string rv, std::string uid) {
    auto key = Key(std::move(kind), std::move(ns), std::move(name));
    DeleteOptions o{std::move(rv), std::move(uid)};
    return ResourceToPython(Unwrap(Blocking([&] { return client_->Delete(key, o); })));
  }

  std::unique_ptr<PyWatch> Watch(std::string kind, std::string ns, std::string name, std::string selector,
                                 std::string rv, bool initial, double server_timeout) {
    WatchOptions o;
    o.kind = std::move(kind);
    o.namespace_ = std::move(ns);
    o.name = std::move(name);
    o.label_selector = std::move(selector);
    o.resource_version = std::move(rv);
    o.send_initial_events = initial;
    return std::make_unique<PyWatch>(client_, std::move(o),
                                     std::chrono::seconds(static_cast<long long>(server_timeout)));
  }

  py::list Events(std::string kind, std::string ns, std::string name) {
    auto key = Key(std::move(kind), std::move(ns), std::move(name));
    auto events = Unwrap(Blocking([&] { return client_->ListEvents(key); }));
    py::list out;
    for (const auto& e : events) {
      py::dict d;
      d["type"] = e.type;
      d["reason"] = e.reason;
      d["message"] = e.message;
      d["count"] = e.count;
      d["firstTimestamp"] = e.first_timestamp;
      d["lastTimestamp"] = e.last_timestamp;
      out.append(d);
    }
    return out;
  }

  py::dict BuildLog(std::string kind, std::string ns, std::string name, std::size_t offset) {
    auto key = Key(std::move(kind), std::move(ns), std::move(name));
    auto chunk = Unwrap(Blocking([&] { return client_->ReadBuildLog(key, offset); }));
    py::dict d;
    d["text"] = py::bytes(chunk.text).attr("decode")("utf-8", "replace");
    d["nextOffset"] = chunk.next_offset;
    d["complete"] = chunk.complete;
    d["phase"] = chunk.phase;
    return d;
  }

  py::str DeploymentLogs(std::string kind, std::string ns, std::string name, std::string stage, std::size_t tail_bytes) {
    auto key = Key(std::move(kind), std::move(ns), std::move(name));
    auto text = Unwrap(Blocking([&] { return client_->ReadDeploymentLogs(key, stage, tail_bytes); }));
    return py::bytes(text).attr("decode")("utf-8", "replace");
  }

  std::string UploadArtifact(const py::bytes& data) {
    std::string bytes = data;
    return Unwrap(Blocking([&] { return client_->UploadArtifact(bytes); }));
  }

  static py::dict RepositoryToPython(const RepositoryInfo& repo) {
    py::dict d;
    d["name"] = repo.name;
    d["namespace"] = repo.namespace_;
    d["url"] = repo.url;
    return d;
  }

  py::dict CreateRepository(std::string ns, std::string name) {
    return RepositoryToPython(Unwrap(Blocking([&] { return client_->CreateRepository(ns, name); })));
  }

  py::list ListRepositories(std::string ns) {
    auto repos = Unwrap(Blocking([&] { return client_->ListRepositories(ns); }));
    py::list out;
    for (const auto& repo : repos) out.append(RepositoryToPython(repo));
    return out;
  }

  void DeleteRepository(std::string ns, std::string name) {
    Check(Blocking([&] { return client_->DeleteRepository(ns, name); }));
  }

  py::list Discovery() {
    auto kinds = Unwrap(Blocking([&] { return client_->Discovery(); }));
    py::list out;
    for (const auto& k : kinds) {
      py::dict d;
      d["kind"] = k.kind;
      d["plural"] = k.name;
      d["singular"] = k.singular_name;
      d["short_names"] = k.short_names;
      d["namespaced"] = k.namespaced;
      out.append(d);
    }
    return out;
  }

  std::string Version() { return Unwrap(Blocking([&] { return client_->Version(); })); }
  void Health() { Check(Blocking([&] { return client_->Health(); })); }

 private:
  std::shared_ptr<Client> client_;
};

}  // namespace

void BindClient(py::module_& m) {
  py::class_<PyWatch>(m, "Watch", "A watch stream; see tuna.Client.watch.")
      .def("next", &PyWatch::Next, py::arg("timeout") = py::none(),
           "The next event as (type, object); None after `timeout` seconds; StopIteration at the end.")
      .def("stop", &PyWatch::Stop, "Ends the stream; safe from any thread.")
      .def("close", &PyWatch::Close, "Ends the stream and waits for its thread.");

  py::class_<PyClient>(m, "Client", "tuna::Client (use tuna.Client, which adds configuration and apply).")
      .def(py::init<std::string, std::string, double, double, std::string>(), py::arg("server"),
           py::arg("token") = "", py::arg("timeout") = 30.0, py::arg("connect_timeout") = 5.0,
           py::arg("user_agent") = "")
      .def_property_readonly("server", &PyClient::server)
      .def("get", &PyClient::Get, py::arg("kind"), py::arg("namespace"), py::arg("name"))
      .def("list", &PyClient::List, py::arg("kind"), py::arg("namespace") = "", py::arg("label_selector") = "",
           py::arg("limit") = 0, py::arg("continue_token") = "", py::arg("all_pages") = true)
      .def("create", &PyClient::Create, py::arg("obj"), py::arg("dry_run") = false)
      .def("update", &PyClient::Update, py::arg("obj"), py::arg("status") = false, py::arg("dry_run") = false)
      .def("patch", &PyClient::Patch, py::arg("kind"), py::arg("namespace"), py::arg("name"), py::arg("patch"),
           py::arg("status") = false, py::arg("dry_run") = false)
      .def("delete", &PyClient::Delete, py::arg("kind"), py::arg("namespace"), py::arg("name"),
           py::arg("resource_version") = "", py::arg("uid") = "")
      .def("watch", &PyClient::Watch, py::arg("kind"), py::arg("namespace") = "", py::arg("name") = "",
           py::arg("label_selector") = "", py::arg("resource_version") = "", py::arg("send_initial_events") = true,
           py::arg("server_timeout") = 0.0)
      .def("events", &PyClient::Events, py::arg("kind"), py::arg("namespace"), py::arg("name"))
      .def("build_log", &PyClient::BuildLog, py::arg("kind"), py::arg("namespace"), py::arg("name"),
           py::arg("offset") = 0)
      .def("deployment_logs", &PyClient::DeploymentLogs, py::arg("kind"), py::arg("namespace"), py::arg("name"),
           py::arg("stage"), py::arg("tail_bytes") = 65536)
      .def("upload_artifact", &PyClient::UploadArtifact, py::arg("data"))
      .def("create_repository", &PyClient::CreateRepository, py::arg("namespace"), py::arg("name"))
      .def("list_repositories", &PyClient::ListRepositories, py::arg("namespace"))
      .def("delete_repository", &PyClient::DeleteRepository, py::arg("namespace"), py::arg("name"))
      .def("discovery", &PyClient::Discovery)
      .def("version", &PyClient::Version)
      .def("health", &PyClient::Health);
}

}  // namespace tuna::python
