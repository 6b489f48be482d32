#include "cli/args.hpp"

#include <algorithm>

#include "resources/suggest.hpp"

namespace tuna::cli {

std::string ParsedArgs::Value(std::string_view name, std::string fallback) const {
  auto it = values.find(std::string(name));
  if (it == values.end() || it->second.empty()) return fallback;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(std::string_view name) const {
  auto it = values.find(std::string(name));
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

namespace {

Status UnknownFlag(std::string_view flag, const std::vector<FlagSpec>& specs) {
  std::vector<std::string_view> names;
  std::vector<std::string> storage;
  storage.reserve(specs.size());
  for (const auto& s : specs) storage.push_back("--" + s.name);
  for (const auto& s : storage) names.push_back(s);
  std::string msg = "unknown flag " + std::string(flag);
  std::string_view bare = flag.substr(0, flag.find('='));
  if (std::string s = internal::Suggest(bare, names); !s.empty()) msg += " (did you mean " + s + "?)";
  return InvalidArgument(msg);
}

}  // namespace

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs) {
  ParsedArgs out;
  bool flags_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      out.positionals.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::string inline_value;
    bool has_inline = false;
    std::string shown;  // the flag as the user wrote it, for messages
    if (a.rfind("--", 0) == 0) {
      std::string body = a.substr(2);
      if (auto eq = body.find('='); eq != std::string::npos) {
        inline_value = body.substr(eq + 1);
        has_inline = true;
        body.resize(eq);
      }
      shown = "--" + body;
      for (const auto& s : specs) {
        if (s.name == body) spec = &s;
      }
    } else {
      shown = a.substr(0, 2);
      for (const auto& s : specs) {
        if (s.short_name != 0 && s.short_name == a[1]) spec = &s;
      }
      if (a.size() > 2) {
        inline_value = a.substr(a[2] == '=' ? 3 : 2);
        has_inline = true;
      }
    }
    if (spec == nullptr) return UnknownFlag(a.rfind("--", 0) == 0 ? a : shown, specs);
    if (!spec->takes_value) {
      if (has_inline) return InvalidArgument("flag " + shown + " takes no value");
      out.values[spec->name].push_back("true");
      continue;
    }
    if (has_inline) {
      out.values[spec->name].push_back(inline_value);
    } else if (i + 1 < args.size()) {
      out.values[spec->name].push_back(args[++i]);
    } else {
      return InvalidArgument("flag " + shown + " needs a value (" + spec->value_name + ")");
    }
  }
  return out;
}

std::string FlagsHelp(const std::vector<FlagSpec>& specs) {
  std::vector<std::pair<std::string, std::string>> lines;
  std::size_t width = 0;
  for (const auto& s : specs) {
    std::string left = s.short_name ? std::string("-") + s.short_name + ", " : std::string("    ");
    left += "--" + s.name;
    if (s.takes_value) left += " " + s.value_name;
    width = std::max(width, left.size());
    lines.emplace_back(std::move(left), s.help);
  }
  std::string out;
  for (const auto& [left, help] : lines) {
    out += "  " + left + std::string(width - left.size() + 3, ' ') + help + "\n";
  }
  return out;
}

}  // namespace tuna::cli
