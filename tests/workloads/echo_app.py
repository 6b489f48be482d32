"""The test workload loaded into a worker by specialization (entrypoint "echo_app.py:handle").

GET  /pid          -> this process's pid (as seen in its pid namespace)
GET  /sleep?ms=N   -> answers after N milliseconds
POST /crash        -> the worker process kills itself with SIGKILL (no answer)
GET  /env?name=X   -> the value of environment variable X
GET  /socket       -> the worker's socket path (TUNA_WORKER_SOCKET)
anything else      -> {"echo": <body>, "path": ..., "greeting": $GREETING, "version": VERSION}
"""

import json
import os
import signal
import time
import urllib.parse

VERSION = "v1"


def _ok(obj):
    return {"status": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(obj)}


def handle(request):
    url = urllib.parse.urlsplit(request["path"])
    query = dict(urllib.parse.parse_qsl(url.query))
    if url.path == "/pid":
        return _ok({"pid": os.getpid()})
    if url.path == "/sleep":
        time.sleep(int(query.get("ms", "100")) / 1000.0)
        return _ok({"slept": int(query.get("ms", "100"))})
    if url.path == "/crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if url.path == "/socket":
        return _ok({"socket": os.environ.get("TUNA_WORKER_SOCKET")})
    if url.path == "/env":
        return _ok({"value": os.environ.get(query.get("name", ""))})
    return _ok({
        "echo": request["body"].decode(),
        "path": url.path,
        "greeting": os.environ.get("GREETING"),
        "version": VERSION,
    })
