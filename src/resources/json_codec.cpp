// JSON codec of the unstructured Resource form (strict on envelope and metadata).

#include <boost/json.hpp>

#include "resources/suggest.hpp"
#include "tuna/resources/codec.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

using internal::JoinIndex;
using internal::JoinPath;
using internal::JsonKindName;
using internal::UnknownFieldMessage;

Status TypeError(const std::string& path, std::string_view want, const json::value& got) {
  return InvalidArgument(path + ": expected " + std::string(want) + ", got " +
                             std::string(JsonKindName(static_cast<int>(got.kind()))),
                         path);
}

Status ReadString(const json::value& v, const std::string& path, std::string& out) {
  if (!v.is_string()) return TypeError(path, "string", v);
  out = std::string(v.get_string());
  return {};
}

Status ReadBool(const json::value& v, const std::string& path, bool& out) {
  if (!v.is_bool()) return TypeError(path, "boolean", v);
  out = v.get_bool();
  return {};
}

Status ReadStringMap(const json::value& v, const std::string& path, std::map<std::string, std::string>& out) {
  if (v.is_null()) return {};
  if (!v.is_object()) return TypeError(path, "object", v);
  for (const auto& kv : v.get_object()) {
    std::string p = JoinPath(path, kv.key());
    if (!kv.value().is_string()) return TypeError(p, "string", kv.value());
    out[std::string(kv.key())] = std::string(kv.value().get_string());
  }
  return {};
}

Status ReadOwnerRef(const json::value& v, const std::string& path, OwnerReference& out) {
  if (!v.is_object()) return TypeError(path, "object", v);
  static const std::vector<std::string_view> fields = {"apiVersion", "kind", "name", "uid", "controller",
                                                       "blockOwnerDeletion"};
  for (const auto& kv : v.get_object()) {
    std::string p = JoinPath(path, kv.key());
    auto k = kv.key();
    if (k == "apiVersion") TUNA_RETURN_IF_ERROR(ReadString(kv.value(), p, out.api_version));
    else if (k == "kind") TUNA_RETURN_IF_ERROR(ReadString(kv.value(), p, out.kind));
    else if (k == "name") TUNA_RETURN_IF_ERROR(ReadString(kv.value(), p, out.name));
    else if (k == "uid") TUNA_RETURN_IF_ERROR(ReadString(kv.value(), p, out.uid));
    else if (k == "controller") TUNA_RETURN_IF_ERROR(ReadBool(kv.value(), p, out.controller));
    else if (k == "blockOwnerDeletion") TUNA_RETURN_IF_ERROR(ReadBool(kv.value(), p, out.block_owner_deletion));
    else return InvalidArgument(p + ": " + UnknownFieldMessage(k, fields), p);
  }
  return {};
}

Status ReadMeta(const json::value& v, ObjectMeta& m) {
  const std::string path = "metadata";
  if (!v.is_object()) return TypeError(path, "object", v);
  static const std::vector<std::string_view> fields = {
      "name", "namespace", "uid", "resourceVersion", "generation", "labels", "annotations",
      "ownerReferences", "creationTimestamp", "deletionTimestamp"};
  for (const auto& kv : v.get_object()) {
    std::string p = JoinPath(path, kv.key());
    auto k = kv.key();
    const auto& val = kv.value();
    if (k == "name") TUNA_RETURN_IF_ERROR(ReadString(val, p, m.name));
    else if (k == "namespace") TUNA_RETURN_IF_ERROR(ReadString(val, p, m.namespace_));
    else if (k == "uid") TUNA_RETURN_IF_ERROR(ReadString(val, p, m.uid));
    else if (k == "resourceVersion") {
      // Kubernetes sends it as a string; accept an integer too for hand-written manifests.
      if (val.is_int64() || val.is_uint64()) m.resource_version = json::serialize(val);
      else TUNA_RETURN_IF_ERROR(ReadString(val, p, m.resource_version));
    } else if (k == "generation") {
      if (!val.is_int64() && !val.is_uint64()) return TypeError(p, "integer", val);
      m.generation = val.to_number<std::int64_t>();
    } else if (k == "labels") TUNA_RETURN_IF_ERROR(ReadStringMap(val, p, m.labels));
    else if (k == "annotations") TUNA_RETURN_IF_ERROR(ReadStringMap(val, p, m.annotations));
    else if (k == "ownerReferences") {
      if (val.is_null()) continue;
      if (!val.is_array()) return TypeError(p, "array", val);
      std::size_t i = 0;
      for (const auto& item : val.get_array()) {
        OwnerReference ref;
        TUNA_RETURN_IF_ERROR(ReadOwnerRef(item, JoinIndex(p, i++), ref));
        m.owner_references.push_back(std::move(ref));
      }
    } else if (k == "creationTimestamp") {
      if (!val.is_null()) TUNA_RETURN_IF_ERROR(ReadString(val, p, m.creation_timestamp));
    } else if (k == "deletionTimestamp") {
      if (!val.is_null()) TUNA_RETURN_IF_ERROR(ReadString(val, p, m.deletion_timestamp));
    } else {
      return InvalidArgument(p + ": " + UnknownFieldMessage(k, fields), p);
    }
  }
  return {};
}

json::value MetaToJson(const ObjectMeta& m) {
  json::object o;
  if (!m.name.empty()) o["name"] = m.name;
  if (!m.namespace_.empty()) o["namespace"] = m.namespace_;
  if (!m.uid.empty()) o["uid"] = m.uid;
  if (!m.resource_version.empty()) o["resourceVersion"] = m.resource_version;
  if (m.generation != 0) o["generation"] = m.generation;
  if (!m.creation_timestamp.empty()) o["creationTimestamp"] = m.creation_timestamp;
  if (!m.deletion_timestamp.empty()) o["deletionTimestamp"] = m.deletion_timestamp;
  if (!m.labels.empty()) {
    json::object l;
    for (const auto& [k, v] : m.labels) l[k] = v;
    o["labels"] = std::move(l);
  }
  if (!m.annotations.empty()) {
    json::object a;
    for (const auto& [k, v] : m.annotations) a[k] = v;
    o["annotations"] = std::move(a);
  }
  if (!m.owner_references.empty()) {
    json::array refs;
    for (const auto& r : m.owner_references) {
      json::object ro;
      ro["apiVersion"] = r.api_version;
      ro["kind"] = r.kind;
      ro["name"] = r.name;
      ro["uid"] = r.uid;
      if (r.controller) ro["controller"] = true;
      if (r.block_owner_deletion) ro["blockOwnerDeletion"] = true;
      refs.push_back(std::move(ro));
    }
    o["ownerReferences"] = std::move(refs);
  }
  return o;
}

std::vector<std::string_view> KindNames() {
  std::vector<std::string_view> names;
  for (const auto& k : AllKinds()) names.push_back(k.kind);
  return names;
}

}  // namespace

json::value ResourceToJson(const Resource& r) {
  json::object o;
  o["apiVersion"] = r.api_version;
  o["kind"] = r.kind;
  o["metadata"] = MetaToJson(r.metadata);
  if (!r.spec.is_null()) o["spec"] = r.spec;
  if (!r.status.is_null()) o["status"] = r.status;
  return o;
}

Result<Resource> ResourceFromJson(const json::value& v) {
  if (!v.is_object()) return TypeError("(document)", "object", v);
  const auto& o = v.get_object();
  Resource r;
  r.api_version.clear();
  static const std::vector<std::string_view> fields = {"apiVersion", "kind", "metadata", "spec", "status"};
  for (const auto& kv : o) {
    auto k = kv.key();
    std::string p(k);
    if (k == "apiVersion") TUNA_RETURN_IF_ERROR(ReadString(kv.value(), p, r.api_version));
    else if (k == "kind") TUNA_RETURN_IF_ERROR(ReadString(kv.value(), p, r.kind));
    else if (k == "metadata") TUNA_RETURN_IF_ERROR(ReadMeta(kv.value(), r.metadata));
    else if (k == "spec") {
      if (!kv.value().is_object() && !kv.value().is_null()) return TypeError(p, "object", kv.value());
      r.spec = kv.value();
    } else if (k == "status") {
      if (!kv.value().is_object() && !kv.value().is_null()) return TypeError(p, "object", kv.value());
      r.status = kv.value();
    } else {
      return InvalidArgument(p + ": " + UnknownFieldMessage(k, fields), p);
    }
  }
  if (r.api_version.empty()) return InvalidArgument("apiVersion: required field is missing", "apiVersion");
  if (r.api_version != kApiVersion) {
    return InvalidArgument("apiVersion: unsupported \"" + r.api_version + "\" (expected " +
                               std::string(kApiVersion) + ")",
                           "apiVersion");
  }
  if (r.kind.empty()) return InvalidArgument("kind: required field is missing", "kind");
  const KindInfo* info = FindKind(r.kind);
  if (info == nullptr || info->kind != r.kind) {
    std::string msg = "kind: unknown kind \"" + r.kind + "\"";
    std::string s = info ? std::string(info->kind) : internal::Suggest(r.kind, KindNames());
    if (!s.empty()) msg += " (did you mean " + s + "?)";
    return InvalidArgument(msg, "kind");
  }
  return r;
}

std::string EncodeJson(const Resource& r) { return json::serialize(ResourceToJson(r)); }

namespace {
void Pretty(std::string& out, const json::value& v, int indent) {
  auto pad = [&](int n) { out.append(static_cast<std::size_t>(n) * 2, ' '); };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      std::size_t i = 0;
      for (const auto& kv : o) {
        pad(indent + 1);
        out += json::serialize(json::value(kv.key()));
        out += ": ";
        Pretty(out, kv.value(), indent + 1);
        if (++i < o.size()) out += ',';
        out += '\n';
      }
      pad(indent);
      out += '}';
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (std::size_t i = 0; i < a.size(); ++i) {
        pad(indent + 1);
        Pretty(out, a[i], indent + 1);
        if (i + 1 < a.size()) out += ',';
        out += '\n';
      }
      pad(indent);
      out += ']';
      return;
    }
    default:
      out += json::serialize(v);
  }
}
}  // namespace

std::string EncodeJsonPretty(const json::value& v) {
  std::string out;
  Pretty(out, v, 0);
  out += '\n';
  return out;
}

Result<json::value> ParseJson(std::string_view text, std::string_view source_name) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::stream_parser p({}, opts);
  std::size_t n = p.write_some(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    // Locate the byte where parsing stopped.
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < n && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string where = source_name.empty() ? std::string("JSON") : std::string(source_name);
    return InvalidArgument(where + ":" + std::to_string(line) + ":" + std::to_string(col) +
                           ": invalid JSON: " + ec.message());
  }
  return p.release();
}

Result<Resource> DecodeJson(std::string_view text) {
  TUNA_ASSIGN_OR_RETURN(auto v, ParseJson(text));
  return ResourceFromJson(v);
}

}  // namespace tuna
