/* ai.chat.request: completes the chat and records the end-to-end latency (µs). */
#include <stepd/step.h>
#include <time.h>

static int complete(step_ctx *ctx, json_t *input) {
    const char *id = json_string_value(json_object_get(input, "chatId"));
    json_t *chat = NULL;
    int rc = step_state_get(ctx, "chats", id, &chat);
    if (rc)
        return rc;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_int_t now = (json_int_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    json_int_t t0 = json_integer_value(json_object_get(input, "t0"));
    json_object_set_new(chat, "status", json_string("completed"));
    json_object_set_new(chat, "response", json_string("ok"));
    json_object_set_new(chat, "t0", json_integer(t0));
    json_object_set_new(chat, "t1", json_integer(now));
    rc = step_state_set(ctx, "chats", id, chat);
    json_decref(chat);
    return rc;
}

STEP_CONFIG = {.type = STEP_EVENT, .name = "BenchWorker", .subscribes = STEP_LIST("ai.chat.request"),
               .on_event = complete};
