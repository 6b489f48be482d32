#include "tuna/resources/object.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

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

}  // namespace tuna
