"""An agent that uses tools through its AgentResourceBinding, written with tuna.a2a: ctx.tools is
an MCP client on the agent's federated gateway endpoint (/mcp/<ns>/agents/<agent>/<stage>), so it
sees exactly the tools the binding allows, named "<binding>__<tool>":

  "add 2 3"   -> hello__add        (the stdio MCP server examples/mcp/hello, on the pool)
  "pet 7"     -> petstore__getPetById (the HTTP tool examples/manifests/http-tool-deployment.yaml)
  "tools"     -> the list of tools the binding allows

A tool that fails comes back as an error the handler can read (tuna.tools.ToolError).
"""

from tuna.a2a import Agent, Context, Message, Skill
from tuna.tools import ToolError

agent = Agent(
    name="tools",
    description="Adds numbers and looks up pets with the tools its binding allows.",
    skills=[Skill(id="add", name="Add", description="add A B", examples=["add 2 3"]),
            Skill(id="pet", name="Pet", description="pet ID", examples=["pet 7"]),
            Skill(id="tools", name="Tools", description="lists the tools it may use", examples=["tools"])],
)


@agent.handler
def handle(ctx: Context, message: Message):
    words = message.text.split()
    if not words or words[0] == "tools":
        names = sorted(tool.name for tool in ctx.tools.list())
        yield ctx.complete("I may use: " + ", ".join(names))
        return
    yield ctx.status("working", f"calling a tool for: {message.text}")
    try:
        if words[0] == "add" and len(words) == 3:
            result = ctx.tools.call("hello__add", a=float(words[1]), b=float(words[2]))
        elif words[0] == "pet" and len(words) == 2:
            result = ctx.tools.call("petstore__getPetById", petId=int(words[1]))
        else:
            yield ctx.input_required("say 'add A B', 'pet ID' or 'tools'")
            return
    except ToolError as e:
        ctx.log.warning("tool failed", tool=e.tool, error=str(e))
        yield ctx.fail(f"the tool {e.tool} failed: {e}")
        return
    ctx.log.info("tool answered", request=message.text)
    yield ctx.artifact("result", text=result.text)
    yield ctx.complete(result.text)
