// a body that is not UTF-8 arrives base64-encoded
exports.config = { type: 'api', name: 'JsUpload', path: '/js/upload', method: 'POST', emits: [] };
exports.handler = async (req) => {
  const buf = req.rawBodyBase64 !== undefined ? Buffer.from(req.rawBodyBase64, 'base64') : Buffer.from(req.rawBody);
  return { status: 200, body: { bytes: buf.length, first: buf[0], text: req.rawBody } };
};
