import os
import time

config = {"type": "event", "name": "FaultsPy", "emits": [],
          "subscribes": ["fault.pycrash", "fault.pyhang", "fault.pythrows"]}


async def handler(input, context):
    if context.attempt == 1:
        if input["kind"] == "pycrash":
            os._exit(3)
        if input["kind"] == "pyhang":
            time.sleep(100)
        if input["kind"] == "pythrows":
            raise ValueError("py-boom-" + input["id"])
    await context.state.set("done", input["id"], {"attempt": context.attempt, "kind": input["kind"]})
