#!/usr/bin/env python3
"""A minimal stdio MCP server for the tests: newline-delimited JSON-RPC on stdin/stdout.

Tools: "echo" (returns its "text" argument), "crash" (exits without answering).
Before every response it writes a notifications/message line, which the executor must skip.
"""

import json
import os
import sys


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        if "id" not in msg:
            continue  # notifications get no response
        method = msg.get("method")
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "data": f"handling {method}"}})
        if method == "initialize":
            result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                      "serverInfo": {"name": "stdio-test", "version": "1.0", "pid": os.getpid()}}
        elif method == "tools/list":
            result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}},
                                {"name": "crash", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            name = msg["params"]["name"]
            if name == "crash":
                print("crashing on request", file=sys.stderr, flush=True)
                os._exit(3)
            text = msg["params"].get("arguments", {}).get("text", "")
            result = {"content": [{"type": "text", "text": text}], "isError": False}
        else:
            send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "method not found"}})
            continue
        send({"jsonrpc": "2.0", "id": msg["id"], "result": result})


if __name__ == "__main__":
    main()
