/* chat_owner.h — what GET /ai/chat/:id and its stream share: the chat named by :id, for the
 * user the auth middleware attached, and 404 for anyone else (not 403: ids are not revealed). */
#ifndef CHAT_OWNER_H
#define CHAT_OWNER_H

#include <stepd/step.h>
#include <string.h>

/* 0 with *chat (a new reference) when it is the caller's; 1 when the 404 is already set in
 * res; or a negative STEP_E* code. */
static inline int chat_load_own(step_ctx *ctx, step_request *req, step_response *res,
                                json_t **chat) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    const char *user = json_string_value(json_object_get(step_request_local(req, "user"), "id"));
    *chat = NULL;
    int rc = step_state_get(ctx, "chats", id, chat);
    if (rc == STEP_ENOTFOUND ||
        (rc == 0 && strcmp(json_string_value(json_object_get(*chat, "userId")), user) != 0)) {
        json_decref(*chat);
        *chat = NULL;
        step_respond(res, 404, json_pack("{s:s}", "error", "chat not found"));
        return 1;
    }
    return rc;
}

#endif
