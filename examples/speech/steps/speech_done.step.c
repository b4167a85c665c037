/* speech.transcribed / speech.synthesized / speech.failed — where a product notifies its users
 * (webhook, push, e-mail); here it logs, and clients poll GET /audio/:id/meta. */
#include <stepd/step.h>

static int done(step_ctx *ctx, json_t *in) {
    step_log_info(ctx, "speech result ready", in);
    return 0;
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "SpeechDone",
    .description = "Transcript or spoken reply ready",
    .flows = STEP_LIST("speech"),
    .subscribes = STEP_LIST("speech.transcribed", "speech.synthesized", "speech.failed"),
    .on_event = done,
};
