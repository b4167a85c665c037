/* GET /forever — streams until the client leaves, then records that it noticed. */
#include <stepd/step.h>
#include <unistd.h>

static int record(step_ctx *ctx, const char *what) {
    json_t *v = json_string(what);
    int rc = step_state_set(ctx, "streams", "forever", v); /* borrows v */
    json_decref(v);
    return rc;
}

static int forever(step_ctx *ctx, step_request *req, step_response *res) {
    (void)req;
    step_stream *s;
    int rc = step_respond_stream(ctx, res, 200, "text/plain", &s);
    if (rc)
        return rc;
    for (int i = 0; i < 3000; i++) { /* at most 30 s */
        if (step_stream_write(s, "tick\n", 5) == STEP_ECLOSED)
            return record(ctx, "client gone");
        usleep(10000);
    }
    return record(ctx, "never noticed");
}

STEP_CONFIG = {.type = STEP_API, .name = "Forever", .method = "GET", .path = "/forever",
               .api = forever, .timeout_ms = 60000};
