/* GET /audio/:id/meta — the audio record: status, format, transcript or error. */
#include <stepd/step.h>

static int meta(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    json_t *rec = NULL;
    int rc = step_state_get(ctx, "audio", id, &rec);
    if (rc == STEP_ENOTFOUND)
        return step_respond(res, 404, json_pack("{s:s}", "error", "audio not found"));
    return rc ? rc : step_respond(res, 200, rec);
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "AudioMeta",
    .description = "Status and transcript of an audio item",
    .flows = STEP_LIST("speech"),
    .method = "GET",
    .path = "/audio/:id/meta",
    .api = meta,
};
