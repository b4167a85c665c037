/* Every second: counts runs in state and emits tick.done with the run's trace id. */
#include <stepd/step.h>

static int tick(step_ctx *ctx) {
    json_t *prev = NULL;
    json_int_t n = 0;
    if (step_state_get(ctx, "cron", "ticks", &prev) == 0)
        n = json_integer_value(json_object_get(prev, "n"));
    json_decref(prev);
    json_t *rec = json_pack("{s:I}", "n", n + 1);
    int rc = step_state_set(ctx, "cron", "ticks", rec);
    json_decref(rec);
    return rc ? rc : step_emit(ctx, "tick.done", json_pack("{s:s}", "trace", step_trace_id(ctx)));
}

STEP_CONFIG = {.type = STEP_CRON, .name = "Tick", .cron = "* * * * * *",
               .emits = STEP_LIST("tick.done"), .on_cron = tick};
