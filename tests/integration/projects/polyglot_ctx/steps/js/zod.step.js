const { z } = require('minizod');
exports.config = {
  type: 'api', name: 'JsZod', path: '/js/zod', method: 'POST', emits: [],
  bodySchema: z.object({ name: z.string().min(2), age: z.number() }),
};
exports.handler = async (req) => ({ status: 200, body: { hello: req.body.name } });
