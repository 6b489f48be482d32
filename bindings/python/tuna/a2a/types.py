"""The A2A data model a handler sees and produces: parts, messages, artifacts and task events.

Plain dataclasses (no protocol details): the C++ server (``serve``) and the pool worker turn them
into A2A 1.0 / 0.3 JSON. See docs/python.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional, Union


class TaskState(str, Enum):
    """A task's state. The values are the A2A 0.3 spellings; ``TaskState("TASK_STATE_WORKING")``
    (the 1.0 enum name) works too."""

    SUBMITTED = "submitted"
    WORKING = "working"
    INPUT_REQUIRED = "input-required"
    AUTH_REQUIRED = "auth-required"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @classmethod
    def _missing_(cls, value: object) -> Optional["TaskState"]:
        if isinstance(value, str):
            name = value.upper().replace("-", "_")
            if name.startswith("TASK_STATE_"):
                name = name[len("TASK_STATE_"):]
            if name == "CANCELLED":
                name = "CANCELED"
            return cls.__members__.get(name)
        return None

    @property
    def terminal(self) -> bool:
        """completed, failed, canceled, rejected: the task never changes again."""
        return self in (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELED, TaskState.REJECTED)

    @property
    def interrupted(self) -> bool:
        """input-required, auth-required: the task waits for the client's next message."""
        return self in (TaskState.INPUT_REQUIRED, TaskState.AUTH_REQUIRED)

    @property
    def wire_name(self) -> str:
        """The A2A 1.0 enum name ("TASK_STATE_INPUT_REQUIRED")."""
        return "TASK_STATE_" + self.name


@dataclass
class Part:
    """One piece of content: exactly one of ``text``, ``raw`` (bytes), ``url`` or ``data`` (any
    JSON value), with an optional media type, file name and metadata.

    ``Part(text="hi")``, ``Part(raw=png, media_type="image/png", filename="a.png")``,
    ``Part(url="https://...")``, ``Part(data={"k": 1})``.
    """

    text: Optional[str] = None
    raw: Optional[bytes] = None
    url: Optional[str] = None
    data: Any = None
    media_type: str = ""
    filename: str = ""
    metadata: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        given = (self.text is not None) + (self.raw is not None) + (self.url is not None)
        if given > 1 or (given == 1 and self.data is not None):
            raise ValueError("a Part has exactly one of text, raw, url, data")

    @property
    def kind(self) -> str:
        """"text", "raw", "url" or "data"."""
        if self.text is not None:
            return "text"
        if self.raw is not None:
            return "raw"
        if self.url is not None:
            return "url"
        return "data"


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Message:
    """A message of the conversation. ``role`` is "user" or "agent"; ids left empty are filled in
    by the server (message id, task id, context id)."""

    parts: List[Part] = field(default_factory=list)
    role: str = "agent"
    message_id: str = ""
    context_id: str = ""
    task_id: str = ""
    metadata: Dict[str, Any] = field(default_factory=dict)
    reference_task_ids: List[str] = field(default_factory=list)

    @classmethod
    def of(cls, text: str, role: str = "agent", **kwargs: Any) -> "Message":
        """A message with one text part."""
        return cls([Part(text=text)], role, **kwargs)

    @property
    def text(self) -> str:
        """The concatenated text of the text parts."""
        parts = self.parts
        if len(parts) == 1:
            return parts[0].text or ""
        return "".join(p.text for p in parts if p.text is not None)

    @property
    def data(self) -> List[Any]:
        """The values of the data parts."""
        return [p.data for p in self.parts if p.kind == "data"]


@dataclass
class Artifact:
    """A result of the task (a document, an answer, an image): parts under an id. Artifacts with the
    same id are merged when an update says ``append``."""

    parts: List[Part] = field(default_factory=list)
    artifact_id: str = ""
    name: str = ""
    description: str = ""
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if p.text is not None)


@dataclass
class StatusUpdate:
    """Moves the task to ``state``; ``message`` (from the agent) goes into the status and the
    task's history."""

    state: TaskState
    message: Optional[Message] = None
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ArtifactUpdate:
    """Adds ``artifact`` to the task, or with ``append`` adds its parts to the artifact with the
    same id; ``last_chunk`` says the artifact is complete."""

    artifact: Artifact
    append: bool = False
    last_chunk: bool = True


#: What a handler may yield or return.
Event = Union[StatusUpdate, ArtifactUpdate, Message, Artifact, str, None]


@dataclass
class Skill:
    """One skill of the agent card."""

    id: str
    name: str
    description: str = ""
    tags: List[str] = field(default_factory=list)
    examples: List[str] = field(default_factory=list)
    input_modes: List[str] = field(default_factory=list)
    output_modes: List[str] = field(default_factory=list)


@dataclass
class Provider:
    """Who publishes the agent (the card's provider)."""

    organization: str
    url: str = ""


__all__ = ["TaskState", "Part", "Message", "Artifact", "StatusUpdate", "ArtifactUpdate", "Event",
           "Skill", "Provider"]
