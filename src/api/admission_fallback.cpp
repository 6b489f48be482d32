// TEMPORARY (branch api): weak stand-ins for tuna/admission.hpp until branch `kinds` lands on
// main with src/admission/. They perform NO validation: writes go straight to the store. Delete
// this file when main has src/admission/ (the real, strong definitions then take over).

#include "tuna/admission.hpp"

namespace tuna {

__attribute__((weak)) Status ValidateObject(const Resource&) { return {}; }

__attribute__((weak)) Status AdmitObject(Store&, const Resource&, AdmissionOperation) { return {}; }

__attribute__((weak)) Result<Resource> AdmittedCreate(Store& store, Resource obj) {
  return store.Create(std::move(obj));
}

__attribute__((weak)) Result<Resource> AdmittedUpdate(Store& store, Resource obj, UpdateOptions options) {
  return store.Update(std::move(obj), options);
}

__attribute__((weak)) Result<Resource> AdmittedPatch(Store& store, const ObjectKey& key, std::string_view merge_patch,
                                                     UpdateOptions options) {
  return store.Patch(key, merge_patch, options);
}

}  // namespace tuna
