/* GET /stream?n=N — streams N token events, then "done"; the handler's write is durable before
 * the stream starts. */
#include <stepd/step.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int stream(step_ctx *ctx, step_request *req, step_response *res) {
    const char *n_text = json_string_value(json_object_get(req->query_params, "n"));
    int n = n_text ? atoi(n_text) : 3;
    step_state_set(ctx, "streams", "started", json_true());
    step_response_header(res, "x-custom", "yes");
    step_stream *s;
    int rc = step_respond_stream(ctx, res, 200, NULL, &s);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++) {
        char tok[32];
        snprintf(tok, sizeof(tok), "t%d", i);
        if (step_stream_event(s, "token", tok))
            return 0;
        usleep(20000);
    }
    step_stream_event(s, NULL, "two\nlines");
    return step_stream_event(s, "done", "{}");
}

STEP_CONFIG = {.type = STEP_API, .name = "Stream", .method = "GET", .path = "/stream",
               .api = stream};
