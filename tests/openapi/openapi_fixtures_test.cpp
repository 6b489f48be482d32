// Every public fixture loads and converts: tool counts, valid unique names, `$ref`-free bounded
// schemas that mcp::Server accepts.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <regex>
#include <set>

#include "openapi/fixtures.hpp"
#include "tuna/mcp/server.hpp"
#include "tuna/openapi.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

using testing::LoadFixture;
using testing::OpenApiFixturesDir;

struct FixtureCase {
  const char* file;
  std::size_t bytes;  // README inventory: the file is unedited
  std::size_t ops;    // README "ops" column
  const char* base_url;  // for documents without servers
};

const FixtureCase kFixtures[] = {
    {"swagger-petstore.yaml", 23182, 19, ""},
    {"ory-kratos.json", 398714, 60, "https://kratos.example.com"},
    {"discord-openapi.json", 1183025, 242, ""},
    {"keycloak-admin-23.0.7.yaml", 271247, 316, ""},
    {"readme-star-trek.yaml", 363397, 120, ""},
    {"scalar-galaxy.yaml", 44919, 10, ""},
    {"readme-parameters-style.yaml", 36661, 25, ""},
    {"readme-polymorphism.yaml", 19101, 13, ""},
};

bool HasRef(const json::value& v) {
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      if (kv.key() == "$ref" || HasRef(kv.value())) return true;
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& item : *a) {
      if (HasRef(item)) return true;
    }
  }
  return false;
}

TEST(OpenApiToolsFixtures, DirectoryIsPartOfTheCheckout) {
  auto dir = OpenApiFixturesDir();
  ASSERT_FALSE(dir.empty()) << testing::OpenApiFixtureMissing();
  for (const auto& f : kFixtures) {
    ASSERT_TRUE(std::filesystem::exists(dir / f.file)) << (dir / f.file);
    EXPECT_EQ(std::filesystem::file_size(dir / f.file), f.bytes) << f.file << " differs from the published bytes";
  }
}

TEST(OpenApiToolsFixtures, EveryFixtureBecomesValidTools) {
  ASSERT_FALSE(OpenApiFixturesDir().empty()) << testing::OpenApiFixtureMissing();
  const std::regex name_re("^[A-Za-z0-9_.-]{1,128}$");
  openapi::ConvertOptions convert;
  for (const auto& f : kFixtures) {
    SCOPED_TRACE(f.file);
    auto start = std::chrono::steady_clock::now();
    auto doc = LoadFixture(f.file);
    auto loaded = std::chrono::steady_clock::now();
    auto ops = openapi::ListOperations(doc, convert);
    auto converted = std::chrono::steady_clock::now();
    ASSERT_TRUE(ops.ok()) << ops.status().ToString();
    std::printf("[ figures  ] %-30s load %5lld ms, convert %5lld ms, %zu tools\n", f.file,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(loaded - start).count()),
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(converted - loaded).count()),
                ops->size());
    EXPECT_EQ(ops->size(), f.ops);
    std::set<std::string> names;
    std::size_t largest = 0;
    for (const auto& op : *ops) {
      EXPECT_TRUE(std::regex_match(op.tool_name, name_re)) << op.tool_name;
      EXPECT_TRUE(names.insert(op.tool_name).second) << "duplicate " << op.tool_name;
      EXPECT_FALSE(HasRef(op.input_schema)) << op.tool_name;
      std::size_t size = json::serialize(op.input_schema).size();
      largest = std::max(largest, size);
      EXPECT_LE(size, convert.max_schema_bytes) << op.tool_name;
      EXPECT_EQ(op.input_schema.at("type"), "object") << op.tool_name;
      EXPECT_FALSE(op.description.empty()) << op.tool_name;
      EXPECT_LE(op.description.size(), convert.max_description_chars) << op.tool_name;
    }
    // The tools register in an mcp::Server as they are.
    openapi::ToolsetOptions options;
    options.base_url = f.base_url;
    auto tools = openapi::MakeTools(doc, options);
    ASSERT_TRUE(tools.ok()) << tools.status().ToString();
    auto server = mcp::Server::Make({});
    for (auto& tool : *tools) ASSERT_TRUE(server->AddTool(std::move(tool)).ok());
    EXPECT_EQ(server->ToolNames().size(), f.ops);
  }
}

TEST(OpenApiToolsFixtures, SmallerCapStillBoundsEverySchema) {
  ASSERT_FALSE(OpenApiFixturesDir().empty()) << testing::OpenApiFixtureMissing();
  openapi::ConvertOptions convert;
  convert.max_schema_bytes = 4096;
  auto doc = LoadFixture("discord-openapi.json");
  auto ops = openapi::ListOperations(doc, convert);
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  std::size_t cut = 0;
  for (const auto& op : *ops) {
    EXPECT_LE(json::serialize(op.input_schema).size(), 4096u) << op.tool_name;
    if (op.schema_truncated) {
      ++cut;
      EXPECT_NE(op.description.find("simplified"), std::string::npos) << op.description;
    }
  }
  EXPECT_GT(cut, 0u);
}

}  // namespace
}  // namespace tuna
