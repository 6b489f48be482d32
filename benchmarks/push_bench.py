#!/usr/bin/env python3
"""Push-to-serve time: `git push` of the example agent until its first successful answer on staging.

Each run commits a change to a repository holding examples/agents/echo and a tuna.yaml, runs
`git push -o nowait` (so the push itself returns after the snapshot) and polls the staging proxy
until the new revision answers. Also measured in the same run: the full `git push` that waits for
the deploy and prints the URL, and `git push` to a plain bare repository on disk (baseline).

Usage: benchmarks/push_bench.py BUILD_DIR [RUNS]   (writes benchmarks/results/push.json)
"""

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tuna_bench import ROOT, report, summary, tuna_server


def git(*args, cwd, env):
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    tuna = os.path.join(build, "tuna")
    with tuna_server(tuna, "tuna-push-bench-") as (url, token, env, work):
        env.update(GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="b@x",
                   GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="b@x")
        subprocess.run([tuna, "apply", "-f", os.path.join(ROOT, "examples/manifests/agent-environment.yaml")],
                       env=env, check=True, capture_output=True)
        subprocess.run([tuna, "repo", "create", "bench"], env=env, check=True, capture_output=True)
        remote = url.replace("http://", f"http://bench:{token}@") + "/git/default/bench.git"
        proxy = f"{url}/apis/tuna.ai/v1alpha1/namespaces/default/agentdeployments/bench/proxy/staging/"

        repo = os.path.join(work, "repo")
        shutil.copytree(os.path.join(ROOT, "examples/agents/echo"), repo)
        with open(os.path.join(repo, "tuna.yaml"), "w") as f:
            f.write("kind: agent\nname: bench\nspec:\n  environment: python311\n  entrypoint: agent.py:handle\n")
        git("init", "-q", "-b", "main", cwd=repo, env=env)
        git("add", "-A", cwd=repo, env=env)
        git("commit", "-q", "-m", "initial", cwd=repo, env=env)
        git("remote", "add", "tuna", remote, cwd=repo, env=env)
        baseline_remote = os.path.join(work, "plain.git")
        git("init", "-q", "--bare", baseline_remote, cwd=work, env=env)
        git("remote", "add", "plain", baseline_remote, cwd=repo, env=env)
        git("push", "-q", "tuna", "main", cwd=repo, env=env)  # first deploy, not measured
        time.sleep(1.0)

        def answer(marker):
            req = urllib.request.Request(proxy, data=b"ping", headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status == 200 and marker in r.read().decode()
            except urllib.error.HTTPError:
                return False

        def change(i):
            with open(os.path.join(repo, "agent.py"), "a") as f:
                f.write(f"\nRUN = {i}\n")
            # The agent reports its path; a marker in the handler proves the new revision answers.
            src = open(os.path.join(repo, "agent.py")).read()
            src = re.sub(r'"agent": "echo[^"]*"', f'"agent": "echo-{i}"', src)
            open(os.path.join(repo, "agent.py"), "w").write(src)
            git("commit", "-q", "-am", f"run {i}", cwd=repo, env=env)

        to_serve, full_push, plain = [], [], []
        for i in range(runs):
            change(2 * i)
            start = time.perf_counter()
            git("push", "-q", "-o", "nowait", "tuna", "main", cwd=repo, env=env)
            while not answer(f"echo-{2 * i}"):
                time.sleep(0.005)
            to_serve.append((time.perf_counter() - start) * 1000)

            change(2 * i + 1)
            start = time.perf_counter()
            out = subprocess.run(["git", "push", "tuna", "main"], cwd=repo, env=env, capture_output=True, text=True)
            full_push.append((time.perf_counter() - start) * 1000)
            if "deployed" not in out.stderr:
                raise SystemExit("push did not report the deploy:\n" + out.stderr)

            start = time.perf_counter()
            git("push", "-q", "--force", "plain", "main", cwd=repo, env=env)
            plain.append((time.perf_counter() - start) * 1000)


        result = {"benchmark": "push_bench",
                  "results": {"push_nowait_to_first_answer": summary(to_serve),
                              "git_push_waiting_for_deploy": summary(full_push),
                              "baseline_git_push_to_local_bare_repo": summary(plain)}}
        report("push", result)


if __name__ == "__main__":
    main()
