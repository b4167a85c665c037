/*
 * POST /ai/chat {"message": "..."} — stores the chat as "processing", emits ai.chat.request
 * and answers 202 {"chatId": ...} at once; the event step completes it.
 */
#include <stepd/step.h>

static int chat(step_ctx *ctx, step_request *req, step_response *res) {
    const char *user = json_string_value(json_object_get(step_request_local(req, "user"), "id"));
    const char *message = json_string_value(json_object_get(req->body, "message"));
    char chat_id[33];
    step_new_id(chat_id);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "chatId", chat_id, "userId", user, "message",
                            message, "status", "processing");
    int rc = step_state_set(ctx, "chats", chat_id, rec);
    json_decref(rec);
    if (rc)
        return rc;
    rc = step_emit(ctx, "ai.chat.request",
                   json_pack("{s:s, s:s, s:s}", "chatId", chat_id, "message", message, "userId",
                             user));
    if (rc)
        return rc;
    return step_respond(res, 202, json_pack("{s:s}", "chatId", chat_id));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "ChatApi",
    .description = "Accepts a chat message and queues it for the AI",
    .flows = STEP_LIST("chat"),
    .method = "POST",
    .path = "/ai/chat",
    .middleware = STEP_LIST("auth"),
    .body_schema = "{\"type\":\"object\",\"required\":[\"message\"],\"properties\":"
                   "{\"message\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4000}}}",
    .emits = STEP_LIST("ai.chat.request"),
    .api = chat,
};
