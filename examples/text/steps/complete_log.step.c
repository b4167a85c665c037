/* text.analysis.complete — logs each finished analysis (a place to notify, index, alert). */
#include <stepd/step.h>

static int on_complete(step_ctx *ctx, json_t *input) {
    step_log_info(ctx, "text analysed", input);
    return 0;
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "TextAnalysisComplete",
    .description = "Log finished text analyses",
    .flows = STEP_LIST("text"),
    .subscribes = STEP_LIST("text.analysis.complete"),
    .on_event = on_complete,
};
