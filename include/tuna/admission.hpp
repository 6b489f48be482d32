#pragma once
/// Admission: the checks every user write passes before it reaches the store (schema, integrity,
/// references, the one-build-per-target rule). The API server and embedded programs both write
/// through these functions, so the rules hold whichever way an object arrives.

#include <string_view>

#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"
#include "tuna/store.hpp"

namespace tuna {

enum class AdmissionOperation { kCreate, kUpdate };

/// Checks one object alone: strict typed decoding of spec and status (unknown or mistyped fields
/// name their path), DNS-label names, required fields, enums, value ranges.
Status ValidateObject(const Resource& obj);

/// ValidateObject plus the checks that read the store: references resolve (environment, owner,
/// bound tools...), builds carry an ownerReference to an existing deployment of the right kind,
/// and no second non-terminal build for the same (deployment, buildTarget).
Status AdmitObject(Store& store, const Resource& obj, AdmissionOperation op);

/// Creates through admission. For AgentBuild/MCPServerBuild it first claims
/// `status.currentBuilds[target]` on the owning deployment (compare-and-swap on its
/// resourceVersion), so two concurrent builds for one target cannot both be admitted.
Result<Resource> AdmittedCreate(Store& store, Resource obj);
/// Updates through admission (main resource or status sub-resource).
Result<Resource> AdmittedUpdate(Store& store, Resource obj, UpdateOptions options = {});
/// JSON merge patch through admission: read, patch, admit, write with the read resourceVersion
/// (retried a few times on a concurrent write unless the patch names a resourceVersion).
Result<Resource> AdmittedPatch(Store& store, const ObjectKey& key, std::string_view merge_patch,
                               UpdateOptions options = {});

}  // namespace tuna
