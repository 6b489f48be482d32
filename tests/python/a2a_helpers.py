"""Helpers of the tuna.a2a tests: `python -m tuna.a2a serve` as a subprocess, and the official
`a2a-sdk` client (PyPI) set up the way an application would."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator, Optional, Tuple

AGENTS = Path(__file__).resolve().parent / "a2a_agents"


@contextlib.contextmanager
def serve(entrypoint: str, path: Path = AGENTS, env: Optional[dict] = None) -> Iterator[Tuple[subprocess.Popen, str]]:
    """Runs `python -m tuna.a2a serve ENTRYPOINT --port 0` and yields (process, base URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "tuna.a2a", "serve", entrypoint, "--port", "0", "--path", str(path)],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if '"serving"' in line:
                url = json.loads(line)["url"].rstrip("/")
                break
        if url is None:
            raise RuntimeError("tuna.a2a serve did not start:\n" + "".join(lines))
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


def part_texts(parts) -> str:
    return "".join(p.text for p in parts)
