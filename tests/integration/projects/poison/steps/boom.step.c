/* poison.boom: crashes the whole process (a bug in a C step), every time. */
#include <signal.h>
#include <stepd/step.h>

static int boom(step_ctx *ctx, json_t *input) {
    (void)ctx;
    (void)input;
    raise(SIGSEGV);
    return 0;
}

STEP_CONFIG = {.type = STEP_EVENT, .name = "Boom", .subscribes = STEP_LIST("poison.boom"),
               .on_event = boom, .max_attempts = 2};
