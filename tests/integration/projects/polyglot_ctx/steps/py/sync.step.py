config = {"type": "api", "name": "PySync", "path": "/py/sync", "method": "GET", "emits": []}


def handler(req, context):
    return {"status": 200, "body": {"sync": True, "q": req["queryParams"].get("x")}}
