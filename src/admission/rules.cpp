#include "admission/rules.hpp"

#include <boost/url/parse.hpp>

#include <cctype>

namespace tuna::internal {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

constexpr std::string_view kDnsLabelRule =
    "must be a DNS-1123 label (at most 63 characters: lowercase letters, digits and '-', starting and "
    "ending with a letter or digit)";
constexpr std::string_view kLabelNameRule =
    "must be at most 63 characters: letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

// The name part of a label key and a (non-empty) label value share one rule.
bool IsLabelName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status CheckKey(const std::string& key, const std::string& path, std::string_view what) {
  std::string_view name = key;
  auto slash = key.find('/');
  if (slash != std::string::npos) {
    std::string_view prefix(key.data(), slash);
    name = std::string_view(key).substr(slash + 1);
    if (!IsDnsSubdomain(prefix)) {
      return InvalidArgument(path + ": invalid " + std::string(what) + " key " + Quote(key) +
                                 ": prefix must be a DNS-1123 subdomain",
                             path);
    }
  }
  if (!IsLabelName(name)) {
    return InvalidArgument(path + ": invalid " + std::string(what) + " key " + Quote(key) + ": name part " +
                               std::string(kLabelNameRule),
                           path);
  }
  return {};
}

}  // namespace

bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    std::string_view part = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!IsDnsLabel(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Status CheckName(std::string_view value, const std::string& path) {
  if (value.empty()) return InvalidArgument(path + ": required field is missing", path);
  if (!IsDnsLabel(value)) {
    return InvalidArgument(path + ": invalid name " + Quote(value) + ": " + std::string(kDnsLabelRule), path);
  }
  return {};
}

Status CheckLabels(const std::map<std::string, std::string>& labels, const std::string& path) {
  for (const auto& [k, v] : labels) {
    TUNA_RETURN_IF_ERROR(CheckKey(k, path, "label"));
    if (!v.empty() && !IsLabelName(v)) {
      return InvalidArgument(path + ": invalid value " + Quote(v) + " for label " + Quote(k) + ": " +
                                 std::string(kLabelNameRule),
                             path);
    }
  }
  return {};
}

Status CheckAnnotationKeys(const std::map<std::string, std::string>& annotations, const std::string& path) {
  std::size_t total = 0;
  for (const auto& [k, v] : annotations) {
    TUNA_RETURN_IF_ERROR(CheckKey(k, path, "annotation"));
    total += k.size() + v.size();
  }
  constexpr std::size_t kMaxAnnotationBytes = 256 * 1024;  // Kubernetes' limit
  if (total > kMaxAnnotationBytes) {
    return InvalidArgument(path + ": total size " + std::to_string(total) + " bytes is over the " +
                               std::to_string(kMaxAnnotationBytes) + "-byte limit",
                           path);
  }
  return {};
}

Status CheckUrl(std::string_view value, const std::string& path, std::initializer_list<std::string_view> schemes) {
  std::string allowed;
  for (auto s : schemes) {
    if (!allowed.empty()) allowed += ", ";
    allowed += s;
  }
  auto parsed = boost::urls::parse_absolute_uri(value);
  if (!parsed) {
    // Boost.URL's own messages ("mismatch", "need more") mean little to a user.
    return InvalidArgument(path + ": invalid URL " + Quote(value) + ": not an absolute URL (scheme://host/path)", path);
  }
  std::string scheme(parsed->scheme());
  bool ok = false;
  for (auto s : schemes) ok = ok || scheme == s;
  if (!ok) {
    return InvalidArgument(path + ": invalid URL " + Quote(value) + ": scheme must be one of: " + allowed, path);
  }
  if ((scheme == "http" || scheme == "https" || scheme == "s3") && parsed->encoded_host().empty()) {
    return InvalidArgument(path + ": invalid URL " + Quote(value) + ": missing host", path);
  }
  return {};
}

Status CheckQuantity(std::string_view value, const std::string& path) {
  auto bad = [&] {
    return InvalidArgument(path + ": invalid quantity " + Quote(value) +
                               " (examples: \"500m\", \"2\", \"512Mi\", \"1G\")",
                           path);
  };
  std::size_t i = 0, int_digits = 0, frac_digits = 0;
  while (i < value.size() && std::isdigit(static_cast<unsigned char>(value[i]))) ++i, ++int_digits;
  if (i < value.size() && value[i] == '.') {
    ++i;
    while (i < value.size() && std::isdigit(static_cast<unsigned char>(value[i]))) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return bad();
  std::string_view suffix = value.substr(i);
  static constexpr std::string_view kSuffixes[] = {"",  "n",  "u",  "m",  "k",  "M",  "G",  "T",
                                                   "P", "E",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  for (auto s : kSuffixes) {
    if (suffix == s) return {};
  }
  // Decimal exponent: "1e3", "1E-2".
  if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') ++j;
    if (j < suffix.size() && suffix.find_first_not_of("0123456789", j) == std::string_view::npos) return {};
  }
  return bad();
}

bool IsSha256Digest(std::string_view s) {
  constexpr std::string_view kPrefix = "sha256:";
  if (s.size() != kPrefix.size() + 64 || s.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : s.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckRange(std::int64_t v, std::int64_t lo, std::int64_t hi, const std::string& path) {
  if (v < lo || v > hi) {
    return InvalidArgument(path + ": must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                               ", got " + std::to_string(v),
                           path);
  }
  return {};
}

Status CheckEnvNames(const std::map<std::string, std::string>& env, const std::string& path) {
  for (const auto& [k, v] : env) {
    bool ok = !k.empty() && !std::isdigit(static_cast<unsigned char>(k.front()));
    for (char c : k) ok = ok && (IsAlnum(c) || c == '_');
    if (!ok) {
      return InvalidArgument(path + ": invalid variable name " + Quote(k) +
                                 ": must be letters, digits and '_', not starting with a digit",
                             path);
    }
  }
  return {};
}

bool IsHttpToken(std::string_view s) {
  if (s.empty()) return false;
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  for (char c : s) {
    if (!IsAlnum(c) && kExtra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

Status CheckNotEmpty(std::string_view value, const std::string& path) {
  if (value.empty()) return InvalidArgument(path + ": must not be empty", path);
  return {};
}

}  // namespace tuna::internal
