// LabelSelector: Kubernetes label selector syntax (equality- and set-based).

#include <algorithm>
#include <cctype>

#include "tuna/store.hpp"

namespace tuna {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Kubernetes "name" part of a label key and label values: <= 63 chars, alphanumeric at both
// ends, '-', '_' and '.' inside.
std::string CheckNamePart(std::string_view s, std::string_view what) {
  if (s.size() > 63) return std::string(what) + " must be no more than 63 characters";
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) {
    return std::string(what) + " must begin and end with an alphanumeric character";
  }
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') {
      return std::string(what) + " contains invalid character '" + std::string(1, c) + "'";
    }
  }
  return {};
}

// A label key: optional DNS-subdomain prefix and '/', then a name part.
std::string CheckKey(std::string_view key) {
  if (key.empty()) return "missing label key";
  std::string_view name = key;
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 253) return "label key prefix must be 1 to 253 characters";
    for (char c : prefix) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
      if (!ok) return "label key prefix contains invalid character '" + std::string(1, c) + "'";
    }
    if (name.empty()) return "missing label key name after '/'";
  }
  return CheckNamePart(name, "label key");
}

std::string CheckValue(std::string_view value) {
  if (value.empty()) return {};  // empty values are legal ("a=" matches a label set to "")
  return CheckNamePart(value, "label value");
}

bool IsKeyChar(char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.' || c == '/'; }

// Splits on commas that are not inside parentheses ("a in (x,y),b" is two terms).
std::vector<std::string_view> SplitTerms(std::string_view text) {
  std::vector<std::string_view> terms;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')') --depth;
    if (text[i] == ',' && depth == 0) {
      terms.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(text.substr(start));
  return terms;
}

Status TermError(std::string_view text, std::string_view term, const std::string& why) {
  return InvalidArgument("invalid label selector \"" + std::string(text) + "\": term \"" +
                             std::string(Trim(term)) + "\": " + why,
                         "labelSelector");
}

// Parses "key op value" or "key in (a,b)" etc.; returns an error message or fills `out`.
std::string ParseTerm(std::string_view term, LabelSelector::Term& out) {
  using Op = LabelSelector::Term::Op;
  std::string_view s = Trim(term);
  if (s.empty()) return "empty term";
  if (s.front() == '!') {
    std::string_view key = Trim(s.substr(1));
    if (auto err = CheckKey(key); !err.empty()) return err;
    out.key = std::string(key);
    out.op = Op::kNotExists;
    return {};
  }
  std::size_t i = 0;
  while (i < s.size() && IsKeyChar(s[i])) ++i;
  std::string_view key = s.substr(0, i);
  if (auto err = CheckKey(key); !err.empty()) return err;
  out.key = std::string(key);
  std::string_view rest = Trim(s.substr(i));
  if (rest.empty()) {
    out.op = Op::kExists;
    return {};
  }
  auto take_value = [&](std::size_t op_len, Op op) -> std::string {
    std::string_view value = Trim(rest.substr(op_len));
    if (auto err = CheckValue(value); !err.empty()) return err;
    out.op = op;
    out.values = {std::string(value)};
    return {};
  };
  if (rest.starts_with("!=")) return take_value(2, Op::kNotEquals);
  if (rest.starts_with("==")) return take_value(2, Op::kEquals);
  if (rest.starts_with("=")) return take_value(1, Op::kEquals);

  Op op;
  std::size_t word = 0;
  if (rest.starts_with("notin") && (rest.size() == 5 || IsSpace(rest[5]) || rest[5] == '(')) {
    op = Op::kNotIn;
    word = 5;
  } else if (rest.starts_with("in") && (rest.size() == 2 || IsSpace(rest[2]) || rest[2] == '(')) {
    op = Op::kIn;
    word = 2;
  } else {
    return "expected one of =, ==, !=, in, notin after key \"" + out.key + "\"";
  }
  std::string_view set = Trim(rest.substr(word));
  if (set.size() < 2 || set.front() != '(' || set.back() != ')') {
    return "expected a parenthesized value list after \"" + std::string(op == Op::kIn ? "in" : "notin") + "\"";
  }
  std::string_view inner = set.substr(1, set.size() - 2);
  if (Trim(inner).empty()) return "value list must not be empty";
  std::vector<std::string> values;
  std::size_t start = 0;
  for (std::size_t j = 0; j <= inner.size(); ++j) {
    if (j == inner.size() || inner[j] == ',') {
      std::string_view v = Trim(inner.substr(start, j - start));
      if (v.find_first_of("()") != std::string_view::npos) return "unbalanced parentheses";
      if (auto err = CheckValue(v); !err.empty()) return err;
      values.emplace_back(v);
      start = j + 1;
    }
  }
  out.op = op;
  out.values = std::move(values);
  return {};
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  if (Trim(text).empty()) return selector;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) break;
  }
  if (depth != 0) {
    return InvalidArgument("invalid label selector \"" + std::string(text) + "\": unbalanced parentheses",
                           "labelSelector");
  }
  for (std::string_view term : SplitTerms(text)) {
    Term t;
    if (auto err = ParseTerm(term, t); !err.empty()) return TermError(text, term, err);
    selector.terms_.push_back(std::move(t));
  }
  return selector;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& t : terms_) {
    auto it = labels.find(t.key);
    bool has = it != labels.end();
    auto in_values = [&] { return std::find(t.values.begin(), t.values.end(), it->second) != t.values.end(); };
    bool ok = false;
    switch (t.op) {
      case Term::Op::kEquals: ok = has && it->second == t.values.front(); break;
      case Term::Op::kNotEquals: ok = !has || it->second != t.values.front(); break;
      case Term::Op::kIn: ok = has && in_values(); break;
      case Term::Op::kNotIn: ok = !has || !in_values(); break;
      case Term::Op::kExists: ok = has; break;
      case Term::Op::kNotExists: ok = !has; break;
    }
    if (!ok) return false;
  }
  return true;
}

std::string LabelSelector::ToString() const {
  std::string out;
  for (const auto& t : terms_) {
    if (!out.empty()) out += ',';
    auto join = [&] {
      std::string s = "(";
      for (std::size_t i = 0; i < t.values.size(); ++i) s += (i ? "," : "") + t.values[i];
      return s + ")";
    };
    switch (t.op) {
      case Term::Op::kEquals: out += t.key + "=" + t.values.front(); break;
      case Term::Op::kNotEquals: out += t.key + "!=" + t.values.front(); break;
      case Term::Op::kIn: out += t.key + " in " + join(); break;
      case Term::Op::kNotIn: out += t.key + " notin " + join(); break;
      case Term::Op::kExists: out += t.key; break;
      case Term::Op::kNotExists: out += "!" + t.key; break;
    }
  }
  return out;
}

}  // namespace tuna
