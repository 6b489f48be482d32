#pragma once
// Where the public OpenAPI fixtures live: ../shared/fixtures/openapi next to the project (the
// checkout layout), or the first such directory above it (git worktrees sit deeper);
// TUNA_OPENAPI_FIXTURES overrides. Empty when missing: callers fail, never skip.

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "support/files.hpp"
#include "tuna/openapi.hpp"

namespace tuna::testing {

inline std::filesystem::path OpenApiFixturesDir() {
  if (const char* env = std::getenv("TUNA_OPENAPI_FIXTURES"); env != nullptr && *env != '\0') return env;
  std::filesystem::path dir = std::filesystem::path(TUNA_SOURCE_DIR).parent_path();
  while (true) {
    auto candidate = dir / "shared" / "fixtures" / "openapi";
    if (std::filesystem::exists(candidate / "README.md")) return candidate;
    if (dir.parent_path() == dir) return {};
    dir = dir.parent_path();
  }
}

inline std::string OpenApiFixtureMissing() {
  return std::string("OpenAPI fixtures not found: expected ../shared/fixtures/openapi next to the source tree ") +
         TUNA_SOURCE_DIR + " (or set TUNA_OPENAPI_FIXTURES); they are part of the checkout layout";
}

/// Loads one fixture (byte-for-byte as stored); fails the test when it is missing or invalid.
inline openapi::Document LoadFixture(const std::string& file, const std::string& document_url = "") {
  auto dir = OpenApiFixturesDir();
  EXPECT_FALSE(dir.empty()) << OpenApiFixtureMissing();
  std::string text = ReadFile(dir / file);
  EXPECT_FALSE(text.empty()) << "cannot read fixture " << (dir / file);
  auto doc = openapi::LoadDocument(text, file, document_url);
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return doc.ok() ? std::move(doc).value() : openapi::Document{};
}

}  // namespace tuna::testing
