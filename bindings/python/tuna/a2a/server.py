"""Serving an Agent with tuna's C++ A2A server (``python -m tuna.a2a serve module:agent``).

The protocol (JSON-RPC, SSE streams, tasks in a memory session store, A2A 1.0 and 0.3, the agent
card) is tuna::a2a::Server and tuna::a2a::HttpServer; Python only runs the handler. A plain
function or generator handler runs on the server's executor thread that took the message (with
the GIL); async handlers run on one asyncio event loop thread owned by the Server.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import signal
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Union

from .. import _tuna
from .agent import Agent, Context, run_async, run_sync
from .log import runtime_log


class _Pending:
    """An async execution handed to the loop; the C++ executor calls cancel() on CancelTask."""

    __slots__ = ("loop", "task", "cancelled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: Optional[asyncio.Task[None]] = None
        self.cancelled = False

    def cancel(self) -> None:
        self.loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()


class EventLoopThread:
    """One asyncio event loop on a daemon thread, for every async handler of a server."""

    def __init__(self, name: str = "tuna-a2a-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, ctx: Context) -> _Pending:
        pending = _Pending(self.loop)
        self.loop.call_soon_threadsafe(self._start, ctx, pending)
        return pending

    def _start(self, ctx: Context, pending: _Pending) -> None:
        sink = ctx._sink
        try:
            task = self.loop.create_task(run_async(ctx))
        except BaseException:
            sink.finish()
            raise
        pending.task = task
        task.add_done_callback(lambda _t: sink.finish())
        if pending.cancelled:
            task.cancel()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


def _dispatcher(agent: Agent, loop: Optional[EventLoopThread]) -> Callable[[Any], Optional[_Pending]]:
    if loop is not None:
        submit = loop.submit

        def dispatch_async(call: Any) -> _Pending:
            return submit(Context(agent, call))
        return dispatch_async

    def dispatch(call: Any) -> None:
        run_sync(Context(agent, call))
        return None
    return dispatch


_running: "weakref.WeakSet[Server]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Servers still running at exit stop before the interpreter goes away (their executor threads
    call into Python)."""
    for server in list(_running):
        server.stop()


_STREAMING = {"SendStreamingMessage", "SubscribeToTask", "message/stream", "tasks/resubscribe"}


class Server:
    """An Agent behind tuna's C++ A2A server on host:port (``port=0``: any free port).

    ::

        with Server(agent, port=0) as server:
            print(server.url)      # http://127.0.0.1:PORT/ (card at /.well-known/agent-card.json)

    ``max_concurrent_tasks``: handlers running at once (executor threads; default 16 for plain
    handlers, 64 for async ones), ``max_queued_tasks`` more wait; beyond, SendMessage answers
    "server busy". ``public_url`` is written into the card (default: the Host the client used).
    ``allowed_hosts``/``allowed_origins``: see tuna::a2a::HttpOptions (default: localhost only).
    ``max_stored_tasks``: tasks kept in memory for GetTask, ListTasks and continuations (default
    10,000, about 20 MB for small tasks); beyond it the oldest are forgotten, so memory stays
    bounded under any load. A task also expires 24 h after its last change.
    """

    def __init__(self, agent: Agent, *, host: str = "127.0.0.1", port: int = 0, public_url: str = "",
                 max_concurrent_tasks: Optional[int] = None, max_queued_tasks: int = 256,
                 blocking_timeout: float = 50.0, allowed_hosts: Optional[List[str]] = None,
                 allowed_origins: Optional[List[str]] = None, io_threads: int = 2, worker_threads: int = 8,
                 max_stored_tasks: int = 10000) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(f"expected a tuna.a2a.Agent, got {type(agent).__name__}")
        if agent._handler is None:
            raise ValueError(f"agent {agent.name} has no handler (decorate one with @agent.handler)")
        self.agent = agent
        self.host = host
        self._port = port
        self._loop = EventLoopThread() if agent.is_async else None
        if max_stored_tasks < 1:
            raise ValueError(f"max_stored_tasks must be at least 1, got {max_stored_tasks}")
        if max_concurrent_tasks is None:
            max_concurrent_tasks = 64 if agent.is_async else 16
        self._server = _tuna.A2AServer(
            _dispatcher(agent, self._loop), agent.card(), max_concurrent_tasks=max_concurrent_tasks,
            max_queued_tasks=max_queued_tasks, blocking_timeout=blocking_timeout, public_url=public_url,
            allowed_hosts=list(allowed_hosts or []), allowed_origins=list(allowed_origins or []),
            io_threads=io_threads, worker_threads=worker_threads, max_stored_tasks=max_stored_tasks)
        self._started = False

    def start(self) -> int:
        """Binds and starts serving; returns the port."""
        self._port = self._server.start(self.host, self._port)
        self._started = True
        _running.add(self)
        return self._port

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The JSON-RPC endpoint (the card is at ``url + ".well-known/agent-card.json"``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/"

    def stop(self) -> None:
        """Stops serving: running handlers are cancelled and waited for (idempotent)."""
        _running.discard(self)
        self._server.stop()
        if self._loop is not None:
            self._loop.stop()

    def handle(self, request: Union[str, Dict[str, Any]]) -> Any:
        """Answers one JSON-RPC request without HTTP (tests, embedding): the response as a dict,
        or for a streaming method the list of responses, one per event."""
        if isinstance(request, str):
            body, parsed = request, json.loads(request)
        else:
            body, parsed = json.dumps(request), request
        out = self._server.handle(body)
        if isinstance(parsed, dict) and parsed.get("method") in _STREAMING:
            return [json.loads(line) for line in out.split("\n") if line]
        return json.loads(out)

    def card(self, url: str = "") -> Dict[str, Any]:
        """The card as served (``url``: the endpoint written into it)."""
        return self._server.card(url or self.url)

    @property
    def active_tasks(self) -> int:
        return self._server.active_tasks

    def __enter__(self) -> "Server":
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(agent: Agent, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serves ``agent`` until SIGINT or SIGTERM."""
    server = Server(agent, host=host, port=port, **options)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        # One plain line on stdout (like `tuna server`), for scripts that wait for the port.
        print(f"tuna.a2a: agent {agent.name} listening on {server.url}", flush=True)
        runtime_log.info("serving", agent=agent.name, url=server.url, handler=agent.kind,
                         card=server.url + ".well-known/agent-card.json")
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for s, h in previous.items():
            signal.signal(s, h)
        runtime_log.info("stopped", agent=agent.name)


__all__ = ["Server", "serve", "EventLoopThread"]
