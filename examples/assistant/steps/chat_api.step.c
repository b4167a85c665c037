/*
 * chat_api.step.c — POST /assistant/chat {"sessionId", "message"}: queues the message for the
 * assistant and answers 202 at once; the reply arrives as an assistant.response event (and on
 * the session's state, readable with GET /assistant/sessions/:id).
 */
#include <stepd/step.h>

static int handler(step_ctx *ctx, step_request *req, step_response *res) {
    json_t *body = req->body;
    const char *session = json_string_value(json_object_get(body, "sessionId"));
    const char *message = json_string_value(json_object_get(body, "message"));
    json_t *ev = json_pack("{s:s,s:s,s:s}", "sessionId", session, "message", message, "requestId",
                           req->request_id ? req->request_id : "");
    int rc = step_emit(ctx, "assistant.message", ev);
    if (rc < 0)
        return step_respond(res, 503, json_pack("{s:s}", "error", step_strerror(rc)));
    return step_respond(res, 202, json_pack("{s:s,s:s}", "sessionId", session, "status",
                                            "processing"));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "AssistantChatApi",
    .description = "Receives a customer message for the shop assistant",
    .flows = STEP_LIST("assistant"),
    .method = "POST",
    .path = "/assistant/chat",
    .body_schema = "{\"type\":\"object\",\"required\":[\"sessionId\",\"message\"],"
                   "\"properties\":{\"sessionId\":{\"type\":\"string\",\"minLength\":1,"
                   "\"maxLength\":200},\"message\":{\"type\":\"string\",\"minLength\":1,"
                   "\"maxLength\":4000}}}",
    .emits = STEP_LIST("assistant.message"),
    .api = handler,
};
