"""ai.chat.request -> completes the chat record and emits ai.chat.complete (Motia's Python
shape). The reply is a stand-in until a model is wired in; a failing attempt is retried with
backoff, then dead-lettered."""

config = {
    "type": "event",
    "name": "ChatResponse",
    "description": "Produces the assistant's reply",
    "subscribes": ["ai.chat.request"],
    "emits": ["ai.chat.complete"],
    "input": {"type": "object", "required": ["chatId", "message"]},
    "flows": ["chat"],
}


async def handler(input, context):
    chat_id = input["chatId"]
    chat = await context.state.get("chats", chat_id)
    if chat is None:
        context.logger.warn("chat record not found; nothing to do", {"chatId": chat_id})
        return
    reply = "You said: " + input["message"][:400]
    chat["response"] = reply
    chat["status"] = "completed"
    await context.state.set("chats", chat_id, chat)
    await context.emit({"topic": "ai.chat.complete", "data": {"chatId": chat_id, "response": reply}})
    context.logger.info("chat completed", {"chatId": chat_id, "traceId": context.trace_id})
