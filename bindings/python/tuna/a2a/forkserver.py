"""The fork-server of tuna's pool (docs/drivers.md, "The fork-server protocol").

An AgentEnvironment with ``forkServer: true`` starts its worker command once, with
``$TUNA_FORK_SERVER_SOCKET`` set instead of ``$TUNA_WORKER_SOCKET``. ``python -m tuna.a2a worker``
then becomes this fork-server: the interpreter, ``tuna`` (with the compiled core) and the runtime
are imported once; every worker the pool needs afterwards is a ``fork()`` of it, which answers on
its socket in a few milliseconds instead of paying an interpreter start and the imports.

The driver connects to the socket and writes one JSON line per connection; the answer is one line:

    {"op": "ping"}                                     -> {"ok": true, "pid": N}
    {"op": "fork", "id": "7", "cwd": DIR, "log": FILE,  -> {"pid": N}      (N: this namespace's pid)
     "exitFile": FILE, "env": {...the whole environment of the worker...}}

The child starts its own session (the driver kills its process group), dies with the fork-server
(``PR_SET_PDEATHSIG``), takes the environment, working directory and log it was given and runs the
worker protocol on ``$TUNA_WORKER_SOCKET``. The driver learns the child's pid in its own namespace
from the socket the child listens on (``SO_PEERCRED``). When a child ends, the fork-server reaps it
and writes how it ended to ``exitFile`` ("exit code 3" or "killed by signal 9"), which the driver
reports.

The fork-server stays single-threaded (forking a process with threads copies only the calling one)
and freezes its objects (``gc.freeze``) before serving, so children share its memory pages.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import socket
import sys
from typing import Callable, Dict, Optional

_PR_SET_PDEATHSIG = 1
_MAX_REQUEST = 1 << 20

# pid of a child -> where to write how it ended
_children: Dict[int, str] = {}
_libc: Optional[ctypes.CDLL] = None


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _reap(_signum: int = 0, _frame: object = None) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exit_file = _children.pop(pid, "")
        if exit_file:
            try:
                with open(exit_file + ".tmp", "w", encoding="utf-8") as f:
                    f.write(_describe(status) + "\n")
                os.replace(exit_file + ".tmp", exit_file)
            except OSError as e:
                print(f"tuna fork-server: cannot write {exit_file}: {e}", file=sys.stderr, flush=True)


def _child(request: Dict[str, object], listener: socket.socket, conn: socket.socket,
           child_main: Callable[[], None], server_pid: int) -> None:
    """Runs in the forked child; never returns."""
    code = 70
    try:
        listener.close()
        conn.close()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        # As in any Python process: a write to a closed socket raises BrokenPipeError instead of
        # killing the worker.
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        os.setsid()
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != server_pid:  # the fork-server died before prctl took effect
                os._exit(70)
        log = str(request.get("log") or os.devnull)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        env = request.get("env")
        if isinstance(env, dict):
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in env.items()})
        cwd = request.get("cwd")
        if isinstance(cwd, str) and cwd:
            os.chdir(cwd)
        # The preloaded objects stay frozen: the child's collector never walks (and so never copies)
        # the pages it shares with the fork-server.
        child_main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    except BaseException as e:  # noqa: BLE001 - the child must never return into the server loop
        print(f"tuna fork-server: worker {request.get('id')} failed: {type(e).__name__}: {e}", file=sys.stderr)
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_REQUEST:
            raise ValueError(f"request longer than {_MAX_REQUEST} bytes")
    return data.split(b"\n", 1)[0]


def _answer(conn: socket.socket, obj: Dict[str, object]) -> None:
    try:
        conn.sendall(json.dumps(obj).encode() + b"\n")
    except OSError:
        pass


def _handle(conn: socket.socket, listener: socket.socket, child_main: Callable[[], None]) -> None:
    conn.settimeout(5.0)
    try:
        request = json.loads(_read_line(conn))
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
    except (OSError, ValueError) as e:
        _answer(conn, {"error": f"bad request: {e}"})
        return
    op = request.get("op")
    if op == "ping":
        _answer(conn, {"ok": True, "pid": os.getpid()})
        return
    if op != "fork":
        _answer(conn, {"error": f"unknown op {op!r} (ping, fork)"})
        return
    # Children are registered before they can end: block SIGCHLD around the fork.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    server_pid = os.getpid()
    try:
        pid = os.fork()
        if pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            _child(request, listener, conn, child_main, server_pid)
        _children[pid] = str(request.get("exitFile") or "")
    except OSError as e:
        _answer(conn, {"error": f"fork: {e}"})
        return
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    _answer(conn, {"pid": pid})


def serve(path: str, child_main: Callable[[], None]) -> None:
    """Listens on ``path`` and forks a worker running ``child_main()`` per request; forever."""
    global _libc
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        _libc = None
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, _reap)
    print(json.dumps({"level": "info", "msg": "fork-server listening", "socket": path, "pid": os.getpid(),
                      "environment": os.environ.get("TUNA_ENVIRONMENT")}), file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()
    while True:
        try:
            conn, _ = listener.accept()
        except InterruptedError:
            continue
        try:
            _handle(conn, listener, child_main)
        finally:
            conn.close()


__all__ = ["serve"]
