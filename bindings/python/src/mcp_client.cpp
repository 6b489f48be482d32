// tuna._tuna.McpClient: tuna::mcp::Client over Streamable HTTP (tuna/mcp/client.hpp), with the
// GIL released around every network call. Results are plain dicts in the protocol's JSON shape.

#include <pybind11/stl.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include "common.hpp"
#include "tuna/mcp/client.hpp"
#include "tuna/version.hpp"

namespace tuna::python {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;


std::vector<mcp::Header> Headers(const std::map<std::string, std::string>& headers) {
  std::vector<mcp::Header> out;
  for (const auto& [k, v] : headers) {
    if (k.empty() || k.find_first_of(":\r\n ") != std::string::npos) Throw(InvalidArgument("headers: invalid header name \"" + k + "\""));
    if (v.find_first_of("\r\n") != std::string::npos) Throw(InvalidArgument("headers: the value of " + k + " has a line break"));
    out.emplace_back(k, v);
  }
  return out;
}

class PyMcpClient {
 public:
  PyMcpClient(std::string url, std::map<std::string, std::string> headers, double timeout, double connect_timeout,
              std::string client_name, bool event_stream) {
    mcp::HttpTransportOptions t;
    t.url = std::move(url);
    t.headers = Headers(headers);
    t.connect_timeout = SecondsArg(connect_timeout, "connect_timeout");
    t.open_event_stream = event_stream;
    url_ = t.url;
    auto transport = Unwrap(mcp::MakeHttpTransport(std::move(t)));
    mcp::ClientOptions o;
    o.name = client_name.empty() ? "tuna-python" : std::move(client_name);
    o.version = TUNA_VERSION;
    o.request_timeout = SecondsArg(timeout, "timeout");
    client_ = mcp::Client::Make(std::move(transport), std::move(o));
  }
  PyMcpClient(const PyMcpClient&) = delete;
  PyMcpClient& operator=(const PyMcpClient&) = delete;

  ~PyMcpClient() {
    // Closing may send DELETE for the session: not with the GIL held when it can be released.
    if (Py_IsInitialized() && PyGILState_Check()) {
      py::gil_scoped_release release;
      client_.reset();
    } else {
      client_.reset();
    }
  }

  const std::string& url() const { return url_; }

  py::dict Initialize(std::optional<double> timeout) {
    auto opts = Options(timeout);
    Check(Blocking([&] { return EnsureInitialized(opts); }));
    return ServerInfo();
  }

  py::dict ServerInfo() {
    mcp::ServerInfo info = Session().server_info();
    py::dict d;
    d["protocolVersion"] = info.protocol_version;
    d["capabilities"] = ToPython(info.capabilities);
    d["serverInfo"] = ToPython(info.server_info);
    d["instructions"] = info.instructions;
    return d;
  }

  bool initialized() const { return initialized_.load(); }

  void Ping(std::optional<double> timeout) {
    auto opts = Options(timeout);
    Check(Blocking([&]() -> Status {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().Ping(opts);
    }));
  }

  py::list ListTools(std::optional<double> timeout) {
    auto opts = Options(timeout);
    auto tools = Unwrap(Blocking([&]() -> Result<std::vector<mcp::ToolInfo>> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().ListTools(opts);
    }));
    py::list out;
    for (const auto& t : tools) out.append(ToPython(t.raw));
    return out;
  }

  py::dict CallTool(const std::string& name, py::handle arguments, std::optional<double> timeout) {
    json::object args;
    if (!arguments.is_none()) {
      json::value v = FromPython(arguments, "arguments");
      if (!v.is_object()) Throw(InvalidArgument("arguments: must be a dict"));
      args = std::move(v.as_object());
    }
    auto opts = Options(timeout);
    auto result = Unwrap(Blocking([&]() -> Result<mcp::ToolResult> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().CallTool(name, std::move(args), opts);
    }));
    return ToPython(result.ToJson());
  }

  py::list ListResources(std::optional<double> timeout) {
    auto opts = Options(timeout);
    auto items = Unwrap(Blocking([&]() -> Result<std::vector<mcp::ResourceInfo>> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().ListResources(opts);
    }));
    py::list out;
    for (const auto& r : items) out.append(ToPython(r.raw));
    return out;
  }

  py::list ListResourceTemplates(std::optional<double> timeout) {
    auto opts = Options(timeout);
    auto items = Unwrap(Blocking([&]() -> Result<std::vector<mcp::ResourceTemplateInfo>> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().ListResourceTemplates(opts);
    }));
    py::list out;
    for (const auto& r : items) out.append(ToPython(r.raw));
    return out;
  }

  py::list ReadResource(const std::string& uri, std::optional<double> timeout) {
    auto opts = Options(timeout);
    auto contents = Unwrap(Blocking([&]() -> Result<std::vector<mcp::ResourceContents>> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().ReadResource(uri, opts);
    }));
    py::list out;
    for (const auto& c : contents) out.append(ToPython(c.ToJson()));
    return out;
  }

  py::list ListPrompts(std::optional<double> timeout) {
    auto opts = Options(timeout);
    auto items = Unwrap(Blocking([&]() -> Result<std::vector<mcp::PromptInfo>> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().ListPrompts(opts);
    }));
    py::list out;
    for (const auto& p : items) out.append(ToPython(p.raw));
    return out;
  }

  py::dict GetPrompt(const std::string& name, std::map<std::string, std::string> arguments, std::optional<double> timeout) {
    auto opts = Options(timeout);
    auto prompt = Unwrap(Blocking([&]() -> Result<mcp::PromptResult> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().GetPrompt(name, arguments, opts);
    }));
    py::list messages;
    for (const auto& m : prompt.messages) {
      py::dict d;
      d["role"] = m.role;
      d["content"] = ToPython(m.content);
      messages.append(d);
    }
    py::dict out;
    out["description"] = prompt.description;
    out["messages"] = messages;
    return out;
  }

  py::object Call(const std::string& method, py::handle params, std::optional<double> timeout) {
    json::object p;
    if (!params.is_none()) {
      json::value v = FromPython(params, "params");
      if (!v.is_object()) Throw(InvalidArgument("params: must be a dict"));
      p = std::move(v.as_object());
    }
    auto opts = Options(timeout);
    auto value = Unwrap(Blocking([&]() -> Result<json::value> {
      if (Status s = EnsureInitialized(opts); !s.ok()) return s;
      return Session().Call(method, std::move(p), opts);
    }));
    return ToPython(value);
  }

  void Close() {
    py::gil_scoped_release release;
    if (client_) client_->Close();
  }

 private:
  mcp::Client& Session() {
    if (!client_) Throw(Status(StatusCode::kCancelled, "the MCP client is closed"));
    return *client_;
  }

  static mcp::CallOptions Options(std::optional<double> timeout) {
    mcp::CallOptions o;
    if (timeout) o.timeout = SecondsArg(*timeout, "timeout");
    return o;
  }

  // The first call initializes the session (once; concurrent first calls wait for it). Runs
  // without the GIL.
  Status EnsureInitialized(const mcp::CallOptions& opts) {
    if (initialized_.load()) return {};
    std::lock_guard lock(init_mu_);
    if (initialized_.load()) return {};
    if (!client_) return Status(StatusCode::kCancelled, "the MCP client is closed");
    Status s = client_->Initialize(opts);
    if (!s.ok()) return s.WithContext("MCP initialize at " + url_);
    initialized_.store(true);
    return {};
  }

  std::string url_;
  std::unique_ptr<mcp::Client> client_;
  std::mutex init_mu_;
  std::atomic<bool> initialized_{false};
};

}  // namespace

void BindMcpClient(py::module_& m) {
  py::class_<PyMcpClient>(m, "McpClient",
                          "tuna::mcp::Client over Streamable HTTP (use tuna.tools.Tools). The session is "
                          "initialized on the first call; every call releases the GIL.")
      .def(py::init<std::string, std::map<std::string, std::string>, double, double, std::string, bool>(), py::arg("url"),
           py::arg("headers") = std::map<std::string, std::string>{}, py::arg("timeout") = 60.0,
           py::arg("connect_timeout") = 10.0, py::arg("client_name") = "", py::arg("event_stream") = false)
      .def_property_readonly("url", &PyMcpClient::url)
      .def_property_readonly("initialized", &PyMcpClient::initialized)
      .def("initialize", &PyMcpClient::Initialize, py::arg("timeout") = py::none(),
           "Initializes the session (when not yet) and returns what the server said about itself.")
      .def("server_info", &PyMcpClient::ServerInfo)
      .def("ping", &PyMcpClient::Ping, py::arg("timeout") = py::none())
      .def("list_tools", &PyMcpClient::ListTools, py::arg("timeout") = py::none())
      .def("call_tool", &PyMcpClient::CallTool, py::arg("name"), py::arg("arguments") = py::none(),
           py::arg("timeout") = py::none())
      .def("list_resources", &PyMcpClient::ListResources, py::arg("timeout") = py::none())
      .def("list_resource_templates", &PyMcpClient::ListResourceTemplates, py::arg("timeout") = py::none())
      .def("read_resource", &PyMcpClient::ReadResource, py::arg("uri"), py::arg("timeout") = py::none())
      .def("list_prompts", &PyMcpClient::ListPrompts, py::arg("timeout") = py::none())
      .def("get_prompt", &PyMcpClient::GetPrompt, py::arg("name"),
           py::arg("arguments") = std::map<std::string, std::string>{}, py::arg("timeout") = py::none())
      .def("call", &PyMcpClient::Call, py::arg("method"), py::arg("params") = py::none(), py::arg("timeout") = py::none())
      .def("close", &PyMcpClient::Close, "Ends the session (DELETE) and fails later calls with CancelledError.");
}

}  // namespace tuna::python
