"""ctx.tools, ctx.memory and ctx.agents against a real `tuna server` with deployed workloads.

One module-wide setup (through `tuna apply`, as a user would): a Python AgentEnvironment; the
"echo" agent (examples/agents/echo); a "probe" agent whose worker reports its TUNA_* environment
and runs tuna.environ from inside the pool; the stdio MCP server examples/mcp/hello; an
HTTPToolDeployment over a small HTTP server run by this test; two AgentMemories (conversation,
kv) and a read-only third, all bound to "probe" by an AgentResourceBinding. The tests then use
tuna.tools.Tools, tuna.memory.Memory and tuna.agents.Agents with the key the probe's worker got,
exactly as a handler would, and the official `mcp` client on the same federated endpoint.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import tuna
from tuna.agents import Agents
from tuna.environ import Runtime, runtime
from tuna.memory import Memory
from tuna.tools import ToolError, Tools

from conftest import REPO, TunaServer, tuna_binary, wait_for

API = "/apis/tuna.ai/v1alpha1/namespaces/default"

PROBE = '''
"""Test agent: GET /env answers the worker's TUNA_* variables; POST /ctx uses tuna.environ."""
import json
import os
import traceback


def _reply(status, obj):
    return {"status": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(obj)}


def handle(request):
    path = request["path"].split("?")[0]
    if path == "/env":
        return _reply(200, {k: v for k, v in os.environ.items() if k.startswith("TUNA_")})
    if path == "/ctx":
        try:
            import tuna.environ
        except ImportError as e:
            return _reply(200, {"skip": f"tuna is not importable in the worker: {e}"})
        try:
            rt = tuna.environ.runtime()
            out = {"agent": rt.agent, "stage": rt.stage}
            out["greet"] = rt.tools().call("hello__greet", name="worker").text
            notes = rt.memory("from-worker")["notes"]
            notes.append("user", "written by the worker")
            out["history"] = [e["content"] for e in notes.history()]
            out["echo"] = rt.agents().send("echo", "from probe").text
            out["same_tools"] = rt.tools() is tuna.environ.runtime().tools()
            return _reply(200, out)
        except Exception as e:  # reported to the test
            return _reply(500, {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()})
    return _reply(404, {"error": "no such path " + path})
'''

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "pets", "version": "1"},
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "summary": "A pet by id.",
                "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "the pet"}},
            }
        }
    },
}


class _Pets(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "pets" and parts[1].isdigit():
            body, status = json.dumps({"id": int(parts[1]), "name": f"pet-{parts[1]}"}).encode(), 200
        else:
            body, status = b'{"error":"no such pet"}', 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Deployed:
    server: TunaServer
    env: Dict[str, str]  # the probe worker's TUNA_* variables
    rt: Runtime


def _http(server: TunaServer, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(server.url + path, data=body, method=method,
                                 headers={"Authorization": f"Bearer {server.token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _manifests(root: Path, pets_url: str) -> str:
    probe = root / "probe"
    probe.mkdir()
    (probe / "agent.py").write_text(PROBE)
    env = {"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentEnvironment", "metadata": {"name": "py"},
           "spec": {"runtime": "python3.11", "buildScript": "true", "poolSize": 1}}

    def agent(name: str, src: Path, entry: str) -> dict:
        return {"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentDeployment", "metadata": {"name": name},
                "spec": {"environmentName": "py", "entrypoint": entry,
                         "stages": {"production": {"source": {"archive": f"file:{src}"}}}}}

    hello = {"apiVersion": "tuna.ai/v1alpha1", "kind": "MCPServerDeployment", "metadata": {"name": "hello"},
             "spec": {"environmentName": "py", "server": {"stdio": {"command": "python3", "args": ["server.py"]}},
                      "stages": {"production": {"source": {"archive": f"file:{REPO / 'examples/mcp/hello'}"}}}}}
    pets = {"apiVersion": "tuna.ai/v1alpha1", "kind": "HTTPToolDeployment", "metadata": {"name": "pets"},
            "spec": {"openapi": {"inline": OPENAPI}, "baseUrl": pets_url, "timeoutSeconds": 10}}
    memories = [{"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentMemory", "metadata": {"name": name},
                 "spec": {"type": kind, "maxEntries": 100}}
                for name, kind in (("notes", "conversation"), ("prefs", "kv"), ("frozen", "conversation"),
                                   ("unbound", "kv"))]
    binding = {"apiVersion": "tuna.ai/v1alpha1", "kind": "AgentResourceBinding", "metadata": {"name": "probe-tools"},
               "spec": {"agentName": "probe",
                        "tools": [{"kind": "MCPServerDeployment", "name": "hello"},
                                  {"kind": "HTTPToolDeployment", "name": "pets"}],
                        "memories": [{"name": "notes"}, {"name": "prefs"}, {"name": "frozen", "readOnly": True}]}}
    docs = [env, agent("echo", REPO / "examples/agents/echo", "agent.py:handle"),
            agent("probe", probe, "agent.py:handle"), hello, pets, *memories, binding]
    return "\n---\n".join(json.dumps(d) for d in docs)


@pytest.fixture(scope="module")
def deployed(tuna_server: TunaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    pets = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pets)
    threading.Thread(target=pets.serve_forever, daemon=True).start()
    root = tmp_path_factory.mktemp("ctx")
    manifest = root / "app.yaml"
    manifest.write_text(_manifests(root, f"http://127.0.0.1:{pets.server_address[1]}"))
    env = tuna_server.env()
    env.update(TUNA_SERVER=tuna_server.url, TUNA_TOKEN=tuna_server.token)
    applied = subprocess.run([str(tuna_binary()), "apply", "-f", str(manifest)], capture_output=True, text=True,
                             env=env, timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr

    def ready(kind: str, name: str) -> bool:
        status, body = _http(tuna_server, "GET", f"{API}/{kind}/{name}")
        return status == 200 and json.loads(body).get("status", {}).get("phase") == "ProductionDeployed"

    for kind, name in (("agentdeployments", "echo"), ("agentdeployments", "probe"), ("mcpserverdeployments", "hello")):
        wait_for(lambda: ready(kind, name), timeout=120, interval=0.2)

    def probe_env() -> Dict[str, str] | None:
        status, body = _http(tuna_server, "GET", f"{API}/agentdeployments/probe/proxy/production/env")
        return json.loads(body) if status == 200 else None

    worker_env = wait_for(probe_env, timeout=60, interval=0.2)
    try:
        yield Deployed(tuna_server, worker_env, runtime(worker_env))
    finally:
        pets.shutdown()


# ---- the worker's identity ------------------------------------------------------------------------

def test_the_worker_gets_its_identity_and_a_key(deployed: Deployed) -> None:
    env = deployed.env
    assert env["TUNA_GATEWAY_URL"] == deployed.server.url
    assert (env["TUNA_NAMESPACE"], env["TUNA_AGENT"], env["TUNA_STAGE"]) == ("default", "probe", "production")
    assert env["TUNA_REVISION"].startswith("src-")
    assert env["TUNA_API_KEY"].startswith("tuna_")
    rt = deployed.rt
    assert rt.tools_url == f"{deployed.server.url}/mcp/default/agents/probe/production"
    assert env["TUNA_API_KEY"] not in repr(rt)
    # The key is listed for the namespace's admins as the agent's, scope invoke.
    status, body = _http(deployed.server, "GET", f"{API}/apikeys")
    assert status == 200
    mine = [k for k in json.loads(body)["items"] if k["metadata"]["name"].startswith("agent:probe:production:")]
    assert len(mine) == 1 and mine[0]["spec"]["scope"] == "invoke", body


# ---- ctx.tools ------------------------------------------------------------------------------------

def test_tools_lists_and_calls_every_bound_tool(deployed: Deployed) -> None:
    tools = deployed.rt.tools()
    names = {t.name for t in tools.list()}
    assert {"hello__greet", "hello__add", "pets__getPet"} <= names, names
    greet = next(t for t in tools.list() if t.name == "hello__greet")
    assert greet.description == "Say hello" and greet.input_schema["required"] == ["name"]

    assert tools.call("hello__greet", name="Ada").text == "Hello, Ada!"
    assert tools.call("hello__add", {"a": 2}, b=3).text == "5.0"
    pet = tools.call("pets__getPet", petId=7)
    assert json.loads(pet.text) == {"id": 7, "name": "pet-7"}, pet

    # A tool that fails: ToolError from call(), a result from call_tool().
    with pytest.raises(ToolError) as failed:
        tools.call("hello__add", a=1)
    assert failed.value.tool == "hello__add" and "bad arguments" in str(failed.value)
    assert failed.value.result is not None and failed.value.result.is_error
    assert tools.call_tool("hello__add", {"a": 1}).is_error
    # Unknown tools are a protocol error, not a ToolError.
    with pytest.raises(tuna.InvalidArgumentError):
        tools.call("hello__nope")
    assert tools.server_info()["protocolVersion"]
    tools.ping()


def test_tools_resources_and_prompts(deployed: Deployed) -> None:
    tools = deployed.rt.tools()
    # The bound servers have none, so the federated endpoint lists none.
    assert tools.resources() == [] and tools.prompts() == [] and tools.resource_templates() == []
    with pytest.raises(tuna.TunaError):
        tools.read("file:///nope.txt")
    with pytest.raises(tuna.TunaError):
        tools.prompt("hello__nope")
    assert tools.request("tools/list")["tools"]


def test_tools_refuse_a_bad_key_and_another_namespace(deployed: Deployed) -> None:
    rt = deployed.rt
    with Tools(rt.tools_url, "tuna_000000000000_" + "0" * 48) as bad:
        with pytest.raises(tuna.UnauthenticatedError):
            bad.list()
    other = rt.tools_url.replace("/mcp/default/", "/mcp/team-b/")
    with Tools(other, rt.api_key) as foreign:
        with pytest.raises(tuna.PermissionDeniedError):
            foreign.list()
    with pytest.raises(ValueError):
        Tools("ftp://x", rt.api_key)
    with Tools("http://127.0.0.1:1/mcp/default/agents/probe", rt.api_key, connect_timeout=2) as down:
        with pytest.raises(tuna.UnavailableError):
            down.list()


def test_tools_are_shared_by_threads(deployed: Deployed) -> None:
    tools = deployed.rt.tools()
    results: list = []

    def work(i: int) -> None:
        results.append(tools.call("hello__greet", name=f"t{i}").text)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(f"Hello, t{i}!" for i in range(8))


def test_the_official_mcp_client_uses_the_federated_endpoint(deployed: Deployed) -> None:
    """The `mcp` package from PyPI (pinned in scripts/test.sh) over Streamable HTTP with the
    agent's key in an Authorization header."""
    mcp = pytest.importorskip("mcp")
    import anyio
    from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

    rt = deployed.rt

    async def run() -> tuple:
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {rt.api_key}"}) as http:
            async with streamable_http_client(rt.tools_url, http_client=http) as streams:
                async with mcp.ClientSession(streams[0], streams[1]) as session:
                    init = await session.initialize()
                    listed = await session.list_tools()
                    called = await session.call_tool("hello__greet", {"name": "SDK"})
                    failed = await session.call_tool("hello__add", {"a": 1})
                    return init, listed, called, failed

    init, listed, called, failed = anyio.run(run)
    assert init.protocol_version == "2025-11-25" and init.server_info.name
    assert {"hello__greet", "pets__getPet"} <= {t.name for t in listed.tools}
    assert called.content[0].text == "Hello, SDK!" and not called.is_error
    assert failed.is_error


# ---- ctx.memory -----------------------------------------------------------------------------------

def test_conversation_memory(deployed: Deployed) -> None:
    notes = deployed.rt.memory("conv-1")["notes"]
    first = notes.append("user", "hello")
    assert first["seq"] >= 1 and first["role"] == "user" and first["content"] == "hello"
    notes.append("agent", {"parts": [{"text": "hi there"}]}, metadata={"turn": 1})
    notes.append("tool", {"structured": True})
    notes.append("user", [{"text": "a"}, {"text": "b"}])
    history = notes.history()
    assert [e["role"] for e in history] == ["user", "agent", "tool", "user"]
    assert [e["seq"] for e in history] == sorted(e["seq"] for e in history)
    assert history[1]["parts"] == [{"text": "hi there"}] and history[1]["metadata"] == {"turn": 1}
    assert history[2]["parts"] == [{"data": {"structured": True}}]
    assert [e["role"] for e in notes.history(limit=2)] == ["tool", "user"]
    assert notes.history(limit=0) == []
    assert [e["role"] for e in notes.history(after=history[1]["seq"])] == ["tool", "user"]
    # Contexts are separate conversations.
    assert deployed.rt.memory("conv-2")["notes"].history() == []
    assert notes.clear() >= 1
    assert notes.history() == []
    with pytest.raises(tuna.InvalidArgumentError):
        notes.put("k", 1)  # a conversation has no keys


def test_key_value_memory(deployed: Deployed) -> None:
    prefs = deployed.rt.memory("user-42")["prefs"]
    assert prefs.put("lang", {"code": "en"}) >= 1
    assert prefs.get("lang") == {"code": "en"}
    prefs["count"] = 3
    assert prefs["count"] == 3
    prefs.put("blob", b"\x00\xffraw")
    assert prefs.get_bytes("blob") == b"\x00\xffraw" and prefs.get("blob") == b"\x00\xffraw"
    prefs.put("odd key: ünïcode?&", "x")
    assert prefs.get("odd key: ünïcode?&") == "x"
    with pytest.raises(tuna.InvalidArgumentError, match="must not contain '/'"):
        prefs.put("a/b", 1)
    assert sorted(prefs.keys()) == ["blob", "count", "lang", "odd key: ünïcode?&"]
    assert "lang" in prefs and "nope" not in prefs
    assert prefs.get("nope", None) is None
    with pytest.raises(tuna.NotFoundError):
        prefs.get("nope")
    del prefs["lang"]
    assert "lang" not in prefs
    with pytest.raises(tuna.InvalidArgumentError):
        prefs.append("user", "x")  # key-value memory has no entries
    assert prefs.clear() >= 1
    assert prefs.keys() == []


def test_memory_follows_the_binding_and_the_namespace(deployed: Deployed) -> None:
    rt = deployed.rt
    memory = rt.memory("c1")
    with pytest.raises(tuna.PermissionDeniedError):
        memory["unbound"].put("k", 1)  # exists, but the binding does not list it
    with pytest.raises(tuna.PermissionDeniedError):
        memory["frozen"].append("user", "x")  # listed read-only
    assert memory["frozen"].history() == []
    with pytest.raises(tuna.NotFoundError):
        memory["missing"].history()
    foreign = Memory(rt.gateway_url, rt.api_key, "team-b", "probe", "c1")
    with pytest.raises(tuna.PermissionDeniedError):
        foreign["notes"].history()
    with pytest.raises(tuna.UnauthenticatedError):
        Memory(rt.gateway_url, "nope", "default", "probe", "c1")["notes"].history()
    with pytest.raises(ValueError):
        rt.memory("")


# ---- ctx.agents -----------------------------------------------------------------------------------

def test_agents_send_and_continue_a_conversation(deployed: Deployed) -> None:
    agents = deployed.rt.agents()
    reply = agents.send("echo", "hello")
    assert reply.kind == "task" and reply.state == "TASK_STATE_COMPLETED", reply
    assert reply.text == "echo: hello"
    assert reply.status_message["metadata"]["turn"] == 1
    again = agents.send("echo", "more", context_id=reply.context_id)
    assert again.context_id == reply.context_id and again.task_id != reply.task_id
    task = agents.get_task("echo", again.task_id)
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    listed = agents.client("echo").list_tasks(context_id=reply.context_id)
    assert {t["id"] for t in listed["tasks"]} == {reply.task_id, again.task_id}


def test_agents_stream(deployed: Deployed) -> None:
    agents = deployed.rt.agents()
    with agents.stream("echo", "streamed") as events:
        seen = list(events)
    kinds = [next(iter(e)) for e in seen]
    assert "artifactUpdate" in kinds, seen
    assert seen[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    artifact = next(e["artifactUpdate"] for e in seen if "artifactUpdate" in e)
    assert artifact["artifact"]["parts"] == [{"text": "echo: streamed"}]


def test_agents_stream_closed_early_then_subscribe_and_cancel(deployed: Deployed) -> None:
    agents = deployed.rt.agents()
    stream = agents.stream("echo", "wait 20")
    first = stream.next(timeout=20)
    assert first is not None and "task" in first, first
    task_id = first["task"]["id"]
    stream.close()  # stops reading; the task goes on
    assert agents.get_task("echo", task_id)["status"]["state"] in ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")
    with agents.subscribe("echo", task_id) as live:
        assert live.next(timeout=20) is not None
        assert agents.cancel("echo", task_id)["status"]["state"] == "TASK_STATE_CANCELED"
        rest = list(live)
    assert rest == [] or rest[-1].get("statusUpdate", {}).get("status", {}).get("state") == "TASK_STATE_CANCELED", rest


def test_blocking_calls_release_the_gil(deployed: Deployed) -> None:
    agents = deployed.rt.agents()
    done: list = []
    worker = threading.Thread(target=lambda: done.append(agents.send("echo", "wait 1").text))
    start = time.monotonic()
    worker.start()
    spins = 0
    while worker.is_alive() and time.monotonic() - start < 30:
        spins += 1
        time.sleep(0.001)
    worker.join()
    assert done == ["echo: wait 1"]
    # This thread kept running while the other one waited about a second inside C++.
    assert time.monotonic() - start >= 0.9 and spins > 100, spins


def test_agent_card(deployed: Deployed) -> None:
    card = deployed.rt.agents().card("echo")
    assert card["name"] and card["supportedInterfaces"], card
    assert card["supportedInterfaces"][0]["url"].startswith(deployed.server.url + "/a2a/default/echo")


def test_agents_cancel_a_running_task(deployed: Deployed) -> None:
    agents = deployed.rt.agents()
    started = agents.send("echo", "wait 30", blocking=False)
    assert started.task_id
    canceled = agents.cancel("echo", started.task_id)
    assert canceled["status"]["state"] == "TASK_STATE_CANCELED"


def test_agents_errors(deployed: Deployed) -> None:
    rt = deployed.rt
    agents = rt.agents()
    # The gateway's refusals keep their kind (the HTTP status), with the message saying what.
    with pytest.raises(tuna.NotFoundError, match="agent default/no-such-agent not found"):
        agents.send("no-such-agent", "hi")
    with pytest.raises(tuna.NotFoundError):
        agents.get_task("echo", "no-such-task")
    with pytest.raises(tuna.PermissionDeniedError, match="cannot reach namespace team-b"):
        Agents(rt.gateway_url, rt.api_key, "team-b").send("echo", "hi")
    with pytest.raises(ValueError):
        agents.send("echo", "hi", stage="dev")


# ---- inside the worker ----------------------------------------------------------------------------

def test_a_handler_uses_tuna_environ_inside_the_pool(deployed: Deployed) -> None:
    status, body = _http(deployed.server, "POST", f"{API}/agentdeployments/probe/proxy/production/ctx", b"")
    out = json.loads(body)
    if "skip" in out:
        pytest.skip(out["skip"])
    assert status == 200, out
    assert out["agent"] == "probe" and out["stage"] == "production"
    assert out["greet"] == "Hello, worker!"
    assert out["history"] == ["written by the worker"]
    assert out["echo"] == "echo: from probe"
    assert out["same_tools"] is True
