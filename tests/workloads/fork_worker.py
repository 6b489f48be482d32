#!/usr/bin/env python3
"""Test workload for the pool's fork-server path without the compiled tuna package: the fork-server
of tuna.a2a (bindings/python/tuna/a2a/forkserver.py, stdlib only, loaded by its path) around tuna's
basic Python runtime (runtimes/python/worker.py). Started with TUNA_FORK_SERVER_SOCKET by an
environment with fork_server; every worker is a fork of this process.

FORK_WORKER_CHILD_EXIT=N (optional): every forked worker exits with code N at once."""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


forkserver = _load("tuna_forkserver", os.path.join(ROOT, "bindings/python/tuna/a2a/forkserver.py"))
os.environ.setdefault("TUNA_WORKER_SOCKET", "")  # read when the runtime is imported; each child has its own
worker = _load("tuna_basic_worker", os.path.join(ROOT, "runtimes/python/worker.py"))


def child():
    if os.environ.get("FORK_WORKER_CHILD_EXIT"):
        sys.exit(int(os.environ["FORK_WORKER_CHILD_EXIT"]))
    worker.SOCKET = os.environ["TUNA_WORKER_SOCKET"]
    worker.main()


if __name__ == "__main__":
    socket_path = os.environ.get("TUNA_FORK_SERVER_SOCKET")
    if not socket_path:
        sys.exit("fork_worker.py: TUNA_FORK_SERVER_SOCKET is not set")
    forkserver.serve(socket_path, child)
