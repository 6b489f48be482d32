#pragma once
// Private: command-line flag parsing for the `tuna` CLI (GNU style: --flag value, --flag=value,
// -f value, -fvalue, "--" ends flags).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tuna/status.hpp"

namespace tuna::cli {

struct FlagSpec {
  std::string name;         // long name without dashes: "namespace"
  char short_name = 0;      // 'n'; 0: none
  bool takes_value = false;
  std::string value_name;   // "NS" (help only)
  std::string help;
};

struct ParsedArgs {
  std::vector<std::string> positionals;
  std::map<std::string, std::vector<std::string>> values;  // by long name; a bool flag holds "true"

  /// True when the flag was given.
  bool Has(std::string_view name) const { return values.find(std::string(name)) != values.end(); }
  /// The last value given for the flag, or `fallback`.
  std::string Value(std::string_view name, std::string fallback = {}) const;
  /// Every value given for a repeatable flag, in order.
  std::vector<std::string> Values(std::string_view name) const;
};

/// Parses `args` against `specs`; an unknown flag or a missing value is an InvalidArgument whose
/// message is ready for "error: " (with a "did you mean" suggestion when one is close).
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs);

/// Help lines for `specs`: "  -n, --namespace NS   help".
std::string FlagsHelp(const std::vector<FlagSpec>& specs);

}  // namespace tuna::cli
