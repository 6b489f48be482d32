// Loading and checking OpenAPI documents, and resolving local `$ref` pointers.

#include <boost/json.hpp>

#include <cctype>
#include <string>

#include "openapi/internal.hpp"
#include "tuna/openapi.hpp"
#include "tuna/resources/codec.hpp"

namespace json = boost::json;

namespace tuna::openapi {
namespace internal {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A `$ref` is a URI reference: its fragment may carry percent escapes before the JSON pointer ones.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// One reference token of a JSON pointer: ~1 is '/', ~0 is '~' (in that order, RFC 6901).
std::string UnescapeToken(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out.push_back(token[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(token[i]);
    }
  }
  return out;
}

}  // namespace

Result<const json::value*> ResolveRef(const Document& document, std::string_view ref) {
  if (ref.empty() || ref.front() != '#') {
    return InvalidArgument("$ref \"" + std::string(ref) +
                           "\" points outside the document; only local references (#/...) are supported");
  }
  std::string pointer = PercentDecode(ref.substr(1));
  if (!pointer.empty() && pointer.front() != '/') {
    return InvalidArgument("$ref \"" + std::string(ref) + "\" is not a JSON pointer (anchors are not supported)");
  }
  const json::value* at = &document.root;
  std::string walked = "#";
  std::size_t pos = 0;
  while (pos < pointer.size()) {
    std::size_t next = pointer.find('/', pos + 1);
    if (next == std::string::npos) next = pointer.size();
    std::string token = UnescapeToken(std::string_view(pointer).substr(pos + 1, next - pos - 1));
    const json::value* child = nullptr;
    if (const auto* obj = at->if_object()) {
      auto it = obj->find(token);
      if (it != obj->end()) child = &it->value();
    } else if (const auto* arr = at->if_array()) {
      std::size_t index = 0;
      bool digits = !token.empty();
      for (char c : token) digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (digits) index = std::stoul(token);
      if (digits && index < arr->size()) child = &(*arr)[index];
    }
    if (child == nullptr) {
      return InvalidArgument("unresolved $ref \"" + std::string(ref) + "\": no \"" + token + "\" in " + walked);
    }
    walked += pointer.substr(pos, next - pos);
    at = child;
    pos = next;
  }
  return at;
}

Result<const json::value*> Deref(const Document& document, const json::value& value) {
  const json::value* at = &value;
  for (int hops = 0; hops < 32; ++hops) {
    const auto* obj = at->if_object();
    if (obj == nullptr) return at;
    auto it = obj->find("$ref");
    if (it == obj->end()) return at;
    if (!it->value().is_string()) return InvalidArgument("$ref is not a string");
    TUNA_ASSIGN_OR_RETURN(at, ResolveRef(document, it->value().as_string()));
  }
  return InvalidArgument("$ref chain longer than 32 hops (a cycle?)");
}

std::string Truncate(std::string_view text, std::size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // …
  std::size_t cut = max_chars > kEllipsis.size() ? max_chars - kEllipsis.size() : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a code point
  return std::string(text.substr(0, cut)) + std::string(kEllipsis);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace internal

Result<Document> DocumentFromJson(json::value root, std::string_view source_name, std::string_view document_url) {
  std::string where = source_name.empty() ? std::string("document") : std::string(source_name);
  const auto* obj = root.if_object();
  if (obj == nullptr) return InvalidArgument(where + ": not an OpenAPI document (the root is not an object)");
  if (obj->contains("swagger")) {
    return InvalidArgument(where + ": Swagger/OpenAPI 2.0 documents are not supported; convert it to OpenAPI 3 first");
  }
  auto it = obj->find("openapi");
  if (it == obj->end()) return InvalidArgument(where + ": not an OpenAPI document (no \"openapi\" field)");
  if (!it->value().is_string()) return InvalidArgument(where + ": \"openapi\" must be a version string such as \"3.1.0\"");
  std::string version(it->value().as_string());
  bool known = (version.rfind("3.0.", 0) == 0 || version.rfind("3.1.", 0) == 0) && version.size() > 4;
  if (!known) {
    return InvalidArgument(where + ": OpenAPI version \"" + version + "\" is not supported (3.0.x and 3.1.x are)");
  }
  if (auto p = obj->find("paths"); p != obj->end() && !p->value().is_object()) {
    return InvalidArgument(where + ": \"paths\" must be an object");
  }
  if (!obj->contains("paths") && !obj->contains("webhooks") && !obj->contains("components")) {
    return InvalidArgument(where + ": no \"paths\"");
  }
  Document doc;
  doc.root = std::move(root);
  doc.version = std::move(version);
  doc.source = std::move(where);
  doc.url = std::string(document_url);
  return doc;
}

Result<Document> LoadDocument(std::string_view text, std::string_view source_name, std::string_view document_url) {
  std::string name = source_name.empty() ? std::string("document") : std::string(source_name);
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text.substr(first, 3) == "\xEF\xBB\xBF") first += 3;  // BOM
  if (first == std::string_view::npos) return InvalidArgument(name + ": empty document");
  if (text[first] == '{') {
    TUNA_ASSIGN_OR_RETURN(auto value, ParseJson(text, name));
    return DocumentFromJson(std::move(value), name, document_url);
  }
  TUNA_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, name));
  if (docs.empty()) return InvalidArgument(name + ": empty document");
  if (docs.size() > 1) return InvalidArgument(name + ": more than one YAML document in the stream");
  return DocumentFromJson(std::move(docs.front().value), name, document_url);
}

}  // namespace tuna::openapi
