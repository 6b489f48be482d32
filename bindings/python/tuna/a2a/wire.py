"""A2A 1.0 JSON (ProtoJSON) for the pool worker's agent handler protocol: messages in, stream
events out (one per NDJSON line). The standalone server does this in C++ instead."""

from __future__ import annotations

import base64
from typing import Any, Dict, List, Optional

from .types import Artifact, Message, Part, TaskState

_ROLES_IN = {"ROLE_USER": "user", "user": "user", "ROLE_AGENT": "agent", "agent": "agent"}


def part_from_json(v: Dict[str, Any]) -> Part:
    meta = v.get("metadata") or {}
    media = v.get("mediaType") or ""
    filename = v.get("filename") or ""
    if "text" in v:
        return Part(text=v["text"], media_type=media, filename=filename, metadata=meta)
    if "raw" in v:
        return Part(raw=base64.b64decode(v["raw"]), media_type=media, filename=filename, metadata=meta)
    if "url" in v:
        return Part(url=v["url"], media_type=media, filename=filename, metadata=meta)
    if "data" in v:
        return Part(data=v["data"], media_type=media, filename=filename, metadata=meta)
    kind = v.get("kind")  # a 0.3 part
    if kind == "file":
        f = v.get("file") or {}
        media, filename = f.get("mimeType") or "", f.get("name") or ""
        if "bytes" in f:
            return Part(raw=base64.b64decode(f["bytes"]), media_type=media, filename=filename, metadata=meta)
        return Part(url=f.get("uri", ""), media_type=media, filename=filename, metadata=meta)
    raise ValueError(f"unknown part {sorted(v)}")


def message_from_json(v: Dict[str, Any]) -> Message:
    return Message(
        parts=[part_from_json(p) for p in v.get("parts") or []],
        role=_ROLES_IN.get(v.get("role", ""), "agent"),
        message_id=v.get("messageId", ""),
        context_id=v.get("contextId", ""),
        task_id=v.get("taskId", ""),
        metadata=v.get("metadata") or {},
        reference_task_ids=list(v.get("referenceTaskIds") or []),
    )


def _with_present(out: Dict[str, Any], **optional: Any) -> Dict[str, Any]:
    """Adds the optional fields that are set (not empty, not None), in order: the wire omits the rest."""
    for key, value in optional.items():
        if value:
            out[key] = value
    return out


def part_to_json(p: Part) -> Dict[str, Any]:
    if p.text is not None:
        out: Dict[str, Any] = {"text": p.text}
    elif p.raw is not None:
        out = {"raw": base64.b64encode(bytes(p.raw)).decode("ascii")}
    elif p.url is not None:
        out = {"url": p.url}
    else:
        out = {"data": p.data}
    return _with_present(out, mediaType=p.media_type, filename=p.filename, metadata=p.metadata)


def message_to_json(m: Message) -> Dict[str, Any]:
    out: Dict[str, Any] = {"role": "ROLE_USER" if m.role in ("user", "ROLE_USER") else "ROLE_AGENT",
                           "parts": [part_to_json(p) for p in m.parts]}
    return _with_present(out, messageId=m.message_id, contextId=m.context_id, taskId=m.task_id, metadata=m.metadata,
                         referenceTaskIds=list(m.reference_task_ids))


def artifact_to_json(a: Artifact, artifact_id: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {"artifactId": artifact_id, "parts": [part_to_json(p) for p in a.parts]}
    return _with_present(out, name=a.name, description=a.description, metadata=a.metadata)


def status_event(state: str, message: Optional[Message], metadata: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    status: Dict[str, Any] = {"state": TaskState(state).wire_name}
    if message is not None:
        status["message"] = message_to_json(message)
    update: Dict[str, Any] = {"status": status}
    if metadata:
        update["metadata"] = metadata
    return {"statusUpdate": update}


def artifact_event(artifact: Artifact, artifact_id: str, append: bool, last_chunk: bool) -> Dict[str, Any]:
    return {"artifactUpdate": {"artifact": artifact_to_json(artifact, artifact_id), "append": bool(append),
                               "lastChunk": bool(last_chunk)}}


def message_event(message: Message) -> Dict[str, Any]:
    return {"message": message_to_json(message)}


__all__: List[str] = ["part_from_json", "message_from_json", "part_to_json", "message_to_json",
                      "status_event", "artifact_event", "message_event"]
