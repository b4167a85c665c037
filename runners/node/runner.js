'use strict';
/*
 * stepd node runner — loads a project's JavaScript steps (Motia's shape: `config` + `handler`,
 * CommonJS or ES modules) and runs their handlers for the stepd core. It speaks the
 * newline-delimited JSON protocol of docs/protocol.md on stdin/stdout; many invocations run
 * at once (handlers are async), and messages written in the same turn of the event loop go
 * out in one write. No dependencies beyond node itself.
 *
 *   node runner.js        (started by stepd; working directory = the project)
 */
const path = require('path');
const { pathToFileURL } = require('url');

// The protocol owns stdout: user output (console.log, process.stdout.write) goes to stderr.
const protoWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const k of ['log', 'info', 'debug', 'trace']) console[k] = console.error.bind(console);

let outq = [];
let flushing = false;
function flush() {
  flushing = false;
  if (!outq.length) return;
  const s = outq.join('\n') + '\n';
  outq = [];
  protoWrite(s);
}
function send(msg) {
  sendLine(safeStringify(msg));
}
function sendLine(line) {
  outq.push(line);
  if (!flushing) {
    flushing = true;
    setImmediate(flush);
  }
}
function safeStringify(msg) {
  try {
    return JSON.stringify(msg, (k, v) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (e) {
    // cycles and the like: the invocation fails instead of the worker
    if (msg.t === 'result')
      return JSON.stringify({ t: 'result', id: msg.id, ok: false,
        error: { message: 'result is not JSON-serialisable: ' + e.message } });
    if (msg.t === 'call')
      return JSON.stringify({ t: 'call', id: msg.id, call: msg.call, op: msg.op, args: {} });
    return JSON.stringify({ t: 'log', id: msg.id || 0, level: 'warn', msg: 'unserialisable log' });
  }
}

// ---- steps -------------------------------------------------------------------------------

let steps = new Map(); // name -> { handler, middleware, bodyZod, inputZod, file }
let loading = Promise.resolve();
let loadsPending = 0;
let generation = 0;

const isZod = (s) => s && typeof s === 'object' && typeof s.safeParse === 'function';
const jsonable = (v) => v !== undefined && typeof v !== 'function';

function configJson(c) {
  const out = {};
  for (const [k, v] of Object.entries(c)) {
    if (k === 'middleware') {
      out.middleware = (Array.isArray(v) ? v : []).map((f) => (f && f.name) || 'middleware');
    } else if (isZod(v)) {
      // validated here, in the worker; the core only needs to know
      out[k + 'Validator'] = 'zod';
    } else if (jsonable(v)) {
      out[k] = v;
    }
  }
  return out;
}

// the topics a step may emit (the core checks too; checking here lets emits go unanswered)
function topicSet(c) {
  const out = new Set();
  for (const list of [c.emits, c.virtualEmits])
    for (const e of Array.isArray(list) ? list : [])
      if (typeof e === 'string') out.add(e);
      else if (e && typeof e.topic === 'string') out.add(e.topic);
  return out;
}

function errorLine(err, abs) {
  const text = String((err && err.stack) || err);
  const esc = abs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = text.match(new RegExp(esc + ':(\\d+)'));
  return m ? Number(m[1]) : 0;
}

async function importFile(abs, gen) {
  if (/\.mjs$/.test(abs)) return import(pathToFileURL(abs).href + '?v=' + gen);
  try {
    return require(abs);
  } catch (e) {
    if (e && e.code === 'ERR_REQUIRE_ESM') return import(pathToFileURL(abs).href + '?v=' + gen);
    throw e;
  }
}

async function load(files) {
  generation++;
  // a reload must see the new code of the project's own CommonJS modules
  const root = process.cwd() + path.sep;
  for (const k of Object.keys(require.cache))
    if (k.startsWith(root) && !k.includes(path.sep + 'node_modules' + path.sep))
      delete require.cache[k];
  const next = new Map();
  const out = [];
  const errors = [];
  for (const abs of files) {
    try {
      let mod = await importFile(abs, generation);
      if (mod && !mod.config && mod.default && mod.default.config) mod = mod.default;
      const c = mod && mod.config;
      if (!c || typeof c !== 'object') {
        errors.push({ file: abs, line: 0, message: 'the file exports no `config` object' });
        continue;
      }
      const type = c.type || 'event';
      if (type !== 'noop' && typeof mod.handler !== 'function') {
        errors.push({ file: abs, line: 0, message: 'the file exports no `handler` function' });
        continue;
      }
      const mw = c.middleware === undefined ? [] : c.middleware;
      if (!Array.isArray(mw) || mw.some((f) => typeof f !== 'function')) {
        errors.push({ file: abs, line: 0, message: '`middleware` must be a list of functions' });
        continue;
      }
      next.set(c.name, {
        handler: mod.handler, middleware: mw, file: abs, emits: topicSet(c),
        bodyZod: isZod(c.bodySchema) ? c.bodySchema : null,
        inputZod: isZod(c.input) ? c.input : null,
      });
      out.push({ file: abs, config: configJson(c) });
    } catch (e) {
      errors.push({ file: abs, line: errorLine(e, abs),
        message: String((e && e.message) || e).split('\n')[0] });
    }
  }
  if (!errors.length) steps = next; // all or nothing: a broken save keeps the old code
  return { steps: out, errors };
}

// ---- invocations ---------------------------------------------------------------------------

let callSeq = 0;
const calls = new Map(); // call id -> {resolve, reject}

function makeContext(msg, st) {
  const id = msg.id;
  const call = (op, args) => new Promise((resolve, reject) => {
    const c = ++callSeq;
    calls.set(c, { resolve, reject });
    send({ t: 'call', id, call: c, op, args });
  });
  // writes need no answer: the core applies them in order, before any later read of the
  // invocation, and fails the invocation if one fails; what the core would refuse at once is
  // refused here, so the handler can still catch it
  const post = (op, args, value) => {
    if (op !== 'emit' && (typeof args.group !== 'string' || !args.group ||
        ('key' in args && (typeof args.key !== 'string' || !args.key))))
      return Promise.reject(new Error(`${op} failed: invalid argument`));
    let text;
    try {
      text = JSON.stringify(args, (k, v) => (typeof v === 'bigint' ? v.toString() : v));
    } catch (e) {
      return Promise.reject(new Error(`${op} failed: the value is not JSON-serialisable: ${e.message}`));
    }
    sendLine(`{"t":"call","id":${id},"op":${JSON.stringify(op)},"args":${text}}`);
    return Promise.resolve(value);
  };
  const log = (level) => (m, fields) => send({ t: 'log', id, level,
    msg: typeof m === 'string' ? m : safeMsg(m),
    fields: fields && typeof fields === 'object' ? fields : fields === undefined ? undefined : { value: fields } });
  return {
    traceId: msg.traceId || '',
    eventId: msg.eventId || '',
    attempt: msg.attempt || 1,
    emit: (ev) => {
      if (!ev || typeof ev.topic !== 'string')
        return Promise.reject(new Error('emit needs {topic, data}'));
      if (!st.emits.has(ev.topic))
        return Promise.reject(new Error(`emit of "${ev.topic}": the topic is not in the step's emits`));
      return post('emit', { topic: ev.topic, data: ev.data === undefined ? {} : ev.data }, null);
    },
    state: {
      get: (group, key) => call('state.get', { group, key }),
      set: (group, key, value) => {
        const v = value === undefined ? null : value;
        return post('state.set', { group, key, value: v }, v);
      },
      delete: (group, key) => post('state.delete', { group, key }, null),
      getGroup: (group) => call('state.getGroup', { group }),
      clear: (group) => post('state.clear', { group }, null),
    },
    // the core's AI modules, run on this handler's context: ai.chat({message | messages, model,
    // temperature, json, tools, cacheTtl, streamTo: {stream, id}, ...}) (docs/llm.md)
    ai: { chat: (args) => call('ai.chat', args && typeof args === 'object' ? args : {}) },
    logger: { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug'),
              log: log('info') },
  };
}

function safeMsg(m) {
  if (m instanceof Error) return m.message;
  try { return JSON.stringify(m); } catch (e) { return String(m); }
}

function zodFailure(r, what) {
  const issue = (r.error && r.error.issues && r.error.issues[0]) || {};
  const field = (issue.path || []).join('.');
  const message = issue.message || 'is invalid';
  return { error: field ? `${what}: '${field}' ${message}` : `${what}: ${message}`,
    field, message };
}

async function invoke(msg) {
  if (loadsPending) await loading; // an invocation sent after a load runs the new code
  const st = steps.get(msg.step);
  if (!st) throw new Error(`step "${msg.step}" is not loaded in this worker`);
  const ctx = makeContext(msg, st);
  if (msg.kind === 'api') {
    const req = msg.data || {};
    if (st.bodyZod) {
      const r = st.bodyZod.safeParse(req.body);
      if (!r.success) return { status: 400, body: zodFailure(r, 'invalid request body') };
      req.body = r.data;
    }
    const run = async (i) => {
      if (i < st.middleware.length) return st.middleware[i](req, ctx, () => run(i + 1));
      return st.handler(req, ctx);
    };
    return run(0);
  }
  if (msg.kind === 'event') {
    let input = msg.data;
    if (st.inputZod) {
      const r = st.inputZod.safeParse(input);
      if (!r.success) {
        const e = new Error(zodFailure(r, 'input does not match the step\'s schema').error);
        e.schema = true;
        throw e;
      }
      input = r.data;
    }
    return st.handler(input, ctx);
  }
  return st.handler(ctx);
}

function onMessage(msg) {
  switch (msg.t) {
    case 'invoke':
      invoke(msg).then(
        (value) => send({ t: 'result', id: msg.id, ok: true, value: value === undefined ? null : value }),
        (e) => send({ t: 'result', id: msg.id, ok: false, error: {
          message: String((e && e.message) || e), stack: e && e.stack ? String(e.stack) : undefined,
          schema: e && e.schema ? true : undefined } }));
      break;
    case 'reply': {
      const c = calls.get(msg.call);
      if (!c) break;
      calls.delete(msg.call);
      if (msg.ok) c.resolve(msg.value === undefined ? null : msg.value);
      else c.reject(new Error(msg.error || 'call failed'));
      break;
    }
    case 'load': {
      loadsPending++;
      const p = loading.then(() => load(msg.files || []));
      loading = p.catch(() => {}).then(() => { loadsPending--; });
      p.then((r) => send({ t: 'loaded', id: msg.id, steps: r.steps, errors: r.errors }),
             (e) => send({ t: 'loaded', id: msg.id, steps: [], errors: [{ file: '', line: 0, message: String(e) }] }));
      break;
    }
    case 'ping':
      send({ t: 'result', id: msg.id, ok: true, value: 'pong' });
      break;
    default:
      break;
  }
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  const parts = (buf + chunk).split('\n');
  buf = parts.pop();
  for (const line of parts) {
    if (!line) continue;
    let msg;
    try { msg = JSON.parse(line); } catch (e) { console.error('stepd runner: bad line from the core'); continue; }
    onMessage(msg);
  }
});
process.stdin.on('end', () => { flush(); process.exit(0); });
process.on('unhandledRejection', (e) => console.error('unhandled rejection in a step:', e));
