#!/usr/bin/env python3
"""A2A SendMessage: tuna's gateway against calling the agent directly and against nginx, and a
Python handler against the same handler in C++, in one run.

The handler: echo (working, an artifact, completed) — examples/cpp/a2a_echo_agent.cpp in C++,
benchmarks/agents/echo_agent.py in Python (tuna.a2a). Rows, same request, same load:
  cpp      wrk -> tuna's C++ A2A server, handler in C++ (build/benchmarks/a2a_echo_agent)
  python   wrk -> tuna's C++ A2A server, handler in Python (python -m tuna.a2a serve)
  nginx    wrk -> nginx (proxy_pass, keep-alive upstream) -> the python row's server
  gateway  wrk -> tuna server /a2a/default/echo/staging (API key, A2A server with tasks in the
           SQLite session store) -> the same Python handler deployed on the pool (a warm
           `python -m tuna.a2a worker`, agent handler protocol over its Unix socket)
Method (PERFORMANCE.md): wrk on CPU 0, every server on CPU 1, rows interleaved over rounds,
medians reported. Needs wrk, nginx (Debian) and the tuna Python package (`pip install .`).

  python3 benchmarks/a2a_bench.py [--rounds 3] [--seconds 5] [--connections 16]
Writes benchmarks/results/a2a.json and prints a markdown table.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from wrkbench import BUILD, ROOT, compare, nginx_proxy, pinned, report, require, run_rounds, stop, wrk

BODY = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
        "params": {"message": {"role": "ROLE_USER", "messageId": "m-1", "parts": [{"text": "hello"}]}}}


def call(port, path, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **headers})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wait_line(proc, pattern, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(pattern, line)
        if m:
            return m
    raise SystemExit(f"no line matching {pattern!r} from {proc.args}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    require("wrk", "nginx", "taskset")
    try:
        import tuna.a2a  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"the tuna Python package is needed (pip install .): {e}")
    work = tempfile.mkdtemp(prefix="tuna-a2a-bench-")
    procs = []
    try:
        cpp = pinned(1, [os.path.join(BUILD, "benchmarks", "a2a_echo_agent"), "0"], stdout=subprocess.PIPE, text=True)
        procs.append(cpp)
        cport = int(wait_line(cpp, r"127\.0\.0\.1:(\d+)/").group(1))

        py = pinned(1, [sys.executable, "-m", "tuna.a2a", "serve", "echo_agent:agent", "--port", "0"],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=os.path.join(ROOT, "benchmarks", "agents"))
        procs.append(py)
        pport = int(wait_line(py, r"127\.0\.0\.1:(\d+)").group(1))

        nginx, nport = nginx_proxy(work, pport)
        procs.append(nginx)

        # The gateway: the same handler deployed on the pool (an AgentEnvironment running
        # `python -m tuna.a2a worker` with this interpreter, the agent from a source archive).
        env = dict(os.environ, HOME=work)
        server = pinned(1, [os.path.join(BUILD, "tuna"), "server", "--data-dir", f"{work}/data", "--listen", "127.0.0.1:0",
                            "--log-level", "warn", "--no-bubblewrap"], stdout=subprocess.PIPE, text=True, env=env)
        procs.append(server)
        gport = int(wait_line(server, r"listening on http://127\.0\.0\.1:(\d+)").group(1))
        token = open(f"{work}/data/admin.token").read().strip()
        tuna = [os.path.join(BUILD, "tuna")]
        tenv = dict(env, TUNA_SERVER=f"http://127.0.0.1:{gport}", TUNA_TOKEN=token)
        manifests = os.path.join(work, "deploy.yaml")
        src = os.path.join(ROOT, "benchmarks", "agents")
        with open(manifests, "w") as f:
            f.write(f"""apiVersion: tuna.ai/v1alpha1
kind: AgentEnvironment
metadata: {{name: bench-python}}
spec:
  runtime: python3
  workerCommand: {sys.executable} -m tuna.a2a worker
  driver: pool
  poolSize: 1
  idleTimeoutSeconds: 600
---
apiVersion: tuna.ai/v1alpha1
kind: AgentDeployment
metadata: {{name: echo}}
spec:
  environmentName: bench-python
  entrypoint: echo_agent:agent
  stages:
    staging: {{source: {{archive: "file:{src}"}}}}
""")
        subprocess.run(tuna + ["apply", "-f", manifests], env=tenv, check=True, capture_output=True)
        key = subprocess.run(tuna + ["key", "create", "bench", "--scope", "invoke"], env=tenv, check=True, capture_output=True,
                             text=True).stdout.strip()
        auth = {"Authorization": f"Bearer {key}"}
        deadline = time.time() + 120
        while True:
            status, data = call(gport, "/a2a/default/echo/staging", BODY, auth)
            if status == 200 and b"echo: hello" in data:
                break
            if time.time() > deadline:
                raise SystemExit(f"the deployed agent does not answer: {status} {data[:400]!r}")
            time.sleep(0.5)

        rows = {
            "cpp": (cport, "/", {}),
            "python": (pport, "/", {}),
            "nginx": (nport, "/", {}),
            "gateway": (gport, "/a2a/default/echo/staging", auth),
        }
        results = run_rounds(rows, args.rounds, lambda row: wrk(row[0], row[1], BODY, row[2], args.seconds, args.connections,
                                                                work, "echo: hello"))
        report("a2a", "A2A SendMessage (echo)", results,
               {**compare(results, "python", "cpp"), **compare(results, "gateway", "python"), **compare(results, "nginx", "python"),
                **compare(results, "gateway", "nginx")},
               args.connections, args.seconds, rows)
    finally:
        stop(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
