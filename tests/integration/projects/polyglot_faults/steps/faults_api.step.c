/* POST /faults/:kind {"id","kind"} -> emits fault.<kind> (in C, so a crashing node worker never
 * takes the request that queues the next fault with it). */
#include <stdio.h>
#include <stepd/step.h>

static int queue_fault(step_ctx *ctx, step_request *req, step_response *res) {
    char topic[128];
    snprintf(topic, sizeof(topic), "fault.%s",
             json_string_value(json_object_get(req->path_params, "kind")));
    int rc = step_emit(ctx, topic, json_incref(req->body));
    if (rc)
        return rc;
    return step_respond(res, 202, json_pack("{s:O}", "queued", json_object_get(req->body, "id")));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "FaultsApi",
    .method = "POST",
    .path = "/faults/:kind",
    .emits = STEP_LIST("fault.crash", "fault.hang", "fault.garbage", "fault.throws", "fault.always",
                       "fault.pycrash", "fault.pyhang", "fault.pythrows"),
    .api = queue_fault,
};
