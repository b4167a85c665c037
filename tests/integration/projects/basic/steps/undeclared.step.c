#include <stepd/step.h>

static int undeclared(step_ctx *ctx, step_request *req, step_response *res) {
    (void)req;
    int rc = step_emit(ctx, "not.declared", NULL);
    return step_respond(res, 200, json_pack("{s:s}", "emit", step_err_name(rc)));
}

STEP_CONFIG = {.type = STEP_API, .name = "Undeclared", .method = "GET", .path = "/undeclared",
               .emits = STEP_LIST("declared.topic"), .api = undeclared};
