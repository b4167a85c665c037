module.exports = {
  config: { type: 'api', name: 'JsCjs', path: '/js/cjs', method: 'GET', emits: [] },
  handler: async () => ({ status: 200, body: { module: 'cjs' } }),
};
