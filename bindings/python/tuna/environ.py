"""Who this agent is and how it reaches the gateway, from the environment of a deployed worker.

When the controllers deploy a revision of an AgentDeployment stage, its workers get:

========================  =================================================================
``TUNA_GATEWAY_URL``      the server's URL as workers reach it (``--public-url``, else the bound address)
``TUNA_NAMESPACE``        the deployment's namespace
``TUNA_AGENT``            the AgentDeployment's name
``TUNA_STAGE``            ``staging`` or ``production``
``TUNA_REVISION``         the revision (commit, or ``src-<hash>``)
``TUNA_API_KEY``          an invoke key of the namespace, for this revision only (docs/auth.md)
========================  =================================================================

``runtime()`` reads them (they can be set by hand to run a handler elsewhere); its factories give
the objects a handler's ``ctx`` exposes::

    rt = tuna.environ.runtime()
    rt.memory(context_id)["notes"].append("user", "hi")   # ctx.memory
    rt.tools().call("hello__greet", name="Ada")             # ctx.tools: the agent's federated MCP endpoint
    rt.agents().send("echo", "hello")                       # ctx.agents
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, cast

from .errors import FailedPreconditionError

#: The variables runtime() needs (TUNA_REVISION is optional).
REQUIRED = ("TUNA_GATEWAY_URL", "TUNA_API_KEY", "TUNA_NAMESPACE", "TUNA_AGENT", "TUNA_STAGE")



def _quote(segment: str) -> str:
    """One URL path segment, percent-encoded."""
    return urllib.parse.quote(segment, safe="")

@dataclass(frozen=True)
class Runtime:
    """The agent's identity and its factories. ``tools()`` and ``agents()`` return one shared,
    thread-safe instance each per process (one MCP session per worker; a closed Tools is
    replaced, and a forked child makes its own); ``memory()`` is cheap."""

    gateway_url: str
    api_key: str = field(repr=False)  # a secret: never in logs
    namespace: str
    agent: str
    stage: str
    revision: str = ""
    _shared: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def tools_url(self) -> str:
        """The agent's federated MCP endpoint: every tool its AgentResourceBinding allows."""
        q = _quote
        return f"{self.gateway_url}/mcp/{q(self.namespace)}/agents/{q(self.agent)}/{q(self.stage)}"

    def memory(self, context_id: str) -> "Memory":
        """The agent's memories in one context (conversation): ``memory(ctx)["name"]``."""
        from .memory import Memory
        return Memory(self.gateway_url, self.api_key, self.namespace, self.agent, context_id)

    def tools(self) -> "Tools":
        """An MCP client on the agent's federated endpoint (shared; the session opens on first use)."""
        from .tools import Tools
        return cast("Tools", self._get("tools", lambda: Tools(self.tools_url, self.api_key)))

    def agents(self) -> "Agents":
        """An A2A client to the agents of the namespace (shared; default stage production)."""
        from .agents import Agents
        return cast("Agents", self._get("agents", lambda: Agents(self.gateway_url, self.api_key, self.namespace)))

    def _get(self, name: str, make: Any) -> Any:
        with self._lock:
            if self._shared.get("pid") != os.getpid():
                # A forked child (a fork-server worker) must not use its parent's clients: their
                # C++ threads did not survive the fork. They are kept, never used or destroyed.
                _orphans.extend(v for k, v in self._shared.items() if k != "pid")
                self._shared.clear()
                self._shared["pid"] = os.getpid()
            obj = self._shared.get(name)
            if obj is None or getattr(obj, "closed", False):
                obj = self._shared[name] = make()
            return obj


_cache: Dict[Tuple[str, ...], Runtime] = {}
_orphans: List[Any] = []
_cache_lock = threading.Lock()


def runtime(environ: Optional[Mapping[str, str]] = None) -> Runtime:
    """The Runtime of this worker, from ``environ`` (default ``os.environ``); the same object
    while the variables stay the same. ``FailedPreconditionError`` naming what is missing when
    this process is not a deployed agent's worker (set the variables to run one elsewhere)."""
    env = os.environ if environ is None else environ
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise FailedPreconditionError(
            "not running as a deployed agent: " + ", ".join(missing) + (" is" if len(missing) == 1 else " are") +
            " not set (tuna sets them in the workers of an AgentDeployment; set them to run elsewhere)")
    url = env["TUNA_GATEWAY_URL"].rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise FailedPreconditionError(f"TUNA_GATEWAY_URL: expected an http(s) URL, got {url!r}")
    stage = env["TUNA_STAGE"]
    if stage not in ("staging", "production"):
        raise FailedPreconditionError(f"TUNA_STAGE: must be staging or production, not {stage!r}")
    key = (url, env["TUNA_API_KEY"], env["TUNA_NAMESPACE"], env["TUNA_AGENT"], stage, env.get("TUNA_REVISION", ""))
    with _cache_lock:
        rt = _cache.get(key)
        if rt is None:
            rt = Runtime(*key)
            _cache.clear()  # a worker is one agent: only its current identity is kept
            _cache[key] = rt
        return rt


if TYPE_CHECKING:
    from .agents import Agents
    from .memory import Memory
    from .tools import Tools

__all__ = ["Runtime", "runtime", "REQUIRED"]
