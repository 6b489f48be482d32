"""`python -m tuna.build`, the offline build step of Python agents: requirements come from the
wheels vendored in the repository, nothing from the network; failures name what is wrong."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


def make_wheel(directory: Path, name: str, version: str, files: dict) -> Path:
    """A minimal pure-Python wheel (PEP 427), written by hand so the test needs no build backend."""
    dist = f"{name}-{version}.dist-info"
    entries = dict(files)
    entries[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    entries[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tuna-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = ""
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(text.encode())}\n"
    entries[f"{dist}/RECORD"] = record + f"{dist}/RECORD,,\n"
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in entries.items():
            z.writestr(path, text)
    return wheel


def run_build(src: Path, out: Path) -> subprocess.CompletedProcess:
    # Builds have no network: an index URL in the environment must not matter.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PIP_INDEX_URL": "http://127.0.0.1:9/unreachable",
           "TUNA_SOURCE_DIR": str(src), "TUNA_OUTPUT_DIR": str(out), "HOME": str(out.parent)}
    return subprocess.run([sys.executable, "-m", "tuna.build"], cwd=src, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    make_wheel(src / "wheels", "tunadep", "1.2.0", {"tunadep/__init__.py": "VALUE = 42\n"})
    (src / "requirements.txt").write_text("# vendored\ntunadep==1.2.0\n")
    (src / "agent.py").write_text("import tunadep\n\nANSWER = tunadep.VALUE\n")
    (src / "pkg").mkdir()
    (src / "pkg" / "__init__.py").write_text("")
    return src


def test_requirements_install_from_the_vendored_wheels(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_build(repo, out)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "installed 1 packages from wheels/ into .deps/: tunadep==1.2.0" in r.stdout
    assert (out / ".deps" / "tunadep" / "__init__.py").exists()
    assert (out / "agent.py").exists() and (out / "pkg" / "__init__.py").exists()
    assert not (out / "wheels").exists(), "vendored wheels are not part of the artifact"
    # What the worker does before importing the agent: .deps on sys.path.
    check = subprocess.run([sys.executable, "-c", "import sys; sys.path[:0] = ['.deps', '.']; import agent; print(agent.ANSWER)"],
                           cwd=out, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == "42", check.stderr


def test_a_requirement_without_a_wheel_names_it_and_how_to_vendor_it(repo: Path, tmp_path: Path) -> None:
    (repo / "requirements.txt").write_text("tunadep==1.2.0\nnot-vendored==3.0\n")
    r = run_build(repo, tmp_path / "out")
    assert r.returncode == 1
    assert "not-vendored==3.0" in r.stderr
    assert "pip download --only-binary :all: -d wheels -r requirements.txt" in r.stderr


def test_requirements_without_a_wheels_directory_fail_clearly(repo: Path, tmp_path: Path) -> None:
    for wheel in (repo / "wheels").iterdir():
        wheel.unlink()
    (repo / "wheels").rmdir()
    r = run_build(repo, tmp_path / "out")
    assert r.returncode == 1
    assert "no wheels/ directory" in r.stderr and "tunadep==1.2.0" in r.stderr


def test_index_options_in_requirements_are_refused_with_the_line(repo: Path, tmp_path: Path) -> None:
    (repo / "requirements.txt").write_text("tunadep==1.2.0\n--index-url https://pypi.org/simple\n")
    r = run_build(repo, tmp_path / "out")
    assert r.returncode == 1
    assert "requirements.txt:2: option --index-url is not allowed" in r.stderr


def test_a_syntax_error_fails_the_build_with_file_and_line(repo: Path, tmp_path: Path) -> None:
    (repo / "pkg" / "broken.py").write_text("x = 1\ndef f(:\n")
    r = run_build(repo, tmp_path / "out")
    assert r.returncode == 1
    assert "syntax error" in r.stderr
    assert "broken.py" in r.stderr and "line 2" in r.stderr, r.stderr


def test_no_requirements_just_copies_and_compiles(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "agent.py").write_text("ANSWER = 1\n")
    r = run_build(src, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "agent.py").exists() and not (tmp_path / "out" / ".deps").exists()
