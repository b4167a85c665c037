/*
 * auth — bearer-token middleware for the chat API.
 *
 * The demo accepts tokens of the form "demo-<userId>" and attaches {"id": userId} as
 * req->locals.user. In a real application, look the token up in your token store (state
 * group, database, JWT verification) here; everything after this middleware stays the same.
 */
#include <stepd/step.h>
#include <string.h>

STEP_MIDDLEWARE(auth) {
    const char *h = step_request_header(req, "authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) {
        return step_respond(res, 401, json_pack("{s:s}", "error", "missing bearer token")) == 0
                   ? STEP_DONE
                   : -1;
    }
    const char *token = h + 7;
    if (strncmp(token, "demo-", 5) != 0 || !token[5] || strlen(token) > 128) {
        step_respond(res, 401, json_pack("{s:s}", "error", "invalid token"));
        return STEP_DONE;
    }
    step_request_set_local(req, "user", json_pack("{s:s}", "id", token + 5));
    (void)ctx;
    return STEP_NEXT;
}
