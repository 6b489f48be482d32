"""A streaming agent, written with tuna.a2a: status updates, an artifact streamed in chunks, a
question back to the user (multi-turn), and cancellation.

    "count 5"     counts to 5, one chunk of the "count" artifact every 0.2 s, then completes
    "ask"         asks for a name (input-required); the answer completes the task
    anything else the words of the message, streamed back one by one

Standalone:  python -m tuna.a2a serve agent:agent --port 8000
On the pool: `git push` this directory (tuna.yaml) after creating ../environment.yaml.
"""

import asyncio
from typing import AsyncIterator

from tuna.a2a import Agent, Context, Event, Message, Skill, TaskState

agent = Agent(
    name="streaming",
    description="Streams its answers: counts, spells out words, asks questions.",
    skills=[
        Skill(id="count", name="Count", description="Counts to N, one number at a time.", examples=["count 5"]),
        Skill(id="words", name="Words", description="Streams the words of the message back."),
    ],
    timeout=120,
)


@agent.handler
async def handle(ctx: Context, message: Message) -> AsyncIterator[Event]:
    text = message.text.strip()
    if ctx.task_state == TaskState.INPUT_REQUIRED:  # the user answered our question
        yield ctx.complete(f"nice to meet you, {text}")
        return
    if text == "ask":
        yield ctx.input_required("what is your name?")
        return
    yield ctx.status("working", "thinking")
    if text.startswith("count"):
        n = int(text.split()[1]) if len(text.split()) > 1 else 3
        try:
            for i in range(1, n + 1):
                await asyncio.sleep(0.2)
                yield ctx.artifact("count", text=f"{i}\n", append=i > 1, last_chunk=i == n)
        except asyncio.CancelledError:
            ctx.log.info("count cancelled", reached=i)
            raise
        yield ctx.complete(f"counted to {n}")
        return
    words = text.split()
    for i, word in enumerate(words):
        yield ctx.artifact("words", text=word + " ", append=i > 0, last_chunk=i == len(words) - 1)
        await asyncio.sleep(0.05)
    yield ctx.complete(f"{len(words)} words")
