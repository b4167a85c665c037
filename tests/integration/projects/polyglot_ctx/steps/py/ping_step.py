config = {"type": "event", "name": "PyPing", "subscribes": ["js.ping", "py.ping"], "emits": []}


def handler(input, context):
    # a plain def works too; the state call is sent at once even without await
    context.state.set("pings", "py-got-" + input["from"], {"input": input, "traceId": context.trace_id})
