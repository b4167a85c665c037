/*
 * shop_recommend.h — shared by the shop's recommendation steps: reads the catalogue
 * (`products`), every user's history (`user_history`) and one user's preferences
 * (`user_preferences`) from state and blends content similarity, item-item collaborative
 * filtering and preferences with stepd's native recommend module.
 *
 * The analysed index and the collaborative model are cached per step and rebuilt only when
 * the catalogue or the histories change (detected by a hash of their JSON), so a request
 * costs the state reads plus the query, not a full TF-IDF build.
 *
 * State shapes:
 *   products/<id>          {"id", "title", "description", "category", "tags": [], "price"}
 *   user_history/<userId>  {"userId", "events": [{"productId", "type": "view"|"cart"|
 *                            "purchase", "weight"?}]}   (oldest first)
 *   user_preferences/<userId>  {"categories": [], "tags": [], "priceMin", "priceMax"}
 */
#ifndef SHOP_RECOMMEND_H
#define SHOP_RECOMMEND_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/ai/recommend.h>
#include <stepd/step.h>

static pthread_mutex_t shop_mu = PTHREAD_MUTEX_INITIALIZER;
static stepd_recommend_index *shop_index;
static stepd_recommend_cf *shop_cf;
static uint64_t shop_products_hash, shop_history_hash;

static uint64_t shop_hash(const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = s; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    free(s);
    return h;
}

/* Recommendations for user_id (item_id may be NULL) as a new JSON array in *out. On failure
 * returns a STEP_E* code and sets *err (caller frees). */
static int shop_recommend(step_ctx *ctx, const char *user_id, const char *item_id, size_t k,
                          json_t **out, char **err) {
    json_t *products = NULL, *histories = NULL, *history = NULL, *prefs = NULL;
    *out = NULL;
    int rc = step_state_get_group(ctx, "products", &products);
    if (!rc)
        rc = step_state_get_group(ctx, "user_history", &histories);
    if (!rc) {
        rc = step_state_get(ctx, "user_history", user_id, &history);
        if (rc == STEP_ENOTFOUND)
            rc = 0;
    }
    if (!rc) {
        rc = step_state_get(ctx, "user_preferences", user_id, &prefs);
        if (rc == STEP_ENOTFOUND)
            rc = 0;
    }
    if (rc) {
        *err = strdup("cannot read the catalogue or histories from state");
        goto out;
    }
    pthread_mutex_lock(&shop_mu);
    uint64_t ph = shop_hash(products), hh = shop_hash(histories);
    if (!shop_index || ph != shop_products_hash) {
        stepd_recommend_index *idx = NULL;
        stepd_recommend_options o;
        stepd_recommend_options_init(&o);
        o.ngram_max = 2;  /* unigrams and bigrams */
        o.stop_words = 1; /* English stop words */
        o.sublinear_tf = 1;
        o.max_features = 50000;
        rc = stepd_recommend_index_new(&o, &idx, err);
        if (!rc)
            rc = stepd_recommend_index_add_products(idx, products, err);
        if (rc) {
            stepd_recommend_index_free(idx);
            pthread_mutex_unlock(&shop_mu);
            goto out;
        }
        stepd_recommend_index_free(shop_index);
        shop_index = idx;
        shop_products_hash = ph;
    }
    if (!shop_cf || hh != shop_history_hash) {
        stepd_recommend_cf *cf = NULL;
        rc = stepd_recommend_cf_new(histories, STEPD_RECOMMEND_COSINE, &cf, err);
        if (rc) {
            pthread_mutex_unlock(&shop_mu);
            goto out;
        }
        stepd_recommend_cf_free(shop_cf);
        shop_cf = cf;
        shop_history_hash = hh;
    }
    stepd_recommend_request req = {0};
    req.history = json_is_array(history) ? history : json_object_get(history, "events");
    req.preferences = json_is_object(prefs) ? prefs : NULL;
    req.item_id = item_id;
    req.k = k;
    req.w_content = 1.0;
    req.w_collaborative = 1.0;
    req.w_preferences = 0.5;
    stepd_recommend_hits hits;
    rc = stepd_recommend_for_user(shop_index, shop_cf, &req, &hits, err);
    pthread_mutex_unlock(&shop_mu);
    if (!rc) {
        *out = stepd_recommend_hits_json(&hits);
        stepd_recommend_hits_free(&hits);
        if (!*out)
            rc = STEP_ENOMEM;
    }
out:
    json_decref(products);
    json_decref(histories);
    json_decref(history);
    json_decref(prefs);
    return rc;
}

#endif
