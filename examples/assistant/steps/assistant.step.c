/*
 * assistant.step.c — one assistant turn per assistant.message event: memory from state,
 * intent and entities (the model's tool calls when OPENAI_API_KEY / OPENAI_BASE_URL are set,
 * deterministic rules otherwise), then assistant.response and, for order.track,
 * product.search and support.ticket, assistant.action with its parameters.
 */
#include <stepd/ai/llm.h>
#include <stepd/step.h>

#include <pthread.h>
#include <stdlib.h>

#define MAX_ATTEMPTS 3

/* One client per process: it holds the connection pool. Configured from the environment
 * (the runtime will hand steps the client built from stepd.json's "ai" section). */
static stepd_llm_client *client;
static pthread_once_t client_once = PTHREAD_ONCE_INIT;
static void client_init(void) {
    char *err = NULL;
    if (stepd_llm_client_new(NULL, &client, &err) < 0)
        client = NULL; /* the rules still answer */
    free(err);
}

static int handler(step_ctx *ctx, json_t *input) {
    pthread_once(&client_once, client_init);
    const char *session = json_string_value(json_object_get(input, "sessionId"));
    const char *message = json_string_value(json_object_get(input, "message"));
    stepd_llm_hooks hooks = stepd_llm_step_hooks(ctx);
    stepd_assistant_turn turn;
    char *err = NULL;
    int rc = stepd_assistant_handle(client, &hooks, session, message, NULL, &turn, &err);
    if (rc < 0) {
        json_t *f = json_pack("{s:s,s:s}", "sessionId", session ? session : "", "error",
                              err ? err : step_strerror(rc));
        step_log_error(ctx, "assistant turn failed", f); /* fields are borrowed */
        json_decref(f);
        if (step_attempt(ctx) < MAX_ATTEMPTS) {
            free(err);
            return rc; /* retried by the runtime */
        }
        /* the last attempt: tell the customer instead of leaving the chat "processing" */
        rc = step_emit(ctx, "assistant.response",
                       json_pack("{s:s,s:s,s:s,s:s}", "sessionId", session ? session : "",
                                 "message", "Sorry, I could not process that. Please try again.",
                                 "intent", "error", "error", err ? err : step_strerror(rc)));
        free(err);
        return rc;
    }
    json_t *f = json_pack("{s:s,s:O}", "sessionId", session, "intent",
                          json_object_get(turn.response, "intent"));
    step_log_info(ctx, "assistant answered", f);
    json_decref(f);
    rc = step_emit(ctx, "assistant.response", json_incref(turn.response));
    if (rc == 0 && turn.action)
        rc = step_emit(ctx, "assistant.action", json_incref(turn.action));
    stepd_assistant_turn_free(&turn);
    return rc;
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "Assistant",
    .description = "Understands the message, remembers the conversation, answers",
    .flows = STEP_LIST("assistant"),
    .subscribes = STEP_LIST("assistant.message"),
    .input_schema = "{\"type\":\"object\",\"required\":[\"sessionId\",\"message\"]}",
    .emits = STEP_LIST("assistant.response", "assistant.action", "metrics.ai"),
    .on_event = handler,
    .timeout_ms = 60000,
    .max_attempts = MAX_ATTEMPTS,
};
