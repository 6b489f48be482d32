#include "resources/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace tuna::internal {

std::size_t EditDistance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string Suggest(std::string_view name, const std::vector<std::string_view>& candidates) {
  std::size_t best = std::string::npos;
  std::string_view best_name;
  const std::size_t limit = std::max<std::size_t>(1, (name.size() + 2) / 3);
  for (auto c : candidates) {
    std::size_t d = EditDistance(name, c);
    if (d <= limit && d < best) {
      best = d;
      best_name = c;
    }
  }
  return std::string(best_name);
}

std::string UnknownFieldMessage(std::string_view name, const std::vector<std::string_view>& candidates) {
  std::string msg = "unknown field";
  std::string s = Suggest(name, candidates);
  if (!s.empty()) msg += " (did you mean " + s + "?)";
  return msg;
}

std::string JoinPath(std::string_view base, std::string_view field) {
  if (base.empty()) return std::string(field);
  std::string out(base);
  out += '.';
  out += field;
  return out;
}

std::string JoinIndex(std::string_view base, std::size_t index) {
  return std::string(base) + "[" + std::to_string(index) + "]";
}

std::string_view JsonKindName(int k) {
  // Order of boost::json::kind: null, bool_, int64, uint64, double_, string, array, object.
  static constexpr std::string_view names[] = {"null", "boolean", "integer", "integer", "number", "string", "array", "object"};
  return (k >= 0 && k < 8) ? names[k] : "value";
}

}  // namespace tuna::internal
