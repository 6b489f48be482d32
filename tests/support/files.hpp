#pragma once
// Whole-file reads and writes for tests.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tuna::testing {

/// The file's bytes ("" when it cannot be read).
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Replaces the file's content (creating its directory if needed).
inline void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

}  // namespace tuna::testing
