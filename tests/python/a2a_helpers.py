"""Helpers of the tuna.a2a tests: `python -m tuna.a2a serve` as a subprocess, and the official
`a2a-sdk` client (PyPI) set up the way an application would."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, Optional, Tuple

from conftest import stop_process

AGENTS = Path(__file__).resolve().parent / "a2a_agents"


class Served:
    """A running `python -m tuna.a2a serve`: its URL and its stderr lines (read by a thread, so the
    pipe never fills)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list = []
        self.url = ""
        self._started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if not self.url and '"serving"' in line:
                self.url = json.loads(line)["url"].rstrip("/")
                self._started.set()
        self._started.set()

    def log(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def serve(entrypoint: str, path: Path = AGENTS, env: Optional[dict] = None) -> Iterator[Served]:
    """Runs `python -m tuna.a2a serve ENTRYPOINT --port 0`."""
    proc = subprocess.Popen([sys.executable, "-m", "tuna.a2a", "serve", entrypoint, "--port", "0", "--path", str(path)],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    served = Served(proc)
    try:
        served._started.wait(30)
        if not served.url:
            raise RuntimeError("tuna.a2a serve did not start:\n" + served.log())
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the plain line scripts wait for
        assert first.strip() == f"tuna.a2a: agent {first.split()[2]} listening on {served.url}/", first
        yield served
    finally:
        stop_process(proc)


@contextlib.asynccontextmanager
async def sdk_client(url: str, token: Optional[str] = None, streaming: bool = True):
    """An a2a-sdk client from the agent card at URL (its own httpx client, with a bearer token)."""
    import httpx
    from a2a.client import ClientConfig, create_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(60.0))
    try:
        yield await create_client(url, client_config=ClientConfig(streaming=streaming, httpx_client=http))
    finally:
        await http.aclose()


async def fetch_card(url: str, token: Optional[str] = None):
    """The agent card, read with the SDK's card resolver."""
    import httpx
    from a2a.client import A2ACardResolver

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers) as http:
        return await A2ACardResolver(http, url).get_agent_card()


def user_message(text: str, task_id: str = "", context_id: str = ""):
    from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest

    m = Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])
    if task_id:
        m.task_id = task_id
    if context_id:
        m.context_id = context_id
    return SendMessageRequest(message=m)


async def send_one(client, text: str, task_id: str = "", context_id: str = ""):
    """Sends one user message with an a2a-sdk client (not streaming) and returns its one answer."""
    [answer] = [e async for e in client.send_message(user_message(text, task_id, context_id))]
    return answer


def part_texts(parts) -> str:
    return "".join(p.text for p in parts)


INTEROP_JS = Path(__file__).resolve().parents[1] / "interop" / "a2a"


def run_js_client(url: str, token: str, version: str) -> subprocess.CompletedProcess:
    """tests/interop/a2a/gateway_client.mjs: the official @a2a-js/sdk client (1.0, or 0.3 as the
    npm alias a2a-sdk-03) against an agent: card, send, stream, get, cancel, error codes."""
    import shutil

    import pytest

    node = shutil.which("node")
    if node is None or not (INTEROP_JS / "node_modules" / "@a2a-js" / "sdk" / "package.json").exists():
        pytest.skip("node and `npm ci --prefix tests/interop/a2a` (scripts/test.sh runs it)")
    return subprocess.run([node, str(INTEROP_JS / "gateway_client.mjs"), url, token, version], capture_output=True,
                          text=True, timeout=120)


def assert_streamed_live(arrivals, started: float, delay: float) -> None:
    """Chunks produced `delay` seconds apart were delivered as produced, not buffered to the end:
    the first arrived before the last was even produced, and they spread over time. (Robust to
    a loaded machine, where two chunks may still arrive together.)"""
    n = len(arrivals)
    assert n >= 3, arrivals
    produced_last = started + n * delay
    assert arrivals[0] < produced_last - delay / 2, f"the first chunk came with the last: {arrivals} from {started}"
    assert arrivals[-1] - arrivals[0] >= (n - 1) * delay / 2, f"chunks arrived together: {arrivals}"
