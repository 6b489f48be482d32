// TEMPORARY (branch api): weak YAML stand-ins for tuna/resources/codec.hpp until branch `kinds`
// lands on main with its YAML codec. Delete this file then.

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include "tuna/resources/codec.hpp"

namespace tuna {
namespace {

boost::json::value ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      boost::json::array a;
      for (const auto& item : n) a.push_back(ToJson(item));
      return a;
    }
    case YAML::NodeType::Map: {
      boost::json::object o;
      for (const auto& kv : n) o[kv.first.as<std::string>()] = ToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return boost::json::string(s);  // quoted
      if (s == "~" || s == "null") return nullptr;
      if (s == "true") return true;
      if (s == "false") return false;
      std::int64_t i;
      if (YAML::convert<std::int64_t>::decode(n, i)) return i;
      double d;
      if (YAML::convert<double>::decode(n, d)) return d;
      return boost::json::string(s);
    }
  }
  return nullptr;
}

void Emit(YAML::Emitter& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key << std::string(kv.key()) << YAML::Value;
        Emit(out, kv.value());
      }
      out << YAML::EndMap;
      break;
    case boost::json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& item : v.get_array()) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case boost::json::kind::string:
      out << YAML::DoubleQuoted << std::string(v.get_string());
      break;
    case boost::json::kind::null:
      out << YAML::Null;
      break;
    default:
      out << boost::json::serialize(v);
  }
}

}  // namespace

__attribute__((weak)) Result<std::vector<SourceDocument>> ParseYamlDocuments(std::string_view text,
                                                                             std::string_view source_name) {
  try {
    std::vector<SourceDocument> docs;
    int index = 0;
    for (const auto& node : YAML::LoadAll(std::string(text))) {
      ++index;
      if (node.IsNull()) continue;
      SourceDocument d;
      d.value = ToJson(node);
      d.source = std::string(source_name) + (index > 1 ? " (document " + std::to_string(index) + ")" : "");
      d.line = node.Mark().line + 1;
      docs.push_back(std::move(d));
    }
    return docs;
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(source_name) + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
}

__attribute__((weak)) std::string EncodeYamlValue(const boost::json::value& v) {
  YAML::Emitter out;
  Emit(out, v);
  return std::string(out.c_str()) + "\n";
}

__attribute__((weak)) std::string EncodeYaml(const Resource& r) { return EncodeYamlValue(ResourceToJson(r)); }

}  // namespace tuna
