"""tuna.a2a's runtime: every handler kind, task states, cancellation, failures, multi-turn, logging.

Each behaviour is checked twice where it matters: with Agent.invoke (the recording sink, no
server) and through tuna's C++ A2A server in process (Server.handle: JSON-RPC in, JSON out, the
same executor path as HTTP)."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time

import pytest

import tuna
from tuna.a2a import (Agent, Artifact, ArtifactUpdate, Context, Logger, Message, Part, Server, Skill,
                      StatusUpdate, TaskState)


def send(text, method="SendMessage", task=None, context=None, blocking=True, rid=1):
    message = {"messageId": f"m-{time.monotonic_ns()}", "role": "ROLE_USER", "parts": [{"text": text}]}
    if task:
        message["taskId"] = task
    if context:
        message["contextId"] = context
    params = {"message": message}
    if not blocking:
        params["configuration"] = {"returnImmediately": True}
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


def rpc(method, **params):
    return {"jsonrpc": "2.0", "id": 9, "method": method, "params": params}


def states(events):
    return [e.state.value for e in events if isinstance(e, StatusUpdate)]


# ---- handler kinds ---------------------------------------------------------------------------


def test_handler_kinds_are_recognised():
    a = Agent(name="a")

    @a.handler
    def f(ctx, m):
        return "x"
    assert a.kind == "sync"

    @a.handler
    def g(ctx, m):
        yield "x"
    assert a.kind == "generator"

    @a.handler
    async def h(ctx, m):
        return "x"
    assert a.kind == "async" and a.is_async

    @a.handler
    async def i(ctx, m):
        yield "x"
    assert a.kind == "async-generator"

    class Callable:
        async def __call__(self, ctx, m):
            return "x"
    a.handler(Callable())
    assert a.kind == "async"


def test_plain_function_returning_a_string_answers_with_a_message():
    a = Agent(name="echo")
    a.handler(lambda ctx, m: "echo: " + m.text)
    [reply] = a.invoke("hi")
    assert isinstance(reply, Message) and reply.text == "echo: hi" and reply.role == "agent"
    with Server(a) as server:
        r = server.handle(send("hi"))
        msg = r["result"]["message"]
        assert msg["role"] == "ROLE_AGENT" and msg["parts"] == [{"text": "echo: hi"}]


def test_returned_message_artifact_and_event():
    a = Agent(name="a")

    @a.handler
    def handle(ctx, m):
        if m.text == "msg":
            return Message([Part(text="t"), Part(data={"k": [1, 2]})], metadata={"x": 1})
        if m.text == "artifact":
            return Artifact([Part(text="body")], name="doc")
        return ctx.input_required("why?")

    with Server(a) as server:
        msg = server.handle(send("msg"))["result"]["message"]
        assert msg["parts"] == [{"text": "t"}, {"data": {"k": [1, 2]}}] and msg["metadata"] == {"x": 1}
        task = server.handle(send("artifact"))["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        assert task["artifacts"][0]["name"] == "doc" and task["artifacts"][0]["parts"] == [{"text": "body"}]
        task = server.handle(send("other"))["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
        assert task["status"]["message"]["parts"] == [{"text": "why?"}]


def _streaming_agent(kind):
    a = Agent(name="s")
    if kind == "generator":
        @a.handler
        def gen(ctx, m):
            yield ctx.status("working", "thinking")
            for i in range(3):
                yield ctx.artifact("answer", text=f"c{i}", append=i > 0, last_chunk=i == 2)
            return ctx.complete("done")
    else:
        @a.handler
        async def agen(ctx, m):
            yield ctx.status("working", "thinking")
            for i in range(3):
                await asyncio.sleep(0)
                yield ctx.artifact("answer", text=f"c{i}", append=i > 0, last_chunk=i == 2)
            yield ctx.complete("done")
    return a


@pytest.mark.parametrize("kind", ["generator", "async-generator"])
def test_generators_stream_status_and_artifact_chunks(kind):
    a = _streaming_agent(kind)
    events = a.invoke("go")
    assert states(events) == ["working", "completed"]
    chunks = [e for e in events if isinstance(e, ArtifactUpdate)]
    assert [(c.artifact.text, c.append, c.last_chunk) for c in chunks] == [("c0", False, False), ("c1", True, False),
                                                                          ("c2", True, True)]
    with Server(a) as server:
        stream = server.handle(send("go", "SendStreamingMessage"))
        kinds = [next(iter(e["result"])) for e in stream]
        assert kinds == ["task", "statusUpdate", "artifactUpdate", "artifactUpdate", "artifactUpdate", "statusUpdate"]
        assert stream[-1]["result"]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
        task_id = stream[0]["result"]["task"]["id"]
        task = server.handle(rpc("GetTask", id=task_id))["result"]
        assert task["artifacts"][0]["parts"] == [{"text": "c0"}, {"text": "c1"}, {"text": "c2"}]
        # 0.3 clients get the same events in their shapes.
        old = server.handle({"jsonrpc": "2.0", "id": 3, "method": "message/stream", "params": {"message": {
            "messageId": "m03", "role": "user", "kind": "message", "parts": [{"kind": "text", "text": "go"}]}}})
        assert [e["result"]["kind"] for e in old][-1] == "status-update"
        assert old[-1]["result"]["final"] is True and old[-1]["result"]["status"]["state"] == "completed"


def test_yielded_strings_are_progress_and_a_plain_return_completes():
    a = Agent(name="a")

    @a.handler
    def gen(ctx, m):
        yield "reading"
        yield "thinking"

    events = a.invoke("x")
    assert states(events) == ["working", "working", "completed"]
    assert [e.message.text for e in events[:2]] == ["reading", "thinking"]
    with Server(a) as server:
        task = server.handle(send("x"))["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"


def test_async_function_with_publish():
    a = Agent(name="a")

    @a.handler
    async def handle(ctx: Context, m: Message):
        ctx.publish(ctx.working("step 1"))
        await asyncio.sleep(0.01)
        ctx.publish(ctx.artifact("out", data={"n": 1}))
        return ctx.complete("ok")

    events = a.invoke("x")
    assert states(events) == ["working", "completed"]
    with Server(a) as server:
        task = server.handle(send("x"))["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        assert task["artifacts"][0]["parts"] == [{"data": {"n": 1}}]


def test_a_handler_that_yields_nonsense_fails_the_task():
    a = Agent(name="a")
    a.handler(lambda ctx, m: 42)
    with Server(a) as server:
        task = server.handle(send("x"))["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_FAILED"
        assert "TypeError" in task["status"]["message"]["parts"][0]["text"]


# ---- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_raising_handler_fails_the_task_with_its_message_and_logs_the_traceback(kind, capfd):
    a = Agent(name="boom")
    if kind == "sync":
        @a.handler
        def handle(ctx, m):
            raise ValueError("the input is wrong")
    else:
        @a.handler
        async def handle(ctx, m):
            await asyncio.sleep(0)
            raise ValueError("the input is wrong")
    with Server(a) as server:
        task = server.handle(send("x"))["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    text = task["status"]["message"]["parts"][0]["text"]
    assert text == "ValueError: the input is wrong"
    assert "Traceback" not in json.dumps(task)  # no traceback leaks to the client ...
    err = capfd.readouterr().err
    line = next(json.loads(l) for l in err.splitlines() if '"handler raised"' in l)
    assert line["level"] == "error" and line["task_id"] == task["id"] and line["agent"] == "boom"
    assert "Traceback" in line["traceback"] and "the input is wrong" in line["traceback"]  # ... it goes to the log


def test_async_handler_past_its_timeout_fails_with_timeout():
    a = Agent(name="slow", timeout=0.3)

    @a.handler
    async def handle(ctx, m):
        await asyncio.sleep(30)

    with Server(a) as server:
        started = time.monotonic()
        task = server.handle(send("x"))["result"]["task"]
    assert time.monotonic() - started < 5
    assert task["status"]["state"] == "TASK_STATE_FAILED"
    assert "did not finish within 0.3 s" in task["status"]["message"]["parts"][0]["text"]


def test_sync_generator_past_its_timeout_stops():
    a = Agent(name="slow", timeout=0.2)

    @a.handler
    def handle(ctx, m):
        while True:
            time.sleep(0.05)
            yield "tick"

    events = a.invoke("x")
    assert events[-1].state == TaskState.FAILED and "did not finish" in events[-1].message.text


def test_no_handler():
    with pytest.raises(ValueError, match="no handler"):
        Server(Agent(name="x"))


# ---- cancellation ----------------------------------------------------------------------------


def test_cancel_reaches_an_async_handler_as_cancelled_error():
    a = Agent(name="c")
    seen = threading.Event()
    started = threading.Event()

    @a.handler
    async def handle(ctx, m):
        yield ctx.working("waiting")
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.set()
            raise

    with Server(a) as server:
        task = server.handle(send("x", blocking=False))["result"]["task"]
        assert started.wait(5)
        canceled = server.handle(rpc("CancelTask", id=task["id"]))["result"]
        assert canceled["status"]["state"] == "TASK_STATE_CANCELED"
        assert seen.wait(5), "the coroutine was not cancelled"
        again = server.handle(rpc("CancelTask", id=task["id"]))
        assert again["error"]["code"] == -32002


def test_cancel_reaches_a_sync_handler_through_ctx_cancelled():
    a = Agent(name="c", timeout=None)
    seen = threading.Event()
    started = threading.Event()

    @a.handler
    def handle(ctx, m):
        ctx.publish(ctx.working("looping"))
        started.set()
        try:
            while True:
                ctx.check_cancelled()
                time.sleep(0.01)
        except tuna.CancelledError:
            seen.set()
            raise

    with Server(a) as server:
        task = server.handle(send("x", blocking=False))["result"]["task"]
        assert started.wait(5)
        assert server.handle(rpc("CancelTask", id=task["id"]))["result"]["status"]["state"] == "TASK_STATE_CANCELED"
        assert seen.wait(5)
        assert server.handle(rpc("GetTask", id=task["id"]))["result"]["status"]["state"] == "TASK_STATE_CANCELED"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_invoke_cancel_after(kind):
    a = Agent(name="c")
    if kind == "sync":
        @a.handler
        def handle(ctx, m):
            yield "start"
            while not ctx.cancelled:
                time.sleep(0.01)
    else:
        @a.handler
        async def handle(ctx, m):
            yield "start"
            await asyncio.sleep(30)
    events = a.invoke("x", cancel_after=0.1)
    assert states(events) == ["working", "canceled"]


# ---- multi-turn, context, ids ---------------------------------------------------------------


def test_multi_turn_context_history_and_task_state():
    a = Agent(name="greeter")
    seen = []

    @a.handler
    def handle(ctx, m):
        seen.append((ctx.task_id, ctx.context_id, ctx.task_state, [h.text for h in ctx.history]))
        if ctx.task_state == TaskState.INPUT_REQUIRED:
            return ctx.complete(f"hello {m.text}")
        return ctx.input_required("what is your name?")

    with Server(a) as server:
        first = server.handle(send("hi"))["result"]["task"]
        assert first["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
        second = server.handle(send("Ada", task=first["id"], context=first["contextId"]))["result"]["task"]
        assert second["status"]["state"] == "TASK_STATE_COMPLETED"
        assert second["status"]["message"]["parts"] == [{"text": "hello Ada"}]
        # A new task in the same conversation.
        third = server.handle(send("again", context=first["contextId"]))["result"]["task"]
        assert third["contextId"] == first["contextId"] and third["id"] != first["id"]
    assert seen[0][0] == first["id"] and seen[0][1] == first["contextId"] and seen[0][2] is None and seen[0][3] == []
    assert seen[1][0] == first["id"] and seen[1][2] == TaskState.INPUT_REQUIRED
    assert seen[1][3] == ["hi", "what is your name?"]
    assert seen[2][1] == first["contextId"] and seen[2][2] is None


def test_message_parts_metadata_reach_the_handler():
    a = Agent(name="p")
    got = {}

    @a.handler
    def handle(ctx, m):
        got["parts"] = [(p.kind, p.text, p.raw, p.url, p.data, p.media_type, p.filename) for p in m.parts]
        got["metadata"] = ctx.metadata
        got["role"] = m.role
        return "ok"

    with Server(a) as server:
        r = server.handle({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {
            "metadata": {"trace": "t1"},
            "message": {"messageId": "m", "role": "ROLE_USER", "parts": [
                {"text": "a"}, {"raw": "aGk=", "mediaType": "application/octet-stream", "filename": "f.bin"},
                {"url": "https://example.com/x.png", "mediaType": "image/png"}, {"data": {"k": True}}]}}})
        assert "message" in r["result"]
    assert got["parts"] == [("text", "a", None, None, None, "", ""),
                            ("raw", None, b"hi", None, None, "application/octet-stream", "f.bin"),
                            ("url", None, None, "https://example.com/x.png", None, "image/png", ""),
                            ("data", None, None, None, {"k": True}, "", "")]
    assert got["metadata"] == {"trace": "t1"} and got["role"] == "user"


# ---- card, logging, types, environ -------------------------------------------------------------


def test_agent_card_from_the_declaration():
    a = Agent(name="echo", description="Echoes", version="2.1.0",
              skills=[Skill(id="echo", name="Echo", description="Echoes text", tags=["t"], examples=["hi"])],
              default_output_modes=["text/plain", "application/json"])
    a.handler(lambda ctx, m: "x")
    with Server(a) as server:
        card = server.card()
    assert card["name"] == "echo" and card["description"] == "Echoes" and card["version"] == "2.1.0"
    assert card["skills"][0]["id"] == "echo" and card["skills"][0]["examples"] == ["hi"]
    assert card["capabilities"]["streaming"] is True
    assert card["defaultOutputModes"] == ["text/plain", "application/json"]
    assert {i["protocolVersion"] for i in card["supportedInterfaces"]} == {"1.0", "0.3"}
    assert all(i["url"] == server.url for i in card["supportedInterfaces"])


def test_structured_logging_writes_json_lines():
    out = io.StringIO()
    log = Logger({"agent": "a"}, stream=out, level=10).bind(task_id="t")
    log.info("fetched", url="https://x", ms=12, obj=object())
    log.debug("detail")
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("failed")
    lines = [json.loads(l) for l in out.getvalue().splitlines()]
    assert lines[0]["msg"] == "fetched" and lines[0]["level"] == "info" and lines[0]["agent"] == "a"
    assert lines[0]["task_id"] == "t" and lines[0]["ms"] == 12 and lines[0]["obj"].startswith("<object")
    assert lines[0]["ts"].endswith("Z")
    assert lines[1]["level"] == "debug"
    assert lines[2]["error"] == "KeyError: 'k'" and "Traceback" in lines[2]["traceback"]
    quiet = io.StringIO()
    Logger(stream=quiet, level=30).info("hidden")
    assert quiet.getvalue() == ""


def test_task_state_spellings_and_part_rules():
    assert TaskState("TASK_STATE_INPUT_REQUIRED") is TaskState.INPUT_REQUIRED
    assert TaskState("input-required") is TaskState.INPUT_REQUIRED
    assert TaskState("cancelled") is TaskState.CANCELED
    assert TaskState.COMPLETED.terminal and TaskState.INPUT_REQUIRED.interrupted
    with pytest.raises(ValueError):
        TaskState("sleeping")
    with pytest.raises(ValueError):
        Part(text="a", data={"b": 1})
    assert Message.of("hi").text == "hi"


def test_context_memory_tools_agents_come_from_tuna_environ(monkeypatch):
    a = Agent(name="a")
    seen = {}

    @a.handler
    def handle(ctx, m):
        try:
            ctx.memory
        except tuna.TunaError as e:  # not a deployed worker: tuna.environ says what is missing
            seen["outside"] = e
            return "outside"
        seen["memory"] = ctx.memory
        seen["same"] = ctx.memory is ctx.memory and ctx.tools is ctx.tools and ctx.agents is ctx.agents
        seen["tools"], seen["agents"] = ctx.tools, ctx.agents
        return "inside"

    for name in ("TUNA_GATEWAY_URL", "TUNA_API_KEY", "TUNA_NAMESPACE", "TUNA_AGENT", "TUNA_STAGE"):
        monkeypatch.delenv(name, raising=False)
    a.invoke("x", context_id="conv-1")
    assert isinstance(seen["outside"], tuna.FailedPreconditionError) and "TUNA_GATEWAY_URL" in str(seen["outside"])

    environ = pytest.importorskip("tuna.environ")
    monkeypatch.setenv("TUNA_GATEWAY_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("TUNA_API_KEY", "k")
    monkeypatch.setenv("TUNA_NAMESPACE", "team")
    monkeypatch.setenv("TUNA_AGENT", "a")
    monkeypatch.setenv("TUNA_STAGE", "staging")
    a.invoke("x", context_id="conv-1")
    rt = environ.runtime()
    assert seen["memory"].context_id == "conv-1" and seen["memory"].agent == "a" and seen["same"]
    assert seen["tools"] is rt.tools() and seen["agents"] is rt.agents()


def test_a_published_event_after_the_handler_returned_is_refused():
    a = Agent(name="a")
    kept = []

    @a.handler
    def handle(ctx, m):
        kept.append(ctx)
        return "ok"

    with Server(a) as server:
        server.handle(send("x"))
        with pytest.raises(tuna.FailedPreconditionError, match="has returned"):
            kept[0].publish(kept[0].working("late"))


def test_many_concurrent_async_tasks_share_one_loop():
    a = Agent(name="a")
    threads = set()

    @a.handler
    async def handle(ctx, m):
        threads.add(threading.get_ident())
        await asyncio.sleep(0.2)
        return "done " + m.text

    with Server(a, max_concurrent_tasks=32) as server:
        started = time.monotonic()
        results = []
        workers = [threading.Thread(target=lambda i=i: results.append(server.handle(send(str(i))))) for i in range(20)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - started
    assert len(results) == 20 and all("message" in r["result"] for r in results)
    assert len(threads) == 1  # one event loop thread
    assert elapsed < 2.0  # concurrent, not 20 x 0.2 s


def test_stored_tasks_are_bounded_and_the_oldest_are_forgotten():
    a = Agent(name="bounded")

    @a.handler
    def handle(ctx, m):
        yield ctx.complete("done " + m.text)

    with pytest.raises(ValueError, match="max_stored_tasks"):
        Server(a, max_stored_tasks=0)
    with Server(a, max_stored_tasks=32) as server:
        ids = [server.handle(send(str(i)))["result"]["task"]["id"] for i in range(400)]
        newest = server.handle(rpc("GetTask", id=ids[-1]))
        assert newest["result"]["status"]["state"] == "TASK_STATE_COMPLETED", newest
        oldest = server.handle(rpc("GetTask", id=ids[0]))
        assert oldest["error"]["code"] == -32001, oldest  # TaskNotFound: forgotten like an expired task
        listed = server.handle(rpc("ListTasks", pageSize=100))["result"]
        assert 16 <= listed["totalSize"] <= 48, listed["totalSize"]
