#pragma once
// The Python interpreter the tests start workers with.

#include <stdio.h>

#include <string>

namespace tuna::testing {

/// The interpreter behind `python3` (never a pyenv shim: shims cost ~100 ms per start).
inline std::string RealPython() {
  static const std::string path = [] {
    std::string out;
    FILE* pipe = ::popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null", "r");
    if (pipe == nullptr) return std::string("/usr/bin/python3");
    char buffer[512];
    while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    ::pclose(pipe);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out.empty() ? std::string("/usr/bin/python3") : out;
  }();
  return path;
}

}  // namespace tuna::testing
