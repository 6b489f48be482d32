"""The agent the interop tests run, standalone (`python -m tuna.a2a serve`) and on the pool.

    "stream N D"  N artifact chunks, D seconds apart, after a working status; then completed
    "wait"        works for a minute; logs "handler cancelled: <task id>" when cancelled
    "boom"        raises RuntimeError
    "hang"        blocks its event loop (time.sleep) far past its deadline
    "leak"        allocates memory until the environment's limit stops it
    "ask"         input-required; the answer completes the task with the turn count
    anything else a direct answer "echo: <text>" (a completed task on the pool)
"""

import asyncio
import os
import time

from tuna.a2a import Agent, Skill, TaskState

agent = Agent(
    name="interop",
    description="tuna.a2a interop test agent",
    skills=[Skill(id="echo", name="Echo", description="Echoes", tags=["test"])],
    timeout=float(os.environ.get("AGENT_TIMEOUT", "60")),
)


@agent.handler
async def handle(ctx, message):
    text = message.text
    if ctx.task_state == TaskState.INPUT_REQUIRED:
        yield ctx.complete(f"hello {text} (turn {1 + sum(1 for m in ctx.history if m.role == 'user')})")
        return
    if text.startswith("stream"):
        _, n, delay = text.split()
        yield ctx.status("working", "starting")
        for i in range(int(n)):
            await asyncio.sleep(float(delay))
            yield ctx.artifact("count", text=str(i), append=i > 0, last_chunk=i == int(n) - 1)
        yield ctx.complete("counted")
    elif text == "wait":
        yield ctx.status("working", "waiting")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            ctx.log.info(f"handler cancelled: {ctx.task_id}")
            raise
        yield ctx.complete("waited")
    elif text == "boom":
        raise RuntimeError("the model is on fire")
    elif text == "hang":
        yield ctx.status("working", "hanging")
        time.sleep(3600)
    elif text == "leak":
        yield ctx.status("working", "allocating")
        hog = []
        while True:
            hog.append(bytearray(16 << 20))
    elif text == "ask":
        yield ctx.input_required("what is your name?")
    else:
        yield ctx.reply(f"echo: {text} [{os.environ.get('TUNA_STAGE', 'standalone')}]")
