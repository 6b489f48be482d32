#include "cli/manifests.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>

#include "tuna/resources/codec.hpp"
#include "tuna/resources/kinds.hpp"

namespace tuna::cli {
namespace fs = std::filesystem;
namespace json = boost::json;
namespace {

bool IsManifestFile(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// "a.yaml (document 2)" -> ("a.yaml", " (document 2)").
std::pair<std::string, std::string> SplitSource(const std::string& source) {
  auto pos = source.rfind(" (document ");
  if (pos == std::string::npos || source.back() != ')') return {source, ""};
  return {source.substr(0, pos), source.substr(pos)};
}

// The line of `field` (or of its closest recorded parent; else the document's first line).
int LineOf(const SourceDocument& doc, std::string path) {
  while (!path.empty()) {
    if (auto it = doc.field_lines.find(path); it != doc.field_lines.end()) return it->second;
    std::size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return doc.line;
}

void AddDocument(std::vector<Manifest>& out, const json::value& value, const SourceDocument& doc,
                 const std::string& field_prefix, const std::string& namespace_, bool namespace_from_flag) {
  Manifest m;
  auto [file, document] = SplitSource(doc.source);
  {
    std::error_code ec;
    m.base_dir = file == "<stdin>" ? fs::current_path(ec).string() : fs::absolute(fs::path(file), ec).parent_path().string();
  }
  std::string prefix = field_prefix;
  std::shared_ptr<const SourceDocument> shared = std::make_shared<SourceDocument>(doc);
  m.locate = [file, document, prefix, shared](const std::string& field) {
    std::string path = prefix.empty() ? field : field.empty() ? prefix : prefix + "." + field;
    return file + ":" + std::to_string(LineOf(*shared, path)) + document;
  };
  m.location = m.locate("");
  auto r = ResourceFromJson(value);
  Status error = r.ok() ? ValidateSchema(*r) : r.status();
  if (!error.ok()) {
    m.location = m.locate(error.field());
    m.error = error;
    out.push_back(std::move(m));
    return;
  }
  Resource res = std::move(r).value();
  if (res.metadata.name.empty()) {
    m.error = InvalidArgument("metadata.name: required field is missing", "metadata.name");
  } else if (res.metadata.namespace_.empty()) {
    res.metadata.namespace_ = namespace_;
  } else if (namespace_from_flag && res.metadata.namespace_ != namespace_) {
    m.error = InvalidArgument("metadata.namespace: \"" + res.metadata.namespace_ +
                                  "\" does not match the namespace \"" + namespace_ + "\" given with -n",
                              "metadata.namespace");
  }
  if (!m.error.ok()) m.location = m.locate(m.error.field());
  if (m.error.ok()) m.resource = std::move(res);
  out.push_back(std::move(m));
}

void LoadText(std::vector<Manifest>& out, const std::string& text, const std::string& name,
              const std::string& namespace_, bool namespace_from_flag) {
  auto docs = ParseYamlDocuments(text, name);
  if (!docs.ok()) {
    // The codec's message already names the file, line and column.
    Manifest m;
    m.error = docs.status();
    out.push_back(std::move(m));
    return;
  }
  for (const auto& d : *docs) {
    const json::value& v = d.value;
    // A `kind: List` (as `tuna get -o json` prints for several objects) holds the documents.
    const json::value* items = nullptr;
    if (v.is_object()) {
      const auto* kind = v.get_object().if_contains("kind");
      if (kind != nullptr && kind->is_string() && std::string_view(kind->get_string()).ends_with("List")) {
        items = v.get_object().if_contains("items");
      }
    }
    if (items != nullptr && items->is_array()) {
      std::size_t i = 0;
      for (const auto& item : items->get_array()) {
        AddDocument(out, item, d, "items[" + std::to_string(i++) + "]", namespace_, namespace_from_flag);
      }
      continue;
    }
    AddDocument(out, v, d, "", namespace_, namespace_from_flag);
  }
}

}  // namespace

std::vector<Manifest> LoadManifests(const std::vector<std::string>& paths, std::istream& in,
                                    const std::string& namespace_, bool namespace_from_flag) {
  std::vector<Manifest> out;
  for (const auto& path : paths) {
    if (path == "-") {
      std::ostringstream ss;
      ss << in.rdbuf();
      LoadText(out, ss.str(), "<stdin>", namespace_, namespace_from_flag);
      continue;
    }
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(path, ec)) {
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.is_regular_file() && IsManifestFile(entry.path())) files.push_back(entry.path());
      }
      if (ec) {
        out.push_back({path, {}, std::nullopt, InvalidArgument("cannot read directory: " + ec.message())});
        continue;
      }
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        out.push_back({path, {}, std::nullopt, InvalidArgument("no .yaml, .yml or .json files in this directory")});
        continue;
      }
    } else if (fs::exists(path, ec)) {
      files.emplace_back(path);
    } else {
      out.push_back({path, {}, std::nullopt, InvalidArgument("no such file or directory")});
      continue;
    }
    for (const auto& f : files) {
      std::ifstream file(f, std::ios::binary);
      if (!file) {
        out.push_back({f.string(), {}, std::nullopt, InvalidArgument("cannot open the file")});
        continue;
      }
      std::ostringstream ss;
      ss << file.rdbuf();
      LoadText(out, ss.str(), f.string(), namespace_, namespace_from_flag);
    }
  }
  return out;
}

}  // namespace tuna::cli
