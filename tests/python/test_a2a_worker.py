"""`python -m tuna.a2a worker` on its Unix socket, as the pool driver speaks to it (docs/drivers.md,
"The worker protocol"; docs/gateway.md, "the agent handler protocol"): health, specialization and
its errors, NDJSON events flushed as yielded, cancellation by closing the connection, deadlines."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from a2a_helpers import assert_streamed_live
from conftest import wait_for

AGENT = '''
import asyncio, time
from tuna.a2a import Agent

agent = Agent(name="w", timeout=1)
plain = Agent(name="plain", timeout=0.5)
not_an_agent = 42

@agent.handler
async def handle(ctx, message):
    text = message.text
    if text == "chunks":
        yield ctx.status("working", "go")
        for i in range(3):
            await asyncio.sleep(0.3)
            yield ctx.artifact("a", text=str(i), append=i > 0, last_chunk=i == 2)
        yield ctx.complete("done")
    elif text == "wait":
        yield ctx.status("working", "waiting")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            ctx.log.info("cancelled " + ctx.task_id)
            raise
    elif text == "history":
        yield ctx.complete(f"{ctx.task_state} {[m.text for m in ctx.history]} {ctx.context_id}")
    else:
        yield ctx.reply("echo: " + text)

@plain.handler
def plain_handle(ctx, message):
    if message.text == "ignore":
        time.sleep(30)           # ignores ctx.cancelled past its deadline
    while not ctx.cancelled:
        time.sleep(0.01)
    ctx.log.info("plain saw cancelled " + ctx.task_id)
    return "stopped"
'''


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("worker", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class Worker:
    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        (tmp / "art").mkdir()
        (tmp / "art" / "test_worker_agent.py").write_text(AGENT)
        self.socket = str(tmp / "w.sock")
        self.log = open(tmp / "worker.log", "w+")
        env = {**os.environ, "TUNA_WORKER_SOCKET": self.socket, "TUNA_HANDLER_GRACE_SECONDS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tuna.a2a", "worker"], stderr=self.log, env=env)
        wait_for(lambda: os.path.exists(self.socket), timeout=20)

    def call(self, method: str, path: str, body=None):
        c = UnixHTTPConnection(self.socket)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if r.getheader("Content-Type") == "application/json" else data

    def specialize(self, entrypoint: str):
        return self.call("POST", "/_tuna/specialize", {"revision": "ns/a/staging/r1", "artifactDir": str(self.dir / "art"),
                                                        "entrypoint": entrypoint, "env": {"GREETING": "hi"}})

    def logs(self) -> str:
        self.log.flush()
        return (self.dir / "worker.log").read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


@pytest.fixture
def worker(tmp_path):
    w = Worker(tmp_path)
    yield w
    w.stop()


def execute_body(text, task="t1", context="c1", history=()):
    return {"taskId": task, "contextId": context, "agent": {"namespace": "ns", "name": "a", "stage": "staging"},
            "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": text}]},
            "history": list(history), "metadata": {}}


def test_health_specialize_and_errors(worker):
    assert worker.call("GET", "/_tuna/healthz") == (200, {"status": "ok", "specialized": False})
    assert worker.call("POST", "/a2a/execute", execute_body("x"))[0] == 503
    status, body = worker.specialize("no_such_module:agent")
    assert status == 422 and "ModuleNotFoundError" in body["error"]
    status, body = worker.specialize("test_worker_agent:not_an_agent")
    assert status == 422 and "not a tuna.a2a.Agent" in body["error"]
    status, body = worker.specialize("test_worker_agent:agent")
    assert status == 200 and body["agent"] == "w"
    assert worker.call("GET", "/_tuna/healthz")[1]["specialized"] is True
    assert worker.specialize("test_worker_agent:agent")[0] == 409
    status, card = worker.call("GET", "/.well-known/agent-card.json")
    assert status == 200 and card["name"] == "w"
    assert worker.call("GET", "/other")[0] == 404


def test_execute_streams_ndjson_as_yielded(worker):
    status, body = worker.specialize("test_worker_agent.py:agent")  # file.py:attr works too
    assert status == 200
    print(f"specialization (first import of the agent module): {body['loadMs']} ms")
    assert body["loadMs"] < 500  # tuna and asyncio are imported before: only the module's own code runs
    c = UnixHTTPConnection(worker.socket)
    c.request("POST", "/a2a/execute", body=json.dumps(execute_body("chunks")), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    started = time.monotonic()
    assert r.status == 200 and r.getheader("Content-Type") == "application/x-ndjson"
    assert r.getheader("Transfer-Encoding") == "chunked"
    arrivals = []
    while True:
        line = r.readline()
        if not line:
            break
        arrivals.append((time.monotonic(), json.loads(line)))
    kinds = [next(iter(e)) for _, e in arrivals]
    assert kinds == ["statusUpdate", "artifactUpdate", "artifactUpdate", "artifactUpdate", "statusUpdate"]
    assert arrivals[0][1] == {"statusUpdate": {"status": {"state": "TASK_STATE_WORKING", "message": {
        "role": "ROLE_AGENT", "parts": [{"text": "go"}]}}}}
    assert arrivals[3][1]["artifactUpdate"] == {"artifact": {"artifactId": "a", "name": "a", "parts": [{"text": "2"}]},
                                                "append": True, "lastChunk": True}
    assert_streamed_live([t for t, _ in arrivals[1:4]], started, 0.3)  # lines flushed as yielded
    # Keep-alive: the same connection serves the next call; a reply completes the task.
    c.request("POST", "/a2a/execute", body=json.dumps(execute_body("hi")), headers={"Content-Type": "application/json"})
    lines = c.getresponse().read().decode().splitlines()
    assert [json.loads(l) for l in lines] == [{"statusUpdate": {"status": {"state": "TASK_STATE_COMPLETED", "message": {
        "role": "ROLE_AGENT", "parts": [{"text": "echo: hi"}]}}}}]
    c.close()


def test_vendored_requirements_in_deps_are_importable(worker):
    # What `python -m tuna.build` leaves in the archive: requirements installed into .deps/.
    deps = worker.dir / "art" / ".deps" / "vendored_dep"
    deps.mkdir(parents=True)
    (deps / "__init__.py").write_text("ANSWER = 42\n")
    (worker.dir / "art" / "uses_dep.py").write_text(
        "import vendored_dep\nfrom tuna.a2a import Agent\nagent = Agent(name='dep')\n"
        "agent.handler(lambda ctx, m: f'answer {vendored_dep.ANSWER}')\n")
    status, body = worker.specialize("uses_dep:agent")
    assert status == 200, body
    status, body = worker.call("POST", "/a2a/execute", execute_body("x"))
    assert "answer 42" in body.decode()


def test_continued_task_sees_history(worker):
    worker.specialize("test_worker_agent:agent")
    history = [{"messageId": "h1", "role": "ROLE_USER", "parts": [{"text": "ask"}]},
               {"messageId": "h2", "role": "ROLE_AGENT", "parts": [{"text": "name?"}]}]
    status, body = worker.call("POST", "/a2a/execute", execute_body("history", history=history, context="ctx-9"))
    line = json.loads(body.decode().splitlines()[0])
    text = line["statusUpdate"]["status"]["message"]["parts"][0]["text"]
    assert text == "TaskState.INPUT_REQUIRED ['ask', 'name?'] ctx-9"


def test_closing_the_connection_cancels_an_async_handler(worker):
    worker.specialize("test_worker_agent:agent")
    c = UnixHTTPConnection(worker.socket)
    c.request("POST", "/a2a/execute", body=json.dumps(execute_body("wait", task="t-cancel")),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert json.loads(r.readline())["statusUpdate"]["status"]["message"]["parts"][0]["text"] == "waiting"
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    wait_for(lambda: "cancelled t-cancel" in worker.logs(), timeout=10)
    assert worker.call("GET", "/_tuna/healthz")[0] == 200  # the worker goes on


def test_closing_the_connection_sets_ctx_cancelled_for_a_plain_handler(worker):
    worker.specialize("test_worker_agent:plain")
    c = UnixHTTPConnection(worker.socket)
    body = execute_body("loop", task="t-plain")
    c.request("POST", "/a2a/execute", body=json.dumps(body), headers={"Content-Type": "application/json"})
    time.sleep(0.2)
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    wait_for(lambda: "plain saw cancelled t-plain" in worker.logs(), timeout=10)


def test_a_plain_handler_past_its_deadline_fails_and_the_worker_is_replaced(worker):
    worker.specialize("test_worker_agent:plain")
    # It stops when its deadline (0.5 s) sets ctx.cancelled: the task fails with the timeout, and
    # the worker, which stopped taking calls at the deadline, exits once the thread has returned.
    c = UnixHTTPConnection(worker.socket)
    c.request("POST", "/a2a/execute", body=json.dumps(execute_body("loop")), headers={"Content-Type": "application/json"})
    line = json.loads(c.getresponse().readline())
    assert line["statusUpdate"]["status"]["state"] == "TASK_STATE_FAILED"
    assert line["statusUpdate"]["status"]["message"]["parts"][0]["text"] == \
        "the handler did not finish within 0.5 s (Agent.timeout)"
    assert worker.proc.wait(timeout=10) == 75


def test_a_hung_plain_handler_ends_the_worker_after_the_grace_period(worker):
    worker.specialize("test_worker_agent:plain")
    # One that ignores ctx.cancelled: the same answer at once; the response stays open while its
    # thread runs, new connections are refused, and the watchdog ends the worker (75) after the
    # grace period (1 s here).
    c = UnixHTTPConnection(worker.socket)
    c.request("POST", "/a2a/execute", body=json.dumps(execute_body("ignore", task="t-hung")),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    started = time.monotonic()
    line = json.loads(r.readline())
    assert "did not finish within 0.5 s" in line["statusUpdate"]["status"]["message"]["parts"][0]["text"]
    assert time.monotonic() - started < 1.0
    with pytest.raises(ConnectionRefusedError):
        worker.call("GET", "/_tuna/healthz")
    assert worker.proc.wait(timeout=10) == 75
    with pytest.raises(http.client.IncompleteRead):
        r.read()
    assert "past its deadline and grace period" in worker.logs() and "t-hung" in worker.logs()
