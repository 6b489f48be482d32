#include "tuna/resources/object.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace tuna {

const std::vector<KindInfo>& AllKinds() {
  static const std::vector<KindInfo> kinds = {
      {"AgentEnvironment", "agentenvironments", "agentenvironment", {"env", "environment", "environments"}},
      {"AgentDeployment", "agentdeployments", "agentdeployment", {"ad", "agent", "agents", "deployment", "deployments"}},
      {"AgentBuild", "agentbuilds", "agentbuild", {"ab", "build", "builds"}},
      {"MCPServerDeployment", "mcpserverdeployments", "mcpserverdeployment", {"mcpd", "mcpserver", "mcpservers"}},
      {"MCPServerBuild", "mcpserverbuilds", "mcpserverbuild", {"mcpb", "mcpbuild", "mcpbuilds"}},
      {"HTTPToolDeployment", "httptooldeployments", "httptooldeployment", {"htd", "httptool", "httptools"}},
      {"AgentResourceBinding", "agentresourcebindings", "agentresourcebinding", {"arb", "binding", "bindings"}},
      {"AgentMemory", "agentmemories", "agentmemory", {"mem", "memory", "memories"}},
      {"AgentCatalogue", "agentcatalogues", "agentcatalogue", {"cat", "catalogue", "catalogues"}},
  };
  return kinds;
}

namespace {
bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

const KindInfo* FindKind(std::string_view name) {
  for (const auto& k : AllKinds()) {
    if (IEquals(name, k.kind) || IEquals(name, k.plural) || IEquals(name, k.singular)) return &k;
  }
  for (const auto& k : AllKinds()) {
    for (auto s : k.short_names) {
      if (IEquals(name, s)) return &k;
    }
  }
  return nullptr;
}

std::string ToString(const ObjectKey& key) {
  std::string out = key.kind;
  out += ' ';
  if (!key.namespace_.empty()) {
    out += key.namespace_;
    out += '/';
  }
  out += key.name;
  return out;
}

std::string NowRfc3339() { return ToRfc3339(std::chrono::system_clock::now()); }

std::string ToRfc3339(std::chrono::system_clock::time_point tp) {
  auto t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::chrono::system_clock::time_point> ParseRfc3339(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6) {
    return InvalidArgument("\"" + s.substr(0, 40) + "\" is not an RFC 3339 UTC timestamp");
  }
  std::size_t i = static_cast<std::size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i + 1 != s.size() || s[i] != 'Z') return InvalidArgument("\"" + s.substr(0, 40) + "\" is not an RFC 3339 UTC timestamp");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace tuna
