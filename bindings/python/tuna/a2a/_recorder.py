"""A sink that records what a handler publishes (Agent.invoke, tests). Follows the server's rules
closely enough for tests: a direct message only before any task event; nothing after a terminal
state; the task completes (or is canceled) when the handler returns without a final word."""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Union

from ..errors import FailedPreconditionError
from .types import Artifact, ArtifactUpdate, Message, Part, StatusUpdate, TaskState


class Recorder:
    def __init__(self, task_id: str, context_id: str, message: Message, history: List[Message],
                 metadata: Dict[str, Any], task_state: Optional[str], task_exists: bool) -> None:
        self.task_id = task_id
        self.context_id = context_id
        self.message = message
        self.history = history
        self.metadata = metadata
        self.task_state = task_state
        self.task_exists = task_exists or task_state is not None
        self.events: List[Any] = []
        self._cancelled = threading.Event()
        self._done = False
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            if not self._done:
                self.events.append(StatusUpdate(TaskState.CANCELED))
                self._done = True

    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def _check(self) -> bool:
        if self._cancelled.is_set():
            return False  # ignored, as the server ignores events after CancelTask
        if self._done:
            raise FailedPreconditionError(f"task {self.task_id} is terminal")
        return True

    def status(self, state: str, message: Optional[Union[Message, str]] = None,
               metadata: Optional[Dict[str, Any]] = None) -> None:
        with self._lock:
            if not self._check():
                return
            if isinstance(message, str):
                message = Message([Part(text=message)])
            st = TaskState(state)
            self.events.append(StatusUpdate(st, message, metadata or {}))
            self.task_exists = True
            if st.terminal or st.interrupted:
                self._done = True

    def artifact(self, artifact: Artifact, append: bool = False, last_chunk: bool = True) -> None:
        with self._lock:
            if not self._check():
                return
            self.events.append(ArtifactUpdate(artifact, append, last_chunk))
            self.task_exists = True

    def reply(self, message: Union[Message, str]) -> None:
        if isinstance(message, str):
            message = Message([Part(text=message)])
        if self.task_exists:
            self.status("completed", message)
            return
        with self._lock:
            if not self._check():
                return
            self.events.append(message)
            self._done = True

    def finish(self) -> None:
        """The handler returned: settle the task as the server would."""
        with self._lock:
            if not self._done:
                self.events.append(StatusUpdate(TaskState.COMPLETED))
            self._done = True
