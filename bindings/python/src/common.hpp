#pragma once
// Shared by the binding translation units: JSON <-> Python conversion and Status -> exception.

#include <pybind11/pybind11.h>

#include <boost/json/value.hpp>

#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna::python {
namespace py = pybind11;

/// A non-OK Status on its way to Python; the module's translator raises the matching
/// tuna.errors class (it never escapes into C++ callers).
struct StatusError : std::exception {
  explicit StatusError(Status s) : status(std::move(s)) {}
  const char* what() const noexcept override { return status.message().c_str(); }
  Status status;
};

[[noreturn]] inline void Throw(const Status& s) { throw StatusError(s); }
inline void Check(const Status& s) {
  if (!s.ok()) Throw(s);
}
template <class T>
T Unwrap(Result<T> r) {
  if (!r.ok()) Throw(r.status());
  return std::move(r).value();
}

/// A timeout argument in seconds (a Python float) as milliseconds; ValueError-like
/// InvalidArgument naming `what` unless 0 < seconds <= one year.
inline std::chrono::milliseconds SecondsArg(double seconds, const char* what) {
  if (!(seconds > 0) || seconds > 86400.0 * 365) {
    Throw(InvalidArgument(std::string(what) + ": must be a positive number of seconds"));
  }
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0 + 0.5));
}

/// Runs a blocking C++ call with the GIL released (other Python threads keep running).
template <class F>
auto Blocking(F&& f) {
  py::gil_scoped_release release;
  return f();
}

/// JSON -> plain Python objects (dict, list, str, int, float, bool, None).
py::object ToPython(const boost::json::value& v);
/// Plain Python objects -> JSON; anything else is a TypeError naming the path ("spec.tools[0]").
boost::json::value FromPython(py::handle h, const std::string& path = "");

/// A Resource as the dict Kubernetes clients know (apiVersion, kind, metadata, spec, status).
py::object ResourceToPython(const Resource& r);
/// A dict -> Resource (apiVersion, kind and metadata checked; spec/status as given).
Resource ResourceFromPython(py::handle h);

/// Raises the tuna.errors exception for `s` (used by the translator and for tests).
void SetPythonError(const Status& s);

void BindCodec(py::module_& m);
void BindClient(py::module_& m);
void BindA2a(py::module_& m);

}  // namespace tuna::python
