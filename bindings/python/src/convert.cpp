// JSON <-> Python objects, without a detour through JSON text.

#include <boost/json.hpp>

#include "common.hpp"
#include "tuna/resources/codec.hpp"

namespace tuna::python {
namespace json = boost::json;

py::object ToPython(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return py::none();
    case json::kind::bool_: return py::bool_(v.get_bool());
    case json::kind::int64: return py::int_(v.get_int64());
    case json::kind::uint64: return py::int_(v.get_uint64());
    case json::kind::double_: return py::float_(v.get_double());
    case json::kind::string: {
      const auto& s = v.get_string();
      return py::str(s.data(), s.size());
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      py::list out(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) out[i] = ToPython(a[i]);
      return out;
    }
    case json::kind::object: {
      py::dict out;
      for (const auto& kv : v.get_object()) {
        out[py::str(kv.key().data(), kv.key().size())] = ToPython(kv.value());
      }
      return out;
    }
  }
  return py::none();
}

json::value FromPython(py::handle h, const std::string& path) {
  auto where = [&] { return path.empty() ? std::string("value") : path; };
  if (h.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
    if (overflow == 0 && !(v == -1 && PyErr_Occurred())) return static_cast<std::int64_t>(v);
    PyErr_Clear();
    if (overflow > 0) {
      unsigned long long u = PyLong_AsUnsignedLongLong(h.ptr());
      if (!PyErr_Occurred()) return static_cast<std::uint64_t>(u);
      PyErr_Clear();
    }
    throw py::value_error(where() + ": integer out of the 64-bit range");
  }
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) return json::string(h.cast<std::string>());
  if (py::isinstance<py::dict>(h)) {
    json::object out;
    for (auto item : py::reinterpret_borrow<py::dict>(h)) {
      if (!py::isinstance<py::str>(item.first)) {
        throw py::type_error(where() + ": mapping keys must be str, got " +
                             std::string(py::str(py::type::of(item.first).attr("__name__"))));
      }
      auto key = item.first.cast<std::string>();
      out[key] = FromPython(item.second, path.empty() ? key : path + "." + key);
    }
    return out;
  }
  if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
    json::array out;
    std::size_t i = 0;
    for (auto item : h) {
      out.push_back(FromPython(item, path + "[" + std::to_string(i++) + "]"));
    }
    return out;
  }
  throw py::type_error(where() + ": cannot be sent as JSON: " +
                       std::string(py::str(py::type::of(h).attr("__name__"))));
}

py::object ResourceToPython(const Resource& r) { return ToPython(ResourceToJson(r)); }

Resource ResourceFromPython(py::handle h) {
  if (!py::isinstance<py::dict>(h)) {
    throw py::type_error("expected a resource as a dict, got " + std::string(py::str(py::type::of(h).attr("__name__"))));
  }
  return Unwrap(ResourceFromJson(FromPython(h)));
}

}  // namespace tuna::python
