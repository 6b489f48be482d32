#!/usr/bin/env python3
"""Apply-to-serve time of the example agent on the real `tuna server` (pool driver).

For each run a fresh copy of examples/agents/echo (changed, so its snapshot is new) is applied
with `tuna apply`; we time until the staging revision answers through the proxy, and split that
into build (AgentBuild creation -> Succeeded) and deploy (-> first answer).
Baseline in the same run: `python3 -m compileall` (the example's build script) run directly.

Usage: benchmarks/deploy_bench.py BUILD_DIR [RUNS]   (writes benchmarks/results/deploy.json)
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

from tuna_bench import ROOT, report, summary, tuna_server


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    tuna = os.path.join(build, "tuna")
    with tuna_server(tuna, "tuna-deploy-bench-") as (url, token, env, work):
        ns = f"{url}/apis/tuna.ai/v1alpha1/namespaces/default"

        def call(path, data=None):
            req = urllib.request.Request(path, data=data, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()

        env_manifest = os.path.join(ROOT, "examples/manifests/agent-environment.yaml")
        subprocess.run([tuna, "apply", "-f", env_manifest], env=env, check=True, capture_output=True)
        time.sleep(1.0)  # let the warm pool fill, as on a running server
        total, build_ms, deploy_ms, baseline = [], [], [], []
        for i in range(runs):
            src = os.path.join(work, f"echo-{i}")
            shutil.copytree(os.path.join(ROOT, "examples/agents/echo"), src)
            with open(os.path.join(src, "agent.py"), "a") as f:
                f.write(f"\n# run {i}\n")
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "compileall", "-q", src], check=True)
            baseline.append((time.perf_counter() - t0) * 1000)
            manifest = os.path.join(work, f"agent-{i}.yaml")
            with open(manifest, "w") as f:
                f.write(f"""apiVersion: tuna.ai/v1alpha1
kind: AgentDeployment
metadata:
  name: bench-{i}
  namespace: default
spec:
  environmentName: python311
  entrypoint: agent.py:handle
  stages:
    staging:
      source:
        archive: file:{src}
""")
            start = time.perf_counter()
            subprocess.run([tuna, "apply", "-f", manifest], env=env, check=True, capture_output=True)
            built = None
            while True:
                if built is None:
                    _, body = call(f"{ns}/agentbuilds?labelSelector=tuna.ai/deployment%3Dbench-{i}")
                    items = json.loads(body)["items"]
                    if items and items[0].get("status", {}).get("phase") == "Succeeded":
                        built = time.perf_counter()
                    elif items and items[0].get("status", {}).get("phase") == "Failed":
                        raise SystemExit(f"build failed: {items[0]['status']}")
                try:
                    status, _ = call(f"{ns}/agentdeployments/bench-{i}/proxy/staging/", b"ping")
                    if status == 200:
                        break
                except urllib.error.HTTPError:
                    pass
                time.sleep(0.005)
            end = time.perf_counter()
            built = built or end
            total.append((end - start) * 1000)
            build_ms.append((built - start) * 1000)
            deploy_ms.append((end - built) * 1000)


        result = {"benchmark": "deploy_bench", "bubblewrap": shutil.which("bwrap") is not None,
                  "results": {"apply_to_first_answer": summary(total), "apply_to_build_succeeded": summary(build_ms),
                              "build_succeeded_to_first_answer": summary(deploy_ms),
                              "baseline_build_script_direct": summary(baseline)}}
        report("deploy", result)


if __name__ == "__main__":
    main()
