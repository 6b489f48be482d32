// Helpers shared by the workload controllers.

#include <openssl/evp.h>

#include <unistd.h>

#include <cctype>
#include <cstdio>

#include "controllers/workloads.hpp"

namespace tuna::controllers {

Result<Resource> UpdateStatus(Store& store, const ObjectKey& key,
                              const std::function<Status(Resource& obj, bool& changed)>& mutate) {
  constexpr int kAttempts = 8;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    TUNA_ASSIGN_OR_RETURN(Resource obj, store.Get(key));
    bool changed = false;
    TUNA_RETURN_IF_ERROR(mutate(obj, changed));
    if (!changed) return obj;
    auto updated = store.Update(obj, UpdateOptions{Subresource::kStatus});
    if (updated.ok()) return updated;
    if (updated.status().code() != StatusCode::kConflict) return updated.status();
  }
  return Conflict("status of " + ToString(key) + " kept changing under " + std::to_string(kAttempts) + " attempts");
}

bool SetCondition(std::vector<Condition>& conditions, Condition condition) {
  for (auto& c : conditions) {
    if (c.type != condition.type) continue;
    if (c.status == condition.status && c.reason == condition.reason && c.message == condition.message &&
        c.observed_generation == condition.observed_generation) {
      return false;
    }
    if (c.status == condition.status) condition.last_transition_time = c.last_transition_time;
    if (condition.last_transition_time.empty()) condition.last_transition_time = NowRfc3339();
    c = std::move(condition);
    return true;
  }
  if (condition.last_transition_time.empty()) condition.last_transition_time = NowRfc3339();
  conditions.push_back(std::move(condition));
  return true;
}

Result<std::int64_t> ParseQuantityBytes(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return InvalidArgument("quantity \"" + std::string(text) + "\" does not start with a number");
  double number = std::strtod(std::string(text.substr(0, i)).c_str(), nullptr);
  std::string_view suffix = text.substr(i);
  struct Unit {
    std::string_view suffix;
    double factor;
  };
  static constexpr Unit kUnits[] = {{"", 1},          {"k", 1e3},          {"M", 1e6},
                                    {"G", 1e9},       {"T", 1e12},         {"Ki", 1024.0},
                                    {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}};
  for (const auto& u : kUnits) {
    if (suffix == u.suffix) return static_cast<std::int64_t>(number * u.factor);
  }
  return InvalidArgument("quantity \"" + std::string(text) + "\" has an unknown unit \"" + std::string(suffix) + "\"");
}

std::string DefaultWorkerCommand(std::string_view runtime, const ControllerContext& ctx) {
  if (runtime.rfind("python", 0) != 0 || ctx.python.empty() || ctx.runtimes_dir.empty()) return "";
  std::string worker = ctx.runtimes_dir + "/python/worker.py";
  if (::access(worker.c_str(), R_OK) != 0) return "";
  return ctx.python + " " + worker;
}

Result<EnvironmentSpec> ToEnvironmentSpec(const AgentEnvironment& env, const ControllerContext& ctx) {
  EnvironmentSpec out;
  out.name = env.metadata.namespace_ + "/" + env.metadata.name;
  out.runtime = env.spec.runtime;
  out.build_script = env.spec.build_script;
  out.run_command = env.spec.worker_command.empty() ? DefaultWorkerCommand(env.spec.runtime, ctx) : env.spec.worker_command;
  out.pool_size = static_cast<int>(env.spec.pool_size.value_or(1));
  out.fork_server = env.spec.fork_server.value_or(false);
  out.idle_timeout = std::chrono::seconds(env.spec.idle_timeout_seconds.value_or(300));
  out.env = env.spec.env;
  const auto& limits = env.spec.resources.limits;
  if (!limits.memory.empty()) {
    TUNA_ASSIGN_OR_RETURN(out.limits.memory_bytes, ParseQuantityBytes(limits.memory));
  }
  if (!limits.ephemeral_storage.empty()) {
    TUNA_ASSIGN_OR_RETURN(out.limits.file_size_bytes, ParseQuantityBytes(limits.ephemeral_storage));
  }
  if (limits.max_processes) out.limits.max_processes = *limits.max_processes;
  return out;
}

std::string SourceHash(const Source& source) {
  std::string material = source.repo + '\n' + source.ref + '\n' + source.commit + '\n' + source.archive + '\n' + source.path;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(material.data(), material.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < 6 && i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace tuna::controllers
