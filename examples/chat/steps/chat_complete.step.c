/* ai.chat.complete — a node in the flow diagram: where a notifier or websocket push goes. */
#include <stepd/step.h>

STEP_CONFIG = {
    .type = STEP_NOOP,
    .name = "ChatDelivered",
    .description = "The reply is ready for the client (poll GET /ai/chat/:id)",
    .flows = STEP_LIST("chat"),
    .subscribes = STEP_LIST("ai.chat.complete"), /* drawn in the flow; no handler runs */
};
