/*
 * session_api.step.c — GET /assistant/sessions/:id: the conversation memory the assistant
 * keeps (recent messages, running summary, what it knows, turn count).
 */
#include <stepd/ai/llm.h>
#include <stepd/step.h>

static int handler(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    json_t *mem = NULL;
    int rc = step_state_get(ctx, STEPD_ASSISTANT_STATE_GROUP, id, &mem);
    if (rc == STEP_ENOTFOUND)
        return step_respond(res, 404, json_pack("{s:s}", "error", "no such session"));
    if (rc < 0)
        return rc;
    return step_respond(res, 200, mem);
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "AssistantSessionApi",
    .description = "Shows a session's conversation memory",
    .flows = STEP_LIST("assistant"),
    .method = "GET",
    .path = "/assistant/sessions/:id",
    .api = handler,
};
