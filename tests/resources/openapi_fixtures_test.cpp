// Real-world OpenAPI documents (YAML and JSON, up to 1.2 MB) must parse without error.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/files.hpp"
#include "tuna/resources/codec.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace tuna {
namespace {
using testing::ReadFile;

// The fixtures live beside the checkout: <root>/shared/fixtures/openapi with the checkout at
// <root>/main; a worktree at <root>/wt/<name> is one level deeper.
fs::path FixturesDir() {
  for (const char* rel : {"/../shared/fixtures/openapi", "/../../shared/fixtures/openapi"}) {
    fs::path p = fs::path(TUNA_SOURCE_DIR + std::string(rel));
    if (fs::is_directory(p)) return p;
  }
  return {};
}


bool ContainsString(const json::value& v, std::string_view s, int depth = 0) {
  if (depth > 200) return false;
  if (v.is_string()) return v.get_string() == s;
  if (v.is_array()) {
    for (const auto& x : v.get_array()) {
      if (ContainsString(x, s, depth + 1)) return true;
    }
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (ContainsString(kv.value(), s, depth + 1)) return true;
    }
  }
  return false;
}

TEST(OpenApiFixtures, EveryDocumentParses) {
  fs::path dir = FixturesDir();
  ASSERT_FALSE(dir.empty()) << "fixtures not found from " << TUNA_SOURCE_DIR;
  int yaml = 0, json_docs = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path& p = entry.path();
    if (!entry.is_regular_file()) continue;
    std::string ext = p.extension().string();
    if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
    std::string text = ReadFile(p);
    SCOPED_TRACE(p.filename().string());
    json::value doc;
    if (ext == ".json") {
      auto r = ParseJson(text, p.filename().string());
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      doc = *r;
      ++json_docs;
    } else {
      auto r = ParseYamlDocuments(text, p.filename().string());
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->size(), 1u);
      doc = (*r)[0].value;
      EXPECT_FALSE((*r)[0].field_lines.empty());
      ++yaml;
    }
    ASSERT_TRUE(doc.is_object());
    const auto* version = doc.get_object().if_contains("openapi");
    ASSERT_NE(version, nullptr);
    ASSERT_TRUE(version->is_string());  // "3.0.4" stays a string, not a number
    EXPECT_EQ(std::string(version->get_string()).substr(0, 2), "3.");
    EXPECT_TRUE(doc.get_object().contains("paths"));
  }
  EXPECT_EQ(yaml, 6);
  EXPECT_EQ(json_docs, 2);
}

TEST(OpenApiFixtures, YamlTimestampsStayStrings) {
  fs::path dir = FixturesDir();
  ASSERT_FALSE(dir.empty());
  auto r = ParseYamlDocuments(ReadFile(dir / "scalar-galaxy.yaml"), "scalar-galaxy.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(ContainsString((*r)[0].value, "2023-12-01T12:00:00Z"));
}

TEST(OpenApiFixtures, JsonIsYamlToo) {
  fs::path dir = FixturesDir();
  ASSERT_FALSE(dir.empty());
  std::string text = ReadFile(dir / "ory-kratos.json");
  auto as_json = ParseJson(text, "ory-kratos.json");
  auto as_yaml = ParseYamlDocuments(text, "ory-kratos.json");
  ASSERT_TRUE(as_json.ok());
  ASSERT_TRUE(as_yaml.ok()) << as_yaml.status().ToString();
  ASSERT_EQ(as_yaml->size(), 1u);
  EXPECT_EQ((*as_yaml)[0].value, *as_json);
}

TEST(OpenApiFixtures, YamlReEmitsToTheSameValue) {
  fs::path dir = FixturesDir();
  ASSERT_FALSE(dir.empty());
  auto r = ParseYamlDocuments(ReadFile(dir / "swagger-petstore.yaml"), "swagger-petstore.yaml");
  ASSERT_TRUE(r.ok());
  auto again = ParseYamlDocuments(EncodeYamlValue((*r)[0].value), "re-emitted.yaml");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)[0].value, (*r)[0].value);
}

}  // namespace
}  // namespace tuna
