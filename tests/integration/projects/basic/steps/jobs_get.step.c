#include <stepd/step.h>

static int get_job(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    json_t *v = NULL;
    int rc = step_state_get(ctx, "jobs", id, &v);
    if (rc == STEP_ENOTFOUND)
        return step_respond(res, 404, json_pack("{s:s}", "error", "no such job"));
    return rc ? rc : step_respond(res, 200, v);
}

STEP_CONFIG = {.type = STEP_API, .name = "JobsGet", .method = "GET", .path = "/jobs/:id",
               .api = get_job};
