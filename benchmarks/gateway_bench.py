#!/usr/bin/env python3
"""Gateway overhead for MCP tools/call, measured in one run against two baselines.

Target: tuna's MCP conformance fixture server (build/tuna_conformance_fixture), a C++ MCP server
over Streamable HTTP whose `test_simple_text` tool returns a fixed text. Three rows, same tool call,
same load:
  direct   wrk -> fixture
  nginx    wrk -> nginx (proxy_pass, keep-alive upstream) -> fixture
  gateway  wrk -> tuna server /mcp/default/servers/fixture (API key checked, JSON-RPC parsed,
           relayed on the client's own upstream session) -> fixture
Method (PERFORMANCE.md): the load generator is pinned to CPU 0, every server to CPU 1; rows are
interleaved over several rounds; medians reported. Needs wrk and nginx (Debian packages).

  python3 benchmarks/gateway_bench.py [--rounds 3] [--seconds 5] [--connections 16]
Writes benchmarks/results/gateway.json and prints a markdown table.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from wrkbench import BUILD, compare, nginx_proxy, pinned, report, require, run_rounds, stop, wrk

CALL = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "test_simple_text", "arguments": {}}}


def post(port, path, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    h.update(headers)
    c.request("POST", path, json.dumps(body), h)
    r = c.getresponse()
    data = r.read()
    sid = r.getheader("Mcp-Session-Id")
    c.close()
    if r.status >= 300:
        raise SystemExit(f"POST {path} -> {r.status}: {data[:300]!r}")
    return sid


def open_session(port, path, auth):
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    sid = post(port, path, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                       "clientInfo": {"name": "bench", "version": "1"}}}, headers)
    headers.update({"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-06-18"})
    post(port, path, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
    return headers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--io-threads", type=int, default=0, help="the gateway's I/O threads (0: the server's default)")
    args = ap.parse_args()
    require("wrk", "nginx", "taskset")
    work = tempfile.mkdtemp(prefix="tuna-gw-bench-")
    procs = []
    try:
        fixture = pinned(1, [os.path.join(BUILD, "tuna_conformance_fixture"), "0"], stdout=subprocess.PIPE, text=True)
        procs.append(fixture)
        fport = int(re.search(r":(\d+)/mcp", fixture.stdout.readline()).group(1))

        nginx, nport = nginx_proxy(work, fport)
        procs.append(nginx)

        env = dict(os.environ, HOME=work)
        server = pinned(1, [os.path.join(BUILD, "tuna"), "server", "--api-only", "--data-dir", f"{work}/data",
                            "--listen", "127.0.0.1:0", "--log-level", "warn"] + (["--io-threads", str(args.io_threads)] if args.io_threads else []),
                       stdout=subprocess.PIPE, text=True, env=env)
        procs.append(server)
        gport = None
        for line in server.stdout:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                gport = int(m.group(1))
                break
        token = open(f"{work}/data/admin.token").read().strip()
        api = {"Authorization": f"Bearer {token}"}
        c = http.client.HTTPConnection("127.0.0.1", gport)
        dep = {"apiVersion": "tuna.ai/v1alpha1", "kind": "MCPServerDeployment", "metadata": {"name": "fixture"},
               "spec": {"server": {"http": {"url": f"http://127.0.0.1:{fport}/mcp"}}}}
        c.request("POST", "/apis/tuna.ai/v1alpha1/namespaces/default/mcpserverdeployments", json.dumps(dep),
                  {**api, "Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 201:
            raise SystemExit(f"create deployment: {r.status} {r.read()[:300]!r}")
        r.read()
        c.request("POST", "/apis/tuna.ai/v1alpha1/namespaces/default/apikeys",
                  json.dumps({"metadata": {"name": "bench"}, "spec": {"scope": "invoke"}}),
                  {**api, "Content-Type": "application/json"})
        key = json.loads(c.getresponse().read())["token"]
        time.sleep(0.5)

        rows = {
            "direct": (fport, "/mcp", None, "direct"),
            "nginx": (nport, "/mcp", None, "nginx"),
            "gateway": (gport, "/mcp/default/servers/fixture", key, "gateway"),
        }
        sessions = {name: open_session(port, path, auth) for name, (port, path, auth, _) in rows.items()}
        accept = {"Accept": "application/json, text/event-stream"}
        results = run_rounds(rows, args.rounds, lambda row: wrk(row[0], row[1], CALL, {**accept, **sessions[row[3]]}, args.seconds,
                                                                args.connections, work, "This is a simple text response"))
        report("gateway", "gateway MCP tools/call", results,
               {**compare(results, "gateway", "direct"), **compare(results, "nginx", "direct"), **compare(results, "gateway", "nginx")},
               args.connections, args.seconds, rows)
    finally:
        stop(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
