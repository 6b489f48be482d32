#pragma once
// Helpers shared by the store tests: temp directories and small objects.

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "tuna/store.hpp"

namespace tuna::testing_store {

/// A fresh directory under $TMPDIR, removed with everything in it when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tuna-store-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    path_ = p != nullptr ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline Resource MakeObject(std::string kind, std::string ns, std::string name,
                           boost::json::value spec = boost::json::object(),
                           std::map<std::string, std::string> labels = {}) {
  Resource r;
  r.kind = std::move(kind);
  r.metadata.namespace_ = std::move(ns);
  r.metadata.name = std::move(name);
  r.metadata.labels = std::move(labels);
  r.spec = std::move(spec);
  return r;
}

inline Resource Deployment(std::string name, std::string ns = "default",
                           std::map<std::string, std::string> labels = {}) {
  return MakeObject("AgentDeployment", std::move(ns), std::move(name),
                    boost::json::object{{"environmentName", "py"}}, std::move(labels));
}

inline OwnerReference OwnedBy(const Resource& owner) {
  OwnerReference ref;
  ref.kind = owner.kind;
  ref.name = owner.metadata.name;
  ref.uid = owner.metadata.uid;
  ref.controller = true;
  return ref;
}

}  // namespace tuna::testing_store
