/*
 * GET /recommendations/:userId?item=ID&k=N — the user's recommendations now:
 * 200 {"userId", "item", "recommendations": [{productId, score, reason}]},
 * 404 when `item` is not in the catalogue.
 */
#include <stepd/ai/recommend.h> /* links libstepd-ai.so into this step */

#include "shop_recommend.h"

static int get_recommendations(step_ctx *ctx, step_request *req, step_response *res) {
    const char *user = json_string_value(json_object_get(req->path_params, "userId"));
    const char *item = json_string_value(json_object_get(req->query_params, "item"));
    const char *ks = json_string_value(json_object_get(req->query_params, "k"));
    long k = ks ? strtol(ks, NULL, 10) : 10;
    if (k < 1 || k > 100)
        return step_respond(res, 400, json_pack("{s:s}", "error", "k must be from 1 to 100"));
    json_t *recs = NULL;
    char *err = NULL;
    int rc = shop_recommend(ctx, user, item, (size_t)k, &recs, &err);
    if (rc == STEP_ENOTFOUND) {
        json_t *body = json_pack("{s:s}", "error", err ? err : "not found");
        free(err);
        return step_respond(res, 404, body);
    }
    free(err);
    if (rc)
        return rc;
    return step_respond(
        res, 200,
        json_pack("{s:s,s:s*,s:o}", "userId", user, "item", item, "recommendations", recs));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "RecommendationsApi",
    .description = "Recommendations for a user, optionally around the product being viewed",
    .flows = STEP_LIST("shop"),
    .method = "GET",
    .path = "/recommendations/:userId",
    .api = get_recommendations,
};
