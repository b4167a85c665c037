"""Every context call from Python, answered with what each returned."""
config = {
    "type": "api", "name": "PyCtx", "path": "/py/ctx/:group", "method": "POST",
    "emits": ["py.ping"], "flows": ["ctx"],
}


async def handler(req, context):
    g = req["pathParams"]["group"]
    out = {}
    out["setReturned"] = await context.state.set(g, "a", {"n": 1})
    await context.state.set(g, "b", {"n": 2})
    out["get"] = await context.state.get(g, "a")
    out["missing"] = await context.state.get(g, "nope")
    out["group"] = await context.state.get_group(g)
    await context.state.delete(g, "a")
    out["afterDelete"] = await context.state.get(g, "a")
    await context.state.clear(g)
    out["afterClear"] = await context.state.get_group(g)
    await context.emit({"topic": "py.ping", "data": {"from": "py", "group": g}})
    try:
        await context.emit({"topic": "undeclared.topic", "data": {}})
        out["undeclared"] = "allowed"
    except Exception as e:
        out["undeclared"] = str(e)
    context.logger.info("py ctx done", {"group": g})
    out["traceId"] = context.trace_id
    out["req"] = {"query": req["queryParams"], "header": req["headers"].get("x-custom"),
                  "rawBody": req["rawBody"], "body": req["body"]}
    return {"status": 201, "body": out, "headers": {"x-step": "PyCtx"}}
