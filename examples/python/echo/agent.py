"""The echo agent, written with tuna.a2a.

Standalone (tuna's C++ A2A server):  python -m tuna.a2a serve agent:agent --port 8000
On the pool: `git push` this directory (tuna.yaml) after creating ../environment.yaml.
"""

from tuna.a2a import Agent, Context, Message, Skill

agent = Agent(
    name="echo",
    description="Repeats what you say.",
    skills=[Skill(id="echo", name="Echo", description="Answers with the text it was sent.",
                  tags=["text", "demo"], examples=["Say hello"])],
)


@agent.handler
def handle(ctx: Context, message: Message) -> str:
    ctx.log.info("echoing", chars=len(message.text))
    return f"echo: {message.text}"
