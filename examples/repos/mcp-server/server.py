"""A small MCP server over stdio (newline-delimited JSON-RPC), stdlib only.

Tools: "greet" (says hello to "name") and "add" (adds "a" and "b").
"""

import json
import sys

TOOLS = [
    {"name": "greet", "description": "Say hello",
     "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
    {"name": "add", "description": "Add two numbers",
     "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                     "required": ["a", "b"]}},
]


def result_for(method, params):
    if method == "initialize":
        version = params.get("protocolVersion", "2025-06-18")
        return {"protocolVersion": version, "capabilities": {"tools": {}},
                "serverInfo": {"name": "hello", "version": "1.0.0"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        name, args = params.get("name"), params.get("arguments") or {}
        if name == "greet":
            return {"content": [{"type": "text", "text": f"Hello, {args.get('name', 'world')}!"}], "isError": False}
        if name == "add":
            try:
                total = float(args["a"]) + float(args["b"])
            except (KeyError, TypeError, ValueError) as e:
                return {"content": [{"type": "text", "text": f"bad arguments: {e}"}], "isError": True}
            return {"content": [{"type": "text", "text": str(total)}], "isError": False}
        raise LookupError(f"unknown tool {name!r}")
    raise NotImplementedError(method)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        if "id" not in msg:
            continue  # notifications get no response
        try:
            reply = {"jsonrpc": "2.0", "id": msg["id"], "result": result_for(msg.get("method"), msg.get("params") or {})}
        except LookupError as e:
            reply = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32602, "message": str(e)}}
        except NotImplementedError as e:
            reply = {"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": f"method not found: {e}"}}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
