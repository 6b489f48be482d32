// Operations of an OpenAPI document -> tool definitions: names, descriptions, input schemas.

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "openapi/internal.hpp"
#include "openapi/schema_builder.hpp"
#include "tuna/openapi.hpp"

namespace json = boost::json;

namespace tuna::openapi {
namespace {

using internal::Deref;
using internal::Lower;
using internal::Truncate;

constexpr std::string_view kMethods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
constexpr std::size_t kMaxToolName = 128;

bool IsMethod(std::string_view key) { return std::find(std::begin(kMethods), std::end(kMethods), key) != std::end(kMethods); }

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// Characters MCP does not allow become '_', runs of '_' collapse, '_' at the ends go.
std::string Sanitize(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    char ch = NameChar(c) ? c : '_';
    if (ch == '_' && !out.empty() && out.back() == '_') continue;
    out.push_back(ch);
  }
  while (!out.empty() && out.front() == '_') out.erase(out.begin());
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

std::string Hash8(std::string_view s) {
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return buf;
}

// Fits `name` into `limit` characters, keeping it distinct with a hash of the full name.
std::string Fit(const std::string& name, std::size_t limit) {
  if (name.size() <= limit) return name;
  return name.substr(0, limit - 9) + "_" + Hash8(name);
}

// Without an operationId: the method and the path ("GET /pets/{id}" -> "get_pets_id"); the method
// keeps GET and POST on one path apart.
std::string DerivedName(std::string_view method, std::string_view path) {
  return Sanitize(Lower(method) + "_" + std::string(path));
}

std::string ParamKey(const Parameter& p) { return p.in + "\n" + p.name; }

struct Raw {  // an operation before conversion
  std::string method, path, operation_id, tool_name;
  const json::object* path_item = nullptr;
  const json::object* op = nullptr;
};

std::string ChooseMediaType(const json::object& content) {
  auto has = [&](std::string_view t) { return content.contains(t); };
  if (has("application/json")) return "application/json";
  for (const auto& kv : content) {
    std::string t = Lower(kv.key());
    if (t.find("json") != std::string::npos && t.find("json-seq") == std::string::npos) return std::string(kv.key());
  }
  for (std::string_view t : {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}) {
    if (has(t)) return std::string(t);
  }
  if (has("*/*")) return "*/*";
  return content.empty() ? std::string() : std::string(content.begin()->key());
}

bool IsStructuredMedia(std::string_view media) {
  std::string t = Lower(media);
  return t.find("json") != std::string::npos || t == "application/x-www-form-urlencoded" ||
         t == "multipart/form-data" || t == "*/*";
}

// A body whose properties can become top-level arguments: a plain object schema.
bool Flattenable(const json::object& schema) {
  const auto* props = schema.if_contains("properties");
  if (props == nullptr || !props->is_object() || props->as_object().empty()) return false;
  if (const auto* t = schema.if_contains("type"); t != nullptr && !(t->is_string() && t->as_string() == "object")) return false;
  for (std::string_view k : {"oneOf", "anyOf", "allOf", "not", "if", "patternProperties"}) {
    if (schema.contains(k)) return false;
  }
  if (const auto* ap = schema.if_contains("additionalProperties"); ap != nullptr && !(ap->is_bool() && !ap->as_bool())) {
    return false;  // a map: its extra keys would be lost
  }
  return true;
}

std::string Describe(const Raw& raw, std::size_t limit, bool truncated, std::size_t cap) {
  auto text = [&](std::string_view key) -> std::string {
    const auto* v = raw.op->if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  std::string summary = text("summary"), description = text("description");
  std::string out = summary;
  if (!description.empty() && description != summary) out += (out.empty() ? "" : "\n\n") + description;
  if (out.empty()) {
    out = raw.method + " " + raw.path;
    if (!raw.operation_id.empty()) out = raw.operation_id + ": " + out;
  }
  if (const auto* d = raw.op->if_contains("deprecated"); d != nullptr && d->is_bool() && d->as_bool()) {
    out = "[deprecated] " + out;
  }
  std::string note;
  if (truncated) note = "\n\n(Input schema simplified to stay under " + std::to_string(cap) + " bytes: some nested parts accept any value.)";
  return Truncate(out, limit > note.size() + 16 ? limit - note.size() : 16) + note;
}

Result<Parameter> ReadParameter(const Document& doc, const json::object& p, internal::SchemaBuilder& builder) {
  Parameter out;
  if (const auto* n = p.if_contains("name"); n != nullptr && n->is_string()) out.name = n->as_string();
  if (const auto* i = p.if_contains("in"); i != nullptr && i->is_string()) out.in = i->as_string();
  if (out.name.empty() || (out.in != "path" && out.in != "query" && out.in != "header" && out.in != "cookie")) {
    return InvalidArgument("parameter without a valid name and in (path, query, header, cookie)");
  }
  out.argument = out.name;
  const auto* r = p.if_contains("required");
  out.required = out.in == "path" || (r != nullptr && r->is_bool() && r->as_bool());
  out.style = (out.in == "query" || out.in == "cookie") ? "form" : "simple";
  if (const auto* s = p.if_contains("style"); s != nullptr && s->is_string()) out.style = s->as_string();
  out.explode = out.style == "form";
  if (const auto* e = p.if_contains("explode"); e != nullptr && e->is_bool()) out.explode = e->as_bool();
  if (const auto* a = p.if_contains("allowReserved"); a != nullptr && a->is_bool()) out.allow_reserved = a->as_bool();
  json::value schema = json::object{};
  if (const auto* s = p.if_contains("schema")) {
    TUNA_ASSIGN_OR_RETURN(schema, builder.Build(*s));
  } else if (const auto* c = p.if_contains("content"); c != nullptr && c->is_object() && !c->as_object().empty()) {
    const auto& media = c->as_object().begin()->value();
    out.json_content = Lower(c->as_object().begin()->key()).find("json") != std::string::npos;
    if (const auto* s = media.is_object() ? media.as_object().if_contains("schema") : nullptr) {
      TUNA_ASSIGN_OR_RETURN(schema, builder.Build(*s));
    }
  }
  if (schema.is_bool()) schema = json::object{};
  out.schema = std::move(schema.as_object());
  if (const auto* d = p.if_contains("description"); d != nullptr && d->is_string() && !out.schema.contains("description")) {
    out.schema["description"] = Truncate(d->as_string(), 1024);
  }
  if (const auto* ex = p.if_contains("example"); ex != nullptr && !out.schema.contains("examples")) {
    out.schema["examples"] = json::array{*ex};
  }
  (void)doc;
  return out;
}

// Converts one operation with `depth` levels of `$ref` expansion.
Result<Operation> Convert(const Document& doc, const Raw& raw, const ConvertOptions& options, int depth) {
  internal::SchemaBuilder builder(doc, options, depth);
  Operation op;
  op.method = raw.method;
  op.path = raw.path;
  op.operation_id = raw.operation_id;
  op.tool_name = raw.tool_name;
  if (const auto* s = raw.op->if_contains("summary"); s != nullptr && s->is_string()) {
    op.title = Truncate(s->as_string(), 200);
  }

  // Path-item parameters, then the operation's: the operation's win for the same name and in.
  std::vector<Parameter> params;
  for (const json::object* owner : {raw.path_item, raw.op}) {
    const auto* list = owner->if_contains("parameters");
    if (list == nullptr || !list->is_array()) continue;
    for (const auto& item : list->as_array()) {
      auto resolved = Deref(doc, item);
      if (!resolved.ok()) return resolved.status().WithContext(raw.method + " " + raw.path);
      const json::value* pv = *resolved;
      if (!pv->is_object()) continue;
      auto param = ReadParameter(doc, pv->as_object(), builder);
      if (!param.ok()) return param.status().WithContext(raw.method + " " + raw.path);
      auto same = std::find_if(params.begin(), params.end(), [&](const Parameter& p) { return ParamKey(p) == ParamKey(*param); });
      if (same != params.end()) {
        *same = std::move(param).value();
      } else {
        params.push_back(std::move(param).value());
      }
    }
  }
  // The same name in two locations (a query `id` and a header `id`): the later gets "<in>_<name>".
  std::set<std::string> arguments;
  for (auto& p : params) {
    if (!arguments.insert(p.argument).second) {
      p.argument = p.in + "_" + p.name;
      while (!arguments.insert(p.argument).second) p.argument += "_";
    }
  }

  json::object properties;
  json::array required;
  for (const auto& p : params) {
    properties[p.argument] = p.schema;
    if (p.required) required.push_back(json::value(p.argument));
  }

  if (const auto* rb = raw.op->if_contains("requestBody")) {
    auto resolved_body = Deref(doc, *rb);
    if (!resolved_body.ok()) return resolved_body.status().WithContext(raw.method + " " + raw.path + " requestBody");
    const json::value* bv = *resolved_body;
    const auto* body_obj = bv->if_object();
    const auto* content = body_obj != nullptr ? body_obj->if_contains("content") : nullptr;
    if (content != nullptr && content->is_object() && !content->as_object().empty()) {
      RequestBody body;
      body.content_type = ChooseMediaType(content->as_object());
      const auto* r = body_obj->if_contains("required");
      body.required = r != nullptr && r->is_bool() && r->as_bool();
      const auto& media = content->as_object().at(body.content_type);
      json::value schema = json::object{};
      if (IsStructuredMedia(body.content_type) || Lower(body.content_type) == "text/plain") {
        if (const auto* s = media.is_object() ? media.as_object().if_contains("schema") : nullptr) {
          auto built = builder.Build(*s);
          if (!built.ok()) return built.status().WithContext(raw.method + " " + raw.path + " requestBody");
          schema = std::move(built).value();
        }
      }
      if (!IsStructuredMedia(body.content_type)) {
        // Sent as-is: the model supplies the text (XML, plain text, bytes as a string).
        schema = json::object{{"type", "string"}, {"description", "The request body as " + body.content_type + " text."}};
      }
      if (schema.is_bool()) schema = json::object{};
      body.schema = std::move(schema.as_object());
      bool collides = false;
      if (Flattenable(body.schema)) {
        for (const auto& kv : body.schema.at("properties").as_object()) collides = collides || arguments.count(kv.key()) > 0;
      }
      if (Flattenable(body.schema) && !collides) {
        body.flattened = true;
        for (const auto& kv : body.schema.at("properties").as_object()) {
          body.properties.emplace_back(kv.key());
          properties[kv.key()] = kv.value();
        }
        if (const auto* req = body.schema.if_contains("required"); body.required && req != nullptr && req->is_array()) {
          for (const auto& n : req->as_array()) {
            if (n.is_string() && body.schema.at("properties").as_object().contains(n.as_string())) required.push_back(n);
          }
        }
      } else {
        std::string name = "body";
        for (const char* alt : {"body", "requestBody", "request_body", "body_"}) {
          name = alt;
          if (!arguments.count(name)) break;
        }
        body.argument = name;
        json::object wrapped = body.schema;
        if (!wrapped.contains("description")) wrapped["description"] = "Request body (" + body.content_type + ").";
        properties[name] = std::move(wrapped);
        if (body.required) required.push_back(json::value(name));
      }
      op.body = std::move(body);
    }
  }

  op.parameters = std::move(params);
  op.input_schema = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) op.input_schema["required"] = std::move(required);
  op.schema_truncated = builder.truncated();

  if (const auto* sec = raw.op->if_contains("security"); sec != nullptr && sec->is_array()) {
    std::vector<std::vector<std::string>> alternatives;
    for (const auto& req : sec->as_array()) {
      std::vector<std::string> names;
      if (req.is_object()) {
        for (const auto& kv : req.as_object()) names.emplace_back(kv.key());
      }
      alternatives.push_back(std::move(names));
    }
    op.security = std::move(alternatives);
  }
  return op;
}

// Keeps only the type and a short description of each argument: the last resort for giant schemas.
json::object Shallow(const json::object& schema, bool descriptions) {
  json::object out = {{"type", "object"}};
  json::object props;
  if (const auto* p = schema.if_contains("properties"); p != nullptr && p->is_object()) {
    for (const auto& kv : p->as_object()) {
      json::object small;
      if (const auto* o = kv.value().if_object()) {
        if (const auto* t = o->if_contains("type")) small["type"] = *t;
        if (const auto* d = o->if_contains("description"); descriptions && d != nullptr && d->is_string()) {
          small["description"] = Truncate(d->as_string(), 200);
        }
      }
      props[kv.key()] = std::move(small);
    }
  }
  out["properties"] = std::move(props);
  if (const auto* r = schema.if_contains("required")) out["required"] = *r;
  return out;
}

}  // namespace

Result<std::vector<Operation>> ListOperations(const Document& document, const ConvertOptions& options) {
  std::vector<Raw> raws;
  const auto* paths = document.root.as_object().if_contains("paths");
  if (paths != nullptr && paths->is_object()) {
    for (const auto& pk : paths->as_object()) {
      auto item = Deref(document, pk.value());
      if (!item.ok()) return item.status().WithContext("paths." + std::string(pk.key()));
      if (!(*item)->is_object()) continue;
      for (const auto& mk : (*item)->as_object()) {
        if (!IsMethod(mk.key()) || !mk.value().is_object()) continue;
        Raw raw;
        raw.method = std::string(mk.key());
        for (char& c : raw.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        raw.path = std::string(pk.key());
        raw.path_item = &(*item)->as_object();
        raw.op = &mk.value().as_object();
        if (const auto* id = raw.op->if_contains("operationId"); id != nullptr && id->is_string()) {
          raw.operation_id = id->as_string();
        }
        raws.push_back(std::move(raw));
      }
    }
  }

  // Names over the whole document, so that an allowlist does not change them.
  std::set<std::string> taken;
  for (auto& raw : raws) {
    std::string base = raw.operation_id.empty() ? std::string() : Sanitize(raw.operation_id);
    if (base.empty()) base = DerivedName(raw.method, raw.path);
    if (base.empty()) base = "operation";
    std::string name = Fit(base, kMaxToolName);
    for (int n = 2; taken.count(name) > 0; ++n) {
      std::string suffix = "_" + std::to_string(n);
      name = Fit(base, kMaxToolName - suffix.size()) + suffix;
    }
    taken.insert(name);
    raw.tool_name = std::move(name);
  }

  std::vector<bool> selected(raws.size(), options.operations.empty());
  std::vector<std::string> unknown;
  for (const auto& entry : options.operations) {
    bool hit = false;
    auto space = entry.find(' ');
    for (std::size_t i = 0; i < raws.size(); ++i) {
      bool match = !raws[i].operation_id.empty() && raws[i].operation_id == entry;
      if (!match && space != std::string::npos) {
        match = Lower(entry.substr(0, space)) == Lower(raws[i].method) && entry.substr(space + 1) == raws[i].path;
      }
      if (match) selected[i] = true, hit = true;
    }
    if (!hit) unknown.push_back(entry);
  }
  if (!unknown.empty()) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "\"" : ", \"") + u + "\"";
    return InvalidArgument(document.source + ": operations not in the document: " + list, "spec.operations");
  }

  std::vector<Operation> out;
  for (std::size_t i = 0; i < raws.size(); ++i) {
    if (!selected[i]) continue;
    const Raw& raw = raws[i];
    std::optional<Operation> fitted;
    for (int depth = options.max_ref_depth; depth >= 0; depth = depth > 2 ? depth / 2 : depth - 1) {
      auto op = Convert(document, raw, options, depth);
      if (!op.ok()) return op.status().WithContext(document.source);
      bool fits = json::serialize(op->input_schema).size() <= options.max_schema_bytes;
      if (fits || depth == 0) {
        if (depth != options.max_ref_depth) op->schema_truncated = true;
        if (!fits) {
          json::object shallow = Shallow(op->input_schema, true);
          if (json::serialize(shallow).size() > options.max_schema_bytes) shallow = Shallow(op->input_schema, false);
          op->input_schema = std::move(shallow);
        }
        fitted = std::move(op).value();
        break;
      }
    }
    fitted->description = Describe(raw, options.max_description_chars, fitted->schema_truncated, options.max_schema_bytes);
    out.push_back(std::move(*fitted));
  }
  return out;
}

}  // namespace tuna::openapi
