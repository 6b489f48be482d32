// `tuna apply` and `tuna delete`.

#include <algorithm>
#include <ostream>

#include "cli/command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/local_sources.hpp"
#include "cli/manifests.hpp"

namespace tuna::cli {
namespace {

constexpr int kConflictRetries = 5;

enum class Outcome { kCreated, kConfigured, kUnchanged };

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kCreated: return "created";
    case Outcome::kConfigured: return "configured";
    case Outcome::kUnchanged: return "unchanged";
  }
  return "";
}

// What a user may set; server-owned fields from `tuna get -o yaml` output are dropped.
Resource ForCreate(Resource r) {
  r.metadata.uid.clear();
  r.metadata.resource_version.clear();
  r.metadata.generation = 0;
  r.metadata.creation_timestamp.clear();
  r.metadata.deletion_timestamp.clear();
  r.status = nullptr;
  return r;
}

bool SameUserFields(const Resource& a, const Resource& b) {
  auto spec = [](const Resource& r) {
    // An absent spec and an empty one mean the same.
    return r.spec.is_null() ? boost::json::value(boost::json::object()) : r.spec;
  };
  return spec(a) == spec(b) && a.metadata.labels == b.metadata.labels &&
         a.metadata.annotations == b.metadata.annotations &&
         a.metadata.owner_references == b.metadata.owner_references;
}

// The manifest's user fields on top of the current object's server-owned ones.
Resource ForUpdate(const Resource& desired, const Resource& current) {
  Resource r = current;
  r.spec = desired.spec;
  r.metadata.labels = desired.metadata.labels;
  r.metadata.annotations = desired.metadata.annotations;
  // A manifest without owners keeps the ones controllers set; an owner named without a uid keeps
  // the uid the server bound it to.
  if (!desired.metadata.owner_references.empty()) {
    r.metadata.owner_references = desired.metadata.owner_references;
    for (auto& ref : r.metadata.owner_references) {
      if (!ref.uid.empty()) continue;
      for (const auto& have : current.metadata.owner_references) {
        if (have.kind == ref.kind && have.name == ref.name) ref.uid = have.uid;
      }
    }
  }
  return r;
}

Result<Outcome> ApplyOne(Client& client, const Resource& desired, bool dry_run) {
  WriteOptions options{dry_run};
  ObjectKey key = KeyOf(desired);
  Status last;
  for (int attempt = 0; attempt < kConflictRetries; ++attempt) {
    auto current = client.Get(key);
    if (!current.ok() && current.status().code() != StatusCode::kNotFound) return current.status();
    if (!current.ok()) {
      auto created = client.Create(ForCreate(desired), options);
      if (created.ok()) return Outcome::kCreated;
      if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
      last = created.status();  // created meanwhile: update it
      continue;
    }
    Resource want = ForUpdate(desired, *current);
    if (SameUserFields(want, *current)) return Outcome::kUnchanged;
    auto updated = client.Update(want, options);
    if (updated.ok()) {
      // The server may default fields the manifest leaves out; then nothing really changed.
      return SameUserFields(*updated, *current) ? Outcome::kUnchanged : Outcome::kConfigured;
    }
    if (updated.status().code() != StatusCode::kConflict) return updated.status();
    last = updated.status();  // changed since we read it: read again
  }
  return last.WithContext("gave up after " + std::to_string(kConflictRetries) + " conflicting attempts");
}

// Objects are applied in dependency order (what others reference first), whatever the file order,
// as Helm orders by kind: admission checks that references resolve.
int KindRank(const std::optional<Resource>& r) {
  static const std::vector<std::string_view> kOrder = {
      "AgentEnvironment",   "AgentMemory",     "MCPServerDeployment", "HTTPToolDeployment", "AgentDeployment",
      "AgentCatalogue",     "AgentResourceBinding", "AgentBuild",     "MCPServerBuild"};
  if (!r) return -1;
  auto it = std::find(kOrder.begin(), kOrder.end(), r->kind);
  return static_cast<int>(it - kOrder.begin());
}

// "a.yaml:14 (document 2): agentdeployment.tuna.ai/echo", at the line of the field the server
// complained about when the manifest has it.
std::string Where(const Manifest& m, const Resource& r, const Status& s) {
  std::string where = m.locate ? m.locate(s.field()) : m.location;
  return where + ": " + QualifiedName(r);
}

}  // namespace

int RunApply(CommandContext& ctx) {
  std::vector<std::string> paths = ctx.args.Values("filename");
  if (paths.empty()) return ctx.UsageError("apply needs -f FILE, -f DIR or -f - (stdin)");
  if (!ctx.args.positionals.empty()) {
    return ctx.UsageError("unexpected argument \"" + ctx.args.positionals.front() + "\"; pass manifests with -f");
  }
  bool dry_run = ctx.args.Has("dry-run");
  auto manifests = LoadManifests(paths, ctx.io.in, ctx.config.namespace_, ctx.config.namespace_from_flag);
  std::stable_sort(manifests.begin(), manifests.end(),
                   [](const Manifest& a, const Manifest& b) { return KindRank(a.resource) < KindRank(b.resource); });
  int exit_code = kExitOk;
  auto fail = [&](const Status& s, const std::string& where) {
    int code = ctx.Fail(s, where);
    if (exit_code == kExitOk) exit_code = code;
    return code;
  };
  LocalSources local_sources(*ctx.client);
  for (const auto& m : manifests) {
    if (!m.resource) {
      fail(m.error, m.location);
      continue;
    }
    Resource desired = *m.resource;
    if (Status st = local_sources.Resolve(desired, m.base_dir); !st.ok()) {
      int code = fail(st, Where(m, desired, st));
      if (code == kExitUnreachable || code == kExitAuth) break;
      continue;
    }
    auto outcome = ApplyOne(*ctx.client, desired, dry_run);
    if (!outcome.ok()) {
      int code = fail(outcome.status(), Where(m, *m.resource, outcome.status()));
      // Nothing else will get through to a server that is down or refuses the token.
      if (code == kExitUnreachable || code == kExitAuth) break;
      continue;
    }
    ctx.io.out << QualifiedName(*m.resource) << " " << OutcomeName(*outcome) << (dry_run ? " (dry run)" : "") << "\n";
    ctx.io.out.flush();
  }
  if (manifests.empty()) {
    ctx.io.err << "error: no objects found in " << paths.front() << (paths.size() > 1 ? " (and others)" : "") << "\n";
    return kExitInvalid;
  }
  return exit_code;
}

int RunDelete(CommandContext& ctx) {
  std::vector<std::string> paths = ctx.args.Values("filename");
  bool ignore_not_found = ctx.args.Has("ignore-not-found");
  std::vector<ObjectKey> keys;
  std::vector<std::string> where;  // per key, for messages
  int exit_code = kExitOk;
  auto fail = [&](const Status& s, std::string_view context) {
    int code = ctx.Fail(s, context);
    if (exit_code == kExitOk) exit_code = code;
    return code;
  };
  if (!paths.empty()) {
    if (!ctx.args.positionals.empty()) return ctx.UsageError("give either KIND NAME... or -f, not both");
    for (const auto& m : LoadManifests(paths, ctx.io.in, ctx.config.namespace_, ctx.config.namespace_from_flag)) {
      if (!m.resource) {
        fail(m.error, m.location);
        continue;
      }
      keys.push_back(KeyOf(*m.resource));
      where.push_back(m.location);
    }
  } else {
    std::vector<std::string> names;
    auto kind = KindAndNames(ctx.args.positionals, names);
    if (!kind.ok()) return ctx.UsageError(kind.status().message());
    if (names.empty()) return ctx.UsageError("delete needs NAME... (or -f FILE)");
    for (const auto& n : names) {
      keys.push_back({std::string((*kind)->kind), ctx.config.namespace_, n});
      where.emplace_back();
    }
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const ObjectKey& key = keys[i];
    Resource shown;
    shown.kind = key.kind;
    shown.metadata.name = key.name;
    auto deleted = ctx.client->Delete(key);
    if (!deleted.ok()) {
      if (deleted.status().code() == StatusCode::kNotFound && ignore_not_found) continue;
      Status s = deleted.status();
      if (s.code() == StatusCode::kNotFound) {
        const KindInfo* info = FindKind(key.kind);
        s = NotFound(std::string(info ? info->singular : key.kind) + " \"" + key.name +
                     "\" not found in namespace \"" + key.namespace_ + "\"");
      }
      int code = fail(s, where[i]);
      if (code == kExitUnreachable || code == kExitAuth) break;
      continue;
    }
    ctx.io.out << QualifiedName(shown) << " deleted\n";
    ctx.io.out.flush();
  }
  return exit_code;
}

}  // namespace tuna::cli
