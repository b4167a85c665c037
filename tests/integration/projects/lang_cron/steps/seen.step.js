// Records each Python tick in JavaScript, keyed by the tick's trace id.
exports.config = { type: 'event', name: 'SeenPy', subscribes: ['tick.py'], emits: [], flows: ['cron'] };
exports.handler = async (data, { state, traceId }) => {
  await state.set('seen-py', traceId, { n: data.n, sameTrace: data.traceId === traceId });
};
