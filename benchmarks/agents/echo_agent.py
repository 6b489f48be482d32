"""The benchmark's Python echo agent: the same three events as the C++ one
(examples/cpp/a2a_echo_agent.cpp): working, an artifact with the text, completed with "echo: <text>".
"""

from tuna.a2a import Agent, Skill

agent = Agent(name="echo", description="Echoes what you say.",
              skills=[Skill(id="echo", name="Echo", description="Repeats the text")])


@agent.handler
def handle(ctx, message):
    yield ctx.status("working")
    yield ctx.artifact("echo", text=message.text)
    yield ctx.complete("echo: " + message.text)
