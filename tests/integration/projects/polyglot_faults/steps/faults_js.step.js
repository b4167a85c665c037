// Misbehaves on the first attempt of each event, then records success.
exports.config = { type: 'event', name: 'FaultsJs', emits: [],
  subscribes: ['fault.crash', 'fault.hang', 'fault.garbage', 'fault.throws', 'fault.always'] };
exports.handler = async (input, ctx) => {
  const kind = input.kind;
  if (kind === 'always') throw new Error('always fails ' + input.id);
  if (ctx.attempt === 1) {
    if (kind === 'crash') process.exit(3);
    if (kind === 'hang') for (;;) {}
    if (kind === 'garbage') { require('fs').writeSync(1, 'this is not the protocol\n'); await new Promise((r) => setTimeout(r, 5000)); }
    if (kind === 'throws') throw new Error('boom-' + input.id);
  }
  await ctx.state.set('done', input.id, { attempt: ctx.attempt, kind });
};
