"""Shared parts of the HTTP benchmarks (gateway_bench.py, a2a_bench.py): pinned processes, wrk
runs that check every answer, medians over interleaved rounds, results as JSON and a table.

Method (PERFORMANCE.md): wrk on CPU 0, every server on CPU 1, rows interleaved over rounds.
"""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")


def require(*tools):
    for tool in tools:
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (apt-get install wrk nginx-light util-linux)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu, argv, **kw):
    return subprocess.Popen(["taskset", "-c", str(cpu)] + argv, **kw)


def nginx_proxy(work, upstream_port):
    """nginx (one worker, keep-alive upstream) proxying 127.0.0.1:upstream_port; returns (process, port)."""
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 1024; }}
http {{ access_log off;
  upstream target {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://target; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host 127.0.0.1; proxy_buffering off; }} }} }}
""")
    return pinned(1, ["nginx", "-c", conf, "-p", work], stderr=subprocess.DEVNULL), port


def wrk(port, path, body, headers, seconds, connections, work, expect):
    """POSTs `body` (a dict) for `seconds`; every answer must be 200 and contain `expect` (bytes
    counted in Lua, so errors never pass for fast answers). Returns (req/s, p50 ms, p99 ms)."""
    lua = os.path.join(work, "request.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
        for k, v in {"Content-Type": "application/json", **headers}.items():
            f.write(f'wrk.headers["{k}"] = {json.dumps(v)}\n')
        f.write(f"expect = {json.dumps(expect)}\n")
        f.write('bad = 0\nfunction response(status, headers, body)\n'
                '  if status ~= 200 or not string.find(body, expect, 1, true) then bad = bad + 1 end\nend\n'
                'function done(summary, latency, requests)\n  io.write("bad: " .. bad .. "\\n")\nend\n')
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    bad = re.search(r"bad: (\d+)", out)
    if bad is None or int(bad.group(1)) > 0:
        raise SystemExit(f"{path}: {bad.group(1) if bad else 'unknown'} wrong answers\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label):
        m = re.search(label + r"\s+([\d.]+)(us|ms|s)", out)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    return rps, ms("50%"), ms("99%")


def run_rounds(rows, rounds, run):
    """rows: {name: args}; run(args) -> (rps, p50, p99). Rows interleaved; medians per row."""
    samples = {name: [] for name in rows}
    for _ in range(rounds):
        for name, args in rows.items():
            samples[name].append(run(args))
    return {name: {"rounds": len(xs), "rps": round(statistics.median(x[0] for x in xs)),
                   "p50_ms": round(statistics.median(x[1] for x in xs), 3),
                   "p99_ms": round(statistics.median(x[2] for x in xs), 3)} for name, xs in samples.items()}


def compare(results, row, baseline):
    """{"<row>_vs_<baseline>_rps": throughput ratio, "<row>_added_p50_ms_vs_<baseline>": p50 difference}."""
    r, b = results[row], results[baseline]
    return {f"{row}_vs_{baseline}_rps": round(r["rps"] / b["rps"], 2),
            f"{row}_added_p50_ms_vs_{baseline}": round(r["p50_ms"] - b["p50_ms"], 3)}


def report(name, title, results, ratios, connections, seconds, rows):
    """Writes benchmarks/results/<name>.json and prints the markdown table and the ratios."""
    results = dict(results, ratios=ratios)
    out = {"benchmark": title, "connections": connections, "seconds": seconds,
           "cpus": "load on CPU 0, servers on CPU 1", "results": results}
    os.makedirs(os.path.join(ROOT, "benchmarks/results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks/results", name + ".json"), "w") as f:
        json.dump(out, f, indent=2)
    print("| path | req/s | p50 ms | p99 ms |\n| --- | --- | --- | --- |")
    for row in rows:
        r = results[row]
        print(f"| {row} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} |")
    print(json.dumps(ratios))


def stop(procs):
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
