"""ask.python: the model's answer, streamed token by token to ("answers", id), then stored."""

config = {
    "type": "event",
    "name": "AnswerPy",
    "subscribes": ["ask.python"],
    "emits": [],
}


async def handler(input, context):
    result = await context.ai.chat(
        {"message": input["q"], "streamTo": {"stream": "answers", "id": input["id"]}}
    )
    await context.state.set("answers", input["id"], {"content": result["content"]})
