"""python -m tuna.a2a serve module:agent [--host H] [--port P]   the C++ A2A server, standalone
python -m tuna.a2a worker                                      a generic worker of tuna's pool"""

from __future__ import annotations

import argparse
import os
import sys
import sysconfig
from typing import List, Optional


def _tcmalloc() -> Optional[str]:
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for directory in (f"/usr/lib/{multiarch}", f"/lib/{multiarch}", "/usr/lib64", "/usr/lib"):
        path = os.path.join(directory, "libtcmalloc_minimal.so.4")
        if os.path.exists(path):
            return path
    return None


def _reexec_with_tcmalloc(argv: Optional[List[str]]) -> None:
    """`serve` runs tuna's C++ server in this process, which allocates per request: with tcmalloc
    (Debian libtcmalloc-minimal4) it answers 30-40% more requests per core than with glibc malloc
    (docs/python.md). The process re-executes itself once with tcmalloc preloaded, same pid and
    arguments, when tcmalloc is installed; TUNA_ALLOCATOR=system keeps the interpreter's malloc."""
    if "_TUNA_PRELOAD_BEFORE" in os.environ:
        # Re-executed: the handler's own subprocesses get the environment as it was.
        before = os.environ.pop("_TUNA_PRELOAD_BEFORE")
        if before:
            os.environ["LD_PRELOAD"] = before
        else:
            os.environ.pop("LD_PRELOAD", None)
        return
    if os.environ.get("TUNA_ALLOCATOR", "tcmalloc") != "tcmalloc" or "tcmalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    library = _tcmalloc()
    if library is None:
        return
    preload = os.environ.get("LD_PRELOAD", "")
    env = dict(os.environ, LD_PRELOAD=f"{library}:{preload}" if preload else library, _TUNA_PRELOAD_BEFORE=preload)
    args = sys.argv[1:] if argv is None else argv
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "tuna.a2a", *args], env)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuna.a2a", description="tuna's A2A runtime for Python agents")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve an Agent with tuna's C++ A2A server (JSON-RPC, SSE, A2A 1.0 and 0.3)")
    s.add_argument("entrypoint", help="module:attr naming a tuna.a2a.Agent (file.py:attr works too)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000, help="0: any free port (printed)")
    s.add_argument("--public-url", default="", help="the endpoint URL written into the agent card")
    s.add_argument("--allowed-host", action="append", default=[], help="Host header names to accept (default localhost)")
    s.add_argument("--allowed-origin", action="append", default=[], help="browser origins to accept")
    s.add_argument("--max-tasks", type=int, default=None, help="handlers running at once")
    s.add_argument("--max-stored-tasks", type=int, default=10000,
                   help="tasks kept for GetTask/ListTasks; the oldest are forgotten beyond it (default 10000)")
    s.add_argument("--path", default=".", help="directory put first on sys.path (default: the current one)")
    w = sub.add_parser("worker", help="a generic pool worker (worker protocol on $TUNA_WORKER_SOCKET)")
    w.add_argument("--socket", default=None, help="default $TUNA_WORKER_SOCKET")
    args = parser.parse_args(argv)

    if args.command == "worker":
        from .worker import main as worker_main  # noqa: PLC0415
        worker_main(args.socket)
        return 0

    _reexec_with_tcmalloc(argv)
    from .server import serve  # noqa: PLC0415
    from .worker import load_entrypoint  # noqa: PLC0415
    agent = load_entrypoint(args.entrypoint, os.path.abspath(args.path))
    serve(agent, args.host, args.port, public_url=args.public_url, allowed_hosts=args.allowed_host,
          allowed_origins=args.allowed_origin, max_concurrent_tasks=args.max_tasks,
          max_stored_tasks=args.max_stored_tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
