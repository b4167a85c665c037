/* job.created — a second subscriber (fan-out): counts deliveries per job id. */
#include <stepd/step.h>

static int audit(step_ctx *ctx, json_t *input) {
    const char *id = json_string_value(json_object_get(input, "id"));
    json_t *rec = json_pack("{s:s}", "id", id);
    int rc = step_state_set(ctx, "audit", id, rec);
    json_decref(rec);
    return rc;
}

STEP_CONFIG = {.type = STEP_EVENT, .name = "JobsAudit", .subscribes = STEP_LIST("job.created"),
               .on_event = audit};
