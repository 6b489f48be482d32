#pragma once
// Private: reads manifests for `tuna apply -f` / `tuna delete -f`: files, directories (every
// .yaml/.yml/.json, sorted) and stdin ("-"); many documents per file; `kind: List` expanded.

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna::cli {

/// One document (or one file that could not be read): a Resource or the error, with where it
/// came from for messages.
struct Manifest {
  /// "dir/a.yaml:14 (document 2)": the document's first line, or the offending field's for an
  /// error; empty when the error message names its place itself (YAML syntax errors).
  std::string location;
  /// The location of a field path of this document (for errors the server reports).
  std::function<std::string(const std::string& field)> locate;
  std::optional<Resource> resource;
  Status error;  // set when resource is empty
  /// Directory that relative `file:` sources are resolved against (the manifest's own).
  std::string base_dir;
};

/// Loads every document of `paths`. `namespace_` fills an empty metadata.namespace; when
/// `namespace_from_flag`, a manifest naming another namespace is an error.
std::vector<Manifest> LoadManifests(const std::vector<std::string>& paths, std::istream& in,
                                    const std::string& namespace_, bool namespace_from_flag);

}  // namespace tuna::cli
