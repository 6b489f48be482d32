#!/usr/bin/env python3
"""tuna's basic Python runtime: a generic pool worker speaking the worker protocol of docs/drivers.md
(stdlib only). Environments whose runtime starts with "python" use it unless they set workerCommand.

Started by the pool driver with TUNA_WORKER_SOCKET=<path>. It listens on that Unix socket and
speaks HTTP/1.1:
  GET  /_tuna/healthz     -> 200 {"status": "ok", "specialized": <bool>}
  POST /_tuna/specialize  {"revision", "artifactDir", "entrypoint": "file.py:function", "env"}
                          -> 200 once the function is loaded; 4xx/5xx {"error": ...} otherwise
  anything else           -> the loaded function: handle(request) -> response, where
                             request = {"method", "path", "headers", "body": bytes} and
                             response = {"status", "headers", "body": bytes | str}
The Python runtime (`python -m tuna.a2a`) implements the same protocol.
"""

import http.server
import importlib.util
import json
import os
import socketserver
import sys
import threading
import traceback

SOCKET = os.environ["TUNA_WORKER_SOCKET"]
_state = {"handler": None, "revision": None}
_lock = threading.Lock()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):  # Unix sockets have no peer address
        return "driver"

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, body, headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status, obj):
        self._reply(status, json.dumps(obj))

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_tuna/healthz":
            return self._json(200, {"status": "ok", "specialized": _state["handler"] is not None})
        if self.path == "/_tuna/specialize":
            return self._specialize(body)
        handler = _state["handler"]
        if handler is None:
            return self._json(503, {"error": "worker is not specialized"})
        request = {
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body,
        }
        try:
            response = handler(request)
        except Exception as e:  # the workload's bug, reported as a 500
            traceback.print_exc()
            return self._json(500, {"error": f"{type(e).__name__}: {e}"})
        self._reply(response.get("status", 200), response.get("body", b""), response.get("headers"))

    def _specialize(self, body):
        if self.command != "POST":
            return self._json(405, {"error": "use POST"})
        with _lock:
            if _state["handler"] is not None:
                return self._json(409, {"error": "already specialized for " + str(_state["revision"])})
            try:
                spec = json.loads(body)
                artifact_dir = spec["artifactDir"]
                file_name, _, function = spec["entrypoint"].partition(":")
                for key, value in (spec.get("env") or {}).items():
                    os.environ[key] = value
                sys.path.insert(0, artifact_dir)
                module_spec = importlib.util.spec_from_file_location(
                    "tuna_workload", os.path.join(artifact_dir, file_name))
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                _state["handler"] = getattr(module, function or "handle")
                _state["revision"] = spec.get("revision")
            except Exception as e:
                traceback.print_exc()
                return self._json(422, {"error": f"{type(e).__name__}: {e}"})
        return self._json(200, {"status": "specialized", "revision": _state["revision"]})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


def main():
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    server = Server(SOCKET, Handler)
    print(f"worker {os.environ.get('TUNA_WORKER_ID')} listening on {SOCKET}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
