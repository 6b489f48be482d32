"""The echo agent for tuna's basic Python runtime (runtimes/python/worker.py).

Entrypoint "agent.py:handle": every request to the revision arrives here as a dict with method,
path, headers and body (bytes); the returned dict is the response.

Through the gateway (A2A: /a2a/<namespace>/echo/<stage>) the agent is called with tuna's agent
handler protocol (docs/gateway.md): POST /a2a/execute with {"taskId", "contextId", "message",
"history"}; it answers A2A 1.0 stream events as JSON lines. The gateway keeps the task, its
history and its state; the agent only says what happened.
Any other request (the proxy sub-resource) gets a JSON echo of itself.
"""

import json
import os


def _text_of(message):
    return "".join(part.get("text", "") for part in message.get("parts", []) if isinstance(part, dict))


def _a2a(body):
    call = json.loads(body or b"{}")
    text = _text_of(call.get("message") or {})
    turns = 1 + sum(1 for m in call.get("history") or [] if m.get("role") == "ROLE_USER")
    reply = f"echo: {text}"
    events = [
        {"statusUpdate": {"status": {"state": "TASK_STATE_WORKING"}}},
        {"artifactUpdate": {"artifact": {"artifactId": "echo", "name": "echo",
                                         "parts": [{"text": reply}]}, "lastChunk": True}},
        {"statusUpdate": {"status": {"state": "TASK_STATE_COMPLETED",
                                     "message": {"role": "ROLE_AGENT", "messageId": f"{call.get('taskId', '')}-reply",
                                                 "parts": [{"text": reply}],
                                                 "metadata": {"turn": turns,
                                                              "stage": os.environ.get("TUNA_STAGE", "")}}}}},
    ]
    return {"status": 200, "headers": {"Content-Type": "application/x-ndjson"},
            "body": "".join(json.dumps(e) + "\n" for e in events)}


def handle(request):
    if request["method"] == "POST" and request["path"] == "/a2a/execute":
        return _a2a(request["body"])
    body = request["body"].decode("utf-8", errors="replace")
    reply = {
        "agent": "echo",
        "stage": os.environ.get("TUNA_STAGE", ""),
        "path": request["path"],
        "echo": body,
    }
    return {"status": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(reply)}
