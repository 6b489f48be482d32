// Admission against the store: references, build ownership, the one-build-per-target claim, and
// the admitted write paths (create / update / merge patch).

#include <boost/json.hpp>

#include "tuna/store.hpp"
#include "resources/suggest.hpp"
#include "tuna/admission.hpp"
#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

using internal::JoinIndex;

constexpr int kMaxWriteAttempts = 5;  // optimistic-concurrency retries for claims and patches

Status Fail(const std::string& path, const std::string& what) { return InvalidArgument(path + ": " + what, path); }

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsBuildKind(std::string_view kind) { return kind == AgentBuild::kKind || kind == MCPServerBuild::kKind; }

std::string_view OwnerKindOf(std::string_view build_kind) {
  return build_kind == AgentBuild::kKind ? AgentDeployment::kKind : MCPServerDeployment::kKind;
}

// Reads a referenced object; a missing one is an InvalidArgument on `path`.
Result<Resource> Resolve(Store& store, std::string_view kind, const std::string& ns, const std::string& name,
                         const std::string& path) {
  auto r = store.Get({std::string(kind), ns, name});
  if (r.ok()) return r;
  if (r.status().code() == StatusCode::kNotFound) {
    return Fail(path, std::string(kind) + " " + Quote(name) + " not found in namespace " + Quote(ns));
  }
  return r.status();
}

Status Exists(Store& store, std::string_view kind, const std::string& ns, const std::string& name,
              const std::string& path) {
  auto r = Resolve(store, kind, ns, name, path);
  return r.ok() ? Status() : r.status();
}

BuildTarget TargetOf(const Resource& build) {
  if (const auto* spec = build.spec.if_object()) {
    if (const auto* t = spec->if_contains("buildTarget"); t && t->is_string()) {
      if (auto parsed = ParseEnum<BuildTarget>(t->get_string())) return *parsed;
    }
  }
  return BuildTarget::kStaging;
}

BuildPhase PhaseOf(const Resource& build) {
  if (const auto* status = build.status.if_object()) {
    if (const auto* p = status->if_contains("phase"); p && p->is_string()) {
      if (auto parsed = ParseEnum<BuildPhase>(p->get_string())) return *parsed;
    }
  }
  return BuildPhase::kPending;
}

// status.currentBuilds[target] of a deployment, read from the unstructured form.
std::string ClaimOf(const Resource& owner, BuildTarget target) {
  if (const auto* status = owner.status.if_object()) {
    if (const auto* cb = status->if_contains("currentBuilds"); cb && cb->is_object()) {
      if (const auto* name = cb->get_object().if_contains(ToString(target)); name && name->is_string()) {
        return std::string(name->get_string());
      }
    }
  }
  return "";
}

void SetClaim(Resource& owner, BuildTarget target, const std::string& name) {
  if (!owner.status.is_object()) owner.status = json::object();
  auto& status = owner.status.get_object();
  if (!status["currentBuilds"].is_object()) status["currentBuilds"] = json::object();
  auto& cb = status["currentBuilds"].get_object();
  if (name.empty()) {
    cb.erase(ToString(target));
    if (cb.empty()) status.erase("currentBuilds");
  } else {
    cb[ToString(target)] = name;
  }
}

// The build's ownerReference to its deployment: must resolve and match by uid.
Result<Resource> ResolveOwner(Store& store, const Resource& build) {
  const std::string_view owner_kind = OwnerKindOf(build.kind);
  const auto& refs = build.metadata.owner_references;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    if (refs[i].kind != owner_kind) continue;
    std::string p = JoinIndex("metadata.ownerReferences", i);
    if (refs[i].api_version != kApiVersion) {
      return Fail(p + ".apiVersion", "must be " + std::string(kApiVersion) + ", got " + Quote(refs[i].api_version));
    }
    TUNA_ASSIGN_OR_RETURN(Resource owner, Resolve(store, owner_kind, build.metadata.namespace_, refs[i].name, p));
    if (owner.metadata.uid != refs[i].uid) {
      return Fail(p + ".uid", Quote(refs[i].uid) + " does not match " + std::string(owner_kind) + " " +
                                  Quote(owner.metadata.name) + " (uid " + Quote(owner.metadata.uid) + ")");
    }
    return owner;
  }
  return Fail("metadata.ownerReferences",
              "an " + build.kind + " must have an ownerReference to its " + std::string(owner_kind));
}

// The one-build-per-target rule. `first_seen_claim` is the claim this admission saw on its first
// read (null on a single check): a claim that appeared since then names a build still being
// created, so a missing build only counts as stale when the claim is older than this attempt.
Status CheckNoConcurrentBuild(Store& store, const Resource& owner, const Resource& build,
                              const std::string* first_seen_claim) {
  const BuildTarget target = TargetOf(build);
  const std::string claimed = ClaimOf(owner, target);
  if (claimed.empty() || claimed == build.metadata.name) return {};
  auto other = store.Get({build.kind, build.metadata.namespace_, claimed});
  const std::string prefix = owner.kind + " " + Quote(owner.metadata.name) + " already has a non-terminal " +
                             std::string(ToString(target)) + " build " + Quote(claimed);
  if (!other.ok()) {
    if (other.status().code() != StatusCode::kNotFound) return other.status();
    if (first_seen_claim != nullptr && *first_seen_claim != claimed) {
      return Conflict(prefix + " (being created concurrently)");
    }
    return {};  // stale claim: the build is gone
  }
  const BuildPhase phase = PhaseOf(*other);
  if (IsTerminal(phase)) return {};
  return Conflict(prefix + " (phase " + std::string(ToString(phase)) + ")");
}

Status CheckReferences(Store& store, const Resource& obj) {
  const std::string& ns = obj.metadata.namespace_;
  if (obj.kind == AgentDeployment::kKind) {
    TUNA_ASSIGN_OR_RETURN(auto d, AgentDeployment::FromResource(obj));
    return Exists(store, AgentEnvironment::kKind, ns, d.spec.environment_name, "spec.environmentName");
  }
  if (obj.kind == MCPServerDeployment::kKind) {
    TUNA_ASSIGN_OR_RETURN(auto d, MCPServerDeployment::FromResource(obj));
    if (d.spec.environment_name.empty()) return {};
    return Exists(store, AgentEnvironment::kKind, ns, d.spec.environment_name, "spec.environmentName");
  }
  if (obj.kind == AgentResourceBinding::kKind) {
    TUNA_ASSIGN_OR_RETURN(auto b, AgentResourceBinding::FromResource(obj));
    TUNA_RETURN_IF_ERROR(Exists(store, AgentDeployment::kKind, ns, b.spec.agent_name, "spec.agentName"));
    for (std::size_t i = 0; i < b.spec.tools.size(); ++i) {
      TUNA_RETURN_IF_ERROR(Exists(store, ToString(b.spec.tools[i].kind), ns, b.spec.tools[i].name,
                                  JoinIndex("spec.tools", i) + ".name"));
    }
    for (std::size_t i = 0; i < b.spec.memories.size(); ++i) {
      TUNA_RETURN_IF_ERROR(Exists(store, AgentMemory::kKind, ns, b.spec.memories[i].name,
                                  JoinIndex("spec.memories", i) + ".name"));
    }
    for (std::size_t i = 0; i < b.spec.peers.size(); ++i) {
      TUNA_RETURN_IF_ERROR(Exists(store, AgentDeployment::kKind, ns, b.spec.peers[i].name,
                                  JoinIndex("spec.peers", i) + ".name"));
    }
    return {};
  }
  if (obj.kind == AgentCatalogue::kKind) {
    TUNA_ASSIGN_OR_RETURN(auto c, AgentCatalogue::FromResource(obj));
    return Exists(store, AgentDeployment::kKind, ns, c.spec.agent_name, "spec.agentName");
  }
  return {};
}

// Claims status.currentBuilds[target] on the owner for `build` (compare-and-swap on the owner's
// resourceVersion, retried on unrelated concurrent writes). Returns the owner's key.
Result<ObjectKey> ClaimBuild(Store& store, const Resource& build) {
  std::optional<std::string> first_seen;
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    TUNA_RETURN_IF_ERROR(ValidateObject(build));
    TUNA_ASSIGN_OR_RETURN(Resource owner, ResolveOwner(store, build));
    const std::string current = ClaimOf(owner, TargetOf(build));
    if (!first_seen) first_seen = current;
    TUNA_RETURN_IF_ERROR(CheckNoConcurrentBuild(store, owner, build, attempt == 0 ? nullptr : &*first_seen));
    SetClaim(owner, TargetOf(build), build.metadata.name);
    auto updated = store.Update(owner, UpdateOptions{Subresource::kStatus});
    if (updated.ok()) return KeyOf(owner);
    if (updated.status().code() != StatusCode::kConflict) return updated.status();
  }
  return Conflict("could not claim the " + std::string(ToString(TargetOf(build))) + " build of its " +
                  std::string(OwnerKindOf(build.kind)) + " after " + std::to_string(kMaxWriteAttempts) +
                  " attempts (concurrent writes)");
}

// Removes the claim if it still names `build_name`. Best effort: the claim is stale anyway once
// the build is missing, and stale claims do not block.
void ReleaseClaim(Store& store, const ObjectKey& owner_key, BuildTarget target, const std::string& build_name) {
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    auto owner = store.Get(owner_key);
    if (!owner.ok() || ClaimOf(*owner, target) != build_name) return;
    SetClaim(*owner, target, "");
    auto updated = store.Update(*owner, UpdateOptions{Subresource::kStatus});
    if (updated.ok() || updated.status().code() != StatusCode::kConflict) return;
  }
}

Result<Resource> CreateBuild(Store& store, Resource obj) {
  TUNA_ASSIGN_OR_RETURN(ObjectKey owner_key, ClaimBuild(store, obj));
  const BuildTarget target = TargetOf(obj);
  auto created = store.Create(obj);
  if (!created.ok()) {
    ReleaseClaim(store, owner_key, target, obj.metadata.name);
    return created.status();
  }
  // A concurrent admission may have taken the claim over while this build did not exist yet;
  // the claim decides which build lives.
  auto owner = store.Get(owner_key);
  if (owner.ok()) {
    std::string claimed = ClaimOf(*owner, target);
    if (claimed != obj.metadata.name) {
      DeleteOptions opts;
      opts.precondition_uid = created->metadata.uid;
      (void)store.Delete(KeyOf(*created), opts);
      return Conflict(owner_key.kind + " " + Quote(owner_key.name) + " already has a non-terminal " +
                      std::string(ToString(target)) + " build " + Quote(claimed) + " (claimed concurrently)");
    }
  }
  return created;
}

}  // namespace

Status AdmitObject(Store& store, const Resource& obj, AdmissionOperation op) {
  TUNA_RETURN_IF_ERROR(ValidateObject(obj));
  if (IsBuildKind(obj.kind)) {
    TUNA_ASSIGN_OR_RETURN(Resource owner, ResolveOwner(store, obj));
    if (op == AdmissionOperation::kCreate) return CheckNoConcurrentBuild(store, owner, obj, nullptr);
    return {};
  }
  return CheckReferences(store, obj);
}

Result<Resource> AdmittedCreate(Store& store, Resource obj) {
  // A hand-written manifest cannot know the uid the store gave its owner: an ownerReference
  // without a uid is bound to the owner that exists now (checked like any other reference).
  for (auto& ref : obj.metadata.owner_references) {
    if (!ref.uid.empty() || ref.name.empty() || FindKind(ref.kind) == nullptr) continue;
    auto owner = store.Get({ref.kind, obj.metadata.namespace_, ref.name});
    if (owner.ok()) ref.uid = owner->metadata.uid;
  }
  if (IsBuildKind(obj.kind)) return CreateBuild(store, std::move(obj));
  TUNA_RETURN_IF_ERROR(AdmitObject(store, obj, AdmissionOperation::kCreate));
  return store.Create(std::move(obj));
}

Result<Resource> AdmittedUpdate(Store& store, Resource obj, UpdateOptions options) {
  TUNA_ASSIGN_OR_RETURN(Resource current, store.Get(KeyOf(obj)));
  if (options.subresource == Subresource::kStatus) {
    // Validate what will be stored: the stored spec and metadata with the new status.
    Resource candidate = current;
    candidate.status = obj.status;
    TUNA_RETURN_IF_ERROR(ValidateObject(candidate));
    return store.Update(std::move(obj), options);
  }
  if (IsBuildKind(obj.kind) && obj.spec != current.spec) {
    return Fail("spec", "the spec of an " + obj.kind + " cannot change after it is created");
  }
  // A main write never changes status: admit the object as it will be stored.
  Resource candidate = obj;
  candidate.status = current.status;
  TUNA_RETURN_IF_ERROR(AdmitObject(store, candidate, AdmissionOperation::kUpdate));
  return store.Update(std::move(obj), options);
}

Result<Resource> AdmittedPatch(Store& store, const ObjectKey& key, std::string_view merge_patch,
                               UpdateOptions options) {
  TUNA_ASSIGN_OR_RETURN(json::value patch, ParseJson(merge_patch, "merge patch"));
  if (!patch.is_object()) return InvalidArgument("merge patch: must be a JSON object");
  bool pinned = false;  // the patch names a resourceVersion: one attempt, no retry
  if (const auto* meta = patch.get_object().if_contains("metadata"); meta && meta->is_object()) {
    if (const auto* rv = meta->get_object().if_contains("resourceVersion"); rv && !rv->is_null()) pinned = true;
  }
  Status last;
  for (int attempt = 0; attempt < (pinned ? 1 : kMaxWriteAttempts); ++attempt) {
    TUNA_ASSIGN_OR_RETURN(Resource current, store.Get(key));
    json::value doc = ResourceToJson(current);
    TUNA_RETURN_IF_ERROR(ApplyMergePatch(doc, merge_patch));
    TUNA_ASSIGN_OR_RETURN(Resource patched, ResourceFromJson(doc));
    if (patched.kind != key.kind) return Fail("kind", "cannot be changed by a patch");
    if (patched.metadata.namespace_ != key.namespace_) return Fail("metadata.namespace", "cannot be changed by a patch");
    if (patched.metadata.name != key.name) return Fail("metadata.name", "cannot be changed by a patch");
    if (!pinned) patched.metadata.resource_version = current.metadata.resource_version;
    auto r = AdmittedUpdate(store, std::move(patched), options);
    if (r.ok() || pinned || r.status().code() != StatusCode::kConflict) return r;
    last = r.status();
  }
  return last;
}

}  // namespace tuna
