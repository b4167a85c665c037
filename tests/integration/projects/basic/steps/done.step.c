/* job.done — records that the chain finished, keeping the trace id. */
#include <stepd/step.h>

static int done(step_ctx *ctx, json_t *input) {
    const char *id = json_string_value(json_object_get(input, "id"));
    json_t *rec = json_pack("{s:s, s:s}", "id", id, "traceId", step_trace_id(ctx));
    int rc = step_state_set(ctx, "done", id, rec);
    json_decref(rec);
    return rc;
}

STEP_CONFIG = {.type = STEP_EVENT, .name = "JobsDone", .subscribes = STEP_LIST("job.done"),
               .on_event = done};
