#include <cstdio>
#include <string_view>

#include "tuna/cli.hpp"
#include "tuna/version.hpp"

namespace tuna::cli {

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "version") {
    std::printf("tuna %s\n", TUNA_VERSION);
    return 0;
  }
  std::fprintf(stderr, "usage: tuna version\n");
  return 2;
}

}  // namespace tuna::cli
