exports.first = async (req, ctx, next) => {
  req.user = { id: req.headers['x-user'] || 'anon' };
  req.trail = ['first'];
  const res = await next();
  res.headers = Object.assign({}, res.headers, { 'x-after': 'first' });
  return res;
};
exports.second = async (req, ctx, next) => {
  if (req.headers['x-block']) return { status: 403, body: { error: 'blocked by second', trail: req.trail } };
  req.trail.push('second');
  return next();
};
