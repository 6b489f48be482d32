// OpenAPI schemas -> self-contained JSON Schema for MCP tool inputs: `$ref`s inlined (MCP clients
// and gateways often reject them), cycles cut, 3.0 dialect mapped onto 2020-12, size bounded.

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "openapi/internal.hpp"
#include "openapi/schema_builder.hpp"

namespace json = boost::json;

namespace tuna::openapi {
namespace internal {
namespace {

bool Is(std::string_view key, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), key) != set.end();
}

// The last token of a pointer, for messages ("#/components/schemas/Pet" -> "Pet").
std::string RefName(std::string_view ref) {
  auto slash = ref.rfind('/');
  return std::string(slash == std::string_view::npos ? ref : ref.substr(slash + 1));
}

void AddNull(json::object& schema) {
  if (auto it = schema.find("type"); it != schema.end()) {
    if (it->value().is_string()) {
      if (it->value().as_string() != "null") it->value() = json::array{it->value(), "null"};
    } else if (auto* arr = it->value().if_array()) {
      if (std::find(arr->begin(), arr->end(), json::value("null")) == arr->end()) arr->push_back("null");
    }
  } else if (auto* one = schema.if_contains("oneOf"); one != nullptr && one->is_array()) {
    one->as_array().push_back(json::object{{"type", "null"}});
  } else if (auto* any = schema.if_contains("anyOf"); any != nullptr && any->is_array()) {
    any->as_array().push_back(json::object{{"type", "null"}});
  }
  if (auto* e = schema.if_contains("enum"); e != nullptr && e->is_array()) {
    auto& arr = e->as_array();
    if (std::find(arr.begin(), arr.end(), json::value(nullptr)) == arr.end()) arr.push_back(nullptr);
  }
}

}  // namespace

SchemaBuilder::SchemaBuilder(const Document& document, const ConvertOptions& options, int max_ref_depth)
    : document_(document), options_(options), max_ref_depth_(max_ref_depth) {
  budget_ = std::max<std::size_t>(2000, options.max_schema_bytes / 8);
}

Result<json::value> SchemaBuilder::Build(const json::value& schema) {
  if (schema.is_bool()) return schema;
  const auto* in = schema.if_object();
  if (in == nullptr) return json::value(json::object{});  // not a schema: accept anything
  if (budget_ == 0) {
    truncated_ = true;
    return json::value(json::object{});
  }
  --budget_;

  if (auto ref_it = in->find("$ref"); ref_it != in->end() && ref_it->value().is_string()) {
    std::string ref(ref_it->value().as_string());
    json::value out;
    bool on_stack = std::find(stack_.begin(), stack_.end(), ref) != stack_.end();
    if (on_stack || static_cast<int>(stack_.size()) >= max_ref_depth_) {
      // A cycle or too deep: a permissive schema that says what it stands for.
      if (!on_stack) truncated_ = true;
      out = json::object{{"description", RefName(ref) + (on_stack ? " (recursive, not expanded)" : " (not expanded)")}};
    } else {
      TUNA_ASSIGN_OR_RETURN(const json::value* target, ResolveRef(document_, ref));
      stack_.push_back(ref);
      auto built = Build(*target);
      stack_.pop_back();
      if (!built.ok()) return built.status();
      out = std::move(built).value();
    }
    // 3.1: keywords next to $ref apply too (laid over the target); 3.0 ignores them.
    if (!document_.is_30() && in->size() > 1 && out.is_object()) {
      json::object siblings = *in;
      siblings.erase("$ref");
      TUNA_ASSIGN_OR_RETURN(json::value over, Build(json::value(std::move(siblings))));
      if (over.is_object()) {
        for (auto& kv : over.as_object()) out.as_object()[kv.key()] = kv.value();
      }
    }
    return out;
  }

  json::object out;
  for (const auto& kv : *in) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key.rfind("x-", 0) == 0 ||
        Is(key, {"$ref", "$defs", "definitions", "discriminator", "xml", "externalDocs", "nullable", "$schema",
                 "$id", "$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef", "$recursiveAnchor",
                 "$comment", "$vocabulary"})) {
      continue;  // OpenAPI-only or meaningless once everything is inlined
    }
    if (key == "example") {
      if (!in->contains("examples")) out["examples"] = json::array{v};
      continue;
    }
    if (Is(key, {"properties", "patternProperties", "dependentSchemas"})) {
      if (!v.is_object()) continue;
      json::object map;
      for (const auto& p : v.as_object()) {
        TUNA_ASSIGN_OR_RETURN(json::value child, Build(p.value()));
        if (key == "properties" && options_.drop_read_only && child.is_object()) {
          const auto* ro = child.as_object().if_contains("readOnly");
          if (ro != nullptr && ro->is_bool() && ro->as_bool()) continue;  // server-set: not input
        }
        map[p.key()] = std::move(child);
      }
      out[key] = std::move(map);
      continue;
    }
    if (Is(key, {"allOf", "anyOf", "oneOf", "prefixItems"}) || (key == "items" && v.is_array())) {
      if (!v.is_array()) continue;
      json::array list;
      for (const auto& item : v.as_array()) {
        TUNA_ASSIGN_OR_RETURN(json::value child, Build(item));
        list.push_back(std::move(child));
      }
      out[key] = std::move(list);
      continue;
    }
    if (Is(key, {"items", "additionalProperties", "additionalItems", "unevaluatedItems", "unevaluatedProperties",
                 "not", "contains", "propertyNames", "if", "then", "else", "contentSchema"})) {
      if (v.is_object() || v.is_bool()) {
        TUNA_ASSIGN_OR_RETURN(json::value child, Build(v));
        out[key] = std::move(child);
      }
      continue;
    }
    if ((key == "description" || key == "title") && v.is_string()) {
      out[key] = Truncate(v.as_string(), options_.max_description_chars);
      continue;
    }
    out[key] = v;
  }

  // Required names of dropped (readOnly) properties are dropped as well.
  if (auto* req = out.if_contains("required"); req != nullptr && req->is_array()) {
    const auto* props = out.if_contains("properties");
    if (props != nullptr && props->is_object() && options_.drop_read_only) {
      json::array kept;
      for (const auto& name : req->as_array()) {
        bool dropped = false;
        if (name.is_string() && !props->as_object().contains(name.as_string())) {
          const auto* orig_props = in->if_contains("properties");
          dropped = orig_props != nullptr && orig_props->is_object() && orig_props->as_object().contains(name.as_string());
        }
        if (!dropped) kept.push_back(name);
      }
      *req = std::move(kept);
    }
  }
  // 3.0: boolean exclusiveMinimum/Maximum qualify minimum/maximum; 2020-12 takes the bound itself.
  for (auto [flag, bound] : {std::pair<const char*, const char*>{"exclusiveMinimum", "minimum"},
                             std::pair<const char*, const char*>{"exclusiveMaximum", "maximum"}}) {
    auto* f = out.if_contains(flag);
    if (f == nullptr || !f->is_bool()) continue;
    if (f->as_bool() && out.contains(bound)) {
      out[flag] = out[bound];
      out.erase(bound);
    } else {
      out.erase(flag);
    }
  }
  if (auto* n = in->if_contains("nullable"); n != nullptr && n->is_bool() && n->as_bool()) AddNull(out);
  return json::value(std::move(out));
}

}  // namespace internal

Result<json::object> ResolveSchema(const Document& document, const json::value& schema, const ConvertOptions& options,
                                   bool* truncated) {
  internal::SchemaBuilder builder(document, options, options.max_ref_depth);
  TUNA_ASSIGN_OR_RETURN(json::value out, builder.Build(schema));
  if (truncated != nullptr) *truncated = builder.truncated();
  if (out.is_bool()) return out.as_bool() ? json::object{} : json::object{{"not", json::object{}}};
  return std::move(out.as_object());
}

}  // namespace tuna::openapi
