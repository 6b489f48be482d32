"""tests/interop/a2a/gateway_client.mjs's agent, written with tuna.a2a (the same behaviour as
examples/agents/echo): "echo: <text>" as an artifact and the final status message; "wait N"
works N seconds first, so it can be cancelled."""

import asyncio

from tuna.a2a import Agent, Skill

agent = Agent(name="js-echo", description="Echo for the @a2a-js/sdk interop test",
              skills=[Skill(id="echo", name="Echo", description="Echoes")])


@agent.handler
async def handle(ctx, message):
    text = message.text
    yield ctx.working()
    if text.startswith("wait "):
        await asyncio.sleep(min(60.0, float(text.split()[1])))
    reply = f"echo: {text}"
    yield ctx.artifact("echo", text=reply)
    yield ctx.complete(reply)
