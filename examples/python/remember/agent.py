"""An agent that remembers a conversation, written with tuna.a2a: every message of a context
(an A2A contextId) goes into the AgentMemory "history" (ctx.memory, through the gateway), and the
answer recalls what was said before in that conversation.

Needs the AgentMemory (memory.yaml) and, on the pool, the binding tuna.yaml declares.
"""

from tuna.a2a import Agent, Context, Message, Skill

agent = Agent(
    name="remember",
    description="Remembers what you told it in this conversation.",
    skills=[Skill(id="recall", name="Recall", description="Answers with what you said before.")],
)


@agent.handler
def handle(ctx: Context, message: Message) -> str:
    notes = ctx.memory["history"]  # this conversation's entries (context_id)
    before = [entry.get("content", "") for entry in notes.history(limit=20) if entry.get("role") == "user"]
    notes.append("user", message.text)
    ctx.log.info("remembered", context_id=ctx.context_id, earlier=len(before))
    if not before:
        return f"nice to meet you; I will remember: {message.text}"
    return f"you told me before: {'; '.join(before)}"
