/* GET /follow/:id — follows stream "t" (what a chat client does for its chat's tokens). */
#include <stepd/step.h>
#include <string.h>

static int follow(step_ctx *ctx, step_request *req, step_response *res) {
    (void)ctx;
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    if (!strcmp(id, "forbidden"))
        return step_respond(res, 403, json_pack("{s:s}", "error", "not yours"));
    return step_respond_follow(res, "t", id);
}

STEP_CONFIG = {.type = STEP_API, .name = "Follow", .method = "GET", .path = "/follow/:id",
               .api = follow};
