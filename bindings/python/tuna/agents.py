"""Calling other agents over A2A through the gateway: ``ctx.agents`` in an agent handler.

    agents = tuna.agents.Agents(gateway_url, api_key, "default")
    reply = agents.send("echo", "hello")                 # blocks until the task ends (or waits for input)
    print(reply.state, reply.text)                       # TASK_STATE_COMPLETED echo: hello
    again = agents.send("echo", "more", context_id=reply.context_id)   # the same conversation
    for event in agents.stream("echo", "hi", stage="staging"):
        print(event)                                     # {"task": ...}, {"statusUpdate": ...}, {"artifactUpdate": ...}

Each agent is reached at ``/a2a/{namespace}/{agent}/{stage}`` (docs/gateway.md) by tuna's C++ A2A
client (``tuna._tuna.A2aClient``, JSON-RPC, A2A 1.0); every call releases the GIL. Messages and
events are dicts in the A2A 1.0 JSON shape (``TASK_STATE_*``, ``ROLE_*``, parts ``{"text"}``,
``{"data"}``, ``{"url"}``, ``{"raw"}``). Errors are tuna exceptions: ``NotFoundError`` for an agent
or task that does not exist, ``PermissionDeniedError`` for another namespace, ``UnavailableError``
when the gateway cannot be reached.
"""

from __future__ import annotations

import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union, cast

from . import _tuna
from .environ import _quote

Message = Union[str, Mapping[str, Any], List[Mapping[str, Any]]]

STAGES = ("staging", "production")


def _texts(parts: Any) -> List[str]:
    return [p["text"] for p in parts or [] if isinstance(p, dict) and isinstance(p.get("text"), str)]


def message_text(message: Optional[Mapping[str, Any]]) -> str:
    """The text parts of an A2A message joined ("" for None)."""
    return "".join(_texts((message or {}).get("parts")))


@dataclass(frozen=True)
class Reply:
    """What ``send`` returned: a task (``kind == "task"``) or a direct message."""

    kind: str
    task: Optional[Dict[str, Any]] = None
    message: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def _from(cls, event: Dict[str, Any]) -> "Reply":
        if "task" in event:
            return cls("task", task=event["task"], raw=event)
        if "message" in event:
            return cls("message", message=event["message"], raw=event)
        raise ValueError(f"unexpected A2A result {sorted(event)}")

    @property
    def state(self) -> Optional[str]:
        """The task's state (``TASK_STATE_COMPLETED``, ...); None for a direct message."""
        return ((self.task or {}).get("status") or {}).get("state")

    @property
    def task_id(self) -> Optional[str]:
        return (self.task or {}).get("id") or (self.message or {}).get("taskId")

    @property
    def context_id(self) -> Optional[str]:
        return (self.task or self.message or {}).get("contextId")

    @property
    def status_message(self) -> Optional[Dict[str, Any]]:
        """The message of the task's status (the agent's last word), if any."""
        return ((self.task or {}).get("status") or {}).get("message")

    @property
    def artifacts(self) -> List[Dict[str, Any]]:
        return list((self.task or {}).get("artifacts") or [])

    @property
    def text(self) -> str:
        """The agent's answer as text: a direct message's text; for a task, its artifacts' text,
        else its status message's text."""
        if self.message is not None:
            return message_text(self.message)
        texts = [t for a in self.artifacts for t in _texts(a.get("parts"))]
        return "".join(texts) if texts else message_text(self.status_message)


def make_message(message: Message, *, context_id: Optional[str] = None, task_id: Optional[str] = None,
                 metadata: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """A user message (A2A 1.0 JSON) from text, a list of parts or a message dict (copied; a
    missing ``messageId`` and ``role`` are filled in)."""
    if isinstance(message, str):
        out: Dict[str, Any] = {"parts": [{"text": message}]}
    elif isinstance(message, Mapping):
        out = dict(message)
    elif isinstance(message, list):
        out = {"parts": list(message)}
    else:
        raise TypeError(f"message: expected text, a list of parts or a message dict, got {type(message).__name__}")
    out.setdefault("messageId", str(uuid.uuid4()))
    out.setdefault("role", "ROLE_USER")
    if context_id:
        out["contextId"] = context_id
    if task_id:
        out["taskId"] = task_id
    if metadata:
        out["metadata"] = {**out.get("metadata", {}), **metadata}
    return out


class EventStream:
    """The events of a streaming call, as dicts; iterate it, or ``next(timeout)``. ``close()``
    (or leaving a ``with``) stops reading; the task itself goes on until it ends or is cancelled."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return self

    def __next__(self) -> Dict[str, Any]:
        return cast(Dict[str, Any], self._stream.next(None))

    def next(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The next event; None when ``timeout`` seconds pass first; StopIteration at the end."""
        return cast(Optional[Dict[str, Any]], self._stream.next(timeout))

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Agents:
    """A2A client to the agents of one namespace through the gateway.

    ``stage`` is the default stage of the agents called (``production`` unless given; each call
    may name another). One client per agent and stage is kept and shared by threads.
    """

    def __init__(self, gateway_url: str, api_key: Optional[str], namespace: str, *, stage: str = "production",
                 timeout: float = 120.0, connect_timeout: float = 10.0,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        if not isinstance(gateway_url, str) or not gateway_url.startswith(("http://", "https://")):
            raise ValueError(f"gateway_url: expected an http(s) URL, got {gateway_url!r}")
        if not isinstance(namespace, str) or not namespace:
            raise ValueError("namespace: a non-empty string is required")
        self.gateway_url = gateway_url.rstrip("/")
        self.namespace = namespace
        self.stage = self._check_stage(stage)
        self._headers = dict(headers or {})
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._clients: Dict[Tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _check_stage(stage: str) -> str:
        if stage not in STAGES:
            raise ValueError(f"stage: must be one of {', '.join(STAGES)}, not {stage!r}")
        return stage

    def url(self, agent: str, stage: Optional[str] = None) -> str:
        """The agent's A2A endpoint on the gateway."""
        if not isinstance(agent, str) or not agent:
            raise ValueError("agent: a non-empty name is required")
        stage = self._check_stage(stage or self.stage)
        quote = _quote
        return f"{self.gateway_url}/a2a/{quote(self.namespace)}/{quote(agent)}/{stage}"

    def client(self, agent: str, stage: Optional[str] = None) -> Any:
        """The ``tuna._tuna.A2aClient`` of an agent's stage (made once, then shared)."""
        url = self.url(agent, stage)
        key = (agent, url)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                # The gateway speaks A2A 1.0 at a known endpoint: no card round trip needed.
                client = _tuna.A2aClient(url, self._headers, "1.0", False, self._timeout, self._connect_timeout)
                self._clients[key] = client
            return client

    def card(self, agent: str, stage: Optional[str] = None) -> Dict[str, Any]:
        """The agent's card (fetched from the gateway)."""
        fetched = _tuna.A2aClient(self.url(agent, stage), self._headers, None, True, self._timeout,
                                  self._connect_timeout)
        card = fetched.card
        assert card is not None  # a client made from a card has one
        return card

    def send(self, agent: str, message: Message, *, stage: Optional[str] = None, context_id: Optional[str] = None,
             task_id: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None, blocking: bool = True,
             history_length: Optional[int] = None) -> Reply:
        """Sends a message and returns the task (ended, or waiting for input; with
        ``blocking=False`` as soon as it exists) or the agent's direct message."""
        msg = make_message(message, context_id=context_id, task_id=task_id)
        event = self.client(agent, stage).send(msg, blocking, history_length, [], dict(metadata) if metadata else None)
        return Reply._from(event)

    def stream(self, agent: str, message: Message, *, stage: Optional[str] = None, context_id: Optional[str] = None,
               task_id: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None) -> EventStream:
        """Sends a message and streams what happens: ``{"task": ...}`` first, then
        ``{"statusUpdate": ...}`` and ``{"artifactUpdate": ...}`` events until the task ends (or a
        single ``{"message": ...}``)."""
        msg = make_message(message, context_id=context_id, task_id=task_id)
        return EventStream(self.client(agent, stage).stream(msg, None, [], dict(metadata) if metadata else None))

    def get_task(self, agent: str, task_id: str, *, stage: Optional[str] = None,
                 history_length: Optional[int] = None) -> Dict[str, Any]:
        return cast(Dict[str, Any], self.client(agent, stage).get_task(task_id, history_length))

    def cancel(self, agent: str, task_id: str, *, stage: Optional[str] = None) -> Dict[str, Any]:
        """Cancels a task; returns it (``TASK_STATE_CANCELED``)."""
        return cast(Dict[str, Any], self.client(agent, stage).cancel_task(task_id))

    def subscribe(self, agent: str, task_id: str, *, stage: Optional[str] = None) -> EventStream:
        """A running task's current state, then its live events."""
        return EventStream(self.client(agent, stage).subscribe(task_id))

    def __repr__(self) -> str:
        return f"Agents({self.gateway_url!r}, namespace={self.namespace!r}, stage={self.stage!r})"


__all__ = ["Agents", "Reply", "EventStream", "make_message", "message_text", "STAGES"]
