#pragma once
// The tests' one temporary directory helper: a fresh directory under $TMPDIR (or /tmp), removed
// with everything in it when the test ends.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace tuna::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/tuna-test-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) {
      std::error_code ec;
      path_ = std::filesystem::canonical(pattern, ec).string();
      if (ec) path_ = pattern;
    }
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return std::filesystem::path(path_) / name; }

 private:
  std::string path_;
};

}  // namespace tuna::testing
