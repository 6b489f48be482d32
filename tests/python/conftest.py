"""Fixtures of the Python package's tests: a real `tuna server` process per test module.

The binary is $TUNA_BINARY, else build/tuna (scripts/build.sh). The server gets its own HOME, so
it never writes the developer's ~/.config/tuna/config.yaml.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]


def tuna_binary() -> Path:
    path = Path(os.environ.get("TUNA_BINARY", REPO / "build" / "tuna"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: run scripts/build.sh (or set TUNA_BINARY)")
    return path


@dataclass
class TunaServer:
    url: str
    token: str
    data_dir: Path
    home: Path
    process: subprocess.Popen

    def env(self) -> dict:
        """An environment without any tuna settings of the developer's (HOME is the server's)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUNA_") and k != "XDG_CONFIG_HOME"}
        env["HOME"] = str(self.home)
        return env


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds; reaps it."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def tuna_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TunaServer]:
    root = tmp_path_factory.mktemp("tuna-server")
    home = root / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNA_") and k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    log = open(root / "server.log", "w+")
    proc = subprocess.Popen(
        [str(tuna_binary()), "server", "--data-dir", str(root / "data"), "--listen", "127.0.0.1:0",
         "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=log, env=env, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "tuna server listening on http://127.0.0.1:PORT"
        match = re.match(r"tuna server listening on (http://127\.0\.0\.1:\d+)$", first.strip())
        if not match:
            log.seek(0)
            pytest.fail(f"tuna server did not start: {first!r}\n{log.read()}")
        token = (root / "data" / "admin.token").read_text().strip()
        yield TunaServer(match.group(1), token, root / "data", home, proc)
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TUNA_* variables and an empty HOME, so only what a test sets counts."""
    for name in list(os.environ):
        if name.startswith("TUNA_") or name == "XDG_CONFIG_HOME":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Polls until predicate() is truthy (returns it) or fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {predicate}")
        time.sleep(interval)


def run_python(code: str, python: str = sys.executable, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=120)
