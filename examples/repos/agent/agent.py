"""The echo agent for tuna's basic Python runtime (runtimes/python/worker.py).

Entrypoint "agent.py:handle": every request to the revision arrives here as a dict with method,
path, headers and body (bytes); the returned dict is the response.
"""

import json
import os


def handle(request):
    body = request["body"].decode("utf-8", errors="replace")
    reply = {
        "agent": "echo",
        "stage": os.environ.get("TUNA_STAGE", ""),
        "path": request["path"],
        "echo": body,
    }
    return {"status": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(reply)}
