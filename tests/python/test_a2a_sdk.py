"""`python -m tuna.a2a serve` (the C++ A2A server running a Python handler) with the official
Python `a2a-sdk` client from PyPI (card, send, stream, get, cancel, multi-turn, failure) and the
official `@a2a-js/sdk` clients (A2A 1.0 and 0.3)."""

from __future__ import annotations

import asyncio
import time

import pytest

from a2a_helpers import (assert_streamed_live, fetch_card, part_texts, run_js_client, sdk_client, send_one, serve,
                         user_message)
from conftest import wait_for

pytest.importorskip("a2a.client", reason="pip install a2a-sdk (scripts/test.sh does)")

from a2a.types.a2a_pb2 import CancelTaskRequest, GetTaskRequest, TaskState  # noqa: E402


@pytest.fixture(scope="module")
def served():
    with serve("interop_agent:agent") as s:
        yield s


def run(coro):
    return asyncio.run(coro)


def test_card_and_send(served):
    url = served.url

    async def main():
        async with sdk_client(url, streaming=False) as client:
            card = await fetch_card(url)
            assert card.name == "interop" and card.skills[0].id == "echo"
            assert card.capabilities.streaming
            events = [e async for e in client.send_message(user_message("hello"))]
            assert len(events) == 1 and events[0].WhichOneof("payload") == "message"
            assert part_texts(events[0].message.parts) == "echo: hello [standalone]"
            # A failing handler: a failed task with the exception's message.
            failed = await send_one(client, "boom")
            assert failed.task.status.state == TaskState.TASK_STATE_FAILED
            assert part_texts(failed.task.status.message.parts) == "RuntimeError: the model is on fire"
    run(main())


def test_stream_events_arrive_one_by_one_then_get(served):
    url = served.url

    async def main():
        async with sdk_client(url, streaming=True) as client:
            arrivals = []
            task_id = ""
            started = time.monotonic()
            async for event in client.send_message(user_message("stream 4 0.25")):
                kind = event.WhichOneof("payload")
                arrivals.append((time.monotonic(), kind, event))
                if kind == "task":
                    task_id = event.task.id
            kinds = [k for _, k, _ in arrivals]
            assert kinds == ["task", "status_update", "artifact_update", "artifact_update", "artifact_update",
                             "artifact_update", "status_update"], kinds
            assert_streamed_live([t for t, k, _ in arrivals if k == "artifact_update"], started, 0.25)
            assert arrivals[-1][2].status_update.status.state == TaskState.TASK_STATE_COMPLETED
            task = await client.get_task(GetTaskRequest(id=task_id))
            assert task.status.state == TaskState.TASK_STATE_COMPLETED
            assert part_texts(task.artifacts[0].parts) == "0123"
    run(main())


def test_cancel_reaches_the_handler(served):
    url = served.url

    async def main():
        async with sdk_client(url, streaming=True) as client:
            stream = client.send_message(user_message("wait"))
            task_id = ""
            async for event in stream:
                if event.WhichOneof("payload") == "task":
                    task_id = event.task.id
                if event.WhichOneof("payload") == "status_update":
                    break  # working: the handler runs
            await stream.aclose()
            canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
            assert canceled.status.state == TaskState.TASK_STATE_CANCELED
            got = await client.get_task(GetTaskRequest(id=task_id))
            assert got.status.state == TaskState.TASK_STATE_CANCELED
            return task_id
    task_id = run(main())
    # The coroutine saw asyncio.CancelledError and logged it (stderr of serve).
    wait_for(lambda: f"handler cancelled: {task_id}" in served.log(), timeout=10)
    # Everything serve wrote is structured (JSON lines): no stray Python error output.
    assert all(line.startswith("{") for line in served.lines), served.log()


@pytest.mark.parametrize("version", ["1.0", "0.3"])
def test_official_javascript_sdk(version):
    with serve("js_echo:agent") as s:
        done = run_js_client(s.url, "unused", version)
    assert done.returncode == 0 and "ALL OK" in done.stdout, done.stdout + done.stderr + s.log()


def _maps(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def test_serve_runs_with_tcmalloc_and_keeps_the_environment_of_its_children(tmp_path):
    """`serve` re-executes itself with tcmalloc preloaded (same pid, same arguments) when it is
    installed; a handler's subprocesses see LD_PRELOAD as it was; TUNA_ALLOCATOR=system opts out."""
    from tuna.a2a.__main__ import _tcmalloc

    if _tcmalloc() is None:
        pytest.skip("libtcmalloc-minimal4 is not installed (scripts/install-deps.sh installs it)")
    (tmp_path / "env_agent.py").write_text(
        "import os, subprocess, sys\nfrom tuna.a2a import Agent\nagent = Agent(name='env')\n"
        "@agent.handler\ndef h(ctx, m):\n"
        "    out = subprocess.run([sys.executable, '-c', 'import os; print(os.environ.get(\"LD_PRELOAD\", \"-\"))'],\n"
        "                         capture_output=True, text=True).stdout.strip()\n"
        "    return out\n")
    with serve("env_agent:agent", path=tmp_path) as s:
        assert "libtcmalloc_minimal" in _maps(s.proc.pid)

        async def ask():
            async with sdk_client(s.url + "/", streaming=False) as client:
                answer = await send_one(client, "env")
                return part_texts(answer.message.parts)  # a plain return answers with a message
        assert run(ask()) == "-"
    with serve("env_agent:agent", path=tmp_path, env={"TUNA_ALLOCATOR": "system"}) as s:
        assert "libtcmalloc_minimal" not in _maps(s.proc.pid)
