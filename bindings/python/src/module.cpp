// tuna._tuna: the compiled half of the Python package (the pure-Python half is bindings/python/tuna).

#include "common.hpp"
#include "tuna/version.hpp"

namespace tuna::python {
namespace {

constexpr StatusCode kLastCode = StatusCode::kInternal;

StatusCode CodeFromName(const std::string& name) {
  for (int c = 0; c <= static_cast<int>(kLastCode); ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == name) return static_cast<StatusCode>(c);
  }
  throw py::value_error("unknown status code \"" + name + "\"");
}

}  // namespace

void SetPythonError(const Status& s) {
  // tuna.errors is pure Python and imports nothing compiled, so importing it here cannot recurse.
  py::object errors = py::module_::import("tuna.errors");
  py::object exc = errors.attr("_from_status")(std::string(StatusCodeName(s.code())), s.message(), s.field());
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

// The MCP and A2A clients (mcp_client.cpp, a2a_client.cpp): declared here, not in common.hpp.
void BindMcpClient(py::module_& m);
void BindA2aClient(py::module_& m);

}  // namespace tuna::python

PYBIND11_MODULE(_tuna, m) {
  namespace py = pybind11;
  using namespace tuna::python;
  m.doc() = "tuna's C++ core: the API client and the resource codec (use the `tuna` package)";
  m.attr("__version__") = TUNA_VERSION;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      SetPythonError(e.status);
    }
  });

  py::list codes;
  for (int c = 0; c <= static_cast<int>(kLastCode); ++c) {
    auto code = static_cast<tuna::StatusCode>(c);
    codes.append(py::make_tuple(c, std::string(tuna::StatusCodeName(code)), std::string(tuna::StatusCodeReason(code))));
  }
  m.attr("STATUS_CODES") = codes;

  m.def(
      "_raise_status",
      [](const std::string& code, const std::string& message, const std::string& field) {
        auto c = CodeFromName(code);
        if (c == tuna::StatusCode::kOk) throw py::value_error("an OK status is not an error");
        Throw(tuna::Status(c, message, field));
      },
      py::arg("code"), py::arg("message"), py::arg("field") = "",
      "Raises the exception for a tuna::Status built in C++ (for tests of the mapping).");

  BindCodec(m);
  BindClient(m);
  BindMcpClient(m);
  BindA2aClient(m);
  BindA2a(m);
}
