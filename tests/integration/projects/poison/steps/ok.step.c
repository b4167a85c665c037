/* poison.ok: records that it ran, to show the server still works. */
#include <stepd/step.h>

static int ok(step_ctx *ctx, json_t *input) {
    return step_state_set(ctx, "poison", "ok", input);
}

STEP_CONFIG = {.type = STEP_EVENT, .name = "Ok", .subscribes = STEP_LIST("poison.ok"),
               .on_event = ok};
