"""MCP tools over Streamable HTTP: ``ctx.tools`` in an agent handler, or any MCP endpoint.

    tools = tuna.tools.Tools("http://127.0.0.1:7070/mcp/default/agents/echo/production", api_key)
    for tool in tools.list():
        print(tool.name, tool.description)
    print(tools.call("hello__greet", name="Ada").text)      # "Hello, Ada!"
    result = tools.call_tool("hello__add", {"a": 1})         # isError results come back, not raised

The protocol work is tuna's C++ MCP client (``tuna._tuna.McpClient``): the session is initialized
on the first call and re-initialized when the server forgets it; every call releases the GIL, and
one ``Tools`` may be shared by threads. See docs/python.md ("Inside a handler").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from . import _tuna
from .errors import TunaError


@dataclass(frozen=True)
class Tool:
    """A tool as ``tools/list`` describes it."""

    name: str
    description: str = ""
    title: str = ""
    input_schema: Dict[str, Any] = field(default_factory=dict)
    output_schema: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def _from(cls, raw: Dict[str, Any]) -> "Tool":
        return cls(name=raw.get("name", ""), description=raw.get("description") or "", title=raw.get("title") or "",
                   input_schema=raw.get("inputSchema") or {}, output_schema=raw.get("outputSchema"), raw=raw)


@dataclass(frozen=True)
class ToolResult:
    """What ``tools/call`` returned: ``content`` blocks, ``structured`` output, ``is_error``."""

    content: List[Dict[str, Any]]
    is_error: bool = False
    structured: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        """The text blocks joined by newlines ("" when there are none)."""
        return "\n".join(b.get("text", "") for b in self.content if isinstance(b, dict) and b.get("type") == "text")

    @property
    def value(self) -> Any:
        """The structured output when the tool gave one, else the text."""
        return self.structured if self.structured is not None else self.text

    @classmethod
    def _from(cls, raw: Dict[str, Any]) -> "ToolResult":
        return cls(content=list(raw.get("content") or []), is_error=bool(raw.get("isError")),
                   structured=raw.get("structuredContent"), raw=raw)


class ToolError(TunaError):
    """A tool ran and reported failure (an MCP result with ``isError: true``).

    ``message`` is the result's text, ``tool`` the tool's name and ``result`` the whole
    :class:`ToolResult`. Protocol failures (an unknown tool, bad arguments: JSON-RPC -32602) are
    not ToolErrors but ``InvalidArgumentError``; an unreachable endpoint is ``UnavailableError``.
    """

    code, reason = "tool_error", "ToolError"

    def __init__(self, message: str = "", field: Optional[str] = None, *, tool: str = "",
                 result: Optional[ToolResult] = None) -> None:
        super().__init__(message, field)
        self.tool = tool
        self.result = result

    def __reduce__(self) -> Any:
        return (_tool_error, (self.message, self.tool, self.result))


def _tool_error(message: str, tool: str, result: Optional[ToolResult]) -> ToolError:
    return ToolError(message, tool=tool, result=result)


@dataclass(frozen=True)
class Resource:
    uri: str
    name: str = ""
    title: str = ""
    description: str = ""
    mime_type: str = ""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def _from(cls, raw: Dict[str, Any]) -> "Resource":
        return cls(uri=raw.get("uri", ""), name=raw.get("name") or "", title=raw.get("title") or "",
                   description=raw.get("description") or "", mime_type=raw.get("mimeType") or "", raw=raw)


@dataclass(frozen=True)
class Prompt:
    name: str
    title: str = ""
    description: str = ""
    arguments: List[Dict[str, Any]] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def _from(cls, raw: Dict[str, Any]) -> "Prompt":
        return cls(name=raw.get("name", ""), title=raw.get("title") or "", description=raw.get("description") or "",
                   arguments=list(raw.get("arguments") or []), raw=raw)


class Tools:
    """An MCP client on one endpoint (in a handler: the agent's federated endpoint
    ``/mcp/{namespace}/agents/{agent}/{stage}``, every tool its AgentResourceBinding allows, named
    ``<binding>__<tool>``).

    ``api_key`` goes out as ``Authorization: Bearer``; ``headers`` adds others. ``timeout`` bounds
    each call (seconds; a call's own ``timeout=`` overrides it). Nothing is sent until the first
    call. Thread-safe; ``close()`` (or ``with``) ends the session.
    """

    def __init__(self, url: str, api_key: Optional[str] = None, *, headers: Optional[Mapping[str, str]] = None,
                 timeout: float = 60.0, connect_timeout: float = 10.0, client_name: str = "tuna-python") -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url: expected an http(s) URL, got {url!r}")
        all_headers = dict(headers or {})
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        self.url = url
        self.closed = False
        self._client = _tuna.McpClient(url, all_headers, timeout, connect_timeout, client_name)

    # -- tools ---------------------------------------------------------------------------------

    def list(self, *, timeout: Optional[float] = None) -> List[Tool]:
        """Every tool (all pages of ``tools/list``)."""
        return [Tool._from(t) for t in self._client.list_tools(timeout)]

    def names(self) -> List[str]:
        return [t.name for t in self.list()]

    def call(self, name: str, arguments: Optional[Mapping[str, Any]] = None, /, **kwargs: Any) -> ToolResult:
        """Calls a tool with ``arguments`` and/or keyword arguments; raises :class:`ToolError`
        when the tool reports failure (``isError``). Use :meth:`call_tool` to get such results
        back instead, or to set a timeout."""
        args = dict(arguments or {})
        args.update(kwargs)
        result = self.call_tool(name, args)
        if result.is_error:
            raise ToolError(result.text or f"tool {name} failed", tool=name, result=result)
        return result

    def call_tool(self, name: str, arguments: Optional[Mapping[str, Any]] = None, *,
                  timeout: Optional[float] = None) -> ToolResult:
        """``tools/call`` as the MCP SDKs do it: a failed tool is a result with ``is_error``."""
        if not isinstance(name, str) or not name:
            raise ValueError("name: a tool name is required")
        return ToolResult._from(self._client.call_tool(name, dict(arguments or {}), timeout))

    # -- resources and prompts ------------------------------------------------------------------

    def resources(self, *, timeout: Optional[float] = None) -> List[Resource]:
        return [Resource._from(r) for r in self._client.list_resources(timeout)]

    def resource_templates(self, *, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        return list(self._client.list_resource_templates(timeout))

    def read(self, uri: str, *, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """``resources/read``: the contents, dicts with ``uri``, ``mimeType`` and ``text`` or ``blob``."""
        return list(self._client.read_resource(uri, timeout))

    def read_text(self, uri: str, *, timeout: Optional[float] = None) -> str:
        """The text of a resource (its text contents joined)."""
        return "".join(c.get("text", "") for c in self.read(uri, timeout=timeout))

    def prompts(self, *, timeout: Optional[float] = None) -> List[Prompt]:
        return [Prompt._from(p) for p in self._client.list_prompts(timeout)]

    def prompt(self, name: str, /, **arguments: str) -> Dict[str, Any]:
        """``prompts/get``: ``{"description", "messages": [{"role", "content"}]}``."""
        return self._client.get_prompt(name, {k: str(v) for k, v in arguments.items()})

    # -- the session ----------------------------------------------------------------------------

    def server_info(self) -> Dict[str, Any]:
        """``protocolVersion``, ``capabilities``, ``serverInfo``, ``instructions`` (initializes)."""
        return self._client.initialize()

    def ping(self, *, timeout: Optional[float] = None) -> None:
        self._client.ping(timeout)

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *,
                timeout: Optional[float] = None) -> Any:
        """Any MCP request; its result."""
        return self._client.call(method, dict(params or {}), timeout)

    def close(self) -> None:
        """Ends the session; later calls raise ``CancelledError``."""
        self.closed = True
        self._client.close()

    def __enter__(self) -> "Tools":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Tools({self.url!r})"


__all__ = ["Tools", "Tool", "ToolResult", "ToolError", "Resource", "Prompt"]
