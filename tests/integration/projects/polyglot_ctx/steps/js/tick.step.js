// cron handler async (ctx); loaded and scheduled (the test does not wait a minute for it)
exports.config = { type: 'cron', name: 'JsTick', cron: '*/5 * * * *', emits: [] };
exports.handler = async ({ state }) => { await state.set('ticks', 'js', { at: Date.now() }); };
