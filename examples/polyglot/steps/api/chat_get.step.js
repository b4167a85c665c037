// GET /ai/chat/:id — the chat record, for its owner only.
const { authMiddleware } = require('../../middlewares/auth.middleware');

exports.config = {
  type: 'api',
  name: 'ChatGet',
  description: 'Returns a chat and its reply once ready',
  path: '/ai/chat/:id',
  method: 'GET',
  middleware: [authMiddleware],
  emits: [],
  flows: ['chat'],
};

exports.handler = async (req, { state }) => {
  const chat = await state.get('chats', req.pathParams.id);
  if (!chat || chat.userId !== req.user.id) return { status: 404, body: { error: 'chat not found' } };
  return { status: 200, body: chat };
};
