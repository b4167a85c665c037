// POST /ai/chat {"message": "..."} — stores the chat as "processing", emits ai.chat.request and
// answers 202 {"chatId"} at once; the Python step completes it. Written as in Motia's docs.
const crypto = require('crypto');
const { authMiddleware } = require('../../middlewares/auth.middleware');

exports.config = {
  type: 'api',
  name: 'ChatApi',
  description: 'Accepts a chat message and queues it for the AI',
  path: '/ai/chat',
  method: 'POST',
  middleware: [authMiddleware],
  bodySchema: {
    type: 'object',
    required: ['message'],
    properties: { message: { type: 'string', minLength: 1, maxLength: 4000 } },
  },
  emits: [{ topic: 'ai.chat.request', label: 'chat request' }],
  flows: ['chat'],
};

exports.handler = async (req, { emit, state, logger, traceId }) => {
  const chatId = crypto.randomUUID().replace(/-/g, '');
  const chat = { chatId, userId: req.user.id, message: req.body.message, status: 'processing' };
  await state.set('chats', chatId, chat);
  await emit({ topic: 'ai.chat.request', data: { chatId, message: chat.message, userId: chat.userId } });
  logger.info('chat accepted', { chatId, traceId });
  return { status: 202, body: { chatId } };
};
