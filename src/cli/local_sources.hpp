#pragma once
// Private: `tuna apply` turns local sources (`archive: file:DIR` or `file:FILE.tar.gz`, relative
// to the manifest) into snapshots in the server's artifact store, like ko or skaffold resolve
// local images: edit the code, apply again, and a changed snapshot means a new build.

#include <map>
#include <string>

#include "tuna/client.hpp"
#include "tuna/resources/object.hpp"
#include "tuna/status.hpp"

namespace tuna::cli {

class LocalSources {
 public:
  explicit LocalSources(Client& client) : client_(client) {}
  /// Replaces every `file:` source archive of `r` (spec.source, spec.stages.*.source) with the
  /// digest of its upload. Each path is uploaded once per LocalSources.
  Status Resolve(Resource& r, const std::string& base_dir);

 private:
  Result<std::string> Upload(const std::string& path);

  Client& client_;
  std::map<std::string, std::string> uploaded_;  // absolute path -> digest
};

}  // namespace tuna::cli
