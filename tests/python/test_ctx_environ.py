"""tuna.environ, tuna.agents, tuna.tools and tuna.memory without a server: the runtime from the
environment, message and reply shapes, input checks, the compiled clients' bad-input errors and
failures to connect."""

from __future__ import annotations

import pickle

import pytest

import tuna
from tuna import _tuna
from tuna.agents import Agents, Reply, make_message, message_text
from tuna.environ import runtime
from tuna.memory import Memory
from tuna.tools import ToolError, ToolResult, Tools

ENV = {
    "TUNA_GATEWAY_URL": "http://127.0.0.1:7070/",
    "TUNA_API_KEY": "tuna_0123456789ab_" + "c" * 48,
    "TUNA_NAMESPACE": "team-a",
    "TUNA_AGENT": "echo",
    "TUNA_STAGE": "staging",
    "TUNA_REVISION": "src-1234",
}


def test_runtime_from_the_environment() -> None:
    rt = runtime(ENV)
    assert rt.gateway_url == "http://127.0.0.1:7070"
    assert (rt.namespace, rt.agent, rt.stage, rt.revision) == ("team-a", "echo", "staging", "src-1234")
    assert rt.tools_url == "http://127.0.0.1:7070/mcp/team-a/agents/echo/staging"
    assert ENV["TUNA_API_KEY"] not in repr(rt)
    # The same object (and the same shared clients) while the variables stay.
    assert runtime(dict(ENV)) is rt
    assert rt.tools() is rt.tools() and rt.agents() is rt.agents()
    assert rt.tools().url == rt.tools_url
    agents = rt.agents()
    assert agents.namespace == "team-a" and agents.stage == "production"
    assert agents.url("peer") == "http://127.0.0.1:7070/a2a/team-a/peer/production"
    assert agents.url("peer", "staging").endswith("/a2a/team-a/peer/staging")
    memory = rt.memory("ctx 1")
    handle = memory["notes"]
    assert (memory.namespace, memory.agent, memory.context_id) == ("team-a", "echo", "ctx 1")
    assert handle._path == "/memory/team-a/echo/notes/ctx%201"
    assert memory.with_context("other")["notes"].context_id == "other"


def test_shared_clients_are_replaced_when_closed_or_after_a_fork() -> None:
    rt = runtime({**ENV, "TUNA_AGENT": "forky"})
    tools, agents = rt.tools(), rt.agents()
    tools.close()
    assert tools.closed and rt.tools() is not tools and rt.agents() is agents
    # As a forked child sees it: another pid owns the shared clients.
    rt._shared["pid"] = -1
    assert rt.agents() is not agents


def test_runtime_says_what_is_missing() -> None:
    with pytest.raises(tuna.FailedPreconditionError, match="TUNA_API_KEY, TUNA_AGENT are not set"):
        runtime({k: v for k, v in ENV.items() if k not in ("TUNA_API_KEY", "TUNA_AGENT")})
    with pytest.raises(tuna.FailedPreconditionError, match="TUNA_STAGE"):
        runtime({**ENV, "TUNA_STAGE": "dev"})
    with pytest.raises(tuna.FailedPreconditionError, match="TUNA_GATEWAY_URL"):
        runtime({**ENV, "TUNA_GATEWAY_URL": "127.0.0.1:7070"})
    # The revision is optional.
    assert runtime({k: v for k, v in ENV.items() if k != "TUNA_REVISION"}).revision == ""


def test_messages_and_replies() -> None:
    m = make_message("hi", context_id="c1", task_id="t1", metadata={"a": 1})
    assert m["parts"] == [{"text": "hi"}] and m["role"] == "ROLE_USER" and m["messageId"]
    assert (m["contextId"], m["taskId"], m["metadata"]) == ("c1", "t1", {"a": 1})
    given = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"data": {"x": 1}}]}
    assert make_message(given)["messageId"] == "m1" and "contextId" not in given
    assert make_message([{"text": "a"}, {"text": "b"}])["parts"] == [{"text": "a"}, {"text": "b"}]
    with pytest.raises(TypeError):
        make_message(42)  # type: ignore[arg-type]
    assert message_text({"parts": [{"text": "a"}, {"data": {}}, {"text": "b"}]}) == "ab"

    task = Reply._from({"task": {"id": "t", "contextId": "c", "status": {
        "state": "TASK_STATE_COMPLETED", "message": {"parts": [{"text": "done"}]}},
        "artifacts": [{"artifactId": "a", "parts": [{"text": "result"}]}]}})
    assert (task.kind, task.state, task.task_id, task.context_id, task.text) == (
        "task", "TASK_STATE_COMPLETED", "t", "c", "result")
    no_artifacts = Reply._from({"task": {"id": "t", "status": {"state": "TASK_STATE_INPUT_REQUIRED",
                                                               "message": {"parts": [{"text": "which?"}]}}}})
    assert no_artifacts.text == "which?" and no_artifacts.state == "TASK_STATE_INPUT_REQUIRED"
    direct = Reply._from({"message": {"contextId": "c", "parts": [{"text": "hey"}]}})
    assert (direct.kind, direct.state, direct.text, direct.context_id) == ("message", None, "hey", "c")


def test_tool_results_and_errors() -> None:
    r = ToolResult._from({"content": [{"type": "text", "text": "a"}, {"type": "image", "data": ""},
                                      {"type": "text", "text": "b"}], "structuredContent": {"n": 1}})
    assert r.text == "a\nb" and r.value == {"n": 1} and not r.is_error
    err = ToolError("boom", tool="t", result=r)
    assert isinstance(err, tuna.TunaError) and err.code == "tool_error"
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.tool, copy.result) == ("boom", "t", r)


def test_bad_input_is_refused_before_any_network() -> None:
    with pytest.raises(ValueError):
        Tools("not a url")
    with pytest.raises(ValueError):
        Agents("http://x", None, "")
    with pytest.raises(ValueError):
        Agents("http://x", None, "ns", stage="canary")
    with pytest.raises(ValueError):
        Memory("http://x", None, "ns", "agent", "")
    with pytest.raises(tuna.InvalidArgumentError, match="timeout"):
        _tuna.McpClient("http://127.0.0.1:1/mcp", {}, -1.0)
    with pytest.raises(tuna.InvalidArgumentError, match="header"):
        _tuna.McpClient("http://127.0.0.1:1/mcp", {"Bad Header": "x"})
    with pytest.raises(tuna.InvalidArgumentError):
        _tuna.McpClient("ftp://127.0.0.1/mcp")
    with pytest.raises(tuna.InvalidArgumentError, match="version"):
        _tuna.A2aClient("http://127.0.0.1:1/a2a", {}, "9.9", False)
    client = _tuna.A2aClient("http://127.0.0.1:1/a2a/ns/agent", {}, "1.0", False, 5.0, 1.0)
    assert client.version == "1.0" and client.endpoint == "http://127.0.0.1:1/a2a/ns/agent" and client.card is None
    with pytest.raises(tuna.InvalidArgumentError, match="message"):
        client.send({"parts": "not a list"})
    with pytest.raises(tuna.InvalidArgumentError, match="status"):
        client.list_tasks(status="sleepy")


def test_unreachable_endpoints_are_unavailable() -> None:
    tools = Tools("http://127.0.0.1:1/mcp/ns/agents/a", "k", connect_timeout=2)
    assert not tools._client.initialized
    with pytest.raises(tuna.UnavailableError):
        tools.list()
    tools.close()
    with pytest.raises(tuna.CancelledError):
        tools.list()
    agents = Agents("http://127.0.0.1:1", "k", "ns", connect_timeout=2)
    with pytest.raises(tuna.UnavailableError):
        agents.send("a", "hi")
    stream = agents.stream("a", "hi")
    with pytest.raises(tuna.UnavailableError):
        list(stream)
    with pytest.raises(tuna.UnavailableError):
        Memory("http://127.0.0.1:1", "k", "ns", "a", "c")["m"].history()
