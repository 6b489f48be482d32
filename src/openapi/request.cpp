// Tool arguments -> the HTTP request an OpenAPI operation describes: base URL, parameter styles
// (RFC 6570 as the OpenAPI spec profiles it), bodies by media type, static headers, credentials.

#include <boost/json.hpp>

#include <charconv>
#include <functional>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "openapi/internal.hpp"
#include "tuna/openapi.hpp"

namespace json = boost::json;

namespace tuna::openapi {
namespace {

using internal::Lower;

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
bool Reserved(char c) { return std::string_view(":/?#[]@!$&'()*+,;=").find(c) != std::string_view::npos; }

std::string Encode(std::string_view s, bool allow_reserved = false) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (Unreserved(c) || (allow_reserved && Reserved(c))) {
      out.push_back(c);
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// Cookie values may not hold spaces, quotes, commas, semicolons or backslashes (RFC 6265).
std::string EncodeCookie(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' || c == '%') {
      out += Encode(std::string_view(&c, 1));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A scalar as text: strings raw, numbers exactly (64-bit integers too), nested values as JSON.
std::string Scalar(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return std::string(v.as_string());
    case json::kind::int64: return std::to_string(v.as_int64());
    case json::kind::uint64: return std::to_string(v.as_uint64());
    case json::kind::double_: {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
      return std::string(buf, r.ptr);
    }
    case json::kind::bool_: return v.as_bool() ? "true" : "false";
    case json::kind::null: return "";
    default: return json::serialize(v);
  }
}

using Enc = std::string (*)(std::string_view);
std::string Plain(std::string_view s) { return std::string(s); }
std::string Pct(std::string_view s) { return Encode(s); }
std::string PctReserved(std::string_view s) { return Encode(s, true); }

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// Items of an array or key,value pairs of an object, each encoded.
std::vector<std::string> Items(const json::array& a, Enc enc) {
  std::vector<std::string> out;
  for (const auto& v : a) out.push_back(enc(Scalar(v)));
  return out;
}
std::vector<std::pair<std::string, std::string>> Pairs(const json::object& o, Enc enc) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& kv : o) out.emplace_back(enc(kv.key()), enc(Scalar(kv.value())));
  return out;
}
std::vector<std::string> Flat(const json::object& o, Enc enc) {  // k,v,k,v
  std::vector<std::string> out;
  for (auto& [k, v] : Pairs(o, enc)) out.push_back(k), out.push_back(v);
  return out;
}
std::vector<std::string> KeyEqValue(const json::object& o, Enc enc) {  // k=v
  std::vector<std::string> out;
  for (auto& [k, v] : Pairs(o, enc)) out.push_back(k + "=" + v);
  return out;
}

// simple, label and matrix (path), simple (header): the text replacing {name}.
std::string PathValue(const Parameter& p, const json::value& v, Enc enc) {
  const std::string name = enc(p.name);
  if (p.style == "label") {
    if (v.is_array()) return "." + Join(Items(v.as_array(), enc), p.explode ? "." : ",");
    if (v.is_object()) return "." + (p.explode ? Join(KeyEqValue(v.as_object(), enc), ".") : Join(Flat(v.as_object(), enc), ","));
    return "." + enc(Scalar(v));
  }
  if (p.style == "matrix") {
    if (v.is_array()) {
      if (!p.explode) return ";" + name + "=" + Join(Items(v.as_array(), enc), ",");
      std::string out;
      for (const auto& item : Items(v.as_array(), enc)) out += ";" + name + "=" + item;
      return out;
    }
    if (v.is_object()) {
      if (!p.explode) return ";" + name + "=" + Join(Flat(v.as_object(), enc), ",");
      std::string out;
      for (const auto& kv : KeyEqValue(v.as_object(), enc)) out += ";" + kv;
      return out;
    }
    std::string s = enc(Scalar(v));
    return s.empty() ? ";" + name : ";" + name + "=" + s;
  }
  // simple
  if (v.is_array()) return Join(Items(v.as_array(), enc), ",");
  if (v.is_object()) return p.explode ? Join(KeyEqValue(v.as_object(), enc), ",") : Join(Flat(v.as_object(), enc), ",");
  return enc(Scalar(v));
}

// form, spaceDelimited, pipeDelimited and deepObject: "k=v" pieces of the query string.
Result<std::vector<std::string>> QueryPieces(const Parameter& p, const json::value& v) {
  Enc enc = p.allow_reserved ? PctReserved : Pct;
  const std::string name = Encode(p.name);
  std::vector<std::string> out;
  if (p.style == "deepObject") {
    if (!v.is_object()) return InvalidArgument("parameter \"" + p.name + "\" (style deepObject) must be an object", p.argument);
    // Nested objects continue the bracket path; arrays repeat the key.
    std::function<void(const std::string&, const json::value&)> walk = [&](const std::string& prefix, const json::value& x) {
      if (x.is_object()) {
        for (const auto& kv : x.as_object()) walk(prefix + "[" + enc(kv.key()) + "]", kv.value());
      } else if (x.is_array()) {
        for (const auto& item : x.as_array()) walk(prefix, item);
      } else {
        out.push_back(prefix + "=" + enc(Scalar(x)));
      }
    };
    walk(name, v);
    return out;
  }
  std::string sep = p.style == "spaceDelimited" ? "%20" : p.style == "pipeDelimited" ? "|" : ",";
  bool exploding = p.explode && p.style == "form";
  if (v.is_array()) {
    if (exploding) {
      for (const auto& item : Items(v.as_array(), enc)) out.push_back(name + "=" + item);
    } else {
      out.push_back(name + "=" + Join(Items(v.as_array(), enc), sep));
    }
  } else if (v.is_object()) {
    if (exploding) {
      for (const auto& kv : KeyEqValue(v.as_object(), enc)) out.push_back(kv);
    } else {
      out.push_back(name + "=" + Join(Flat(v.as_object(), enc), sep));
    }
  } else {
    out.push_back(name + "=" + enc(Scalar(v)));
  }
  return out;
}

// form style in a cookie: pairs joined by "; " (explode) or one comma-separated value.
std::vector<std::string> CookiePieces(const Parameter& p, const json::value& v) {
  Enc enc = EncodeCookie;
  std::vector<std::string> out;
  if (v.is_array()) {
    if (p.explode) {
      for (const auto& item : Items(v.as_array(), enc)) out.push_back(p.name + "=" + item);
    } else {
      out.push_back(p.name + "=" + Join(Items(v.as_array(), enc), ","));
    }
  } else if (v.is_object()) {
    if (p.explode) {
      out = KeyEqValue(v.as_object(), enc);
    } else {
      out.push_back(p.name + "=" + Join(Flat(v.as_object(), enc), ","));
    }
  } else {
    out.push_back(p.name + "=" + enc(Scalar(v)));
  }
  return out;
}

std::string Base64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                      static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < in.size()) {
    std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

void SetHeader(std::vector<std::pair<std::string, std::string>>& headers, const std::string& name, std::string value) {
  for (auto& h : headers) {
    if (Lower(h.first) == Lower(name)) {
      h.second = std::move(value);
      return;
    }
  }
  headers.emplace_back(name, std::move(value));
}

const json::object* SecuritySchemes(const Document& doc) {
  const auto* components = doc.root.as_object().if_contains("components");
  if (components == nullptr || !components->is_object()) return nullptr;
  const auto* schemes = components->as_object().if_contains("securitySchemes");
  return schemes != nullptr && schemes->is_object() ? &schemes->as_object() : nullptr;
}

// Where an apiKey goes: the credential's header, its named scheme, the first apiKey scheme the
// operation (or the document) requires, any apiKey scheme, else the Authorization header.
std::pair<std::string, std::string> ApiKeyPlacement(const Document& doc, const Operation& op, const Credential& cred) {
  if (!cred.header_name.empty()) return {"header", cred.header_name};
  const auto* schemes = SecuritySchemes(doc);
  auto placement = [&](std::string_view scheme_name) -> std::optional<std::pair<std::string, std::string>> {
    if (schemes == nullptr) return std::nullopt;
    const auto* s = schemes->if_contains(scheme_name);
    if (s == nullptr || !s->is_object()) return std::nullopt;
    auto resolved = internal::Deref(doc, *s);
    if (!resolved.ok() || !(*resolved)->is_object()) return std::nullopt;
    const auto& o = (*resolved)->as_object();
    const auto* type = o.if_contains("type");
    const auto* in = o.if_contains("in");
    const auto* name = o.if_contains("name");
    if (type == nullptr || !type->is_string() || type->as_string() != "apiKey" || in == nullptr || !in->is_string() ||
        name == nullptr || !name->is_string()) {
      return std::nullopt;
    }
    return std::pair<std::string, std::string>{std::string(in->as_string()), std::string(name->as_string())};
  };
  if (!cred.security_scheme.empty()) {
    if (auto p = placement(cred.security_scheme)) return *p;
  }
  std::vector<std::vector<std::string>> requirements;
  if (op.security) {
    requirements = *op.security;
  } else if (const auto* sec = doc.root.as_object().if_contains("security"); sec != nullptr && sec->is_array()) {
    for (const auto& req : sec->as_array()) {
      std::vector<std::string> names;
      if (req.is_object()) {
        for (const auto& kv : req.as_object()) names.emplace_back(kv.key());
      }
      requirements.push_back(std::move(names));
    }
  }
  for (const auto& alternative : requirements) {
    for (const auto& name : alternative) {
      if (auto p = placement(name)) return *p;
    }
  }
  if (schemes != nullptr) {
    for (const auto& kv : *schemes) {
      if (auto p = placement(kv.key())) return *p;
    }
  }
  return {"header", "Authorization"};
}

bool IsJsonMedia(std::string_view media) {
  std::string t = Lower(media);
  return t.find("json") != std::string::npos || t == "*/*";
}

std::string FormBody(const json::object& fields) {
  std::vector<std::string> pieces;
  for (const auto& kv : fields) {
    if (kv.value().is_null()) continue;
    if (kv.value().is_array()) {
      for (const auto& item : kv.value().as_array()) pieces.push_back(Encode(kv.key()) + "=" + Encode(Scalar(item)));
    } else {
      pieces.push_back(Encode(kv.key()) + "=" + Encode(Scalar(kv.value())));
    }
  }
  return Join(pieces, "&");
}

std::string QuoteName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '"' || c == '\r' || c == '\n') out += "%" + std::string(c == '"' ? "22" : c == '\r' ? "0D" : "0A");
    else out.push_back(c);
  }
  return out;
}

std::string MultipartBody(const json::object& fields, std::string& boundary) {
  std::vector<std::pair<std::string, std::string>> parts;  // headers, content
  auto add = [&](std::string_view name, const json::value& v) {
    bool structured = v.is_object() || v.is_array();
    std::string head = "Content-Disposition: form-data; name=\"" + QuoteName(name) + "\"\r\n";
    if (structured) head += "Content-Type: application/json\r\n";
    parts.emplace_back(std::move(head), structured ? json::serialize(v) : Scalar(v));
  };
  for (const auto& kv : fields) {
    if (kv.value().is_null()) continue;
    bool scalars = kv.value().is_array();
    if (scalars) {
      for (const auto& item : kv.value().as_array()) scalars = scalars && !item.is_object() && !item.is_array();
    }
    if (scalars) {
      for (const auto& item : kv.value().as_array()) add(kv.key(), item);  // one part per item
    } else {
      add(kv.key(), kv.value());
    }
  }
  // A boundary that occurs in no part.
  boundary = "tuna-form-boundary";
  for (int n = 0;; ++n) {
    bool clash = false;
    for (const auto& part : parts) clash = clash || part.second.find(boundary) != std::string::npos;
    if (!clash) break;
    boundary = "tuna-form-boundary-" + std::to_string(n);
  }
  std::string out;
  for (const auto& [head, content] : parts) out += "--" + boundary + "\r\n" + head + "\r\n" + content + "\r\n";
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& h : headers) {
    if (Lower(h.first) == Lower(name)) return h.second;
  }
  return {};
}

Result<std::string> ResolveBaseUrl(const Document& document, std::string_view override_url, std::size_t server_index) {
  auto strip = [](std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  };
  if (!override_url.empty()) return strip(std::string(override_url));
  std::string url = "/";
  const auto* servers = document.root.as_object().if_contains("servers");
  bool listed = servers != nullptr && servers->is_array() && !servers->as_array().empty();
  if (listed) {
    if (server_index >= servers->as_array().size() || !servers->as_array()[server_index].is_object()) {
      return InvalidArgument(document.source + ": no server number " + std::to_string(server_index));
    }
    const auto& server = servers->as_array()[server_index].as_object();
    if (const auto* u = server.if_contains("url"); u != nullptr && u->is_string()) url = u->as_string();
    const auto* vars = server.if_contains("variables");
    std::string out;
    for (std::size_t i = 0; i < url.size(); ++i) {
      if (url[i] != '{') {
        out.push_back(url[i]);
        continue;
      }
      auto close = url.find('}', i);
      if (close == std::string::npos) return InvalidArgument(document.source + ": unbalanced '{' in server URL " + url);
      std::string name = url.substr(i + 1, close - i - 1);
      const json::value* def = nullptr;
      if (vars != nullptr && vars->is_object()) {
        if (const auto* var = vars->as_object().if_contains(name); var != nullptr && var->is_object()) {
          def = var->as_object().if_contains("default");
        }
      }
      if (def == nullptr) {
        return InvalidArgument(document.source + ": server variable {" + name + "} has no default");
      }
      out += Scalar(*def);
      i = close;
    }
    url = std::move(out);
    // An empty variable can leave "host//": keep a single slash after the authority.
    auto scheme = url.find("://");
    for (auto pos = url.find("//", scheme == std::string::npos ? 0 : scheme + 3); pos != std::string::npos;
         pos = url.find("//", pos)) {
      url.erase(pos, 1);
    }
  }
  if (url.find("://") != std::string::npos) return strip(url);
  // Relative: against the document's own URL.
  if (document.url.empty() || document.url.find("://") == std::string::npos) {
    return FailedPrecondition(document.source + (listed ? ": the server URL \"" + url + "\" is relative" : ": the document has no servers") +
                              " and there is no document URL to resolve it against; set spec.baseUrl");
  }
  const std::string& doc = document.url;
  auto authority_end = doc.find('/', doc.find("://") + 3);
  std::string origin = authority_end == std::string::npos ? doc : doc.substr(0, authority_end);
  if (url.rfind("//", 0) == 0) return strip(doc.substr(0, doc.find("://") + 1) + url);
  if (url.rfind("/", 0) == 0) return strip(origin + url);
  std::string dir = authority_end == std::string::npos ? origin + "/" : doc.substr(0, doc.rfind('/') + 1);
  return strip(dir + url);
}

Result<HttpRequest> BuildRequest(const Document& document, const Operation& op, const json::object& args,
                                 const RequestOptions& options) {
  HttpRequest req;
  req.method = op.method;
  auto value_of = [&](const Parameter& p) -> const json::value* {
    const auto* v = args.if_contains(p.argument);
    return v == nullptr || v->is_null() ? nullptr : v;
  };
  for (const auto& p : op.parameters) {
    if (p.required && value_of(p) == nullptr) {
      return InvalidArgument("missing required " + p.in + " parameter \"" + p.argument + "\"", p.argument);
    }
  }
  auto as_json_text = [](const Parameter& p, const json::value& v) {
    return p.json_content ? json::value(json::serialize(v)) : v;
  };

  // Path: the key without ReadMe's "#fragment" trick; {name} replaced by its style.
  std::string templ = op.path.substr(0, op.path.find('#'));
  std::string path;
  for (std::size_t i = 0; i < templ.size(); ++i) {
    if (templ[i] != '{') {
      path.push_back(templ[i]);
      continue;
    }
    auto close = templ.find('}', i);
    if (close == std::string::npos) return InvalidArgument("unbalanced '{' in path " + op.path);
    std::string name = templ.substr(i + 1, close - i - 1);
    const Parameter* param = nullptr;
    for (const auto& p : op.parameters) {
      if (p.in == "path" && p.name == name) param = &p;
    }
    Parameter implicit;
    if (param == nullptr) {  // a template variable the document forgot to declare
      implicit.name = implicit.argument = name;
      implicit.in = "path";
      implicit.style = "simple";
      param = &implicit;
    }
    const json::value* v = value_of(*param);
    if (v == nullptr) return InvalidArgument("missing required path parameter \"" + name + "\"", name);
    path += PathValue(*param, as_json_text(*param, *v), param->allow_reserved ? PctReserved : Pct);
    i = close;
  }

  std::vector<std::string> query, cookies;
  for (const auto& [name, value] : options.headers) SetHeader(req.headers, name, value);
  for (const auto& p : op.parameters) {
    const json::value* v = value_of(p);
    if (v == nullptr || p.in == "path") continue;
    json::value value = as_json_text(p, *v);
    if (p.in == "query") {
      TUNA_ASSIGN_OR_RETURN(auto pieces, QueryPieces(p, value));
      query.insert(query.end(), pieces.begin(), pieces.end());
    } else if (p.in == "header") {
      std::string lname = Lower(p.name);
      if (lname == "accept" || lname == "content-type" || lname == "authorization") continue;  // ignored by the spec
      req.headers.emplace_back(p.name, PathValue(p, value, Plain));
    } else if (p.in == "cookie") {
      auto pieces = CookiePieces(p, value);
      cookies.insert(cookies.end(), pieces.begin(), pieces.end());
    }
  }

  // Credentials; the operator's configuration wins over a same-named argument.
  bool anonymous = op.security && op.security->empty();
  if (options.credential && !anonymous) {
    const Credential& c = *options.credential;
    switch (c.type) {
      case CredentialType::kBearer:
        SetHeader(req.headers, c.header_name.empty() ? "Authorization" : c.header_name, "Bearer " + c.secret);
        break;
      case CredentialType::kBasic:
        SetHeader(req.headers, "Authorization", "Basic " + Base64(c.secret));
        break;
      case CredentialType::kApiKey: {
        auto [in, name] = ApiKeyPlacement(document, op, c);
        if (in == "query") {
          std::string prefix = Encode(name) + "=";
          std::erase_if(query, [&](const std::string& q) { return q.rfind(prefix, 0) == 0; });
          query.push_back(prefix + Encode(c.secret));
        } else if (in == "cookie") {
          std::string prefix = name + "=";
          std::erase_if(cookies, [&](const std::string& q) { return q.rfind(prefix, 0) == 0; });
          cookies.push_back(prefix + EncodeCookie(c.secret));
        } else {
          SetHeader(req.headers, name, c.secret);
        }
        break;
      }
    }
  }
  if (!cookies.empty()) {
    std::string existing = req.Header("Cookie");
    SetHeader(req.headers, "Cookie", (existing.empty() ? "" : existing + "; ") + Join(cookies, "; "));
  }

  if (op.body) {
    const RequestBody& b = *op.body;
    std::optional<json::value> payload;
    if (b.flattened) {
      json::object fields;
      for (const auto& name : b.properties) {
        if (const auto* v = args.if_contains(name)) fields[name] = *v;
      }
      if (!fields.empty() || b.required) payload = json::value(std::move(fields));
    } else if (const auto* v = args.if_contains(b.argument)) {
      payload = *v;
    } else if (b.required) {
      return InvalidArgument("missing required request body \"" + b.argument + "\"", b.argument);
    }
    if (payload) {
      std::string media = Lower(b.content_type);
      std::string content_type = b.content_type == "*/*" ? "application/json" : b.content_type;
      if (IsJsonMedia(media)) {
        req.body = json::serialize(*payload);
      } else if (media == "application/x-www-form-urlencoded") {
        req.body = payload->is_object() ? FormBody(payload->as_object()) : Scalar(*payload);
      } else if (media == "multipart/form-data") {
        if (!payload->is_object()) return InvalidArgument("a multipart/form-data body must be an object", b.argument);
        std::string boundary;
        req.body = MultipartBody(payload->as_object(), boundary);
        content_type += "; boundary=" + boundary;
      } else {
        req.body = Scalar(*payload);
      }
      SetHeader(req.headers, "Content-Type", content_type);
    }
  }
  if (req.Header("Accept").empty()) req.headers.emplace_back("Accept", "application/json, */*;q=0.8");

  req.url = options.base_url + path;
  if (!query.empty()) req.url += (req.url.find('?') == std::string::npos ? "?" : "&") + Join(query, "&");
  return req;
}

}  // namespace tuna::openapi
