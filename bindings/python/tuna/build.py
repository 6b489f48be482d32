"""``python -m tuna.build``: the build step of a Python agent on tuna's pool, without network.

An AgentEnvironment runs it as its ``buildScript`` (with the interpreter its workers use)::

    buildScript: /usr/bin/python3 -m tuna.build

In the build sandbox (docs/drivers.md: cwd and ``$TUNA_SOURCE_DIR`` = the pushed source,
``$TUNA_OUTPUT_DIR`` = what gets archived, no network) it

1. copies the source into the output (without ``wheels/``, ``.git`` and caches);
2. installs ``requirements.txt`` from the wheels vendored in the repository's ``wheels/``
   directory only (``pip install --no-index --find-links wheels``) into ``.deps/`` of the output,
   which the worker puts on ``sys.path`` before it imports the agent;
3. byte-compiles everything, so a syntax error fails the build (file and line) instead of the
   first request.

A requirement without a vendored wheel fails the build with its name and the command that
vendors it (``pip download --only-binary :all: -d wheels -r requirements.txt`` on a machine
with network). Run it locally the same way: ``TUNA_OUTPUT_DIR=/tmp/out python -m tuna.build``.
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import List, Optional

DEPS_DIR = ".deps"
WHEELS_DIR = "wheels"
_SKIP = {WHEELS_DIR, ".git", "__pycache__", ".venv", ".tuna-build"}


class BuildError(Exception):
    """A build step failed; the message says what and how to fix it."""


def _say(text: str) -> None:
    print(f"tuna build: {text}", flush=True)


def copy_source(src: Path, out: Path) -> int:
    """Copies the source tree into `out` (which may exist); returns the number of files."""
    count = 0
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        dirs[:] = sorted(d for d in dirs if not (rel == Path(".") and d in _SKIP) and d != "__pycache__")
        if out.resolve() == Path(root).resolve() or out.resolve() in Path(root).resolve().parents:
            continue  # building in place: never copy the output into itself
        (out / rel).mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            source = Path(root) / name
            if source.is_symlink() and os.path.isabs(os.readlink(source)):
                raise BuildError(f"{rel / name}: a symlink to an absolute path ({os.readlink(source)}) cannot be archived")
            shutil.copy2(source, out / rel / name, follow_symlinks=False)
            count += 1
    return count


def _requirements(path: Path) -> List[str]:
    names = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            if not line.startswith(("-r ", "--requirement", "-c ", "--constraint")):
                raise BuildError(f"{path.name}:{number}: option {line.split()[0]} is not allowed "
                                 "(builds install from the vendored wheels/ only)")
            continue
        names.append(line)
    return names


def install_requirements(src: Path, out: Path) -> List[str]:
    """Installs requirements.txt from wheels/ into out/.deps; returns "name==version" lines."""
    req = src / "requirements.txt"
    if not req.exists():
        return []
    wanted = _requirements(req)
    if not wanted:
        return []
    wheels = src / WHEELS_DIR
    if not wheels.is_dir():
        raise BuildError(f"requirements.txt lists {', '.join(wanted)} but the repository has no {WHEELS_DIR}/ directory: "
                         "builds have no network, so vendor the wheels: "
                         f"pip download --only-binary :all: -d {WHEELS_DIR} -r requirements.txt")
    target = out / DEPS_DIR
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PIP_INDEX_URL", None)
    env.pop("PIP_EXTRA_INDEX_URL", None)
    cmd = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheels), "--only-binary", ":all:",
           "--target", str(target), "--no-cache-dir", "--no-compile", "--no-warn-script-location", "--quiet",
           "--root-user-action=ignore", "-r", str(req)]
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        text = proc.stderr + proc.stdout
        missing = re.findall(r"No matching distribution found for (\S+)", text)
        if missing:
            raise BuildError(f"requirement {', '.join(missing)}: no matching wheel in {WHEELS_DIR}/ (builds have no network); "
                             f"vendor it: pip download --only-binary :all: -d {WHEELS_DIR} -r requirements.txt")
        if "No module named pip" in text:
            raise BuildError(f"{sys.executable} has no pip: install it (Debian: apt-get install python3-pip)")
        raise BuildError("pip install from wheels/ failed:\n" + text.strip()[-3000:])
    installed = sorted(p.name[:-len(".dist-info")].replace("-", "==", 1)
                       for p in target.glob("*.dist-info") if p.is_dir())
    return installed


def byte_compile(out: Path) -> None:
    """Compiles every .py file; a syntax error fails with its file and line."""
    sink = io.StringIO()
    with redirect_stdout(sink):
        ok = compileall.compile_dir(str(out), quiet=1, force=True, workers=1,
                                    rx=re.compile(re.escape(os.sep + DEPS_DIR + os.sep)))
    if not ok:
        detail = sink.getvalue().strip().replace(str(out) + os.sep, "")
        raise BuildError("syntax error:\n" + detail[-3000:])


def build(src: Path, out: Path) -> None:
    src, out = src.resolve(), out.resolve()
    if not src.is_dir():
        raise BuildError(f"source directory {src} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    files = copy_source(src, out)
    _say(f"copied {files} files")
    installed = install_requirements(src, out)
    if installed:
        _say(f"installed {len(installed)} packages from {WHEELS_DIR}/ into {DEPS_DIR}/: {', '.join(installed)}")
    byte_compile(out)
    _say("compiled")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuna.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=os.environ.get("TUNA_SOURCE_DIR", "."), help="default: $TUNA_SOURCE_DIR or .")
    parser.add_argument("--output", default=os.environ.get("TUNA_OUTPUT_DIR"), help="default: $TUNA_OUTPUT_DIR")
    args = parser.parse_args(argv)
    if not args.output:
        parser.error("no output directory: set TUNA_OUTPUT_DIR or pass --output")
    try:
        build(Path(args.source), Path(args.output))
    except BuildError as e:
        print(f"tuna build: error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
