"""stepd python runner: loads a project's Python steps (Motia's shape: module-level ``config``
and ``handler``, async or plain) and runs their handlers for the stepd core, speaking the
newline-delimited JSON protocol of docs/protocol.md on stdin/stdout. Many invocations run at
once on one asyncio loop; messages produced in the same loop iteration go out in one write.
Standard library only.

    python3 runner.py        (started by stepd; working directory = the project)
"""
import asyncio
import importlib
import inspect
import json
import os
import sys
import traceback
import types

# The protocol owns fd 1; anything else that writes to stdout (print, C extensions) lands on
# stderr.
PROTO_FD = os.dup(1)
os.dup2(2, 1)
sys.stdout = sys.stderr

_loop = None
_outq = []
_flush_scheduled = False
_steps = {}
_generation = 0
_calls = {}
_call_seq = 0
_load_lock = None


def _default(v):
    if isinstance(v, (set, tuple)):
        return list(v)
    if hasattr(v, "model_dump"):  # pydantic v2
        return v.model_dump()
    if hasattr(v, "dict"):
        return v.dict()
    return str(v)


def _flush():
    global _flush_scheduled, _outq
    _flush_scheduled = False
    if not _outq:
        return
    data = ("\n".join(_outq) + "\n").encode()
    _outq = []
    view = memoryview(data)
    while view:
        n = os.write(PROTO_FD, view)
        view = view[n:]


# one encoder for every message (json.dumps with options builds a new one per call)
_encode = json.JSONEncoder(separators=(",", ":"), default=_default).encode


def send(msg):
    try:
        line = _encode(msg)
    except (TypeError, ValueError) as e:
        line = json.dumps({"t": "result", "id": msg.get("id", 0), "ok": False,
                           "error": {"message": "value is not JSON-serialisable: %s" % e}})
    _send_line(line)


def _send_line(line):
    global _flush_scheduled
    _outq.append(line)
    if not _flush_scheduled:
        _flush_scheduled = True
        _loop.call_soon(_flush)


# ---- steps ------------------------------------------------------------------------------------

def _config_json(c):
    out = {}
    for k, v in c.items():
        if k == "middleware":
            out[k] = [getattr(f, "__name__", "middleware") for f in (v or [])]
        elif hasattr(v, "model_json_schema"):  # a pydantic model: validate here
            out[k + "Validator"] = "pydantic"
        elif callable(v):
            continue
        else:
            try:
                json.dumps(v, default=_default)
                out[k] = json.loads(json.dumps(v, default=_default))
            except (TypeError, ValueError):
                continue
    return out


def _error_line(e, path):
    if isinstance(e, SyntaxError) and e.filename and os.path.abspath(e.filename) == path:
        return e.lineno or 0
    line = 0
    for fr in traceback.extract_tb(e.__traceback__):
        if os.path.abspath(fr.filename) == path:
            line = fr.lineno or 0
    return line


def _load(files):
    global _steps, _generation
    _generation += 1
    # a reload must see the new code of the project's own helper modules
    root = os.getcwd() + os.sep
    for mname, m in list(sys.modules.items()):
        f = getattr(m, "__file__", None) or ""
        if f.startswith(root) and "site-packages" not in f and os.sep + "." not in f[len(root):]:
            del sys.modules[mname]
    importlib.invalidate_caches()
    nxt, out, errors = {}, [], []
    for path in files:
        d = os.path.dirname(path)
        if d not in sys.path:
            sys.path.insert(0, d)
        name = "stepd_step_%d_%s" % (_generation, os.path.basename(path).replace(".", "_"))
        try:
            # compiled from source every time: a cached .pyc of a same-size edit made within
            # the same second would otherwise be reused
            mod = types.ModuleType(name)
            mod.__file__ = path
            sys.modules[name] = mod
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec", dont_inherit=True)
            exec(code, mod.__dict__)
            c = getattr(mod, "config", None)
            if not isinstance(c, dict):
                errors.append({"file": path, "line": 0, "message": "the module has no `config` dict"})
                continue
            h = getattr(mod, "handler", None)
            if c.get("type", "event") != "noop" and not callable(h):
                errors.append({"file": path, "line": 0, "message": "the module has no `handler` function"})
                continue
            mw = c.get("middleware") or []
            if not isinstance(mw, (list, tuple)) or not all(callable(f) for f in mw):
                errors.append({"file": path, "line": 0, "message": "`middleware` must be a list of functions"})
                continue
            nxt[c.get("name")] = {"handler": h, "middleware": list(mw), "file": path,
                                  "emits": _topics(c),
                                  "body": c.get("bodySchema") if hasattr(c.get("bodySchema"), "model_validate") else None,
                                  "input": c.get("input") if hasattr(c.get("input"), "model_validate") else None}
            out.append({"file": path, "config": _config_json(c)})
        except BaseException as e:  # noqa: B036 - a step's import must never stop the worker
            msg = e.msg if isinstance(e, SyntaxError) else "%s: %s" % (type(e).__name__, e)
            errors.append({"file": path, "line": _error_line(e, path), "message": msg})
    if not errors:
        _steps = nxt
    return out, errors


# ---- invocations --------------------------------------------------------------------------------

def _post(inv_id, op, args, value=None):
    """A write that needs no answer: the core applies it in order, before any later read of
    the invocation, and fails the invocation if it fails. What the core would refuse at once
    is refused here, so the handler can still catch it."""
    fut = _loop.create_future()
    if op != "emit" and (not isinstance(args.get("group"), str) or not args["group"] or
                         ("key" in args and (not isinstance(args["key"], str) or not args["key"]))):
        fut.set_exception(ValueError("%s failed: invalid argument" % op))
        return fut
    try:
        text = _encode(args)
    except (TypeError, ValueError) as e:
        fut.set_exception(ValueError("%s failed: the value is not JSON-serialisable: %s" % (op, e)))
        return fut
    _send_line('{"t":"call","id":%d,"op":"%s","args":%s}' % (inv_id, op, text))
    fut.set_result(value)
    return fut


def _topics(c):
    out = set()
    for lst in (c.get("emits"), c.get("virtualEmits")):
        for e in lst if isinstance(lst, (list, tuple)) else ():
            if isinstance(e, str):
                out.add(e)
            elif isinstance(e, dict) and isinstance(e.get("topic"), str):
                out.add(e["topic"])
    return out


def _call(inv_id, op, args):
    global _call_seq
    _call_seq += 1
    fut = _loop.create_future()
    _calls[_call_seq] = fut
    send({"t": "call", "id": inv_id, "call": _call_seq, "op": op, "args": args})
    return fut


class _State:
    def __init__(self, inv_id):
        self._id = inv_id

    def get(self, group, key):
        return _call(self._id, "state.get", {"group": group, "key": key})

    def set(self, group, key, value):
        return _post(self._id, "state.set", {"group": group, "key": key, "value": value}, value)

    def delete(self, group, key):
        return _post(self._id, "state.delete", {"group": group, "key": key})

    def get_group(self, group):
        return _call(self._id, "state.getGroup", {"group": group})

    getGroup = get_group

    def clear(self, group):
        return _post(self._id, "state.clear", {"group": group})


class _Ai:
    """context.ai: the core's AI modules, run on the handler's own context."""

    def __init__(self, inv_id):
        self._id = inv_id

    def chat(self, request=None, **kwargs):
        """One chat completion: {"message": "..."} or {"messages": [...]}, plus "model",
        "temperature", "json", "tools", "cacheTtl", "streamTo": {"stream", "id"}, ... (see
        docs/llm.md). Returns the result dict ("content", "toolCalls", "usage", ...); raises
        on failure with the reason."""
        args = dict(request or {})
        args.update(kwargs)
        return _call(self._id, "ai.chat", args)


class _Logger:
    def __init__(self, inv_id):
        self._id = inv_id

    def _log(self, level, msg, fields=None):
        if fields is not None and not isinstance(fields, dict):
            fields = {"value": fields}
        send({"t": "log", "id": self._id, "level": level, "msg": str(msg), "fields": fields})

    def info(self, msg, fields=None):
        self._log("info", msg, fields)

    def warn(self, msg, fields=None):
        self._log("warn", msg, fields)

    warning = warn

    def error(self, msg, fields=None):
        self._log("error", msg, fields)

    def debug(self, msg, fields=None):
        self._log("debug", msg, fields)


class Context:
    """What a handler gets as `context`: emit, state, logger, ai, trace_id."""

    def __init__(self, msg, emits):
        self._id = msg["id"]
        self._emits = emits
        self.trace_id = msg.get("traceId", "")
        self.traceId = self.trace_id
        self.event_id = msg.get("eventId", "")
        self.attempt = msg.get("attempt", 1)
        self.state = _State(self._id)
        self.logger = _Logger(self._id)
        self.ai = _Ai(self._id)

    def emit(self, event):
        if not isinstance(event, dict) or not isinstance(event.get("topic"), str):
            fut = _loop.create_future()
            fut.set_exception(ValueError("emit needs {'topic': ..., 'data': ...}"))
            return fut
        if event["topic"] not in self._emits:
            fut = _loop.create_future()
            fut.set_exception(ValueError('emit of "%s": the topic is not in the step\'s emits'
                                         % event["topic"]))
            return fut
        data = event.get("data")
        return _post(self._id, "emit", {"topic": event["topic"], "data": {} if data is None else data})


async def _maybe_await(v):
    if inspect.isawaitable(v):
        return await v
    return v


def _validation_failure(e, what):
    errs = e.errors() if hasattr(e, "errors") else []
    field = ".".join(str(p) for p in errs[0].get("loc", ())) if errs else ""
    message = errs[0].get("msg", str(e)) if errs else str(e)
    return {"error": "%s: '%s' %s" % (what, field, message) if field else "%s: %s" % (what, message),
            "field": field, "message": message}


async def _invoke(msg):
    st = _steps.get(msg.get("step"))
    if st is None:
        raise RuntimeError('step "%s" is not loaded in this worker' % msg.get("step"))
    ctx = Context(msg, st["emits"])
    kind = msg.get("kind")
    if kind == "api":
        req = msg.get("data") or {}
        if st["body"] is not None:
            try:
                st["body"].model_validate(req.get("body"))
            except Exception as e:  # pydantic.ValidationError
                return {"status": 400, "body": _validation_failure(e, "invalid request body")}
        mws = st["middleware"]

        async def run(i):
            if i < len(mws):
                return await _maybe_await(mws[i](req, ctx, lambda: run(i + 1)))
            return await _maybe_await(st["handler"](req, ctx))
        return await run(0)
    if kind == "event":
        data = msg.get("data")
        if st["input"] is not None:
            st["input"].model_validate(data)
        return await _maybe_await(st["handler"](data, ctx))
    return await _maybe_await(st["handler"](ctx))


async def _run_invoke(msg):
    try:
        value = await _invoke(msg)
        send({"t": "result", "id": msg["id"], "ok": True, "value": value})
    except BaseException as e:  # noqa: B036 - report, never die
        send({"t": "result", "id": msg["id"], "ok": False,
              "error": {"message": "%s: %s" % (type(e).__name__, e),
                        "stack": "".join(traceback.format_exception(type(e), e, e.__traceback__))}})


async def _run_load(msg):
    async with _load_lock:
        try:
            out, errors = _load(msg.get("files") or [])
        except BaseException as e:  # noqa: B036
            out, errors = [], [{"file": "", "line": 0, "message": str(e)}]
    send({"t": "loaded", "id": msg["id"], "steps": out, "errors": errors})


def _on_message(msg):
    t = msg.get("t")
    if t == "invoke":
        if _load_lock.locked():
            async def later():
                async with _load_lock:
                    pass
                await _run_invoke(msg)
            _loop.create_task(later())
        else:
            _loop.create_task(_run_invoke(msg))
    elif t == "reply":
        fut = _calls.pop(msg.get("call"), None)
        if fut is not None and not fut.done():
            if msg.get("ok"):
                fut.set_result(msg.get("value"))
            else:
                fut.set_exception(RuntimeError(msg.get("error") or "call failed"))
    elif t == "load":
        _loop.create_task(_run_load(msg))
    elif t == "ping":
        send({"t": "result", "id": msg["id"], "ok": True, "value": "pong"})


def main():
    global _loop, _load_lock
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    _load_lock = asyncio.Lock()
    buf = bytearray()
    done = _loop.create_future()
    os.set_blocking(0, False)

    def readable():
        nonlocal buf
        try:
            chunk = os.read(0, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            _loop.remove_reader(0)
            if not done.done():
                done.set_result(None)
            return
        buf += chunk
        if b"\n" not in chunk:
            return
        lines = buf.split(b"\n")
        buf = bytearray(lines.pop())
        for line in lines:
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                print("stepd runner: bad line from the core", file=sys.stderr)
                continue
            _on_message(msg)

    _loop.add_reader(0, readable)
    _loop.set_exception_handler(lambda loop, ctx: print(ctx.get("message"), ctx.get("exception"), file=sys.stderr))
    _loop.run_until_complete(done)
    _flush()


if __name__ == "__main__":
    main()
