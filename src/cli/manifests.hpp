#pragma once
// Private: reads manifests for `tuna apply -f` / `tuna delete -f`: files, directories (every
// .yaml/.yml/.json, sorted) and stdin ("-"); many documents per file; `kind: List` expanded.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna::cli {

/// One document (or one file that could not be read): a Resource or the error, with where it
/// came from ("dir/a.yaml (document 2, line 14)") for messages.
struct Manifest {
  std::string location;
  std::optional<Resource> resource;
  Status error;  // set when resource is empty
};

/// Loads every document of `paths`. `namespace_` fills an empty metadata.namespace; when
/// `namespace_from_flag`, a manifest naming another namespace is an error.
std::vector<Manifest> LoadManifests(const std::vector<std::string>& paths, std::istream& in,
                                    const std::string& namespace_, bool namespace_from_flag);

}  // namespace tuna::cli
