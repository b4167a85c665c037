/* GET /text/analysis/:id — the stored analysis (404 until the text.analyze event ran). */
#include "text_common.h"

static int get_result(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    json_t *a = NULL;
    int rc = step_state_get(ctx, TEXT_GROUP, id, &a);
    if (rc == STEP_ENOTFOUND)
        return step_respond(
            res, 404, json_pack("{s:s,s:s}", "error", "no analysis yet", "textId", id ? id : ""));
    if (rc)
        return rc;
    return step_respond(res, 200, a);
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "TextResultApi",
    .description = "Read a stored text analysis",
    .flows = STEP_LIST("text"),
    .method = "GET",
    .path = "/text/analysis/:id",
    .api = get_result,
};
