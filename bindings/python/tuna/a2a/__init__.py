"""tuna.a2a: write an A2A agent in a few lines; tuna's C++ core speaks the protocol.

    from tuna.a2a import Agent, Skill

    agent = Agent(name="echo", description="Repeats what you say",
                  skills=[Skill(id="echo", name="Echo", description="Echoes text")])

    @agent.handler
    async def handle(ctx, message):
        yield ctx.status("working", "thinking")
        yield ctx.artifact("answer", text="echo: " + message.text)
        yield ctx.complete("done")

Run it standalone with the C++ A2A server: ``python -m tuna.a2a serve module:agent --port 8000``;
on tuna's pool, an AgentEnvironment whose workerCommand is ``python3 -m tuna.a2a worker`` runs it
behind the gateway. See docs/python.md.
"""

from __future__ import annotations

from .agent import Agent, Context, Handler
from .log import Logger
from .server import Server, serve
from .types import (Artifact, ArtifactUpdate, Event, Message, Part, Provider, Skill, StatusUpdate,
                    TaskState)

__all__ = ["Agent", "Context", "Handler", "Logger", "Server", "serve", "Artifact", "ArtifactUpdate",
           "Event", "Message", "Part", "Provider", "Skill", "StatusUpdate", "TaskState"]
