"""Shared pieces of the whole-system benchmarks (deploy_bench.py, push_bench.py): a real
`tuna server` on a free port with a private data dir, and the result summary and output."""

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def tuna_server(tuna, prefix):
    """Yields (url, token, env, work_dir) for a fresh server; stops it and removes its files after."""
    work = tempfile.mkdtemp(prefix=prefix)
    env = dict(os.environ, HOME=work)
    server = subprocess.Popen([tuna, "server", "--data-dir", f"{work}/data", "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        url = None
        for line in server.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise SystemExit("tuna server did not start")
        token = open(f"{work}/data/admin.token").read().strip()
        env.update(TUNA_SERVER=url, TUNA_TOKEN=token)
        yield url, token, env, work
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def summary(xs):
    xs = sorted(xs)
    return {"n": len(xs), "p50_ms": round(statistics.median(xs), 1), "max_ms": round(xs[-1], 1)}


def report(name, result):
    """Writes benchmarks/results/NAME.json and prints the markdown table."""
    os.makedirs(os.path.join(ROOT, "benchmarks/results"), exist_ok=True)
    with open(os.path.join(ROOT, f"benchmarks/results/{name}.json"), "w") as f:
        json.dump(result, f, indent=2)
    print("| measurement | n | p50 ms | max ms |\n| --- | --- | --- | --- |")
    for k, v in result["results"].items():
        print(f"| {k} | {v['n']} | {v['p50_ms']} | {v['max_ms']} |")
