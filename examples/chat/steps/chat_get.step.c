/* GET /ai/chat/:id — the chat record, for its owner only. */
#include <stepd/step.h>

#include "chat_owner.h"

static int get_chat(step_ctx *ctx, step_request *req, step_response *res) {
    json_t *chat;
    int rc = chat_load_own(ctx, req, res, &chat);
    if (rc)
        return rc > 0 ? 0 : rc; /* > 0: the 404 is set */
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
