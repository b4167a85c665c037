/* The trivial API step of bench/http.sh. */
#include <stepd/step.h>

static int hello(step_ctx *ctx, step_request *req, step_response *res) {
    (void)ctx;
    (void)req;
    return step_respond(res, 200, json_pack("{s:s}", "hello", "world"));
}

STEP_CONFIG = {.type = STEP_API, .name = "Hello", .method = "GET", .path = "/hello", .api = hello};
