// YAML codec: yaml-cpp nodes -> boost::json (YAML 1.2 core schema), with per-field line numbers and
// limits against alias bombs and huge inputs; and a small block-style emitter. yaml-cpp throws, so
// every entry point catches everything: nothing escapes.

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>

#include "resources/suggest.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

using internal::JoinIndex;
using internal::JoinPath;

constexpr std::size_t kMaxYamlBytes = 32u << 20;   // a manifest or OpenAPI document, not a dump
constexpr std::size_t kMaxYamlNodes = 2'000'000;   // after alias expansion, per stream
constexpr int kMaxYamlDepth = 256;                 // nesting of the converted value

std::string Where(std::string_view source, const YAML::Mark& mark) {
  std::string out(source);
  if (mark.line >= 0) {
    out += ":" + std::to_string(mark.line + 1);
    if (mark.column >= 0) out += ":" + std::to_string(mark.column + 1);
  }
  return out;
}

bool IsNullWord(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<bool> BoolWord(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsOctal(char c) { return c >= '0' && c <= '7'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Integer per the core schema: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+.
std::optional<json::value> IntWord(std::string_view s) {
  int base = 10;
  std::string_view digits = s;
  bool negative = false;
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && AllOf(s.substr(2), IsOctal)) {
    base = 8;
    digits = s.substr(2);
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && AllOf(s.substr(2), IsHex)) {
    base = 16;
    digits = s.substr(2);
  } else {
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
      negative = s[0] == '-';
      digits = s.substr(1);
    }
    if (!AllOf(digits, IsDigit)) return std::nullopt;
  }
  std::uint64_t u = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
  if (ec == std::errc() && ptr == digits.data() + digits.size()) {
    if (!negative) {
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return json::value(static_cast<std::int64_t>(u));
      }
      return json::value(u);
    }
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1) {
      return json::value(static_cast<std::int64_t>(0 - u));
    }
  }
  // Too large for 64 bits: keep it as a number, like JSON parsers do.
  double d = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), d);
  if (r.ec != std::errc() && r.ec != std::errc::result_out_of_range) return std::nullopt;
  return json::value(negative ? -d : d);
}

// Float per the core schema: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? and .inf/.nan.
std::optional<json::value> FloatWord(std::string_view s) {
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body = body.substr(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    return json::value(negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity());
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return json::value(std::numeric_limits<double>::quiet_NaN());
  std::size_t i = 0;
  std::size_t int_digits = 0, frac_digits = 0;
  while (i < body.size() && IsDigit(body[i])) ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && IsDigit(body[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    std::size_t exp_digits = 0;
    while (i < body.size() && IsDigit(body[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  double d = 0;
  auto r = std::from_chars(body.data(), body.data() + body.size(), d);
  if (r.ec == std::errc::result_out_of_range) {
    d = std::numeric_limits<double>::infinity();
  } else if (r.ec != std::errc()) {
    return std::nullopt;
  }
  return json::value(negative ? -d : d);
}

// A plain (unquoted, untagged) scalar, resolved with the YAML 1.2 core schema.
json::value ResolvePlain(const std::string& s) {
  if (IsNullWord(s)) return nullptr;
  if (auto b = BoolWord(s)) return *b;
  if (auto i = IntWord(s)) return *i;
  if (auto f = FloatWord(s)) return *f;
  return json::value(s);
}

class Converter {
 public:
  Converter(std::string_view source, std::size_t& nodes) : source_(source), nodes_(nodes) {}

  Status Convert(const YAML::Node& n, const std::string& path, int depth, json::value& out,
                 std::map<std::string, int>& lines) {
    if (++nodes_ > kMaxYamlNodes) {
      return ResourceExhausted(Where(source_, n.Mark()) + ": more than " + std::to_string(kMaxYamlNodes) +
                               " nodes after expanding aliases");
    }
    if (depth > kMaxYamlDepth) {
      return InvalidArgument(Where(source_, n.Mark()) + ": nested deeper than " + std::to_string(kMaxYamlDepth) +
                             " levels");
    }
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out = nullptr;
        return {};
      case YAML::NodeType::Scalar:
        return ConvertScalar(n, out);
      case YAML::NodeType::Sequence: {
        json::array a;
        a.reserve(n.size());
        std::size_t i = 0;
        for (const auto& item : n) {
          std::string p = JoinIndex(path, i++);
          if (item.Mark().line >= 0) lines.emplace(p, item.Mark().line + 1);
          json::value v;
          TUNA_RETURN_IF_ERROR(Convert(item, p, depth + 1, v, lines));
          a.push_back(std::move(v));
        }
        out = std::move(a);
        return {};
      }
      case YAML::NodeType::Map: {
        json::object o;
        for (const auto& kv : n) {
          const YAML::Node& key = kv.first;
          if (!key.IsScalar()) {
            return InvalidArgument(Where(source_, key.Mark()) + ": mapping keys must be scalars");
          }
          const std::string& k = key.Scalar();
          if (o.contains(k)) {
            return InvalidArgument(Where(source_, key.Mark()) + ": duplicate key \"" + k + "\"");
          }
          std::string p = JoinPath(path, k);
          if (key.Mark().line >= 0) lines.emplace(p, key.Mark().line + 1);
          json::value v;
          TUNA_RETURN_IF_ERROR(Convert(kv.second, p, depth + 1, v, lines));
          o.emplace(k, std::move(v));
        }
        out = std::move(o);
        return {};
      }
    }
    out = nullptr;
    return {};
  }

 private:
  Status ConvertScalar(const YAML::Node& n, json::value& out) {
    const std::string& s = n.Scalar();
    const std::string& tag = n.Tag();
    // "!" marks a quoted or block scalar: always a string. "?" (or empty) is a plain scalar.
    if (tag == "!" || tag == "tag:yaml.org,2002:str") {
      out = json::value(s);
      return {};
    }
    if (tag.empty() || tag == "?") {
      out = ResolvePlain(s);
      return {};
    }
    std::optional<json::value> v;
    if (tag == "tag:yaml.org,2002:int") v = IntWord(s);
    else if (tag == "tag:yaml.org,2002:float") v = FloatWord(s) ? FloatWord(s) : IntWord(s);
    else if (tag == "tag:yaml.org,2002:bool") v = BoolWord(s) ? std::optional<json::value>(*BoolWord(s)) : std::nullopt;
    else if (tag == "tag:yaml.org,2002:null") v = IsNullWord(s) ? std::optional<json::value>(nullptr) : std::nullopt;
    else v = json::value(s);  // unknown local tags: keep the text
    if (!v) {
      std::string shown = tag.rfind("tag:yaml.org,2002:", 0) == 0 ? "!!" + tag.substr(18) : tag;
      return InvalidArgument(Where(source_, n.Mark()) + ": \"" + s + "\" is not a valid " + shown);
    }
    out = std::move(*v);
    return {};
  }

  std::string_view source_;
  std::size_t& nodes_;
};

std::string SourceName(std::string_view source_name) {
  return source_name.empty() ? std::string("YAML") : std::string(source_name);
}

// ---- emitter ----------------------------------------------------------------------------------

bool IsYaml11Word(std::string_view s) {
  static const std::set<std::string> words = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                              "on", "On", "ON", "off", "Off", "OFF", "<<", "="};
  return words.count(std::string(s)) > 0;
}

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  if (!ResolvePlain(s).is_string()) return true;  // would read back as null/bool/number
  if (IsYaml11Word(s)) return true;               // YAML 1.1 readers would take these as booleans
  static constexpr std::string_view kIndicators = "?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos) return true;
  if (s.front() == '-' && (s.size() == 1 || s[1] == ' ' || s[1] == '-')) return true;
  if (s.rfind("...", 0) == 0) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.back() == ':') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string Quoted(const std::string& s) { return json::serialize(json::value(s)); }

// Block literal for readable multi-line text; only when it reads back exactly.
bool UseLiteral(const std::string& s) {
  if (s.find('\n') == std::string::npos) return false;
  if (s.front() == ' ' || s.front() == '\n' || s.front() == '\t') return false;
  if (s.size() >= 2 && s[s.size() - 1] == '\n' && s[s.size() - 2] == '\n') return false;
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return false;
  }
  // Trailing whitespace on a line is fine inside a literal, but a line of only spaces right before
  // a less indented line is ambiguous to some readers: avoid it.
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    std::string_view line(s.data() + start, end - start);
    if (!line.empty() && line.find_first_not_of(" \t") == std::string_view::npos) return false;
    start = end + 1;
  }
  return true;
}

std::string ScalarText(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_: {
      double d = v.get_double();
      if (std::isnan(d)) return ".nan";
      if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
      return json::serialize(v);
    }
    case json::kind::string: {
      std::string s(v.get_string());
      return NeedsQuotes(s) ? Quoted(s) : s;
    }
    case json::kind::array:
      return "[]";
    case json::kind::object:
      return "{}";
  }
  return "null";
}

void Pad(std::string& out, int n) { out.append(static_cast<std::size_t>(n), ' '); }

void EmitObject(std::string& out, const json::object& o, int indent, bool first_inline);
void EmitArray(std::string& out, const json::array& a, int indent);

// Writes what follows "key:" or "-" (a space and a scalar, or a newline and a nested block).
void EmitAfterIndicator(std::string& out, const json::value& v, int indent) {
  if (v.is_object() && !v.get_object().empty()) {
    out += '\n';
    EmitObject(out, v.get_object(), indent + 2, false);
  } else if (v.is_array() && !v.get_array().empty()) {
    out += '\n';
    EmitArray(out, v.get_array(), indent + 2);
  } else if (v.is_string() && UseLiteral(std::string(v.get_string()))) {
    std::string s(v.get_string());
    bool clip = s.back() == '\n';
    out += clip ? " |\n" : " |-\n";
    if (clip) s.pop_back();
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) {
        Pad(out, indent + 2);
        out.append(s, start, end - start);
      }
      out += '\n';
      start = end + 1;
    }
  } else {
    out += ' ';
    out += ScalarText(v);
    out += '\n';
  }
}

std::string KeyText(std::string_view k) {
  std::string s(k);
  return NeedsQuotes(s) ? Quoted(s) : s;
}

void EmitObject(std::string& out, const json::object& o, int indent, bool first_inline) {
  bool first = true;
  for (const auto& kv : o) {
    if (!(first && first_inline)) Pad(out, indent);
    first = false;
    out += KeyText(kv.key());
    out += ':';
    EmitAfterIndicator(out, kv.value(), indent);
  }
}

void EmitArray(std::string& out, const json::array& a, int indent) {
  for (const auto& item : a) {
    Pad(out, indent);
    out += '-';
    if (item.is_object() && !item.get_object().empty()) {
      out += ' ';
      EmitObject(out, item.get_object(), indent + 2, true);
    } else {
      EmitAfterIndicator(out, item, indent);
    }
  }
}

int LineOf(const SourceDocument& doc, std::string path) {
  while (!path.empty()) {
    auto it = doc.field_lines.find(path);
    if (it != doc.field_lines.end()) return it->second;
    // Drop the last segment: "a.b[2]" -> "a.b" -> "a".
    std::size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return doc.line;
}

// "file.yaml (document 2)" -> "file.yaml": lines are absolute in the file, so the name is enough.
std::string FileOf(const std::string& source) {
  auto pos = source.rfind(" (document ");
  if (pos != std::string::npos && !source.empty() && source.back() == ')') return source.substr(0, pos);
  return source;
}

}  // namespace

Result<std::vector<SourceDocument>> ParseYamlDocuments(std::string_view text, std::string_view source_name) {
  const std::string source = SourceName(source_name);
  if (text.size() > kMaxYamlBytes) {
    return ResourceExhausted(source + ": input is " + std::to_string(text.size()) + " bytes, over the " +
                             std::to_string(kMaxYamlBytes) + "-byte limit");
  }
  try {
    std::vector<YAML::Node> roots = YAML::LoadAll(std::string(text));
    std::vector<SourceDocument> docs;
    std::size_t nodes = 0;
    Converter converter(source, nodes);
    const bool many = roots.size() > 1;
    for (std::size_t i = 0; i < roots.size(); ++i) {
      const YAML::Node& root = roots[i];
      if (!root.IsDefined() || root.IsNull()) continue;  // empty document
      SourceDocument doc;
      doc.source = many ? source + " (document " + std::to_string(i + 1) + ")" : source;
      doc.line = root.Mark().line >= 0 ? root.Mark().line + 1 : 1;
      TUNA_RETURN_IF_ERROR(converter.Convert(root, "", 0, doc.value, doc.field_lines));
      if (doc.value.is_null()) continue;
      docs.push_back(std::move(doc));
    }
    return docs;
  } catch (const YAML::ParserException& e) {
    return InvalidArgument(Where(source, e.mark) + ": invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(Where(source, e.mark) + ": invalid YAML: " + e.msg);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted(source + ": out of memory while parsing YAML");
  } catch (const std::exception& e) {
    return InvalidArgument(source + ": invalid YAML: " + e.what());
  } catch (...) {
    return Internal(source + ": unexpected error while parsing YAML");
  }
}

Result<Resource> DecodeSourceDocument(const SourceDocument& doc) {
  auto located = [&](const Status& s) {
    std::string prefix = FileOf(doc.source) + ":" + std::to_string(LineOf(doc, s.field())) + ": ";
    return Status(s.code(), prefix + s.message(), s.field());
  };
  auto r = ResourceFromJson(doc.value);
  if (!r.ok()) return located(r.status());
  Status s = ValidateSchema(*r);
  if (!s.ok()) return located(s);
  return r;
}

Result<std::vector<Resource>> DecodeYamlResources(std::string_view text, std::string_view source_name) {
  TUNA_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, source_name));
  std::vector<Resource> out;
  out.reserve(docs.size());
  for (const auto& doc : docs) {
    TUNA_ASSIGN_OR_RETURN(auto r, DecodeSourceDocument(doc));
    out.push_back(std::move(r));
  }
  return out;
}

std::string EncodeYamlValue(const json::value& v) {
  std::string out;
  try {
    if (v.is_object() && !v.get_object().empty()) {
      EmitObject(out, v.get_object(), 0, false);
    } else if (v.is_array() && !v.get_array().empty()) {
      EmitArray(out, v.get_array(), 0);
    } else if (v.is_string() && UseLiteral(std::string(v.get_string()))) {
      EmitAfterIndicator(out, v, 0);
      out.erase(0, 1);  // the leading space before "|"
    } else {
      out = ScalarText(v);
      out += '\n';
    }
  } catch (...) {
    // Only allocation can fail here; an empty result is the least surprising answer.
    out.clear();
  }
  return out;
}

std::string EncodeYaml(const Resource& r) { return EncodeYamlValue(ResourceToJson(r)); }

}  // namespace tuna
