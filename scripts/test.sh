#!/usr/bin/env bash
# Installs dependencies, builds everything in one pass and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm ci --prefix tests/interop/mcp --no-audit --no-fund  # the official MCP SDK for the interop test
npm ci --prefix tests/interop/a2a --no-audit --no-fund  # the official A2A JS SDK (1.x and 0.3.x) for the A2A interop test
npm ci --prefix tests/interop/conformance --no-audit --no-fund  # the official MCP conformance suite (McpServerConformance)
npm ci --prefix tests/interop/mcp-everything --no-audit --no-fund  # the MCP reference server for the client tests
# The S3 artifact tests run against a real moto_server (an AWS-compatible server from PyPI).
python3 -c 'import moto.server' 2>/dev/null || python3 -m pip install --quiet 'moto[server]'
bash scripts/build.sh
# The C++ example programs build against the *installed* library through find_package(tuna).
cmake --install build --prefix build/install >/dev/null
cmake -S examples/cpp -B build/examples -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install"
ninja -C build/examples
example_dir=$(mktemp -d)
./build/examples/store_quickstart "$example_dir/quickstart.db"
rm -rf "$example_dir"
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 300
