// The resource codec: YAML/JSON manifests -> validated resource dicts, with path-precise errors.

#include <boost/json.hpp>

#include "common.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace tuna::python {
namespace json = boost::json;
namespace {

// ResourceFromJson + the kind's typed schema check.
Result<Resource> DecodeValue(const json::value& v) {
  TUNA_ASSIGN_OR_RETURN(auto r, ResourceFromJson(v));
  TUNA_RETURN_IF_ERROR(ValidateSchema(r));
  return r;
}

// "items[2]" + "spec.x" -> "items[2].spec.x"
std::string JoinPath(const std::string& prefix, const std::string& field) {
  if (prefix.empty()) return field;
  return field.empty() ? prefix : prefix + "." + field;
}

// The line of `path` in the document (or of its closest recorded parent, else the document's).
int LineOf(const SourceDocument& doc, std::string path) {
  while (!path.empty()) {
    if (auto it = doc.field_lines.find(path); it != doc.field_lines.end()) return it->second;
    std::size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return doc.line;
}

// Every document of a YAML stream, a `kind: *List` expanded into its items, each decoded and
// schema-checked. The first bad one is an error "source:LINE: field: message" with its field.
std::vector<Resource> DecodeManifests(const std::string& text, const std::string& source) {
  auto docs = Unwrap(ParseYamlDocuments(text, source));
  std::vector<Resource> out;
  auto decode = [&](const SourceDocument& doc, const json::value& v, const std::string& prefix) {
    auto r = DecodeValue(v);
    if (!r.ok()) {
      const Status& s = r.status();
      std::string field = JoinPath(prefix, s.field());
      std::string file = doc.source;
      std::string document;
      if (auto pos = file.rfind(" (document "); pos != std::string::npos && file.back() == ')') {
        document = file.substr(pos);
        file.resize(pos);
      }
      Throw(Status(s.code(), file + ":" + std::to_string(LineOf(doc, field)) + document + ": " +
                                 (prefix.empty() ? "" : prefix + ": ") + s.message(),
                   field));
    }
    out.push_back(std::move(r).value());
  };
  for (const auto& doc : docs) {
    const json::value& v = doc.value;
    const json::value* items = nullptr;
    if (v.is_object()) {
      const auto* kind = v.get_object().if_contains("kind");
      if (kind != nullptr && kind->is_string() && std::string_view(kind->get_string()).ends_with("List")) {
        items = v.get_object().if_contains("items");
      }
    }
    if (items != nullptr && items->is_array()) {
      std::size_t i = 0;
      for (const auto& item : items->get_array()) decode(doc, item, "items[" + std::to_string(i++) + "]");
      continue;
    }
    decode(doc, v, "");
  }
  return out;
}

}  // namespace

void BindCodec(py::module_& m) {
  m.def(
      "parse_yaml",
      [](const std::string& text, const std::string& source) {
        auto docs = Unwrap(ParseYamlDocuments(text, source));
        py::list out;
        for (const auto& d : docs) out.append(ToPython(d.value));
        return out;
      },
      py::arg("text"), py::arg("source") = "<string>",
      "Parses a YAML (or JSON) stream into one plain value per non-empty document.");
  m.def(
      "decode_manifests",
      [](const std::string& text, const std::string& source) {
        std::vector<Resource> resources = [&] {
          py::gil_scoped_release release;
          return DecodeManifests(text, source);
        }();
        py::list out;
        for (const auto& r : resources) out.append(ResourceToPython(r));
        return out;
      },
      py::arg("text"), py::arg("source") = "<string>",
      "Decodes and schema-checks every resource of a YAML/JSON stream (kind: List expanded).");
  m.def(
      "validate",
      [](py::handle obj) {
        json::value v = FromPython(obj);
        return ResourceToPython(Unwrap(DecodeValue(v)));
      },
      py::arg("obj"), "Decodes and schema-checks one resource dict; returns its canonical form.");
  m.def(
      "to_yaml", [](py::handle value) { return EncodeYamlValue(FromPython(value)); }, py::arg("value"),
      "YAML text of a plain value (as `tuna get -o yaml` prints it).");
  m.def(
      "kinds",
      [] {
        py::list out;
        for (const auto& k : AllKinds()) {
          py::list shorts;
          for (auto s : k.short_names) shorts.append(py::str(s.data(), s.size()));
          py::dict d;
          d["kind"] = std::string(k.kind);
          d["plural"] = std::string(k.plural);
          d["singular"] = std::string(k.singular);
          d["short_names"] = shorts;
          d["namespaced"] = k.namespaced;
          out.append(d);
        }
        return out;
      },
      "The nine kinds: kind, plural, singular, short names, namespaced.");
  m.def(
      "find_kind",
      [](const std::string& name) -> py::object {
        const KindInfo* k = FindKind(name);
        if (k == nullptr) return py::none();
        return py::str(std::string(k->kind));
      },
      py::arg("name"), "The canonical kind for a kind, plural, singular or short name; None if unknown.");
}

}  // namespace tuna::python
