// Every context call from JavaScript (CommonJS), answered with what each returned.
exports.config = {
  type: 'api', name: 'JsCtx', path: '/js/ctx/:group', method: 'POST',
  emits: ['js.ping', { topic: 'js.cond', label: 'conditional', conditional: true }],
  flows: ['ctx'],
};
exports.handler = async (req, ctx) => {
  const g = req.pathParams.group;
  const out = {};
  out.setReturned = await ctx.state.set(g, 'a', { n: 1 });
  await ctx.state.set(g, 'b', { n: 2 });
  out.get = await ctx.state.get(g, 'a');
  out.missing = await ctx.state.get(g, 'nope');
  out.group = await ctx.state.getGroup(g);
  await ctx.state.delete(g, 'a');
  out.afterDelete = await ctx.state.get(g, 'a');
  await ctx.state.clear(g);
  out.afterClear = await ctx.state.getGroup(g);
  await ctx.emit({ topic: 'js.ping', data: { from: 'js', group: g } });
  try { await ctx.emit({ topic: 'undeclared.topic', data: {} }); out.undeclared = 'allowed'; }
  catch (e) { out.undeclared = e.message; }
  ctx.logger.info('js ctx done', { group: g });
  ctx.logger.warn('js warn line', { n: 1 });
  out.traceId = ctx.traceId;
  out.req = { query: req.queryParams, header: req.headers['x-custom'], rawBody: req.rawBody,
              method: req.method, body: req.body };
  return { status: 201, body: out, headers: { 'x-step': 'JsCtx' } };
};
