/* POST /chat {"message": ...}: the durable chat flow of bench/events.sh. Stores the chat,
 * emits ai.chat.request with the accept time, answers 202. */
#include <stepd/step.h>
#include <time.h>

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int chat(step_ctx *ctx, step_request *req, step_response *res) {
    char id[33];
    step_new_id(id);
    json_t *msg = json_object_get(req->body, "message");
    json_t *rec = json_pack("{s:s, s:O, s:s}", "chatId", id, "message", msg, "status", "processing");
    int rc = step_state_set(ctx, "chats", id, rec);
    json_decref(rec);
    if (rc)
        return rc;
    rc = step_emit(ctx, "ai.chat.request",
                   json_pack("{s:s, s:O, s:I}", "chatId", id, "message", msg, "t0", (json_int_t)now_us()));
    return rc ? rc : step_respond(res, 202, json_pack("{s:s}", "chatId", id));
}

STEP_CONFIG = {
    .type = STEP_API, .name = "BenchChat", .method = "POST", .path = "/chat",
    .body_schema = "{\"type\":\"object\",\"required\":[\"message\"]}",
    .emits = STEP_LIST("ai.chat.request"), .api = chat,
};
