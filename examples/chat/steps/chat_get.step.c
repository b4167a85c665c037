/* GET /ai/chat/:id — the chat record, for its owner only. */
#include <stepd/step.h>
#include <string.h>

static int get_chat(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    const char *user = json_string_value(json_object_get(step_request_local(req, "user"), "id"));
    json_t *chat = NULL;
    int rc = step_state_get(ctx, "chats", id, &chat);
    if (rc == STEP_ENOTFOUND ||
        (rc == 0 && strcmp(json_string_value(json_object_get(chat, "userId")), user) != 0)) {
        json_decref(chat);
        return step_respond(res, 404, json_pack("{s:s}", "error", "chat not found"));
    }
    if (rc)
        return rc;
    return step_respond(res, 200, chat);
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "ChatGet",
    .description = "Returns a chat and its reply once ready",
    .flows = STEP_LIST("chat"),
    .method = "GET",
    .path = "/ai/chat/:id",
    .middleware = STEP_LIST("auth"),
    .api = get_chat,
};
