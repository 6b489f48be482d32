"""Agent (the declaration: card fields and the handler) and Context (what a handler gets).

The same code runs a handler whatever hosts it: the C++ A2A server (``python -m tuna.a2a serve``,
the sink is a ``tuna._tuna.A2ACall``), the pool worker (``python -m tuna.a2a worker``, the sink
writes NDJSON lines), or ``Agent.invoke`` (the sink records the events, for tests).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from typing import (Any, AsyncIterator, Callable, Dict, Generator, List, Optional, Protocol, Union)

from ..errors import CancelledError as TunaCancelledError
from .log import Logger
from .types import (Artifact, ArtifactUpdate, Message, Part, Provider, Skill, StatusUpdate, TaskState)

# Handler kinds, found once when the handler is declared.
SYNC, GENERATOR, ASYNC, ASYNC_GENERATOR = "sync", "generator", "async", "async-generator"

Handler = Callable[["Context", Message], Any]


class Sink(Protocol):
    """Where a handler's events go (internal): the C++ server's EventQueue, the worker's NDJSON
    stream, or a recorder."""

    task_id: str
    context_id: str

    @property
    def task_exists(self) -> bool: ...
    @property
    def message(self) -> Message: ...
    @property
    def history(self) -> List[Message]: ...
    @property
    def metadata(self) -> Dict[str, Any]: ...
    @property
    def task_state(self) -> Optional[str]: ...
    def cancelled(self) -> bool: ...
    def status(self, state: str, message: Optional[Union[Message, str]] = None,
               metadata: Optional[Dict[str, Any]] = None) -> None: ...
    def artifact(self, artifact: Artifact, append: bool = False, last_chunk: bool = True) -> None: ...
    def reply(self, message: Union[Message, str]) -> None: ...
    def finish(self) -> None:
        """The handler is done (the C++ server's async executions wait for it)."""


def _handler_kind(fn: Callable[..., Any]) -> str:
    target = fn
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and hasattr(fn, "__call__"):
        call = getattr(fn, "__call__")
        if inspect.isfunction(call) or inspect.ismethod(call):
            target = call
    if inspect.isasyncgenfunction(target):
        return ASYNC_GENERATOR
    if inspect.iscoroutinefunction(target):
        return ASYNC
    if inspect.isgeneratorfunction(target):
        return GENERATOR
    return SYNC


@dataclass
class Agent:
    """An A2A agent: the fields of its agent card and the handler that answers each message.

    ::

        agent = Agent(name="echo", description="Repeats what you say",
                      skills=[Skill(id="echo", name="Echo", description="Echoes text")])

        @agent.handler
        def handle(ctx: Context, message: Message) -> str:
            return "echo: " + message.text

    ``timeout`` (seconds, None: none) bounds one handler call: an async handler is cancelled
    and the task fails with "timed out"; a sync one sees ``ctx.cancelled`` (on the pool its
    worker is replaced when it does not return).
    """

    name: str
    description: str = ""
    skills: List[Skill] = field(default_factory=list)
    version: str = "1.0.0"
    provider: Optional[Provider] = None
    default_input_modes: List[str] = field(default_factory=lambda: ["text/plain"])
    default_output_modes: List[str] = field(default_factory=lambda: ["text/plain"])
    documentation_url: str = ""
    icon_url: str = ""
    streaming: bool = True
    timeout: Optional[float] = 300.0
    _handler: Optional[Handler] = field(default=None, repr=False, compare=False)
    _kind: str = field(default=SYNC, repr=False, compare=False)

    def handler(self, fn: Handler) -> Handler:
        """Declares the handler (a decorator): ``fn(ctx, message)``, a plain function, an async
        function, a generator or an async generator."""
        if not callable(fn):
            raise TypeError("the handler must be callable")
        self._handler = fn
        self._kind = _handler_kind(fn)
        return fn

    @property
    def kind(self) -> str:
        """"sync", "generator", "async" or "async-generator"."""
        return self._kind

    @property
    def is_async(self) -> bool:
        return self._kind in (ASYNC, ASYNC_GENERATOR)

    def card(self, url: str = "") -> Dict[str, Any]:
        """The agent card (A2A 1.0 JSON); interfaces with an empty ``url`` get the serving URL."""
        card: Dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "supportedInterfaces": [
                {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
                {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
            ],
            "capabilities": {"streaming": self.streaming, "pushNotifications": False},
            "defaultInputModes": list(self.default_input_modes),
            "defaultOutputModes": list(self.default_output_modes),
            "skills": [_skill_json(s) for s in self.skills],
        }
        if self.provider is not None:
            card["provider"] = {"organization": self.provider.organization, "url": self.provider.url}
        if self.documentation_url:
            card["documentationUrl"] = self.documentation_url
        if self.icon_url:
            card["iconUrl"] = self.icon_url
        return card

    def invoke(self, message: Union[Message, str], *, task_id: str = "task-1", context_id: str = "context-1",
               history: Optional[List[Message]] = None, task_state: Optional[str] = None,
               metadata: Optional[Dict[str, Any]] = None, task_exists: bool = False,
               cancel_after: Optional[float] = None) -> List[Any]:
        """Runs the handler once without a server and returns what it published, in order:
        StatusUpdate, ArtifactUpdate and Message objects. For tests of an agent. ``cancel_after``
        (seconds) cancels the call as CancelTask would."""
        from ._recorder import Recorder  # noqa: PLC0415

        if isinstance(message, str):
            message = Message.of(message, role="user")
        sink = Recorder(task_id, context_id, message, history or [], metadata or {}, task_state, task_exists)
        ctx = Context(self, sink)
        if self.is_async:
            async def main() -> None:
                task = asyncio.ensure_future(run_async(ctx))
                if cancel_after is not None:
                    def cancel() -> None:
                        sink.cancel()
                        task.cancel()
                    asyncio.get_running_loop().call_later(cancel_after, cancel)
                await task
            asyncio.run(main())
        else:
            if cancel_after is not None:
                import threading  # noqa: PLC0415
                timer = threading.Timer(cancel_after, sink.cancel)
                timer.start()
                try:
                    run_sync(ctx)
                finally:
                    timer.cancel()
            else:
                run_sync(ctx)
        sink.finish()
        return sink.events


def _skill_json(s: Skill) -> Dict[str, Any]:
    out: Dict[str, Any] = {"id": s.id, "name": s.name, "description": s.description, "tags": list(s.tags)}
    if s.examples:
        out["examples"] = list(s.examples)
    if s.input_modes:
        out["inputModes"] = list(s.input_modes)
    if s.output_modes:
        out["outputModes"] = list(s.output_modes)
    return out


class Context:
    """What a handler gets with each message: ids, history, cancellation, logging, and helpers that
    build the events it yields (or returns)::

        yield ctx.status("working", "thinking")
        yield ctx.artifact("answer", text="42")
        return ctx.complete("done")      # or ctx.fail(...), ctx.input_required(...)
    """

    __slots__ = ("agent", "task_id", "context_id", "_sink", "_message", "_history", "_metadata", "_log",
                 "_deadline", "_timed_out", "_cancel_flag", "_runtime", "_memory", "_tools", "_agents", "failure")

    def __init__(self, agent: Agent, sink: Sink) -> None:
        self.agent = agent
        #: The task this message belongs to (new, or the continued one).
        self.task_id: str = sink.task_id
        #: The conversation: the same for every task of a multi-turn exchange.
        self.context_id: str = sink.context_id
        self._sink = sink
        self._message: Optional[Message] = None
        self._history: Optional[List[Message]] = None
        self._metadata: Optional[Dict[str, Any]] = None
        self._log: Optional[Logger] = None
        self._deadline = time.monotonic() + agent.timeout if agent.timeout else None
        self._timed_out = False
        self._cancel_flag = False
        self._runtime: Any = None
        self._memory: Any = None
        self._tools: Any = None
        self._agents: Any = None
        #: The exception the handler raised, if it did (the pool worker exits after a MemoryError).
        self.failure: Optional[BaseException] = None

    # ---- what the request says ----

    @property
    def message(self) -> Message:
        """The incoming user message (also the handler's second argument)."""
        if self._message is None:
            self._message = self._sink.message
        return self._message

    @property
    def history(self) -> List[Message]:
        """The continued task's earlier messages, oldest first, without ``message`` (empty for a
        new task)."""
        if self._history is None:
            self._history = self._sink.history
        return self._history

    @property
    def metadata(self) -> Dict[str, Any]:
        """The request's ``params.metadata``."""
        if self._metadata is None:
            self._metadata = self._sink.metadata
        return self._metadata

    @property
    def task_state(self) -> Optional[TaskState]:
        """The continued task's state before this message (``INPUT_REQUIRED`` when the user answers
        a question), or None for a new task."""
        state = self._sink.task_state
        return TaskState(state) if state else None

    # ---- cancellation ----

    @property
    def cancelled(self) -> bool:
        """True once the task was canceled (CancelTask, the client went away on the pool, the
        server stops) or the handler ran past ``Agent.timeout``."""
        if self._cancel_flag or self._sink.cancelled():
            return True
        if self._deadline is not None and time.monotonic() > self._deadline:
            self._timed_out = True
            return True
        return False

    def check_cancelled(self) -> None:
        """Raises tuna.CancelledError when ``cancelled``: a sync handler's way out of a long loop."""
        if self.cancelled:
            raise TunaCancelledError(f"task {self.task_id} was canceled" if not self._timed_out
                                     else f"task {self.task_id} ran past its deadline")

    # ---- logging ----

    @property
    def log(self) -> Logger:
        """A structured logger: ``ctx.log.info("msg", key=value)`` writes a JSON line (with the
        agent, task and context ids) to stderr, which `tuna logs` shows on the pool."""
        if self._log is None:
            self._log = Logger({"agent": self.agent.name, "task_id": self.task_id, "context_id": self.context_id})
        return self._log

    # ---- events ----

    @staticmethod
    def _message_of(text: Optional[str], message: Optional[Message]) -> Optional[Message]:
        if message is not None:
            return message
        if text is None:
            return None
        return Message([Part(text=text)])

    def status(self, state: Union[TaskState, str], text: Optional[str] = None, *, message: Optional[Message] = None,
               metadata: Optional[Dict[str, Any]] = None) -> StatusUpdate:
        """A status update: ``state`` ("working", "input-required", "completed", "failed",
        "canceled", ... or a TaskState) with an optional agent text or message."""
        return StatusUpdate(TaskState(state), self._message_of(text, message), metadata or {})

    def working(self, text: Optional[str] = None, **kw: Any) -> StatusUpdate:
        return self.status(TaskState.WORKING, text, **kw)

    def complete(self, text: Optional[str] = None, **kw: Any) -> StatusUpdate:
        return self.status(TaskState.COMPLETED, text, **kw)

    def fail(self, text: str, **kw: Any) -> StatusUpdate:
        return self.status(TaskState.FAILED, text, **kw)

    def input_required(self, text: str, **kw: Any) -> StatusUpdate:
        """Asks the user: the task waits in input-required; the user's answer (a message with this
        task id) runs the handler again with ``ctx.history`` and ``ctx.task_state`` set."""
        return self.status(TaskState.INPUT_REQUIRED, text, **kw)

    def reject(self, text: str, **kw: Any) -> StatusUpdate:
        return self.status(TaskState.REJECTED, text, **kw)

    def artifact(self, name: str = "", *, text: Optional[str] = None, data: Any = None,
                 parts: Optional[List[Part]] = None, artifact_id: Optional[str] = None, append: bool = False,
                 last_chunk: bool = True, description: str = "",
                 metadata: Optional[Dict[str, Any]] = None) -> ArtifactUpdate:
        """An artifact update. The id defaults to ``name`` (so chunks of one artifact share it):
        stream one with ``append=True, last_chunk=False`` after the first chunk, and
        ``last_chunk=True`` on the last."""
        all_parts: List[Part] = list(parts or [])
        if text is not None:
            all_parts.append(Part(text=text))
        if data is not None:
            all_parts.append(Part(data=data))
        aid = artifact_id or name or "artifact"
        return ArtifactUpdate(Artifact(all_parts, aid, name, description, metadata or {}), append, last_chunk)

    def reply(self, text: str = "", *, parts: Optional[List[Part]] = None,
              metadata: Optional[Dict[str, Any]] = None) -> Message:
        """An agent message; returned (or yielded) it is the answer: a direct message when no task
        exists yet, else the task completes with it."""
        return Message(list(parts) if parts is not None else [Part(text=text)], metadata=metadata or {})

    def publish(self, event: Any) -> None:
        """Publishes an event now, as yielding it would (any thread; for plain and async functions
        that report progress)."""
        self._emit(event)

    # ---- ctx.memory / ctx.tools / ctx.agents (tuna.environ) ----

    def _environ(self, what: str) -> Any:
        if self._runtime is None:
            try:
                from .. import environ  # noqa: PLC0415
            except ImportError as e:
                raise RuntimeError(f"ctx.{what} needs tuna.environ (the agent's gateway settings), which this "
                                   "tuna package does not have") from e
            self._runtime = environ.runtime()
        return self._runtime

    @property
    def memory(self) -> Any:
        """The agent's memory for this conversation (``context_id``)."""
        if self._memory is None:
            self._memory = self._environ("memory").memory(self.context_id)
        return self._memory

    @property
    def tools(self) -> Any:
        """An MCP client on the agent's federated tool endpoint (what its binding allows)."""
        if self._tools is None:
            self._tools = self._environ("tools").tools()
        return self._tools

    @property
    def agents(self) -> Any:
        """An A2A client to peer agents."""
        if self._agents is None:
            self._agents = self._environ("agents").agents()
        return self._agents

    # ---- internal: publishing ----

    def _emit(self, item: Any) -> None:
        """A yielded item (or one passed to publish)."""
        sink = self._sink
        if isinstance(item, StatusUpdate):
            state = item.state
            sink.status((state if isinstance(state, TaskState) else TaskState(state)).value, item.message,
                        item.metadata or None)
        elif isinstance(item, ArtifactUpdate):
            sink.artifact(item.artifact, item.append, item.last_chunk)
        elif isinstance(item, str):
            sink.status("working", Message([Part(text=item)]), None)
        elif isinstance(item, Message):
            sink.reply(item)
        elif isinstance(item, Artifact):
            sink.artifact(item, False, True)
        elif item is not None:
            raise TypeError(f"a handler yields or returns StatusUpdate, ArtifactUpdate, Message, Artifact, str or "
                            f"None, not {type(item).__name__}")

    def _emit_final(self, value: Any) -> None:
        """What the handler returned."""
        if value is None:
            return
        if isinstance(value, (str, Message)):
            self._sink.reply(value)
        elif isinstance(value, Artifact):
            self._sink.artifact(value, False, True)
            self._sink.status("completed", None, None)
        else:
            self._emit(value)

    def _finish(self, value: Any) -> None:
        """The handler returned `value`; past its deadline that is still a timeout."""
        if self._timed_out:
            self._fail_timeout()
        else:
            self._emit_final(value)

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, TunaCancelledError) and self.cancelled:
            if self._timed_out:
                self._fail_timeout()
            return
        self.failure = exc
        if isinstance(exc, MemoryError):
            self.log.exception("handler ran out of memory", exc)
            detail = f" ({exc})" if str(exc) else ""
            self._publish_failure(f"MemoryError: the handler ran out of memory{detail}")
            return
        self.log.exception("handler raised", exc)
        self._publish_failure(f"{type(exc).__name__}: {exc}")

    def _fail_timeout(self) -> None:
        self.log.error("handler ran past its deadline", timeout_s=self.agent.timeout)
        self._publish_failure(f"the handler did not finish within {self.agent.timeout:g} s (Agent.timeout)")

    def _publish_failure(self, text: str) -> None:
        try:
            self._sink.status("failed", Message([Part(text=text)]), None)
        except Exception as e:  # the task is terminal already (canceled meanwhile)
            self.log.debug("could not publish the failure", error=str(e))


# ---- running a handler -----------------------------------------------------------------------


def run_sync(ctx: Context) -> None:
    """Runs a plain function or generator handler to its end on this thread. Never raises."""
    agent = ctx.agent
    handler = agent._handler
    if handler is None:
        ctx._publish_failure(f"agent {agent.name} has no handler (decorate one with @agent.handler)")
        return
    try:
        if agent._kind == GENERATOR:
            gen: Generator[Any, None, Any] = handler(ctx, ctx.message)
            try:
                while True:
                    if ctx.cancelled:
                        gen.close()
                        if ctx._timed_out:
                            ctx._fail_timeout()
                        else:
                            ctx.log.info("handler cancelled")
                        return
                    item = next(gen)
                    ctx._emit(item)
            except StopIteration as stop:
                ctx._finish(stop.value)
        else:
            ctx._finish(handler(ctx, ctx.message))
    except Exception as e:
        ctx._fail(e)


async def run_async(ctx: Context) -> None:
    """Runs an async function or async generator handler. Never raises; cancelling the task that
    runs it delivers asyncio.CancelledError to the handler."""
    agent = ctx.agent
    handler = agent._handler
    if handler is None:
        ctx._publish_failure(f"agent {agent.name} has no handler (decorate one with @agent.handler)")
        return
    timer = None
    if agent.timeout:
        task = asyncio.current_task()
        if task is not None:
            def expire() -> None:
                ctx._timed_out = True
                ctx._cancel_flag = True
                task.cancel()
            timer = asyncio.get_running_loop().call_later(agent.timeout, expire)
    try:
        if agent._kind == ASYNC_GENERATOR:
            agen: AsyncIterator[Any] = handler(ctx, ctx.message)
            try:
                async for item in agen:
                    ctx._emit(item)
            finally:
                await agen.aclose()  # type: ignore[attr-defined]
        elif agent._kind == ASYNC:
            ctx._finish(await handler(ctx, ctx.message))
        else:  # a sync handler on a loop: run it in a thread
            await asyncio.get_running_loop().run_in_executor(None, run_sync, ctx)
    except asyncio.CancelledError:
        if ctx._timed_out:
            ctx._fail_timeout()
        else:  # canceled by the client; the server has recorded it
            ctx.log.info("handler cancelled")
    except Exception as e:
        ctx._fail(e)
    finally:
        if timer is not None:
            timer.cancel()


__all__ = ["Agent", "Context", "Handler", "Sink", "run_sync", "run_async"]
