// TEMPORARY (branch `cli` only): a minimal yaml-cpp implementation of the YAML functions declared
// in tuna/resources/codec.hpp so the CLI links and its tests run before branch `kinds` (which owns
// src/resources/yaml*) is merged. DELETE THIS FILE when main has src/resources/yaml*.

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <regex>

#include "tuna/resources/codec.hpp"

namespace tuna {
namespace json = boost::json;
namespace {

json::value ScalarToJson(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() != "?") return json::value(s);  // quoted: a string
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+");
  if (std::regex_match(s, kInt)) return static_cast<std::int64_t>(std::strtoll(s.c_str(), nullptr, 10));
  if (std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
  return json::value(s);
}

json::value NodeToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return ScalarToJson(n);
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const auto& item : n) a.push_back(NodeToJson(item));
      return a;
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) o[kv.first.Scalar()] = NodeToJson(kv.second);
      return o;
    }
  }
  return nullptr;
}

void Emit(YAML::Emitter& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out << YAML::Null; break;
    case json::kind::bool_: out << v.get_bool(); break;
    case json::kind::int64: out << v.get_int64(); break;
    case json::kind::uint64: out << v.get_uint64(); break;
    case json::kind::double_: out << v.get_double(); break;
    case json::kind::string: {
      std::string s(v.get_string());
      // Quote strings a plain scalar would turn into another type.
      YAML::Node probe = YAML::Load(s.empty() ? std::string("''") : s);
      bool plain_string = probe.IsScalar() && ScalarToJson(probe).is_string() && probe.Scalar() == s;
      if (!plain_string) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& item : v.get_array()) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key << std::string(kv.key()) << YAML::Value;
        Emit(out, kv.value());
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

std::string EncodeYamlValue(const json::value& v) {
  YAML::Emitter out;
  try {
    Emit(out, v);
  } catch (const std::exception&) {
    return json::serialize(v) + "\n";  // JSON is YAML
  }
  return std::string(out.c_str()) + "\n";
}

std::string EncodeYaml(const Resource& r) { return EncodeYamlValue(ResourceToJson(r)); }

Result<std::vector<SourceDocument>> ParseYamlDocuments(std::string_view text, std::string_view source_name) {
  std::vector<SourceDocument> docs;
  try {
    std::string copy(text);
    std::vector<YAML::Node> nodes = YAML::LoadAll(copy);
    int index = 0;
    for (const auto& n : nodes) {
      ++index;
      if (n.IsNull()) continue;
      SourceDocument d;
      d.value = NodeToJson(n);
      d.source = std::string(source_name) + " (document " + std::to_string(index) + ")";
      d.line = n.Mark().line + 1;
      docs.push_back(std::move(d));
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(source_name) + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  return docs;
}

Result<std::vector<Resource>> DecodeYamlResources(std::string_view text, std::string_view source_name) {
  TUNA_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, source_name));
  std::vector<Resource> out;
  for (const auto& d : docs) {
    auto r = ResourceFromJson(d.value);
    if (!r.ok()) return r.status().WithContext(d.source);
    out.push_back(std::move(r).value());
  }
  return out;
}

}  // namespace tuna
