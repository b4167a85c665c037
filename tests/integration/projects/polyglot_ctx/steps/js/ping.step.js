// js.ping and py.ping -> records who got what (event handler (input, ctx)).
exports.config = { type: 'event', name: 'JsPing', subscribes: ['js.ping', 'py.ping'], emits: [],
                   input: { type: 'object', required: ['from'] } };
exports.handler = async (input, { state, traceId }) => {
  await state.set('pings', 'js-got-' + input.from, { input, traceId });
};
