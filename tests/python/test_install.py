"""The package installs into a fresh virtual environment and imports there, typed.

scripts/test.sh builds the wheel once and passes it as $TUNA_WHEEL; without it this test installs
the repository itself (`pip install .`, a full build of the C++ library: slow).
"""

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_import_in_a_fresh_virtual_environment(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    wheel = os.environ.get("TUNA_WHEEL")
    target = [wheel, "--no-index", "--no-deps"] if wheel else [str(REPO)]
    subprocess.run([python, "-m", "pip", "install", "--quiet", *target], check=True, timeout=3600)
    code = (
        "import importlib.resources as r, tuna, tuna._tuna as n\n"
        "assert tuna.__version__ == n.__version__\n"
        "assert r.files('tuna').joinpath('py.typed').is_file()\n"
        "assert r.files('tuna').joinpath('_tuna.pyi').is_file()\n"
        "assert issubclass(tuna.NotFoundError, tuna.TunaError)\n"
        "assert len(tuna.decode('apiVersion: tuna.ai/v1alpha1\\nkind: AgentMemory\\nmetadata: {name: m}\\n"
        "spec: {type: kv}\\n')) == 1\n"
        "print(tuna.__file__)\n"
    )
    # From a directory without the sources, so the installed package (not the tree) is imported.
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(venv)
