/* POST /users/:userId/events {"productId", "type": "view"|"cart"|"purchase"} — appends to the
 * user's history in state (user_history/<userId>), oldest first, and asks recommend.products
 * to refresh the user's recommendations (recommendations.requested). Answers 202. */
#include <stepd/step.h>

static int post_event(step_ctx *ctx, step_request *req, step_response *res) {
    const char *user = json_string_value(json_object_get(req->path_params, "userId"));
    json_t *h = NULL;
    int rc = step_state_get(ctx, "user_history", user, &h);
    if (rc == STEP_ENOTFOUND) {
        h = json_pack("{s:s,s:[]}", "userId", user, "events");
        rc = 0;
    }
    if (rc)
        return rc;
    json_array_append(json_object_get(h, "events"), req->body);
    rc = step_state_set(ctx, "user_history", user, h);
    json_decref(h);
    if (!rc)
        rc = step_emit(ctx, "recommendations.requested", json_pack("{s:s}", "userId", user));
    return rc ? rc : step_respond(res, 202, json_pack("{s:s}", "userId", user));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "UserEventsApi",
    .description = "Records a view, cart or purchase in the user's history",
    .flows = STEP_LIST("shop"),
    .method = "POST",
    .path = "/users/:userId/events",
    .body_schema = "{\"type\":\"object\",\"required\":[\"productId\"],\"properties\":"
                   "{\"type\":{\"type\":\"string\"}}}",
    .emits = STEP_LIST("recommendations.requested"),
    .api = post_event,
};
