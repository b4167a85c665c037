// Every second (6-field cron): counts its runs in state and emits its trace id; Motia's
// cron handler shape, async (ctx).
exports.config = {
  type: 'cron', name: 'JsTick', cron: '* * * * * *', emits: ['tick.js'], flows: ['cron'],
};
exports.handler = async ({ state, emit, logger, traceId }) => {
  const prev = await state.get('cron', 'js');
  const n = (prev ? prev.n : 0) + 1;
  await state.set('cron', 'js', { n, traceId });
  await emit({ topic: 'tick.js', data: { n, traceId } });
  logger.info('js tick', { n });
};
