// POST /faults/ok answers at once (served by whichever node worker is free).
exports.config = { type: 'api', name: 'FaultsOk', path: '/faults/ok', method: 'POST', emits: [] };
exports.handler = async () => ({ status: 200, body: { ok: true } });
