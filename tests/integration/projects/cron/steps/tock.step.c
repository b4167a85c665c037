/* tick.done: records each trace id it sees (one per cron run). */
#include <stepd/step.h>

static int tock(step_ctx *ctx, json_t *input) {
    json_t *rec = json_pack("{s:s}", "trace", step_trace_id(ctx));
    int rc = step_state_set(ctx, "traces", json_string_value(json_object_get(input, "trace")), rec);
    json_decref(rec);
    return rc;
}

STEP_CONFIG = {.type = STEP_EVENT, .name = "Tock", .subscribes = STEP_LIST("tick.done"),
               .on_event = tock};
