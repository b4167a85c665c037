/*
 * Feeding the shop: POST /products (one product or an array), POST /users/:userId/events
 * ({"productId", "type"} appended to the user's history), PUT /users/:userId/preferences.
 * Each answers 204; GET /recommendations/:userId reads what they stored.
 */
#include <stdio.h>
#include <stepd/step.h>

static int put_product(step_ctx *ctx, json_t *p) {
    json_t *id = json_object_get(p, "id");
    char key[128];
    if (json_is_string(id))
        snprintf(key, sizeof(key), "%s", json_string_value(id));
    else if (json_is_integer(id))
        snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else
        return STEP_EINVAL;
    return step_state_set(ctx, "products", key, p);
}

static int post_products(step_ctx *ctx, step_request *req, step_response *res) {
    size_t i;
    json_t *p;
    int rc = 0;
    if (json_is_array(req->body)) {
        json_array_foreach(req->body, i, p) {
            if ((rc = put_product(ctx, p)))
                break;
        }
    } else {
        rc = put_product(ctx, req->body);
    }
    if (rc == STEP_EINVAL)
        return step_respond(res, 400, json_pack("{s:s}", "error", "every product needs an id"));
    return rc ? rc : step_respond(res, 204, NULL);
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "ProductsApi",
    .description = "Adds or replaces catalogue products",
    .flows = STEP_LIST("shop"),
    .method = "POST",
    .path = "/products",
    .api = post_products,
};
