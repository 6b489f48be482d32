"""The installed `tuna` package passes `mypy --strict` (it ships py.typed and a stub for the
compiled module, so users' type checkers rely on it)."""

import os
import subprocess
import sys

import pytest


def test_the_package_passes_mypy_strict(tmp_path):
    pytest.importorskip("mypy", reason="pip install mypy (scripts/test.sh does)")
    # From an empty directory: the installed package is checked, not the source tree.
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "tuna"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "MYPYPATH": ""})
    assert result.returncode == 0, result.stdout + result.stderr
