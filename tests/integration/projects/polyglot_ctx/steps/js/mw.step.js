const { first, second } = require('../../middlewares/mw');
exports.config = { type: 'api', name: 'JsMw', path: '/js/mw', method: 'GET', emits: [],
                   middleware: [first, second] };
exports.handler = async (req) => ({ status: 200, body: { user: req.user, trail: req.trail } });
