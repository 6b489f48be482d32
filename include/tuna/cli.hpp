#pragma once
/// The `tuna` command line (server and client). The binary's main() only calls Main().

namespace tuna::cli {

/// Runs the tuna command line; returns the process exit code (see docs/cli.md).
int Main(int argc, char** argv);

}  // namespace tuna::cli
