/* PUT /users/:userId/preferences {"categories", "tags", "priceMin", "priceMax"} — stored as
 * user_preferences/<userId> for the recommendation blend. */
#include <stepd/step.h>

static int put_prefs(step_ctx *ctx, step_request *req, step_response *res) {
    const char *user = json_string_value(json_object_get(req->path_params, "userId"));
    int rc = step_state_set(ctx, "user_preferences", user, req->body);
    return rc ? rc : step_respond(res, 204, NULL);
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "UserPreferencesApi",
    .description = "Sets the categories, tags and price band a user likes",
    .flows = STEP_LIST("shop"),
    .method = "PUT",
    .path = "/users/:userId/preferences",
    .body_schema = "{\"type\":\"object\"}",
    .api = put_prefs,
};
