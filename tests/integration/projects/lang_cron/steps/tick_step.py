"""Every second (6-field cron): counts its runs in state and emits its trace id."""
config = {"type": "cron", "name": "PyTick", "cron": "* * * * * *", "emits": ["tick.py"],
          "flows": ["cron"]}


async def handler(context):
    prev = await context.state.get("cron", "py")
    n = (prev["n"] if prev else 0) + 1
    await context.state.set("cron", "py", {"n": n, "traceId": context.trace_id})
    await context.emit({"topic": "tick.py", "data": {"n": n, "traceId": context.trace_id}})
    context.logger.info("py tick", {"n": n})
