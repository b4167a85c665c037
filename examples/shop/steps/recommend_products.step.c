/*
 * recommend.products — on "recommendations.requested" {"userId", "item"?, "k"?} computes the
 * user's recommendations, keeps them in state (recommendations/<userId>) and emits
 * "recommendations.ready" {"userId", "item", "recommendations": [{productId, score, reason}]}.
 */
#include <stepd/ai/recommend.h> /* links libstepd-ai.so into this step */

#include "shop_recommend.h"

static int on_request(step_ctx *ctx, json_t *input) {
    const char *user = json_string_value(json_object_get(input, "userId"));
    const char *item = json_string_value(json_object_get(input, "item"));
    json_int_t k = json_integer_value(json_object_get(input, "k"));
    json_t *recs = NULL;
    char *err = NULL;
    int rc = shop_recommend(ctx, user, item, k > 0 && k <= 100 ? (size_t)k : 10, &recs, &err);
    if (rc == STEP_ENOTFOUND) { /* unknown item: answer with an empty list, not a retry */
        recs = json_array();
        rc = 0;
    }
    if (rc) {
        json_t *f = json_pack("{s:s,s:s}", "userId", user, "error", err ? err : "?");
        step_log_error(ctx, "recommendation failed", f); /* fields are borrowed */
        json_decref(f);
        free(err);
        return rc;
    }
    free(err);
    json_t *ready = json_pack("{s:s,s:O?,s:O}", "userId", user, "item",
                              json_object_get(input, "item"), "recommendations", recs);
    rc = step_state_set(ctx, "recommendations", user, ready);
    if (!rc)
        rc = step_emit(ctx, "recommendations.ready", json_incref(ready));
    json_decref(ready);
    json_decref(recs);
    return rc;
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "recommend.products",
    .description = "Blends content similarity, co-purchases and preferences into recommendations",
    .flows = STEP_LIST("shop"),
    .subscribes = STEP_LIST("recommendations.requested"),
    .input_schema = "{\"type\":\"object\",\"required\":[\"userId\"],\"properties\":"
                    "{\"userId\":{\"type\":\"string\",\"minLength\":1},"
                    "\"item\":{\"type\":\"string\"},\"k\":{\"type\":\"integer\"}}}",
    .emits = STEP_LIST("recommendations.ready"),
    .on_event = on_request,
};
