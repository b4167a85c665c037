// POST /ask {"q": "..."} — answers with the model (ctx.ai.chat), and queues the same question
// for the Python step, which streams its answer to ("answers", id).
exports.config = {
  type: 'api',
  name: 'Ask',
  path: '/ask',
  method: 'POST',
  bodySchema: { type: 'object', required: ['q', 'id'] },
  emits: ['ask.python'],
};

exports.handler = async (req, { ai, emit }) => {
  let answer;
  try {
    answer = await ai.chat({ message: req.body.q, temperature: 0 });
  } catch (e) {
    return { status: 502, body: { error: String(e.message || e) } };
  }
  await emit({ topic: 'ask.python', data: { q: req.body.q, id: req.body.id } });
  return { status: 200, body: { answer: answer.content, model: answer.model } };
};
