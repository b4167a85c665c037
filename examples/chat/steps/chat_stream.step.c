/*
 * GET /ai/chat/:id/stream — the reply as server-sent events while the model writes it:
 * "token" events (text deltas), then "end" with {"status", "response" | "error"}. For its
 * owner only. A chat that finished a while ago is answered from its record at once.
 *
 *     curl -N -H 'authorization: Bearer demo-ann' localhost:3000/ai/chat/ID/stream
 */
#include <stepd/step.h>
#include <stdlib.h>
#include <string.h>

#include "chat_owner.h"

static int stream_chat(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    json_t *chat;
    int rc = chat_load_own(ctx, req, res, &chat);
    if (rc)
        return rc > 0 ? 0 : rc; /* > 0: the 404 is set */
    const char *status = json_string_value(json_object_get(chat, "status"));
    if (!status || !strcmp(status, "processing")) { /* live: follow the model's tokens */
        json_decref(chat);
        return step_respond_follow(res, "chat", id);
    }
    step_stream *s; /* done: the whole reply as one token, then the outcome */
    rc = step_respond_stream(ctx, res, 200, NULL, &s);
    if (rc == 0) {
        const char *reply = json_string_value(json_object_get(chat, "response"));
        if (reply)
            step_stream_event(s, "token", reply);
        json_t *end = json_pack("{s:s}", "status", status);
        if (reply)
            json_object_set(end, "response", json_object_get(chat, "response"));
        if (json_object_get(chat, "error"))
            json_object_set(end, "error", json_object_get(chat, "error"));
        char *text = json_dumps(end, JSON_COMPACT);
        step_stream_event(s, "end", text ? text : "{}");
        free(text);
        json_decref(end);
    }
    json_decref(chat);
    return rc;
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "ChatStream",
    .description = "Streams a chat's reply as server-sent events",
    .flows = STEP_LIST("chat"),
    .method = "GET",
    .path = "/ai/chat/:id/stream",
    .middleware = STEP_LIST("auth"),
    .api = stream_chat,
};
