"""Python agents (tuna.a2a) deployed on the pool of a real `tuna server`, reached through the
gateway (/a2a/{ns}/{agent}/{stage}) with an API key and the official `a2a-sdk` client (and the
`@a2a-js/sdk` clients, 1.0 and 0.3): send,
streaming events arriving one by one, cancel reaching the handler, multi-turn, a raising handler,
a handler hanging past its deadline (the worker is replaced; other agents are unaffected)."""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import tuna
from a2a_helpers import (AGENTS, assert_streamed_live, fetch_card, part_texts, run_js_client, sdk_client, send_one,
                         user_message)
from conftest import REPO, tuna_binary, wait_for

pytest.importorskip("a2a.client", reason="pip install a2a-sdk (scripts/test.sh does)")

from a2a.types.a2a_pb2 import CancelTaskRequest, GetTaskRequest, TaskState  # noqa: E402

AGENT_TIMEOUT = 3  # seconds (Agent.timeout of the test agent); the worker's grace period is 2 s more


def _manifests(tmp: Path) -> Path:
    src = tmp / "pyagent"
    src.mkdir()
    shutil.copy(AGENTS / "interop_agent.py", src / "interop_agent.py")
    shutil.copy(AGENTS / "js_echo.py", src / "js_echo.py")
    # This interpreter (it has tuna) found through PATH rather than named by its path: the pool
    # bind-mounts absolute command paths into the bubblewrap sandbox, which fails for a virtual
    # environment's symlinked bin/python.
    bindir = os.path.dirname(sys.executable)
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin"}
    if os.environ.get("PYTHONPATH"):  # a development tree: tuna is not installed, only on the path
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    environment = {
        "apiVersion": "tuna.ai/v1alpha1", "kind": "AgentEnvironment",
        "metadata": {"name": "python-a2a", "namespace": "default"},
        "spec": {"runtime": "python3", "workerCommand": f"{os.path.basename(sys.executable)} -m tuna.a2a worker",
                 "buildScript": "true", "driver": "pool", "poolSize": 1, "forkServer": True, "env": env,
                 "resources": {"limits": {"memory": "512Mi"}}},
    }

    def deployment(name, source, entrypoint, extra_env):
        return {"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentDeployment",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"environmentName": "python-a2a", "entrypoint": entrypoint,
                         "stages": {"staging": {"source": {"archive": f"file:{source}"},
                                                "env": {"TUNA_STAGE": "staging", **extra_env}}}}}

    docs = [environment,
            deployment("pyagent", src, "interop_agent:agent", {"AGENT_TIMEOUT": str(AGENT_TIMEOUT)}),
            deployment("pyecho", REPO / "examples" / "python" / "echo", "agent:agent", {}),
            deployment("pyjs", src, "js_echo:agent", {})]
    path = tmp / "manifests.yaml"
    path.write_text("\n---\n".join(json.dumps(d) for d in docs))
    return path


@pytest.fixture(scope="module")
def deployed(tuna_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("a2a-pool")
    env = tuna_server.env()
    env.update(TUNA_SERVER=tuna_server.url, TUNA_TOKEN=tuna_server.token)
    applied = subprocess.run([str(tuna_binary()), "apply", "-f", str(_manifests(tmp))], env=env,
                             capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    client = tuna.Client(tuna_server.url, tuna_server.token)
    for name in ("pyagent", "pyecho", "pyjs"):
        def phase(name=name):
            status = client.get("agentdeployment", name).get("status", {})
            return status.get("phase") == "StagingDeployed"
        try:
            wait_for(phase, timeout=120, interval=0.2)
        except BaseException:
            print(json.dumps(client.get("agentdeployment", name), indent=1))
            print(client.events("agentdeployment", name))
            raise
    request = urllib.request.Request(
        f"{tuna_server.url}/apis/tuna.ai/v1alpha1/namespaces/default/apikeys",
        data=json.dumps({"metadata": {"name": "pytest-a2a"}, "spec": {"scope": "invoke"}}).encode(),
        headers={"Authorization": f"Bearer {tuna_server.token}", "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        key = json.loads(response.read())["token"]
    return tuna_server, key


def url_of(server, agent):
    return f"{server.url}/a2a/default/{agent}/staging"


def worker_logs(server) -> str:
    # workers/<id>.log, and workers/f<n>/<id>.log for the workers of a fork-server.
    logs = glob.glob(str(server.data_dir / "pool" / "workers" / "**" / "*.log"), recursive=True)
    return "".join(Path(p).read_text(errors="replace") for p in sorted(logs))


def run(coro):
    return asyncio.run(coro)


def test_card_and_send_through_the_gateway(deployed):
    server, key = deployed

    async def main():
        card = await fetch_card(url_of(server, "pyagent"), key)
        assert card.name == "pyagent"  # the gateway's card (no AgentCatalogue: the deployment's name)
        async with sdk_client(url_of(server, "pyagent"), key, streaming=False) as client:
            answer = await send_one(client, "hi")
            # Through the gateway every message has a task (it keeps tasks for workers that come and go).
            assert answer.task.status.state == TaskState.TASK_STATE_COMPLETED
            assert part_texts(answer.task.status.message.parts) == "echo: hi [staging]"
        async with sdk_client(url_of(server, "pyecho"), key, streaming=False) as client:
            answer = await send_one(client, "hello")
            assert part_texts(answer.task.status.message.parts) == "echo: hello"
    run(main())
    # The worker specialized fast: the interpreter and tuna were imported before.
    loads = [json.loads(l)["load_ms"] for l in worker_logs(server).splitlines() if '"specialized"' in l]
    assert loads and max(loads) < 1000, loads
    print(f"specialization (agent module import) ms: {loads}")


@pytest.mark.parametrize("version", ["1.0", "0.3"])
def test_official_javascript_sdk_through_the_gateway(deployed, version):
    server, key = deployed
    # The trailing slash matters: the SDK resolves ".well-known/agent-card.json" against the URL,
    # and without it the last segment (the stage) would be dropped: production would answer.
    done = run_js_client(url_of(server, "pyjs") + "/", key, version)
    assert done.returncode == 0 and "ALL OK" in done.stdout, done.stdout + done.stderr


def test_streaming_events_arrive_one_by_one(deployed):
    server, key = deployed

    async def main():
        async with sdk_client(url_of(server, "pyagent"), key, streaming=True) as client:
            arrivals = []
            task_id = ""
            started = time.monotonic()
            async for event in client.send_message(user_message("stream 4 0.4")):
                kind = event.WhichOneof("payload")
                arrivals.append((time.monotonic(), kind))
                if kind == "task":
                    task_id = event.task.id
            kinds = [k for _, k in arrivals]
            assert kinds.count("artifact_update") == 4 and kinds[-1] == "status_update", kinds
            assert_streamed_live([t for t, k in arrivals if k == "artifact_update"], started, 0.4)
            task = await client.get_task(GetTaskRequest(id=task_id))
            assert task.status.state == TaskState.TASK_STATE_COMPLETED
            assert part_texts(task.artifacts[0].parts) == "0123"
    run(main())


def test_cancel_reaches_the_handler_on_the_pool(deployed):
    server, key = deployed

    async def main():
        async with sdk_client(url_of(server, "pyagent"), key, streaming=True) as client:
            stream = client.send_message(user_message("wait"))
            task_id = ""
            async for event in stream:
                kind = event.WhichOneof("payload")
                if kind == "task":
                    task_id = event.task.id
                if kind == "status_update" and part_texts(event.status_update.status.message.parts) == "waiting":
                    break  # the handler runs on the worker
            await stream.aclose()
            canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
            assert canceled.status.state == TaskState.TASK_STATE_CANCELED
            return task_id
    task_id = run(main())
    wait_for(lambda: f"handler cancelled: {task_id}" in worker_logs(server), timeout=15)


def test_multi_turn_on_the_pool(deployed):
    server, key = deployed

    async def main():
        async with sdk_client(url_of(server, "pyagent"), key, streaming=False) as client:
            first = await send_one(client, "ask")
            assert first.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
            t = first.task
            second = await send_one(client, "Ada", t.id, t.context_id)
            assert second.task.status.state == TaskState.TASK_STATE_COMPLETED
            assert part_texts(second.task.status.message.parts) == "hello Ada (turn 2)"
    run(main())


def test_a_raising_handler_fails_the_task_with_a_clear_message(deployed):
    server, key = deployed

    async def main():
        async with sdk_client(url_of(server, "pyagent"), key, streaming=False) as client:
            answer = await send_one(client, "boom")
            assert answer.task.status.state == TaskState.TASK_STATE_FAILED
            assert part_texts(answer.task.status.message.parts) == "RuntimeError: the model is on fire"
    run(main())
    assert "the model is on fire" in worker_logs(server) and "Traceback" in worker_logs(server)


def test_a_hung_handler_fails_its_task_and_the_worker_is_replaced(deployed):
    server, key = deployed

    async def main():
        async with sdk_client(url_of(server, "pyagent"), key, streaming=False) as client:
            started = time.monotonic()
            answer = await send_one(client, "hang")
            elapsed = time.monotonic() - started
            assert answer.task.status.state == TaskState.TASK_STATE_FAILED
            text = part_texts(answer.task.status.message.parts)
            assert "exited" in text and "replaced" in text, text
            # The message carries the worker's last log lines: the runtime says why it exited.
            assert "past its deadline and grace period" in text, text
            print(f"hung handler: {text}")
            assert elapsed < AGENT_TIMEOUT + 15
        # Another agent was not affected ...
        async with sdk_client(url_of(server, "pyecho"), key, streaming=False) as client:
            answer = await send_one(client, "still here")
            assert part_texts(answer.task.status.message.parts) == "echo: still here"
        # ... and the agent answers again, from a new worker.
        async with sdk_client(url_of(server, "pyagent"), key, streaming=False) as client:
            answer = await send_one(client, "again")
            assert answer.task.status.state == TaskState.TASK_STATE_COMPLETED
            assert part_texts(answer.task.status.message.parts) == "echo: again [staging]"
    run(main())


def test_a_handler_past_the_memory_limit_fails_its_task_and_the_worker_is_replaced(deployed):
    server, key = deployed

    async def main():
        async with sdk_client(url_of(server, "pyagent"), key, streaming=False) as client:
            answer = await send_one(client, "leak")
            assert answer.task.status.state == TaskState.TASK_STATE_FAILED
            text = part_texts(answer.task.status.message.parts)
            assert text.startswith("MemoryError: the handler ran out of memory"), text
            answer = await send_one(client, "after")
            assert part_texts(answer.task.status.message.parts) == "echo: after [staging]"
        async with sdk_client(url_of(server, "pyecho"), key, streaming=False) as client:
            answer = await send_one(client, "fine")
            assert part_texts(answer.task.status.message.parts) == "echo: fine"
    run(main())


def git_push_example(server, example: str, name: str, tmp_path: Path) -> None:
    """Pushes examples/python/EXAMPLE as the repository NAME of the server and waits for staging."""
    env = server.env()
    env.update(TUNA_SERVER=server.url, TUNA_TOKEN=server.token)
    created = subprocess.run([str(tuna_binary()), "repo", "create", name], env=env, capture_output=True,
                             text=True, timeout=60)
    assert created.returncode == 0, created.stdout + created.stderr
    repo = tmp_path / example
    shutil.copytree(REPO / "examples" / "python" / example, repo)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", f"{example} agent"]):
        subprocess.run(git + args, cwd=repo, check=True, env=env, timeout=60)
    remote = server.url.replace("http://", f"http://tuna:{server.token}@") + f"/git/default/{name}.git"
    pushed = subprocess.run(git + ["push", remote, "main"], cwd=repo, env=env, capture_output=True, text=True,
                            timeout=300)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    client = tuna.Client(server.url, server.token)
    wait_for(lambda: client.get("agentdeployment", name).get("status", {}).get("phase") == "StagingDeployed",
             timeout=120, interval=0.2)


def test_the_echo_example_deploys_with_git_push(deployed, tmp_path):
    server, key = deployed
    git_push_example(server, "echo", "py-echo", tmp_path)  # the name its tuna.yaml gives

    async def main():
        card = await fetch_card(url_of(server, "py-echo"), key)
        assert card.name == "Echo (Python)"
        async with sdk_client(url_of(server, "py-echo"), key, streaming=False) as client:
            answer = await send_one(client, "pushed")
            assert part_texts(answer.task.status.message.parts) == "echo: pushed"
    run(main())


def test_the_streaming_example_deploys_with_git_push(deployed, tmp_path):
    server, key = deployed
    git_push_example(server, "streaming", "py-streaming", tmp_path)

    async def main():
        url = url_of(server, "py-streaming")
        card = await fetch_card(url, key)
        assert card.name == "Streaming (Python)" and [s.id for s in card.skills] == ["count", "words"]
        async with sdk_client(url, key, streaming=True) as client:
            chunks = []
            started = time.monotonic()
            async for event in client.send_message(user_message("count 3")):
                if event.WhichOneof("payload") == "artifact_update":
                    chunks.append((time.monotonic(), part_texts(event.artifact_update.artifact.parts)))
                last = event
            assert [c for _, c in chunks] == ["1\n", "2\n", "3\n"]
            assert_streamed_live([t for t, _ in chunks], started, 0.2)  # 0.2 s apart, as the agent yields them
            assert part_texts(last.status_update.status.message.parts) == "counted to 3"
        async with sdk_client(url, key, streaming=False) as client:
            first = await send_one(client, "ask")
            assert first.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
            second = await send_one(client, "Grace", first.task.id, first.task.context_id)
            assert part_texts(second.task.status.message.parts) == "nice to meet you, Grace"
    run(main())


def test_the_remember_example_keeps_a_conversation_in_ctx_memory(deployed, tmp_path):
    server, key = deployed
    env = server.env()
    env.update(TUNA_SERVER=server.url, TUNA_TOKEN=server.token)
    applied = subprocess.run([str(tuna_binary()), "apply", "-f", str(REPO / "examples" / "python" / "remember" / "memory.yaml")],
                             env=env, capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    git_push_example(server, "remember", "py-remember", tmp_path)

    async def main():
        async with sdk_client(url_of(server, "py-remember"), key, streaming=False) as client:
            first = await send_one(client, "my name is Ada")
            assert part_texts(first.task.status.message.parts) == "nice to meet you; I will remember: my name is Ada", \
                first.task.status
            context = first.task.context_id
            second = await send_one(client, "I like tea", context_id=context)
            assert part_texts(second.task.status.message.parts) == "you told me before: my name is Ada"
            # Another conversation starts empty.
            other = await send_one(client, "hello")
            assert part_texts(other.task.status.message.parts).startswith("nice to meet you")
    run(main())


def test_the_tools_example_calls_an_mcp_server_and_an_http_tool_through_its_binding(deployed, tmp_path):
    """examples/python/tools: ctx.tools reaches the hello stdio MCP server (on the pool) and the
    petstore HTTP tool (here backed by a local server) through the agent's federated endpoint."""
    import http.server
    import threading

    class Petstore(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen_keys.append(self.headers.get("api_key", ""))
            body = json.dumps({"id": int(self.path.rsplit("/", 1)[-1]), "name": "Rex"}).encode()
            ok = self.path.startswith("/api/v3/pet/")
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    seen_keys = []
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Petstore)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    server, key = deployed
    try:
        client = tuna.Client(server.url, server.token)
        manifests = REPO / "examples" / "manifests"
        env = server.env()
        env.update(TUNA_SERVER=server.url, TUNA_TOKEN=server.token)
        applied = subprocess.run([str(tuna_binary()), "apply", "-f", str(manifests / "agent-environment.yaml"), "-f",
                                  str(manifests / "mcp-server-deployment.yaml"), "-f",
                                  str(manifests / "http-tool-deployment.yaml")], env=env, capture_output=True, text=True,
                                 timeout=120)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        # The petstore's credential (credentials.secretRef): a secret file of the server's.
        secret = server.data_dir / "secrets" / "default" / "petstore-credentials" / "api-key"
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text("special-key\n")
        secret.chmod(0o600)
        petstore = client.get("httptooldeployment", "petstore")
        petstore["spec"]["baseUrl"] = f"http://127.0.0.1:{upstream.server_address[1]}/api/v3"
        client.apply(petstore)
        wait_for(lambda: client.get("mcpserverdeployment", "hello").get("status", {}).get("phase") in
                 ("StagingDeployed", "ProductionDeployed"), timeout=120, interval=0.2)
        git_push_example(server, "tools", "py-tools", tmp_path)

        async def main():
            async with sdk_client(url_of(server, "py-tools"), key, streaming=False) as a2a:
                [listed] = [e async for e in a2a.send_message(user_message("tools"))]
                assert part_texts(listed.task.status.message.parts) == "I may use: hello__add, petstore__getPetById", \
                    listed.task.status
                [added] = [e async for e in a2a.send_message(user_message("add 2 3"))]
                assert added.task.status.state == TaskState.TASK_STATE_COMPLETED, added.task.status
                assert part_texts(added.task.status.message.parts) in ("5", "5.0"), added.task.status
                [pet] = [e async for e in a2a.send_message(user_message("pet 7"))]
                assert pet.task.status.state == TaskState.TASK_STATE_COMPLETED, pet.task.status
                assert '"name": "Rex"' in part_texts(pet.task.status.message.parts) or \
                    '"name":"Rex"' in part_texts(pet.task.status.message.parts), pet.task.status
                assert seen_keys == ["special-key"], seen_keys  # the credential reached the upstream
        run(main())
    finally:
        upstream.shutdown()


def test_the_agents_log_lines_reach_tuna_logs(deployed):
    """ctx.log lines (JSON, one per line) of a Python agent on the pool: `tuna logs agentdeployment/NAME`."""
    server, key = deployed

    async def send():
        async with sdk_client(url_of(server, "pyecho"), key, streaming=False) as client:
            answer = await send_one(client, "log me")
            assert part_texts(answer.task.status.message.parts) == "echo: log me"
    run(send())
    env = server.env()
    env.update(TUNA_SERVER=server.url, TUNA_TOKEN=server.token)
    logs = subprocess.run([str(tuna_binary()), "logs", "agentdeployment/pyecho", "--stage", "staging"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert logs.returncode == 0, logs.stderr
    assert "==> worker " in logs.stdout
    lines = [json.loads(line) for line in logs.stdout.splitlines() if line.startswith("{")]
    echoing = [line for line in lines if line.get("msg") == "echoing" or line.get("message") == "echoing"]
    assert echoing, logs.stdout[-2000:]
    assert echoing[-1].get("chars") == len("log me"), echoing[-1]
    # Bad input is named; a deployment that does not exist is not found.
    bad = subprocess.run([str(tuna_binary()), "logs", "agentdeployment/pyecho", "--stage", "nope"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "stage" in bad.stderr, bad.stderr
    missing = subprocess.run([str(tuna_binary()), "logs", "agentdeployment/nobody"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 3, missing.stderr
    # The same through the Python client.
    client = tuna.Client(server.url, server.token)
    text = client.logs("ad", "pyecho", stage="staging")
    assert "==> worker " in text and '"echoing"' in text, text[-2000:]
    assert len(client.logs("agentdeployment", "pyecho", stage="staging", tail_bytes=200)) < len(text)
    with pytest.raises(tuna.InvalidArgumentError, match="stage"):
        client.logs("ad", "pyecho", stage="nope")
    with pytest.raises(tuna.NotFoundError):
        client.logs("ad", "nobody")


def test_build_logs_through_the_python_client(deployed):
    server, _key = deployed
    client = tuna.Client(server.url, server.token)
    builds = [b for b in client.list("agentbuilds") if b.get("status", {}).get("phase") == "Succeeded"]
    assert builds, client.list("agentbuilds")
    name = builds[0]["metadata"]["name"]
    chunk = client.build_log(name)
    assert chunk["phase"] == "Succeeded" and chunk["text"] and chunk["nextOffset"] == len(chunk["text"].encode())
    end = client.build_log(name, offset=chunk["nextOffset"])
    assert end == {"text": "", "nextOffset": chunk["nextOffset"], "complete": True, "phase": "Succeeded"}
    followed = "".join(client.follow_build_log(name, timeout=30))
    assert followed == chunk["text"]
    with pytest.raises(tuna.NotFoundError):
        client.build_log("no-such-build")
