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
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, argv, **kw):
    return subprocess.Popen(["taskset", "-c", str(cpu)] + argv, **kw)


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


def wrk(port, path, headers, seconds, connections, work):
    body = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                       "params": {"name": "test_simple_text", "arguments": {}}})
    lua = os.path.join(work, "call.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = {json.dumps(body)}\n")
        h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers}
        for k, v in h.items():
            f.write(f'wrk.headers["{k}"] = {json.dumps(v)}\n')
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p50 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{path}: {non2xx.group(1)} failed requests\n{out}")
    return rps, p50, p99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (apt-get install wrk nginx-light util-linux)")
    work = tempfile.mkdtemp(prefix="tuna-gw-bench-")
    procs = []
    try:
        fixture = pinned(1, [os.path.join(BUILD, "tuna_conformance_fixture"), "0"], stdout=subprocess.PIPE, text=True)
        procs.append(fixture)
        fport = int(re.search(r":(\d+)/mcp", fixture.stdout.readline()).group(1))

        nport = free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 1024; }}
http {{ access_log off;
  upstream fixture {{ server 127.0.0.1:{fport}; keepalive 64; }}
  server {{ listen 127.0.0.1:{nport};
    location / {{ proxy_pass http://fixture; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host 127.0.0.1; proxy_buffering off; }} }} }}
""")
        procs.append(pinned(1, ["nginx", "-c", conf, "-p", work], stderr=subprocess.DEVNULL))

        env = dict(os.environ, HOME=work)
        server = pinned(1, [os.path.join(BUILD, "tuna"), "server", "--api-only", "--data-dir", f"{work}/data",
                            "--listen", "127.0.0.1:0", "--log-level", "warn"], stdout=subprocess.PIPE, text=True, env=env)
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
            "direct": (fport, "/mcp", None),
            "nginx": (nport, "/mcp", None),
            "gateway": (gport, "/mcp/default/servers/fixture", key),
        }
        sessions = {name: open_session(port, path, auth) for name, (port, path, auth) in rows.items()}
        samples = {name: [] for name in rows}
        for _ in range(args.rounds):
            for name, (port, path, _) in rows.items():
                samples[name].append(wrk(port, path, sessions[name], args.seconds, args.connections, work))
        results = {}
        for name, xs in samples.items():
            results[name] = {"rounds": len(xs), "rps": round(statistics.median(x[0] for x in xs)),
                             "p50_ms": round(statistics.median(x[1] for x in xs), 3),
                             "p99_ms": round(statistics.median(x[2] for x in xs), 3)}
        d, n, g = results["direct"], results["nginx"], results["gateway"]
        results["ratios"] = {"gateway_vs_direct_rps": round(g["rps"] / d["rps"], 2),
                             "gateway_vs_nginx_rps": round(g["rps"] / n["rps"], 2),
                             "gateway_added_p50_ms": round(g["p50_ms"] - d["p50_ms"], 3),
                             "nginx_added_p50_ms": round(n["p50_ms"] - d["p50_ms"], 3)}
        out = {"benchmark": "gateway MCP tools/call", "connections": args.connections, "seconds": args.seconds,
               "cpus": "load on CPU 0, servers on CPU 1", "results": results}
        os.makedirs(os.path.join(ROOT, "benchmarks/results"), exist_ok=True)
        with open(os.path.join(ROOT, "benchmarks/results/gateway.json"), "w") as f:
            json.dump(out, f, indent=2)
        print("| path | req/s | p50 ms | p99 ms |\n| --- | --- | --- | --- |")
        for name in rows:
            r = results[name]
            print(f"| {name} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} |")
        print(json.dumps(results["ratios"]))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
