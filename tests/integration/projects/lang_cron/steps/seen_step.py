"""Records each JS tick in Python, keyed by the tick's trace id (cron → event across languages)."""
config = {"type": "event", "name": "SeenJs", "subscribes": ["tick.js"], "emits": [], "flows": ["cron"]}


async def handler(data, context):
    await context.state.set("seen-js", context.trace_id, {"n": data["n"], "sameTrace": data["traceId"] == context.trace_id})
