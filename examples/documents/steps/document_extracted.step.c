/* document.extracted — a node in the flow diagram: where bookkeeping, approval or search
 * indexing subscribes. */
#include <stepd/step.h>

STEP_CONFIG = {
    .type = STEP_NOOP,
    .name = "DocumentExtracted",
    .description = "Fields are ready (accounting, approvals and search subscribe here)",
    .flows = STEP_LIST("documents"),
    .virtual_emits = STEP_LIST("document.extracted"),
};
