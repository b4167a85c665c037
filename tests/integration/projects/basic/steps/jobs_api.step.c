/* POST /jobs {"id": "...", "failTimes": n, "sleepMs": n} — queues a job event (202 only once
 * the event is durable); GET /jobs/:id returns what the worker recorded. */
#include <stepd/step.h>

static int post_job(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->body, "id"));
    int rc = step_emit(ctx, "job.created", json_incref(req->body));
    if (rc)
        return rc;
    return step_respond(res, 202, json_pack("{s:s}", "id", id));
}

STEP_CONFIG = {
    .type = STEP_API, .name = "JobsApi", .method = "POST", .path = "/jobs",
    .body_schema = "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{"
                   "\"id\":{\"type\":\"string\"},\"failTimes\":{\"type\":\"integer\"},"
                   "\"sleepMs\":{\"type\":\"integer\"}}}",
    .emits = STEP_LIST("job.created"), .api = post_job,
};
