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
cd ..
# The Python package (docs/python.md). The wheel links build/libtuna.a, just built from this tree,
# instead of compiling the library a second time (a plain `pip install .` compiles it); its own
# CMake tree keeps that setting away from `pip install .`'s. --no-build-isolation: scikit-build-core
# and pybind11 come from this interpreter, not a fresh download into a temporary env every run.
python3 -c 'import scikit_build_core, pybind11, pytest' 2>/dev/null ||
  python3 -m pip install --quiet --root-user-action=ignore scikit-build-core pybind11 pytest
# The official MCP client (PyPI `mcp`, pinned) for tests/python/test_ctx_gateway.py.
python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("mcp") != "2.3.0")' 2>/dev/null ||
  python3 -m pip install --quiet --root-user-action=ignore 'mcp==2.3.0'
# The official A2A Python SDK (PyPI), the client of tuna.a2a's interop tests (tests/python/test_a2a_*.py).
python3 -c 'import importlib.metadata as m; assert m.version("a2a-sdk") == "1.3.0"' 2>/dev/null ||
  python3 -m pip install --quiet --root-user-action=ignore 'a2a-sdk==1.3.0'
# mypy (PyPI) for tests/python/test_typing.py: the package is typed and must stay so.
python3 -c 'import mypy' 2>/dev/null || python3 -m pip install --quiet --root-user-action=ignore 'mypy==2.4.1'
rm -rf build/python-dist
python3 -m pip wheel . --quiet --no-build-isolation --no-deps -w build/python-dist \
  -C build-dir=build/python-ci -C cmake.define.TUNA_PYTHON_PREBUILT_LIBRARY="$PWD/build/libtuna.a"
python3 -m pip install --quiet --root-user-action=ignore --force-reinstall --no-deps build/python-dist/tuna-*.whl
# test_install puts the same wheel into a fresh virtual environment.
TUNA_WHEEL=$(echo build/python-dist/tuna-*.whl) TUNA_BINARY="$PWD/build/tuna" python3 -m pytest tests/python -q
