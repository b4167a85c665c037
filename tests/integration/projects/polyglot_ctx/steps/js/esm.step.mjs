// ES module step: export const config / handler.
import { basename } from 'node:path';
export const config = { type: 'api', name: 'JsEsm', path: '/js/esm', method: 'GET', emits: [] };
export const handler = async (req, { traceId }) =>
  ({ status: 200, body: { module: 'esm', file: basename(import.meta.url), traceId } });
