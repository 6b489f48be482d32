"""The pool worker of tuna.a2a (``python -m tuna.a2a worker``): the worker protocol of
docs/drivers.md on $TUNA_WORKER_SOCKET, then tuna's agent handler protocol (docs/gateway.md).

    GET  /_tuna/healthz                 200 {"status": "ok", "specialized": bool}
    POST /_tuna/specialize              {"revision", "artifactDir", "entrypoint": "module:attr", "env"}
                                        imports the module from artifactDir; attr names an Agent
    POST /a2a/execute                   {"taskId", "contextId", "message", "history", "metadata"}
                                        200 application/x-ndjson, chunked: one A2A 1.0 stream event
                                        per line, written (and flushed) as the handler yields it
    GET  /.well-known/agent-card.json   the Agent's card

One asyncio event loop (stdlib) serves the socket: the driver keeps a few keep-alive connections
and a worker runs one agent, so an event loop is enough, it delivers the client going away (the
gateway closes the connection on CancelTask) to the handler as a cancellation, and it starts in
milliseconds. Async handlers run on the loop; plain ones on a thread pool.

Memory: a handler that raises MemoryError (the environment's memory limit is the worker's
RLIMIT_DATA) fails its task with "MemoryError: the handler ran out of memory"; the worker then
leaves that response unfinished (the driver replaces a worker whose call broke), stops listening,
closes its idle connections and exits (code 76) once the other calls in flight are answered.

Deadlines: a handler running past ``Agent.timeout`` is cancelled and the task fails ("did not
finish within N s"). A plain handler cannot be interrupted: the worker stops taking calls and
exits when its thread returns (code 75). A handler that does not stop then (a plain function that ignores
``ctx.cancelled``, an async one that blocks the loop) makes the worker exit after a grace period
(``TUNA_HANDLER_GRACE_SECONDS``, default 2): the pool replaces it, other agents are unaffected.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import json
import os
import socket
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import FailedPreconditionError
from .agent import Agent, Context, run_async, run_sync
from .log import runtime_log
from .types import Artifact, Message, Part
from .wire import artifact_event, message_event, message_from_json, status_event

_EXIT_HUNG = 75
_EOF_POLL_SECONDS = 0.05
_EXIT_OUT_OF_MEMORY = 76
_FINAL_STATES = {"completed", "failed", "canceled", "rejected", "input-required", "auth-required"}  # the exit code of a worker that gave up on a hung handler


class _State:
    agent: Optional[Agent] = None
    revision: Optional[str] = None
    lock = threading.Lock()
    # execution id -> (monotonic time after which the worker gives up on it, task id)
    hard_deadlines: Dict[int, Tuple[float, str]] = {}
    next_id = 0
    # Draining (after a MemoryError): no new connections, idle ones closed, exit once no call runs.
    server: Optional[asyncio.AbstractServer] = None
    idle: "set[asyncio.StreamWriter]" = set()
    inflight = 0
    draining = 0  # the exit code once draining


_state = _State()
_threads = concurrent.futures.ThreadPoolExecutor(max_workers=int(os.environ.get("TUNA_WORKER_THREADS", "32")),
                                                 thread_name_prefix="tuna-handler")


def _grace() -> float:
    try:
        return float(os.environ.get("TUNA_HANDLER_GRACE_SECONDS", "2"))
    except ValueError:
        return 2.0


# ---- the sink: events -> NDJSON lines ----------------------------------------------------------


class NdjsonSink:
    """Turns a handler's events into A2A 1.0 event lines on an asyncio queue (thread-safe). On the
    pool the gateway has created the task before calling the worker, so an answer always
    completes it (no direct message)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[Optional[bytes]]", call: Dict[str, Any],
                 message: Message, history: List[Message]) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._queue = queue
        self.task_id: str = call.get("taskId") or ""
        self.context_id: str = call.get("contextId") or ""
        self.message = message
        self.history = history
        self.metadata: Dict[str, Any] = call.get("metadata") or {}
        # Only a task waiting for input is continued; the gateway sends its earlier messages.
        self.task_state: Optional[str] = "input-required" if history else None
        self.task_exists = True
        self.closed = False
        self.final = ""
        self.cancel_flag = False
        self._artifact_ids: Dict[int, str] = {}
        self._lock = threading.Lock()
        self._pending: List[bytes] = []
        self._wake_scheduled = False

    def cancelled(self) -> bool:
        return self.cancel_flag

    def finish(self) -> None:
        """Nothing to do: the response ends when the handler's runner is done."""

    def _push(self, event: Dict[str, Any]) -> None:
        if self.closed or self.final:
            if self.cancel_flag:
                return  # canceled: the server ignores what comes afterwards
            raise FailedPreconditionError(f"task {self.task_id} is {self.final or 'answered'} already: "
                                          "nothing more can be published")
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        if threading.get_ident() == self._loop_thread:
            self._queue.put_nowait(line)
            return
        # From a plain handler's thread: one wake-up of the loop for the lines queued meanwhile.
        with self._lock:
            self._pending.append(line)
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        self._loop.call_soon_threadsafe(self._hand_over)

    def _hand_over(self) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
            self._wake_scheduled = False
        for line in lines:
            self._queue.put_nowait(line)

    def status(self, state: str, message: Optional[Union[Message, str]] = None,
               metadata: Optional[Dict[str, Any]] = None) -> None:
        if isinstance(message, str):
            message = Message([Part(text=message)])
        self._push(status_event(state, message, metadata))
        if state in _FINAL_STATES:
            self.final = state  # as the server: a terminal or interrupted state ends the execution

    def artifact(self, artifact: Artifact, append: bool = False, last_chunk: bool = True) -> None:
        artifact_id = artifact.artifact_id
        if not artifact_id:
            import uuid  # noqa: PLC0415
            artifact_id = self._artifact_ids.setdefault(id(artifact), str(uuid.uuid4()))
        self._push(artifact_event(artifact, artifact_id, append, last_chunk))

    def reply(self, message: Union[Message, str]) -> None:
        if isinstance(message, str):
            message = Message([Part(text=message)])
        if self.task_exists:
            self._push(status_event("completed", message, None))
            self.final = "completed"
        else:
            self._push(message_event(message))


# ---- HTTP/1.1 on the socket ------------------------------------------------------------------


class _Request:
    __slots__ = ("method", "path", "headers", "body")

    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


async def _read_request(reader: asyncio.StreamReader) -> Optional[_Request]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: Dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    elif headers.get("content-length"):
        body = await reader.readexactly(int(headers["content-length"]))
    return _Request(method, path.split("?", 1)[0], headers, body)


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            422: "Unprocessable Entity", 500: "Internal Server Error", 503: "Service Unavailable"}


def _response(status: int, obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return (f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while not _state.draining:
            _state.idle.add(writer)
            try:
                request = await _read_request(reader)
            finally:
                _state.idle.discard(writer)
            if request is None or _state.draining:
                break
            if request.path == "/a2a/execute" and request.method == "POST":
                _state.inflight += 1
                try:
                    if not await _execute(request, reader, writer):
                        break
                finally:
                    _state.inflight -= 1
                continue
            writer.write(_route(request))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()
        _exit_if_drained()


def _begin_drain(code: int) -> None:
    """Stops taking calls: the listening socket closes (the driver's next connect is refused, so it
    starts another worker and retries there), idle keep-alive connections close; the process exits
    with `code` once the calls in flight are answered."""
    if _state.draining:
        return
    _state.draining = code
    if _state.server is not None:
        _state.server.close()
    for writer in list(_state.idle):
        writer.close()


def _out_of_memory(agent: Agent, sink: "NdjsonSink") -> None:
    if not _state.draining:
        runtime_log.error("a handler ran out of memory; exiting so the pool replaces this worker",
                          agent=agent.name, task_id=sink.task_id)
    _begin_drain(_EXIT_OUT_OF_MEMORY)


def _exit_if_drained() -> None:
    if _state.draining and _state.inflight == 0:
        sys.stderr.flush()
        os._exit(_state.draining)


def _route(request: _Request) -> bytes:
    if request.path == "/_tuna/healthz":
        return _response(200, {"status": "ok", "specialized": _state.agent is not None})
    if request.path == "/_tuna/specialize":
        if request.method != "POST":
            return _response(405, {"error": "use POST"})
        return _specialize(request.body)
    agent = _state.agent
    if request.path in ("/.well-known/agent-card.json", "/.well-known/agent.json") and agent is not None:
        return _response(200, agent.card())
    if agent is None:
        return _response(503, {"error": "worker is not specialized"})
    return _response(404, {"error": f"no route {request.method} {request.path} (the agent answers POST /a2a/execute)"})


def load_entrypoint(entrypoint: str, artifact_dir: str = "") -> Agent:
    """Imports ``module:attr`` (``file.py:attr`` works too; attr defaults to ``agent``) with
    ``artifact_dir`` (after its ``.deps/``, the requirements ``python -m tuna.build`` installed)
    first on sys.path, and returns the Agent it names."""
    module_name, _, attr = entrypoint.partition(":")
    if module_name.endswith(".py"):
        module_name = module_name[:-3].replace("/", ".")
    if not module_name:
        raise ValueError(f"entrypoint {entrypoint!r}: expected module:attr")
    if artifact_dir:
        # The build's vendored requirements (`python -m tuna.build` installs them into .deps/)
        # come first, then the sources.
        deps = os.path.join(artifact_dir, ".deps")
        sys.path[:0] = [p for p in ((deps if os.path.isdir(deps) else ""), artifact_dir) if p and p not in sys.path]
    module = importlib.import_module(module_name)
    obj = getattr(module, attr or "agent", None)
    if obj is None:
        raise AttributeError(f"module {module_name} has no attribute {attr or 'agent'!r}")
    if not isinstance(obj, Agent):
        raise TypeError(f"{entrypoint} is a {type(obj).__name__}, not a tuna.a2a.Agent (entrypoint module:agent; "
                        "plain request handlers run on runtimes/python/worker.py)")
    if obj._handler is None:
        raise ValueError(f"agent {obj.name} has no handler (decorate one with @{attr or 'agent'}.handler)")
    return obj


def _specialize(body: bytes) -> bytes:
    with _state.lock:
        if _state.agent is not None:
            return _response(409, {"error": f"already specialized for {_state.revision}"})
        started = time.perf_counter()
        try:
            spec = json.loads(body)
            for key, value in (spec.get("env") or {}).items():
                os.environ[key] = str(value)
            agent = load_entrypoint(spec["entrypoint"], spec.get("artifactDir", ""))
        except Exception as e:
            runtime_log.exception("specialization failed", e, entrypoint=str(locals().get("spec", {}).get("entrypoint")))
            return _response(422, {"error": f"{type(e).__name__}: {e}"})
        load_ms = (time.perf_counter() - started) * 1000
        _state.agent = agent
        _state.revision = spec.get("revision")
        runtime_log.info("specialized", revision=_state.revision, agent=agent.name, handler=agent.kind,
                         load_ms=round(load_ms, 3))
        return _response(200, {"status": "specialized", "revision": _state.revision, "agent": agent.name,
                               "loadMs": round(load_ms, 3)})


async def _execute(request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """One agent call; returns whether the connection can be reused."""
    agent = _state.agent
    if agent is None:
        writer.write(_response(503, {"error": "worker is not specialized"}))
        await writer.drain()
        return True
    try:
        call = json.loads(request.body)
        message = message_from_json(call["message"])
        history = [message_from_json(m) for m in call.get("history") or []]
    except Exception as e:
        writer.write(_response(400, {"error": f"bad agent call: {type(e).__name__}: {e}"}))
        await writer.drain()
        return True

    loop = asyncio.get_running_loop()
    queue: "asyncio.Queue[Optional[bytes]]" = asyncio.Queue()
    sink = NdjsonSink(loop, queue, call, message, history)
    ctx = Context(agent, sink)
    ctx._message = message
    ctx._history = history

    with _state.lock:
        _state.next_id += 1
        exec_id = _state.next_id
        if agent.timeout:
            _state.hard_deadlines[exec_id] = (time.monotonic() + agent.timeout + _grace(), sink.task_id)

    def finished(_f: Any = None) -> None:
        with _state.lock:
            _state.hard_deadlines.pop(exec_id, None)

    timer: Optional[asyncio.TimerHandle] = None
    runner: "asyncio.Future[Any]"
    if agent.is_async:
        runner = loop.create_task(run_async(ctx))  # the deadline is run_async's
        runner.add_done_callback(finished)
        runner.add_done_callback(lambda _f: queue.put_nowait(None))
    else:
        thread_done = loop.run_in_executor(_threads, run_sync, ctx)
        thread_done.add_done_callback(finished)
        runner = thread_done
        ended = False

        def end(_f: Any = None) -> None:
            nonlocal ended
            if not ended:
                ended = True
                if ctx._timed_out and not _state.draining:
                    # It saw its deadline pass (ctx.cancelled) and returned before the timer below
                    # fired: the task fails the same way, and the worker is replaced the same way.
                    runtime_log.error("a plain handler ran past its deadline; this worker stops taking calls",
                                      agent=agent.name, task_id=sink.task_id, timeout_s=agent.timeout)
                    _begin_drain(_EXIT_HUNG)
                queue.put_nowait(None)
        thread_done.add_done_callback(end)
        if agent.timeout:
            def expire() -> None:
                if thread_done.done():
                    return
                ctx._timed_out = True
                # This worker is replaced: it stops taking calls (the driver retries them on a
                # fresh worker) before the failure goes out, and exits when the thread returns or,
                # at the end of the grace period, through the watchdog. The response stays open
                # until then, so the driver never reuses this connection.
                runtime_log.error("a plain handler ran past its deadline; this worker stops taking calls",
                                  agent=agent.name, task_id=sink.task_id, timeout_s=agent.timeout)
                _begin_drain(_EXIT_HUNG)
                ctx._fail_timeout()  # the answer; later events of the handler are dropped
                sink.cancel_flag = True
                sink.closed = True
            timer = loop.call_later(agent.timeout, expire)

    # The driver closing the connection (CancelTask, or its deadline) cancels the handler. The
    # stream reader sees EOF even while nobody reads, so it is polled while the handler runs
    # (cheaper per call than a pending read task; a cancel arrives within 50 ms).
    gone = False
    poll: Optional[asyncio.TimerHandle] = None

    def check_gone() -> None:
        nonlocal gone, poll
        if reader.at_eof() or writer.is_closing():
            gone = True
            poll = None
            sink.cancel_flag = True
            if agent.is_async and not runner.done():
                runner.cancel()
            queue.put_nowait(b"")  # wakes the response loop
            return
        poll = loop.call_later(_EOF_POLL_SECONDS, check_gone)
    poll = loop.call_later(_EOF_POLL_SECONDS, check_gone)

    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n"
            b"Cache-Control: no-cache\r\n\r\n")
    reusable = True
    try:
        done = False
        while not done:
            # Events produced together go out in one write (one syscall); each as soon as it exists.
            batch = [await queue.get()]
            if batch[0] is not None:
                await asyncio.sleep(0)  # what the handler produces in the same step (often its end) joins
            while not queue.empty():
                batch.append(queue.get_nowait())
            out = [head] if head else []
            head = b""
            for line in batch:
                if line is None:
                    done = True
                    break
                if line:
                    out.append(b"%x\r\n%s\r\n" % (len(line), line))
            if gone or writer.is_closing():
                continue  # the driver went away: let the (cancelled) handler finish, send nothing
            if isinstance(ctx.failure, MemoryError) and not _state.draining:
                # Stop taking calls before the failure goes out: a call the client sends once it
                # learns of the failure must find this worker gone, not half-way through exiting.
                _out_of_memory(agent, sink)
                await asyncio.sleep(0)  # the idle connections' closes happen first
            unfinished = (isinstance(ctx.failure, MemoryError)
                          or (ctx._timed_out and not agent.is_async and _state.draining))
            if done and not unfinished:
                out.append(b"0\r\n\r\n")
            if out:
                writer.write(b"".join(out))
                await writer.drain()
        sink.closed = True
        if isinstance(ctx.failure, MemoryError):
            # The process hit the environment's memory limit: its heap cannot be trusted any more.
            # The failure is sent; the worker exits once the calls in flight are answered. This
            # response is left unfinished: the driver must not reuse the connection (it would
            # before our close reached it), and a broken call makes it replace the worker at once.
            _out_of_memory(agent, sink)
            return False
        if gone or writer.is_closing():
            return False
        if ctx._timed_out and not agent.is_async and _state.draining:
            return False  # unfinished: the driver replaces the worker and never reuses the connection
    except (ConnectionError, RuntimeError):
        sink.cancel_flag = True
        sink.closed = True
        reusable = False
        if agent.is_async and not runner.done():
            runner.cancel()
    finally:
        if timer is not None:
            timer.cancel()
        if poll is not None:
            poll.cancel()
    return reusable


# ---- the watchdog and main -------------------------------------------------------------------


def _watchdog() -> None:
    """Exits the worker when a handler runs past its deadline plus the grace period (a plain
    handler ignoring ctx.cancelled, or an async one blocking the event loop): the pool replaces
    the worker; the gateway fails the task (the worker exited while handling it)."""
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        with _state.lock:
            hung = [(eid, task) for eid, (limit, task) in _state.hard_deadlines.items() if now > limit]
        if hung:
            agent = _state.agent
            runtime_log.error("a handler is still running past its deadline and grace period; exiting so the pool "
                              "replaces this worker", agent=agent.name if agent else None,
                              task_ids=[t for _e, t in hung],
                              timeout_s=agent.timeout if agent else None, grace_s=_grace())
            sys.stderr.flush()
            os._exit(_EXIT_HUNG)


def _listen(path: str) -> socket.socket:
    """Binds and listens at once, before the event loop starts: the driver's first connection
    waits in the backlog instead of polling for the socket."""
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(128)
    return sock


async def _serve(path: str, sock: socket.socket) -> None:
    server = await asyncio.start_unix_server(_connection, sock=sock, limit=16 << 20)
    _state.server = server
    threading.Thread(target=_watchdog, name="tuna-watchdog", daemon=True).start()
    runtime_log.info("worker listening", socket=path, worker=os.environ.get("TUNA_WORKER_ID"),
                     environment=os.environ.get("TUNA_ENVIRONMENT"))
    await asyncio.Event().wait()  # forever; _begin_drain may close the server, the process exits


def _preload() -> None:
    """What a fork-server imports once for all its workers: the modules a handler's ``ctx`` uses
    and asyncio's event loop machinery."""
    import asyncio.unix_events  # noqa: F401,PLC0415
    import selectors  # noqa: F401,PLC0415

    from .. import agents, environ, memory, tools  # noqa: F401,PLC0415


def _forked_worker() -> None:
    path = os.environ.get("TUNA_WORKER_SOCKET")
    if not path:
        sys.exit("tuna.a2a worker: the fork-server was asked for a worker without TUNA_WORKER_SOCKET")
    main(path)


def main(socket_path: Optional[str] = None) -> None:
    fork_socket = os.environ.get("TUNA_FORK_SERVER_SOCKET")
    if fork_socket and not socket_path:
        from .forkserver import serve as fork_serve  # noqa: PLC0415
        _preload()
        fork_serve(fork_socket, _forked_worker)
        return
    path = socket_path or os.environ.get("TUNA_WORKER_SOCKET")
    if not path:
        sys.exit("tuna.a2a worker: TUNA_WORKER_SOCKET is not set (the pool driver starts workers)")
    sock = _listen(path)
    try:
        asyncio.run(_serve(path, sock))
    except KeyboardInterrupt:
        pass


__all__ = ["main", "load_entrypoint", "NdjsonSink"]
