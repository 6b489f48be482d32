// ValidateObject: the checks one object passes on its own (schema, names, enums, ranges, URLs).

#include <map>
#include <set>

#include "admission/rules.hpp"
#include "resources/suggest.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/kinds.hpp"

namespace tuna {
namespace {

using internal::CheckAnnotationKeys;
using internal::CheckEnvNames;
using internal::CheckLabels;
using internal::CheckName;
using internal::CheckNotEmpty;
using internal::CheckQuantity;
using internal::CheckRange;
using internal::CheckUrl;
using internal::IsHttpToken;
using internal::IsSha256Digest;
using internal::JoinIndex;
using internal::JoinPath;

constexpr std::int64_t kMaxPoolSize = 256;
constexpr std::int64_t kMaxIdleTimeoutSeconds = 7 * 24 * 3600;
constexpr std::int64_t kMaxBuildTimeLimitSeconds = 24 * 3600;
constexpr std::int64_t kMaxToolTimeoutSeconds = 3600;
constexpr std::int64_t kMaxMemoryTtlSeconds = 10LL * 365 * 24 * 3600;
constexpr std::int64_t kMaxMemoryEntries = 10'000'000;
constexpr std::int64_t kMaxProcessLimit = 1 << 20;

Status Fail(const std::string& path, const std::string& what) { return InvalidArgument(path + ": " + what, path); }

Status CheckMetadata(const Resource& obj) {
  if (obj.api_version != kApiVersion) {
    return Fail("apiVersion", "unsupported \"" + obj.api_version + "\" (expected " + std::string(kApiVersion) + ")");
  }
  const auto& m = obj.metadata;
  TUNA_RETURN_IF_ERROR(CheckName(m.name, "metadata.name"));
  TUNA_RETURN_IF_ERROR(CheckName(m.namespace_, "metadata.namespace"));
  TUNA_RETURN_IF_ERROR(CheckLabels(m.labels, "metadata.labels"));
  TUNA_RETURN_IF_ERROR(CheckAnnotationKeys(m.annotations, "metadata.annotations"));
  if (m.generation < 0) return Fail("metadata.generation", "must not be negative");
  for (std::size_t i = 0; i < m.owner_references.size(); ++i) {
    const auto& ref = m.owner_references[i];
    std::string p = JoinIndex("metadata.ownerReferences", i);
    if (ref.kind.empty()) return Fail(p + ".kind", "required field is missing");
    if (ref.name.empty()) return Fail(p + ".name", "required field is missing");
    if (ref.uid.empty()) return Fail(p + ".uid", "required field is missing");
  }
  return {};
}

// A commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
bool IsCommitId(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// A conservative subset of git-check-ref-format.
bool IsGitRef(std::string_view s) {
  if (s.empty() || s.front() == '/' || s.back() == '/' || s.back() == '.') return false;
  if (s.find("..") != std::string_view::npos || s.find("//") != std::string_view::npos ||
      s.find("@{") != std::string_view::npos) {
    return false;
  }
  if (s.size() >= 5 && s.substr(s.size() - 5) == ".lock") return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' ||
        c == '\\') {
      return false;
    }
  }
  return true;
}

Status CheckArchive(std::string_view archive, const std::string& path) {
  if (IsSha256Digest(archive)) return {};
  // "file:DIR" (no "//"): a local directory or archive, relative to the manifest; `tuna apply`
  // uploads it and replaces it with the digest before the object reaches the server.
  if (archive.starts_with("file:") && !archive.starts_with("file://") && archive.size() > 5) return {};
  if (archive.find("://") == std::string_view::npos) {
    return Fail(path, "must be \"sha256:<64 hex digits>\", an http, https, s3 or file URL, or file:PATH, got \"" +
                          std::string(archive) + "\"");
  }
  return CheckUrl(archive, path, {"http", "https", "s3", "file"});
}

// A path inside a repository or archive: relative, no "..".
Status CheckRelativePath(std::string_view p, const std::string& path) {
  bool bad = p.empty() || p.front() == '/';
  std::size_t start = 0;
  while (!bad && start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(start, end - start) == "..") bad = true;
    start = end + 1;
  }
  if (bad) return Fail(path, "must be a relative path without \"..\" segments, got \"" + std::string(p) + "\"");
  return {};
}

Status CheckSource(const Source& s, const std::string& path) {
  if (s.repo.empty() && s.archive.empty()) return Fail(path, "one of repo or archive is required");
  if (s.repo.find("://") != std::string::npos) {
    TUNA_RETURN_IF_ERROR(CheckUrl(s.repo, JoinPath(path, "repo"), {"http", "https", "ssh", "git", "file"}));
  }
  if (!s.ref.empty() && !IsGitRef(s.ref)) {
    return Fail(JoinPath(path, "ref"), "invalid git ref \"" + s.ref + "\"");
  }
  if (!s.commit.empty() && !IsCommitId(s.commit)) {
    return Fail(JoinPath(path, "commit"), "must be a 40- or 64-character lowercase hexadecimal commit id, got \"" +
                                               s.commit + "\"");
  }
  if (!s.archive.empty()) TUNA_RETURN_IF_ERROR(CheckArchive(s.archive, JoinPath(path, "archive")));
  if (!s.path.empty()) TUNA_RETURN_IF_ERROR(CheckRelativePath(s.path, JoinPath(path, "path")));
  return {};
}

Status CheckConditions(const std::vector<Condition>& conditions, const std::string& path) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    std::string p = JoinIndex(path, i);
    TUNA_RETURN_IF_ERROR(CheckNotEmpty(conditions[i].type, p + ".type"));
    if (!seen.insert(conditions[i].type).second) {
      return Fail(p + ".type", "duplicate condition type \"" + conditions[i].type + "\"");
    }
    if (conditions[i].observed_generation < 0) return Fail(p + ".observedGeneration", "must not be negative");
  }
  return {};
}

Status CheckDeploymentStatus(const DeploymentStatus& s) {
  if (!s.current_builds.staging.empty()) {
    TUNA_RETURN_IF_ERROR(CheckName(s.current_builds.staging, "status.currentBuilds.staging"));
  }
  if (!s.current_builds.production.empty()) {
    TUNA_RETURN_IF_ERROR(CheckName(s.current_builds.production, "status.currentBuilds.production"));
  }
  for (auto [rev, p] : {std::pair{&s.revisions.staging, "status.revisions.staging"},
                        std::pair{&s.revisions.production, "status.revisions.production"}}) {
    if (!rev->archive.empty()) TUNA_RETURN_IF_ERROR(CheckArchive(rev->archive, std::string(p) + ".archive"));
    if (!rev->build.empty()) TUNA_RETURN_IF_ERROR(CheckName(rev->build, std::string(p) + ".build"));
  }
  if (s.observed_generation < 0) return Fail("status.observedGeneration", "must not be negative");
  return CheckConditions(s.conditions, "status.conditions");
}

Status CheckBuildStatus(const BuildStatus& s) {
  if (!s.artifact_digest.empty() && !IsSha256Digest(s.artifact_digest)) {
    return Fail("status.artifactDigest", "must be \"sha256:<64 hex digits>\", got \"" + s.artifact_digest + "\"");
  }
  return CheckConditions(s.conditions, "status.conditions");
}

Status CheckTimeLimit(const std::optional<std::int64_t>& v, const std::string& path) {
  return v ? CheckRange(*v, 1, kMaxBuildTimeLimitSeconds, path) : Status();
}

Status CheckCanary(const Rollout& r) {
  return r.canary_percent ? CheckRange(*r.canary_percent, 0, 100, "spec.rollout.canaryPercent") : Status();
}

// Builds name their deployment in ownerReferences; admission checks it exists (AdmitObject).
Status CheckHasOwner(const Resource& obj, std::string_view owner_kind) {
  for (const auto& ref : obj.metadata.owner_references) {
    if (ref.kind == owner_kind) return {};
  }
  return Fail("metadata.ownerReferences",
              "an " + obj.kind + " must have an ownerReference to its " + std::string(owner_kind));
}

Status CheckResources(const ResourceQuantities& q, const std::string& path) {
  if (!q.cpu.empty()) TUNA_RETURN_IF_ERROR(CheckQuantity(q.cpu, path + ".cpu"));
  if (!q.memory.empty()) TUNA_RETURN_IF_ERROR(CheckQuantity(q.memory, path + ".memory"));
  if (!q.ephemeral_storage.empty()) TUNA_RETURN_IF_ERROR(CheckQuantity(q.ephemeral_storage, path + ".ephemeralStorage"));
  if (q.max_processes) TUNA_RETURN_IF_ERROR(CheckRange(*q.max_processes, 1, kMaxProcessLimit, path + ".maxProcesses"));
  if (q.max_open_files) TUNA_RETURN_IF_ERROR(CheckRange(*q.max_open_files, 1, kMaxProcessLimit, path + ".maxOpenFiles"));
  return {};
}

Status CheckMediaTypes(const std::vector<std::string>& modes, const std::string& path) {
  for (std::size_t i = 0; i < modes.size(); ++i) {
    const auto& m = modes[i];
    auto slash = m.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == m.size() ||
        !IsHttpToken(m.substr(0, slash)) || !IsHttpToken(m.substr(slash + 1))) {
      return Fail(JoinIndex(path, i), "invalid media type \"" + m + "\" (expected type/subtype)");
    }
  }
  return {};
}

// ---- per kind ---------------------------------------------------------------------------------

Status Check(const AgentEnvironment& e) {
  const auto& s = e.spec;
  static constexpr std::string_view kRuntimeChars = "abcdefghijklmnopqrstuvwxyz0123456789.+_-";
  if (s.runtime.empty() || s.runtime.size() > 63 || !(s.runtime[0] >= 'a' && s.runtime[0] <= 'z') ||
      s.runtime.find_first_not_of(kRuntimeChars) != std::string::npos) {
    return Fail("spec.runtime", "invalid runtime \"" + s.runtime +
                                    "\": must be at most 63 characters: lowercase letters, digits, '.', '+', "
                                    "'_' and '-', starting with a letter (e.g. python3.11)");
  }
  if (s.pool_size) TUNA_RETURN_IF_ERROR(CheckRange(*s.pool_size, 0, kMaxPoolSize, "spec.poolSize"));
  if (s.idle_timeout_seconds) {
    TUNA_RETURN_IF_ERROR(CheckRange(*s.idle_timeout_seconds, 1, kMaxIdleTimeoutSeconds, "spec.idleTimeoutSeconds"));
  }
  TUNA_RETURN_IF_ERROR(CheckTimeLimit(s.build_time_limit_seconds, "spec.buildTimeLimitSeconds"));
  TUNA_RETURN_IF_ERROR(CheckResources(s.resources.limits, "spec.resources.limits"));
  TUNA_RETURN_IF_ERROR(CheckResources(s.resources.requests, "spec.resources.requests"));
  TUNA_RETURN_IF_ERROR(CheckEnvNames(s.env, "spec.env"));
  if (e.status.warm_workers && *e.status.warm_workers < 0) return Fail("status.warmWorkers", "must not be negative");
  return CheckConditions(e.status.conditions, "status.conditions");
}

Status Check(const AgentDeployment& d) {
  const auto& s = d.spec;
  TUNA_RETURN_IF_ERROR(CheckName(s.environment_name, "spec.environmentName"));
  for (auto [stage, p] : {std::pair{&s.stages.staging, "spec.stages.staging"},
                          std::pair{&s.stages.production, "spec.stages.production"}}) {
    if (!*stage) continue;
    TUNA_RETURN_IF_ERROR(CheckSource((*stage)->source, std::string(p) + ".source"));
    TUNA_RETURN_IF_ERROR(CheckEnvNames((*stage)->env, std::string(p) + ".env"));
  }
  TUNA_RETURN_IF_ERROR(CheckCanary(s.rollout));
  TUNA_RETURN_IF_ERROR(CheckEnvNames(s.env, "spec.env"));
  return CheckDeploymentStatus(d.status);
}

Status Check(const AgentBuild& b, const Resource& obj) {
  TUNA_RETURN_IF_ERROR(CheckHasOwner(obj, AgentDeployment::kKind));
  TUNA_RETURN_IF_ERROR(CheckSource(b.spec.source, "spec.source"));
  TUNA_RETURN_IF_ERROR(CheckTimeLimit(b.spec.time_limit_seconds, "spec.timeLimitSeconds"));
  return CheckBuildStatus(b.status);
}

Status CheckPackage(const Package& p, const std::string& path) {
  if (p.name.empty() || p.name.find_first_of(" \t\n") != std::string::npos) {
    return Fail(path + ".name", "invalid package name \"" + p.name + "\"");
  }
  return {};
}

Status CheckSourceOrPackage(const std::optional<Source>& source, const std::optional<Package>& package,
                            const std::string& path) {
  if (source.has_value() == package.has_value()) return Fail(path, "exactly one of source or package must be set");
  if (source) return CheckSource(*source, JoinPath(path, "source"));
  return CheckPackage(*package, JoinPath(path, "package"));
}

Status Check(const MCPServerDeployment& d) {
  const auto& s = d.spec;
  if (s.server.stdio.has_value() == s.server.http.has_value()) {
    return Fail("spec.server", "exactly one of stdio or http must be set");
  }
  if (s.server.stdio) {
    TUNA_RETURN_IF_ERROR(CheckNotEmpty(s.server.stdio->command, "spec.server.stdio.command"));
    TUNA_RETURN_IF_ERROR(CheckEnvNames(s.server.stdio->env, "spec.server.stdio.env"));
  }
  const bool has_stages = s.stages.staging.has_value() || s.stages.production.has_value();
  if (s.server.http) {
    const auto& h = *s.server.http;
    if (!h.url.empty()) {
      TUNA_RETURN_IF_ERROR(CheckUrl(h.url, "spec.server.http.url", {"http", "https"}));
      if (has_stages) return Fail("spec.stages", "must be empty when spec.server.http.url names an external server");
    } else if (!has_stages) {
      return Fail("spec.server.http.url", "required when no stage builds the server");
    }
    if (!h.path.empty() && h.path.front() != '/') return Fail("spec.server.http.path", "must start with '/'");
    if (h.port) TUNA_RETURN_IF_ERROR(CheckRange(*h.port, 1, 65535, "spec.server.http.port"));
    for (const auto& [name, value] : h.headers) {
      if (!IsHttpToken(name)) return Fail("spec.server.http.headers", "invalid header name \"" + name + "\"");
    }
  }
  for (auto [stage, p] : {std::pair{&s.stages.staging, "spec.stages.staging"},
                          std::pair{&s.stages.production, "spec.stages.production"}}) {
    if (*stage) TUNA_RETURN_IF_ERROR(CheckSourceOrPackage((*stage)->source, (*stage)->package, p));
  }
  if (has_stages && s.environment_name.empty()) {
    return Fail("spec.environmentName", "required when a stage builds source or a package");
  }
  if (!s.environment_name.empty()) TUNA_RETURN_IF_ERROR(CheckName(s.environment_name, "spec.environmentName"));
  TUNA_RETURN_IF_ERROR(CheckCanary(s.rollout));
  return CheckDeploymentStatus(d.status);
}

Status Check(const MCPServerBuild& b, const Resource& obj) {
  TUNA_RETURN_IF_ERROR(CheckHasOwner(obj, MCPServerDeployment::kKind));
  TUNA_RETURN_IF_ERROR(CheckSourceOrPackage(b.spec.source, b.spec.package, "spec"));
  TUNA_RETURN_IF_ERROR(CheckTimeLimit(b.spec.time_limit_seconds, "spec.timeLimitSeconds"));
  return CheckBuildStatus(b.status);
}

Status Check(const HTTPToolDeployment& t) {
  const auto& s = t.spec;
  const auto& o = s.openapi;
  int set = (o.inline_document.is_null() ? 0 : 1) + (o.file.empty() ? 0 : 1) + (o.url.empty() ? 0 : 1);
  if (set != 1) return Fail("spec.openapi", "exactly one of inline, file or url must be set");
  if (!o.inline_document.is_null()) {
    const auto* doc = o.inline_document.if_object();
    const auto* version = doc ? doc->if_contains("openapi") : nullptr;
    if (version == nullptr || !version->is_string() || !version->get_string().starts_with("3.")) {
      return Fail("spec.openapi.inline", "must be an OpenAPI 3 document (an object with \"openapi\": \"3.x.y\")");
    }
  }
  if (!o.file.empty()) TUNA_RETURN_IF_ERROR(CheckRelativePath(o.file, "spec.openapi.file"));
  if (!o.url.empty()) TUNA_RETURN_IF_ERROR(CheckUrl(o.url, "spec.openapi.url", {"http", "https"}));
  if (!s.base_url.empty()) TUNA_RETURN_IF_ERROR(CheckUrl(s.base_url, "spec.baseUrl", {"http", "https"}));
  std::set<std::string> ops;
  for (std::size_t i = 0; i < s.operations.size(); ++i) {
    std::string p = JoinIndex("spec.operations", i);
    TUNA_RETURN_IF_ERROR(CheckNotEmpty(s.operations[i], p));
    if (!ops.insert(s.operations[i]).second) return Fail(p, "duplicate operation \"" + s.operations[i] + "\"");
  }
  if (s.credentials) {
    const auto& c = *s.credentials;
    TUNA_RETURN_IF_ERROR(CheckName(c.secret_ref.name, "spec.credentials.secretRef.name"));
    TUNA_RETURN_IF_ERROR(CheckNotEmpty(c.secret_ref.key, "spec.credentials.secretRef.key"));
    if (!c.header_name.empty() && !IsHttpToken(c.header_name)) {
      return Fail("spec.credentials.headerName", "invalid header name \"" + c.header_name + "\"");
    }
    if (!c.header_name.empty() && c.type != CredentialType::kApiKey) {
      return Fail("spec.credentials.headerName", "only allowed with type apiKey");
    }
  }
  if (s.timeout_seconds) TUNA_RETURN_IF_ERROR(CheckRange(*s.timeout_seconds, 1, kMaxToolTimeoutSeconds, "spec.timeoutSeconds"));
  for (const auto& [name, value] : s.headers) {
    if (!IsHttpToken(name)) return Fail("spec.headers", "invalid header name \"" + name + "\"");
  }
  if (!t.status.document_digest.empty() && !IsSha256Digest(t.status.document_digest)) {
    return Fail("status.documentDigest", "must be \"sha256:<64 hex digits>\", got \"" + t.status.document_digest + "\"");
  }
  if (t.status.tool_count && *t.status.tool_count < 0) return Fail("status.toolCount", "must not be negative");
  return CheckConditions(t.status.conditions, "status.conditions");
}

Status Check(const AgentResourceBinding& b) {
  const auto& s = b.spec;
  TUNA_RETURN_IF_ERROR(CheckName(s.agent_name, "spec.agentName"));
  // The gateway names a bound tool "<name>__<tool>": names must be unique across kinds too.
  std::map<std::string, ToolKind> tools;
  for (std::size_t i = 0; i < s.tools.size(); ++i) {
    std::string p = JoinIndex("spec.tools", i);
    TUNA_RETURN_IF_ERROR(CheckName(s.tools[i].name, p + ".name"));
    if (auto [it, added] = tools.emplace(s.tools[i].name, s.tools[i].kind); !added) {
      if (it->second == s.tools[i].kind) {
        return Fail(p, "duplicate tool " + std::string(ToString(s.tools[i].kind)) + " \"" + s.tools[i].name + "\"");
      }
      return Fail(p + ".name", "\"" + s.tools[i].name + "\" is already bound as a " + std::string(ToString(it->second)) +
                                   ": the agent's tools are named \"<name>__<tool>\", so two bindings of one name would "
                                   "collide; bind one of them under another name");
    }
    for (std::size_t j = 0; j < s.tools[i].allow.size(); ++j) {
      TUNA_RETURN_IF_ERROR(CheckNotEmpty(s.tools[i].allow[j], JoinIndex(p + ".allow", j)));
    }
  }
  std::set<std::string> memories;
  for (std::size_t i = 0; i < s.memories.size(); ++i) {
    std::string p = JoinIndex("spec.memories", i);
    TUNA_RETURN_IF_ERROR(CheckName(s.memories[i].name, p + ".name"));
    if (!memories.insert(s.memories[i].name).second) {
      return Fail(p, "duplicate memory \"" + s.memories[i].name + "\"");
    }
  }
  std::set<std::string> peers;
  for (std::size_t i = 0; i < s.peers.size(); ++i) {
    std::string p = JoinIndex("spec.peers", i);
    TUNA_RETURN_IF_ERROR(CheckName(s.peers[i].name, p + ".name"));
    if (s.peers[i].name == s.agent_name) return Fail(p + ".name", "an agent cannot be its own peer");
    if (!peers.insert(s.peers[i].name).second) return Fail(p, "duplicate peer \"" + s.peers[i].name + "\"");
  }
  return CheckConditions(b.status.conditions, "status.conditions");
}

Status Check(const AgentMemory& m) {
  if (m.spec.ttl_seconds) TUNA_RETURN_IF_ERROR(CheckRange(*m.spec.ttl_seconds, 1, kMaxMemoryTtlSeconds, "spec.ttlSeconds"));
  if (m.spec.max_entries) TUNA_RETURN_IF_ERROR(CheckRange(*m.spec.max_entries, 1, kMaxMemoryEntries, "spec.maxEntries"));
  return CheckConditions(m.status.conditions, "status.conditions");
}

Status Check(const AgentCatalogue& c) {
  const auto& s = c.spec;
  TUNA_RETURN_IF_ERROR(CheckName(s.agent_name, "spec.agentName"));
  TUNA_RETURN_IF_ERROR(CheckNotEmpty(s.display_name, "spec.displayName"));
  if (s.display_name.size() > 200) return Fail("spec.displayName", "must be at most 200 characters");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < s.skills.size(); ++i) {
    std::string p = JoinIndex("spec.skills", i);
    TUNA_RETURN_IF_ERROR(CheckNotEmpty(s.skills[i].id, p + ".id"));
    TUNA_RETURN_IF_ERROR(CheckNotEmpty(s.skills[i].name, p + ".name"));
    if (!ids.insert(s.skills[i].id).second) return Fail(p + ".id", "duplicate skill id \"" + s.skills[i].id + "\"");
    TUNA_RETURN_IF_ERROR(CheckMediaTypes(s.skills[i].input_modes, p + ".inputModes"));
    TUNA_RETURN_IF_ERROR(CheckMediaTypes(s.skills[i].output_modes, p + ".outputModes"));
  }
  if (s.provider) {
    TUNA_RETURN_IF_ERROR(CheckNotEmpty(s.provider->organization, "spec.provider.organization"));
    if (!s.provider->url.empty()) TUNA_RETURN_IF_ERROR(CheckUrl(s.provider->url, "spec.provider.url", {"http", "https"}));
  }
  if (!s.icon_url.empty()) TUNA_RETURN_IF_ERROR(CheckUrl(s.icon_url, "spec.iconUrl", {"http", "https"}));
  if (!s.documentation_url.empty()) {
    TUNA_RETURN_IF_ERROR(CheckUrl(s.documentation_url, "spec.documentationUrl", {"http", "https"}));
  }
  TUNA_RETURN_IF_ERROR(CheckMediaTypes(s.default_input_modes, "spec.defaultInputModes"));
  TUNA_RETURN_IF_ERROR(CheckMediaTypes(s.default_output_modes, "spec.defaultOutputModes"));
  return CheckConditions(c.status.conditions, "status.conditions");
}

template <class K>
Status DecodeAndCheck(const Resource& obj) {
  auto k = K::FromResource(obj);
  if (!k.ok()) return k.status();
  if constexpr (std::is_same_v<K, AgentBuild> || std::is_same_v<K, MCPServerBuild>) {
    return Check(*k, obj);
  } else {
    return Check(*k);
  }
}

}  // namespace

Status ValidateObject(const Resource& obj) {
  const KindInfo* info = FindKind(obj.kind);
  if (obj.kind.empty()) return Fail("kind", "required field is missing");
  if (info == nullptr || info->kind != obj.kind) {
    std::vector<std::string_view> names;
    for (const auto& k : AllKinds()) names.push_back(k.kind);
    std::string msg = "unknown kind \"" + obj.kind + "\"";
    std::string s = info ? std::string(info->kind) : internal::Suggest(obj.kind, names);
    if (!s.empty()) msg += " (did you mean " + s + "?)";
    return Fail("kind", msg);
  }
  TUNA_RETURN_IF_ERROR(CheckMetadata(obj));
  if (obj.kind == AgentEnvironment::kKind) return DecodeAndCheck<AgentEnvironment>(obj);
  if (obj.kind == AgentDeployment::kKind) return DecodeAndCheck<AgentDeployment>(obj);
  if (obj.kind == AgentBuild::kKind) return DecodeAndCheck<AgentBuild>(obj);
  if (obj.kind == MCPServerDeployment::kKind) return DecodeAndCheck<MCPServerDeployment>(obj);
  if (obj.kind == MCPServerBuild::kKind) return DecodeAndCheck<MCPServerBuild>(obj);
  if (obj.kind == HTTPToolDeployment::kKind) return DecodeAndCheck<HTTPToolDeployment>(obj);
  if (obj.kind == AgentResourceBinding::kKind) return DecodeAndCheck<AgentResourceBinding>(obj);
  if (obj.kind == AgentMemory::kKind) return DecodeAndCheck<AgentMemory>(obj);
  if (obj.kind == AgentCatalogue::kKind) return DecodeAndCheck<AgentCatalogue>(obj);
  return Fail("kind", "unknown kind \"" + obj.kind + "\"");
}

}  // namespace tuna
