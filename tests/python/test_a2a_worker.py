"""`python -m tuna.a2a worker` on its Unix socket, as the pool driver speaks to it (docs/drivers.md,
"The worker protocol"; docs/gateway.md, "the agent handler protocol"): health, specialization and
its errors, NDJSON events flushed as yielded, cancellation by closing the connection, deadlines."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

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
    """The worker under test: started as its own process, or forked by `python -m tuna.a2a worker`
    running as a fork-server (TUNA_FORK_SERVER_SOCKET), as the pool does for forkServer environments."""

    def __init__(self, tmp: Path, forked: bool = False) -> None:
        self.dir = tmp
        (tmp / "art").mkdir()
        (tmp / "art" / "test_worker_agent.py").write_text(AGENT)
        self.socket = str(tmp / "w.sock")
        self.exit_file = tmp / "worker.exit"
        self.log = open(tmp / "worker.log", "w+")
        env = {**os.environ, "TUNA_WORKER_SOCKET": self.socket, "TUNA_HANDLER_GRACE_SECONDS": "1"}
        self.forked = forked
        if forked:
            fork_socket = str(tmp / "fork.sock")
            server_env = {k: v for k, v in os.environ.items() if k != "TUNA_WORKER_SOCKET"}
            self.proc = subprocess.Popen([sys.executable, "-m", "tuna.a2a", "worker"], stderr=self.log,
                                         env={**server_env, "TUNA_FORK_SERVER_SOCKET": fork_socket})
            wait_for(lambda: os.path.exists(fork_socket), timeout=20)
            answer = fork_server_call(fork_socket, {"op": "fork", "id": "1", "cwd": str(tmp), "log": str(tmp / "worker.log"),
                                                    "exitFile": str(self.exit_file), "env": env})
            assert isinstance(answer.get("pid"), int), answer
            self.pid = answer["pid"]
        else:
            self.proc = subprocess.Popen([sys.executable, "-m", "tuna.a2a", "worker"], stderr=self.log, env=env)
            self.pid = self.proc.pid
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

    def wait_exit(self, timeout: float) -> int:
        """The worker's exit code; for a forked worker, as its fork-server reports it."""
        if not self.forked:
            return self.proc.wait(timeout=timeout)
        wait_for(lambda: self.exit_file.exists(), timeout=timeout)
        how = self.exit_file.read_text().strip()
        assert how.startswith("exit code "), how
        return int(how.split()[-1])

    def stop(self) -> None:
        if self.forked:
            try:
                os.killpg(self.pid, 9)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


def fork_server_call(path: str, request: dict) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(json.dumps(request).encode() + b"\n")
        return json.loads(s.makefile().readline())


@pytest.fixture(params=["process", "forked"])
def worker(tmp_path, request):
    w = Worker(tmp_path, forked=request.param == "forked")
    yield w
    w.stop()


def execute_body(text, task="t1", context="c1", history=()):
    return {"taskId": task, "contextId": context, "agent": {"namespace": "ns", "name": "a", "stage": "staging"},
            "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": text}]},
            "history": list(history), "metadata": {}}


def start_execute(socket_path: str, text: str, task: str = "t1",
                  conn: Optional[UnixHTTPConnection] = None) -> UnixHTTPConnection:
    """POSTs /a2a/execute for `text` (on `conn`, else a new connection) and returns the connection;
    the caller reads (or abandons) the NDJSON response."""
    c = conn or UnixHTTPConnection(socket_path)
    c.request("POST", "/a2a/execute", body=json.dumps(execute_body(text, task=task)),
              headers={"Content-Type": "application/json"})
    return c


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
    c = start_execute(worker.socket, "chunks")
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
    start_execute(worker.socket, "hi", conn=c)
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
    c = start_execute(worker.socket, "wait", task="t-cancel")
    r = c.getresponse()
    assert json.loads(r.readline())["statusUpdate"]["status"]["message"]["parts"][0]["text"] == "waiting"
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    wait_for(lambda: "cancelled t-cancel" in worker.logs(), timeout=10)
    assert worker.call("GET", "/_tuna/healthz")[0] == 200  # the worker goes on


def test_closing_the_connection_sets_ctx_cancelled_for_a_plain_handler(worker):
    worker.specialize("test_worker_agent:plain")
    c = start_execute(worker.socket, "loop", task="t-plain")
    time.sleep(0.2)
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    wait_for(lambda: "plain saw cancelled t-plain" in worker.logs(), timeout=10)


def test_a_plain_handler_past_its_deadline_fails_and_the_worker_is_replaced(worker):
    worker.specialize("test_worker_agent:plain")
    # It stops when its deadline (0.5 s) sets ctx.cancelled: the task fails with the timeout, and
    # the worker, which stopped taking calls at the deadline, exits once the thread has returned.
    c = start_execute(worker.socket, "loop")
    line = json.loads(c.getresponse().readline())
    assert line["statusUpdate"]["status"]["state"] == "TASK_STATE_FAILED"
    assert line["statusUpdate"]["status"]["message"]["parts"][0]["text"] == \
        "the handler did not finish within 0.5 s (Agent.timeout)"
    assert worker.wait_exit(10) == 75


def test_a_hung_plain_handler_ends_the_worker_after_the_grace_period(worker):
    worker.specialize("test_worker_agent:plain")
    # One that ignores ctx.cancelled: the same answer at once; the response stays open while its
    # thread runs, new connections are refused, and the watchdog ends the worker (75) after the
    # grace period (1 s here).
    c = start_execute(worker.socket, "ignore", task="t-hung")
    r = c.getresponse()
    started = time.monotonic()
    line = json.loads(r.readline())
    assert "did not finish within 0.5 s" in line["statusUpdate"]["status"]["message"]["parts"][0]["text"]
    assert time.monotonic() - started < 1.0
    with pytest.raises(ConnectionRefusedError):
        worker.call("GET", "/_tuna/healthz")
    assert worker.wait_exit(10) == 75
    with pytest.raises(http.client.IncompleteRead):
        r.read()
    assert "past its deadline and grace period" in worker.logs() and "t-hung" in worker.logs()


def test_a_fork_server_answers_ping_and_refuses_bad_requests(tmp_path):
    fork_socket = str(tmp_path / "fork.sock")
    env = {k: v for k, v in os.environ.items() if k != "TUNA_WORKER_SOCKET"}
    pids = []
    with open(tmp_path / "server.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tuna.a2a", "worker"], stderr=log,
                                env={**env, "TUNA_FORK_SERVER_SOCKET": fork_socket})
        try:
            wait_for(lambda: os.path.exists(fork_socket), timeout=20)
            assert fork_server_call(fork_socket, {"op": "ping"}) == {"ok": True, "pid": proc.pid}
            assert "unknown op 'spawn'" in fork_server_call(fork_socket, {"op": "spawn"})["error"]
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(fork_socket)
                s.sendall(b"not json\n")
                assert "bad request" in json.loads(s.makefile().readline())["error"]
            # Two forks specialize independently: a worker belongs to one revision.
            for name in ("a", "b"):
                d = tmp_path / name
                (d / "art").mkdir(parents=True)
                (d / "art" / f"agent_{name}.py").write_text(
                    f"from tuna.a2a import Agent\nagent = Agent(name='{name}')\n"
                    f"@agent.handler\ndef h(ctx, m):\n    return '{name}: ' + m.text\n")
                answer = fork_server_call(fork_socket, {"op": "fork", "id": name, "cwd": str(d), "log": str(d / "log"),
                                                        "exitFile": str(d / "exit"),
                                                        "env": {**env, "TUNA_WORKER_SOCKET": str(d / "w.sock")}})
                pids.append(answer["pid"])
                wait_for(lambda: os.path.exists(d / "w.sock"), timeout=20)
                c = UnixHTTPConnection(str(d / "w.sock"))
                c.request("POST", "/_tuna/specialize", body=json.dumps({"revision": name, "artifactDir": str(d / "art"),
                                                                         "entrypoint": f"agent_{name}:agent", "env": {}}),
                          headers={"Content-Type": "application/json"})
                assert c.getresponse().status == 200
            for name in ("a", "b"):
                c = start_execute(str(tmp_path / name / "w.sock"), "hi")
                lines = [json.loads(x) for x in c.getresponse().read().splitlines()]
                assert f"{name}: hi" in json.dumps(lines)
            assert pids[0] != pids[1] and proc.pid not in pids
            # Like any Python process, a fork ignores SIGPIPE: a client that goes away mid-answer
            # raises BrokenPipeError in the worker instead of killing it.
            for pid in pids:
                with open(f"/proc/{pid}/status") as status:
                    ignored = next(int(line.split()[1], 16) for line in status if line.startswith("SigIgn:"))
                assert ignored & (1 << (signal.SIGPIPE - 1)), f"worker {pid} does not ignore SIGPIPE"
            os.kill(pids[0], 9)
            wait_for(lambda: (tmp_path / "a" / "exit").exists(), timeout=10)
            assert (tmp_path / "a" / "exit").read_text() == "killed by signal 9\n"
        finally:
            for pid in pids:
                try:
                    os.killpg(pid, 9)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait()
