/*
 * ai.chat.request → completes the chat record and emits ai.chat.complete.
 * The reply is a stand-in until the LLM module is wired in (examples/assistant shows the
 * model-backed flow). A failing attempt is retried with backoff, then dead-lettered.
 */
#include <stepd/step.h>
#include <stdio.h>

static int respond(step_ctx *ctx, json_t *input) {
    const char *chat_id = json_string_value(json_object_get(input, "chatId"));
    const char *message = json_string_value(json_object_get(input, "message"));
    json_t *chat = NULL;
    int rc = step_state_get(ctx, "chats", chat_id, &chat);
    if (rc == STEP_ENOTFOUND) {
        step_log_warn(ctx, "chat record not found; nothing to do", NULL);
        return 0;
    }
    if (rc)
        return rc;
    char reply[512];
    snprintf(reply, sizeof(reply), "You said: %.400s", message ? message : "");
    json_object_set_new(chat, "response", json_string(reply));
    json_object_set_new(chat, "status", json_string("completed"));
    rc = step_state_set(ctx, "chats", chat_id, chat);
    json_decref(chat);
    if (rc)
        return rc;
    return step_emit(ctx, "ai.chat.complete",
                     json_pack("{s:s, s:s}", "chatId", chat_id, "response", reply));
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "ChatResponse",
    .description = "Produces the assistant's reply",
    .flows = STEP_LIST("chat"),
    .subscribes = STEP_LIST("ai.chat.request"),
    .input_schema = "{\"type\":\"object\",\"required\":[\"chatId\",\"message\"]}",
    .emits = STEP_LIST("ai.chat.complete"),
    .on_event = respond,
};
