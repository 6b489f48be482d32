// The tuna binary: servers and the command-line client, all in the library.
#include "tuna/cli.hpp"

int main(int argc, char** argv) { return tuna::cli::Main(argc, argv); }
