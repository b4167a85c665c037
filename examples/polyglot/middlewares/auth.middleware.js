// Bearer-token middleware, Motia style: (req, ctx, next). The demo accepts "demo-<userId>"
// and attaches req.user; look tokens up in your own store in a real application.
const authMiddleware = async (req, ctx, next) => {
  const h = req.headers['authorization'] || '';
  if (!h.startsWith('Bearer ')) return { status: 401, body: { error: 'missing bearer token' } };
  const token = h.slice(7);
  if (!token.startsWith('demo-') || token.length <= 5 || token.length > 128)
    return { status: 401, body: { error: 'invalid token' } };
  req.user = { id: token.slice(5) };
  return next();
};

module.exports = { authMiddleware };
