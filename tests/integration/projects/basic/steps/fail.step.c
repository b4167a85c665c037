/* GET /fail — a handler error becomes 500 with a request id; /undeclared emits a topic the
 * step did not declare, which the handler sees as STEP_EUNDECLARED. */
#include <stepd/step.h>

static int fail(step_ctx *ctx, step_request *req, step_response *res) {
    (void)ctx; (void)req; (void)res;
    return -1;
}

STEP_CONFIG = {.type = STEP_API, .name = "Fail", .method = "GET", .path = "/fail", .api = fail};
