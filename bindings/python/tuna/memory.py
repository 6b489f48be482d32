"""An agent's memories through the gateway: ``ctx.memory`` in an agent handler.

    memory = tuna.memory.Memory(gateway_url, api_key, "default", "echo", context_id)
    notes = memory["echo-history"]                 # an AgentMemory the agent's binding lists
    notes.append("user", "hello")                  # conversation memory
    for entry in notes.history(limit=20):          # the newest 20, oldest first
        print(entry["role"], entry["content"])
    prefs = memory["prefs"]                        # key-value memory
    prefs.put("lang", {"code": "en"}); prefs.get("lang")    # {"code": "en"}

Each handle talks to ``/memory/{namespace}/{agent}/{memory}/{context}[/{key}]`` (docs/gateway.md):
the agent's AgentResourceBinding must list the memory (``PermissionDeniedError`` otherwise), a
``readOnly`` listing refuses writes, and entries keep the memory's ``ttlSeconds`` and
``maxEntries``. The memory's type decides which methods apply: ``append``/``history``/``clear``
for ``conversation``, ``put``/``get``/``delete``/``keys``/``clear`` for ``kv`` (the other ones raise
``InvalidArgumentError``).

The calls are plain HTTP with the standard library (``urllib``): tuna's C++ library exposes no
general HTTP client to bind (``tuna.Client`` speaks only the REST API), these are a few small JSON
requests, and urllib releases the GIL while it waits. Errors are tuna exceptions as elsewhere.
"""

from __future__ import annotations

import collections
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Deque, Dict, Iterator, List, Optional, cast

from ._tuna import __version__ as _version
from .errors import DeadlineExceededError, NotFoundError, TunaError, UnavailableError, error_class

_HTTP_CODES = {
    400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied", 404: "not_found",
    405: "invalid_argument", 408: "deadline_exceeded", 409: "conflict", 410: "gone",
    412: "failed_precondition", 413: "resource_exhausted", 422: "invalid_argument",
    429: "resource_exhausted", 499: "cancelled", 501: "unimplemented", 503: "unavailable",
    504: "deadline_exceeded",
}


def _error(status: int, body: bytes, what: str) -> TunaError:
    """The tuna exception for an error answer: a Status body (``message``, ``field``) or a
    gateway refusal (JSON-RPC ``error.message``)."""
    message, field = "", None
    try:
        doc = json.loads(body or b"{}")
        if isinstance(doc, dict):
            if isinstance(doc.get("error"), dict):
                message = str(doc["error"].get("message", ""))
            else:
                message = str(doc.get("message", ""))
                field = doc.get("field")
    except ValueError:
        message = body[:200].decode("utf-8", "replace")
    code = _HTTP_CODES.get(status, "internal" if status >= 500 else "invalid_argument")
    return error_class(code)(f"{what}: {message or f'HTTP {status}'}", field)


class _Http:
    """Bearer-authenticated JSON requests to one gateway."""

    def __init__(self, gateway_url: str, api_key: Optional[str], timeout: float) -> None:
        if not isinstance(gateway_url, str) or not gateway_url.startswith(("http://", "https://")):
            raise ValueError(f"gateway_url: expected an http(s) URL, got {gateway_url!r}")
        self.base = gateway_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def request(self, method: str, path: str, what: str, body: Optional[bytes] = None,
                content_type: str = "application/json") -> "tuple[int, Dict[str, str], bytes]":
        headers = {"User-Agent": f"tuna-python/{_version}", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if body is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            raise _error(e.code, e.read(), what) from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, (TimeoutError, socket.timeout)):
                raise DeadlineExceededError(f"{what}: no answer from {self.base} within {self.timeout} s") from None
            raise UnavailableError(f"{what}: cannot reach {self.base}: {e.reason}") from None
        except (TimeoutError, socket.timeout):
            raise DeadlineExceededError(f"{what}: no answer from {self.base} within {self.timeout} s") from None

    def json(self, method: str, path: str, what: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        _, _, raw = self.request(method, path, what, data)
        return json.loads(raw or b"null")


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what}: a non-empty string is required")
    return urllib.parse.quote(value, safe="")


_MISSING = object()


class MemoryHandle:
    """One AgentMemory of the agent, in one context (conversation)."""

    def __init__(self, http: _Http, namespace: str, agent: str, memory: str, context_id: str) -> None:
        self._http = http
        self.namespace, self.agent, self.name, self.context_id = namespace, agent, memory, context_id
        self._path = "/memory/" + "/".join(_segment(v, w) for v, w in (
            (namespace, "namespace"), (agent, "agent"), (memory, "memory"), (context_id, "context_id")))

    def _what(self, key: Optional[str] = None) -> str:
        return f"memory {self.name} of agent {self.agent} (context {self.context_id}" + (f", key {key})" if key else ")")

    # -- conversation memory --------------------------------------------------------------------

    def append(self, role: str, content: Any, *, metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Appends an entry and returns it as stored (with ``seq`` and ``timestamp``).

        ``content`` is text (stored as ``content``), an A2A message dict (its ``parts`` are
        stored), a list of A2A parts, or any other JSON value (stored as one data part,
        ``parts: [{"data": value}]``)."""
        if not isinstance(role, str) or not role:
            raise ValueError("role: a non-empty string is required (user, agent, assistant, tool, ...)")
        entry: Dict[str, Any] = {"role": role}
        if isinstance(content, str):
            entry["content"] = content
        elif isinstance(content, dict) and isinstance(content.get("parts"), list):
            entry["parts"] = content["parts"]
        elif isinstance(content, list):
            entry["parts"] = content
        else:
            entry["parts"] = [{"data": content}]
        if metadata:
            entry["metadata"] = metadata
        return cast(Dict[str, Any], self._http.json("POST", self._path, self._what(), entry))

    def entries(self, *, after: int = 0, page_size: int = 100) -> Iterator[Dict[str, Any]]:
        """Every entry after sequence number ``after``, oldest first (pages fetched lazily)."""
        while True:
            page = self._http.json("GET", f"{self._path}?after={int(after)}&limit={int(page_size)}", self._what())
            yield from page.get("entries", [])
            after = page.get("nextAfter") or 0
            if not after:
                return

    def history(self, limit: Optional[int] = None, *, after: int = 0) -> List[Dict[str, Any]]:
        """The entries, oldest first; with ``limit`` only the newest ``limit`` of them."""
        if limit is not None and limit <= 0:
            return []
        newest: Deque[Dict[str, Any]] = collections.deque(maxlen=limit)
        newest.extend(self.entries(after=after, page_size=1000))
        return list(newest)

    # -- key-value memory ---------------------------------------------------------------------------

    def put(self, key: str, value: Any) -> int:
        """Stores ``value`` as JSON under ``key`` (bytes are stored as they are); returns the
        new version."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.put_bytes(key, bytes(value))
        data = json.dumps(value).encode()
        _, _, raw = self._http.request("PUT", f"{self._path}/{_segment(key, 'key')}", self._what(key), data)
        return int(json.loads(raw).get("version", 0))

    def put_bytes(self, key: str, data: bytes) -> int:
        _, _, raw = self._http.request("PUT", f"{self._path}/{_segment(key, 'key')}", self._what(key), bytes(data),
                                       "application/octet-stream")
        return int(json.loads(raw).get("version", 0))

    def get_bytes(self, key: str) -> bytes:
        """The stored bytes; ``NotFoundError`` when the key is absent."""
        _, _, raw = self._http.request("GET", f"{self._path}/{_segment(key, 'key')}", self._what(key))
        return raw

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The value stored under ``key``, decoded from JSON (bytes that are not JSON come back as
        they are); ``default`` when absent if given, else ``NotFoundError``."""
        try:
            raw = self.get_bytes(key)
        except NotFoundError:
            if default is _MISSING:
                raise
            return default
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def delete(self, key: str) -> None:
        """Deletes ``key`` (``NotFoundError`` when absent)."""
        self._http.json("DELETE", f"{self._path}/{_segment(key, 'key')}", self._what(key))

    def keys(self) -> List[str]:
        out: List[str] = []
        after = ""
        while True:
            query = f"?after={urllib.parse.quote(after, safe='')}" if after else ""
            page = self._http.json("GET", self._path + query, self._what())
            out.extend(page.get("keys", []))
            after = page.get("nextAfter") or ""
            if not after:
                return out

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self.get_bytes(key)
        except NotFoundError:
            return False
        return True

    # -- both ---------------------------------------------------------------------------------------

    def clear(self) -> int:
        """Forgets this context (its entries or keys); returns the server's count of what went
        (for a conversation: 1 when there was one, else 0)."""
        return int(self._http.json("DELETE", self._path, self._what()).get("cleared", 0))

    def __repr__(self) -> str:
        return f"MemoryHandle({self.namespace}/{self.agent}/{self.name}, context={self.context_id!r})"


class Memory:
    """The memories of one agent in one context: ``memory["name"]`` is a :class:`MemoryHandle`."""

    def __init__(self, gateway_url: str, api_key: Optional[str], namespace: str, agent: str, context_id: str, *,
                 timeout: float = 30.0) -> None:
        for value, what in ((namespace, "namespace"), (agent, "agent"), (context_id, "context_id")):
            _segment(value, what)
        self._http = _Http(gateway_url, api_key, timeout)
        self.namespace, self.agent, self.context_id = namespace, agent, context_id

    def __getitem__(self, name: str) -> MemoryHandle:
        return MemoryHandle(self._http, self.namespace, self.agent, name, self.context_id)

    def get(self, name: str) -> MemoryHandle:
        return self[name]

    def with_context(self, context_id: str) -> "Memory":
        """The same memories in another context."""
        return Memory(self._http.base, self._http.api_key, self.namespace, self.agent, context_id,
                      timeout=self._http.timeout)

    def __repr__(self) -> str:
        return f"Memory({self.namespace}/{self.agent}, context={self.context_id!r})"


__all__ = ["Memory", "MemoryHandle"]
