/* POST /publish/:id {"event": ..., "data": ...} — publishes to stream "t". */
#include <stepd/step.h>

static int publish(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    const char *event = json_string_value(json_object_get(req->body, "event"));
    const char *data = json_string_value(json_object_get(req->body, "data"));
    int rc = step_stream_publish(ctx, "t", id, event, data);
    return rc ? rc : step_respond(res, 202, json_pack("{s:b}", "published", 1));
}

STEP_CONFIG = {.type = STEP_API, .name = "Publish", .method = "POST", .path = "/publish/:id",
               .api = publish};
