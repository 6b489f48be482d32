#include "cli/local_sources.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "artifacts/archive.hpp"

namespace tuna::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kPrefix = "file:";

}  // namespace

Result<std::string> LocalSources::Upload(const std::string& path) {
  if (auto it = uploaded_.find(path); it != uploaded_.end()) return it->second;
  std::error_code ec;
  fs::path archive = path;
  fs::path temp;
  if (fs::is_directory(path, ec)) {
    temp = fs::temp_directory_path(ec) / ("tuna-apply-" + std::to_string(::getpid()) + "-" +
                                          std::to_string(uploaded_.size()) + ".tar.gz");
    Status st = artifacts::CreateTarGz(path, temp);
    if (!st.ok()) return st.WithContext("snapshot " + path);
    archive = temp;
  } else if (!fs::is_regular_file(path, ec)) {
    return InvalidArgument("local source " + path + ": no such file or directory");
  }
  std::ifstream in(archive, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!temp.empty()) fs::remove(temp, ec);
  if (!in.good() && !in.eof()) return InvalidArgument("local source " + path + ": cannot read it");
  TUNA_ASSIGN_OR_RETURN(std::string digest, client_.UploadArtifact(bytes.str()));
  uploaded_[path] = digest;
  return digest;
}

Status LocalSources::Resolve(Resource& r, const std::string& base_dir) {
  if (!r.spec.is_object()) return {};
  auto resolve_source = [&](json::value* source, const std::string& field) -> Status {
    if (source == nullptr || !source->is_object()) return {};
    auto* archive = source->get_object().if_contains("archive");
    if (archive == nullptr || !archive->is_string()) return {};
    std::string_view value = archive->get_string();
    if (!value.starts_with(kPrefix) || value.starts_with("file://")) return {};
    fs::path p(std::string(value.substr(kPrefix.size())));
    if (p.is_relative()) p = fs::path(base_dir) / p;
    auto digest = Upload(p.lexically_normal().string());
    if (!digest.ok()) return Status(digest.status().code(), field + ": " + digest.status().message(), field);
    *archive = *digest;
    return {};
  };
  auto& spec = r.spec.get_object();
  TUNA_RETURN_IF_ERROR(resolve_source(spec.if_contains("source"), "spec.source.archive"));
  if (auto* stages = spec.if_contains("stages"); stages && stages->is_object()) {
    for (auto& [name, stage] : stages->get_object()) {
      if (!stage.is_object()) continue;
      TUNA_RETURN_IF_ERROR(
          resolve_source(stage.get_object().if_contains("source"), "spec.stages." + std::string(name) + ".source.archive"));
    }
  }
  return {};
}

}  // namespace tuna::cli
