/*
 * recommend_cf.c — item-item collaborative filtering from user histories.
 *
 * Histories become a sparse user x item matrix of interaction weights (views, carts,
 * purchases, or explicit weights; repeated interactions add up), stored twice in CSR form:
 * by user and by item. The neighbours of item i are found on demand by walking i's users and
 * their items, accumulating co-interaction in a dense array, so the cost is proportional to
 * the interactions touched and memory to the non-zeros. Cosine divides the dot product of the
 * two items' weight vectors by their norms; Jaccard divides the number of common users by the
 * size of the union. The model is immutable once built: queries need no locks.
 */
#include "ai/recommend_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct stepd_recommend_cf {
    stepd_recommend_metric metric;
    ai_recommend_strmap items;
    size_t nusers;
    size_t *u_off; /* per user: [u_off[u], u_off[u+1]) into u_item/u_w */
    uint32_t *u_item;
    double *u_w;
    size_t *i_off; /* per item: its users */
    uint32_t *i_user;
    double *i_w;
    double *i_norm; /* cosine: ||w_i||; jaccard: number of users */
};

typedef struct triple {
    uint32_t user, item;
    double w;
} triple;

typedef struct cf_builder {
    ai_recommend_strmap users;
    triple *t;
    size_t n, cap;
} cf_builder;

static double event_weight(const json_t *ev) {
    const json_t *w = json_object_get(ev, "weight");
    if (json_is_number(w))
        return json_number_value(w);
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type)
        return 1.0;
    if (!strcmp(type, "purchase") || !strcmp(type, "purchased") || !strcmp(type, "buy"))
        return 3.0;
    if (!strcmp(type, "cart") || !strcmp(type, "add_to_cart"))
        return 2.0;
    return 1.0;
}

/* The product an event is about (as a string id) or -1 when it has none. */
static int event_product(const json_t *ev, char *out, size_t outsz) {
    if (!json_is_object(ev))
        return -1;
    const json_t *p = json_object_get(ev, "productId");
    if (!p)
        p = json_object_get(ev, "itemId");
    json_t *tmp = json_pack("{sO}", "id", p ? p : json_null());
    int rc = tmp ? ai_recommend_product_id(tmp, out, outsz) : -1;
    json_decref(tmp);
    return rc ? -1 : 0;
}

static int add_event(stepd_recommend_cf *cf, cf_builder *b, uint32_t user, const json_t *ev) {
    char pid[1024];
    if (event_product(ev, pid, sizeof(pid)))
        return 0; /* events without a product are ignored */
    double w = event_weight(ev);
    if (!(w > 0) || !isfinite(w))
        return 0;
    uint32_t item;
    if (ai_recommend_strmap_intern(&cf->items, pid, strlen(pid), &item) < 0)
        return STEP_ENOMEM;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        triple *t = realloc(b->t, cap * sizeof(*t));
        if (!t)
            return STEP_ENOMEM;
        b->t = t;
        b->cap = cap;
    }
    b->t[b->n++] = (triple){user, item, w};
    return 0;
}

static int add_user(stepd_recommend_cf *cf, cf_builder *b, const char *name, size_t len,
                    const json_t *events) {
    uint32_t user;
    if (ai_recommend_strmap_intern(&b->users, name, len, &user) < 0)
        return STEP_ENOMEM;
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev) {
        int rc = add_event(cf, b, user, ev);
        if (rc)
            return rc;
    }
    return 0;
}

static int cmp_user_item(const void *a, const void *b) {
    const triple *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static int parse_histories(stepd_recommend_cf *cf, cf_builder *b, const json_t *h) {
    char anon[32];
    int rc = 0;
    if (json_is_object(h)) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)h, key, v) {
            if (json_is_object(v))
                v = json_object_get(v, "events") ? json_object_get(v, "events")
                                                 : json_object_get(v, "history");
            if (json_is_array(v) && (rc = add_user(cf, b, key, strlen(key), v)))
                return rc;
        }
        return 0;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(h, i, v) {
        if (json_is_array(v)) {
            snprintf(anon, sizeof(anon), "\x01#%zu", i);
            rc = add_user(cf, b, anon, strlen(anon), v);
        } else if (json_is_object(v)) {
            const json_t *evs = json_object_get(v, "events");
            if (!evs)
                evs = json_object_get(v, "history");
            char uid[1024];
            json_t *tmp = json_pack("{sO}", "id",
                                    json_object_get(v, "userId") ? json_object_get(v, "userId")
                                                                 : json_null());
            int has_uid = tmp && !ai_recommend_product_id(tmp, uid, sizeof(uid));
            json_decref(tmp);
            if (!has_uid)
                snprintf(uid, sizeof(uid), "\x01#%zu", i);
            if (json_is_array(evs)) {
                rc = add_user(cf, b, uid, strlen(uid), evs);
            } else if (has_uid) { /* an event log entry: {"userId", "productId", ...} */
                uint32_t user;
                if (ai_recommend_strmap_intern(&b->users, uid, strlen(uid), &user) < 0)
                    return STEP_ENOMEM;
                rc = add_event(cf, b, user, v);
            }
        }
        if (rc)
            return rc;
    }
    return 0;
}

int stepd_recommend_cf_new(const json_t *histories, stepd_recommend_metric metric,
                           stepd_recommend_cf **out, char **err) {
    if (!out)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: out is NULL");
    *out = NULL;
    if (!json_is_object(histories) && !json_is_array(histories))
        return ai_recommend_fail(err, STEP_EINVAL,
                                 "recommend: histories must be an object {userId: [events]} or an "
                                 "array");
    if (metric != STEPD_RECOMMEND_COSINE && metric != STEPD_RECOMMEND_JACCARD)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: unknown metric %d", (int)metric);
    stepd_recommend_cf *cf = calloc(1, sizeof(*cf));
    cf_builder b = {0};
    int rc = cf ? 0 : STEP_ENOMEM;
    if (!rc) {
        cf->metric = metric;
        rc = parse_histories(cf, &b, histories);
    }
    if (rc)
        goto fail;
    /* merge repeated (user, item) pairs */
    if (b.n > 1)
        qsort(b.t, b.n, sizeof(*b.t), cmp_user_item);
    size_t m = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (m && b.t[m - 1].user == b.t[i].user && b.t[m - 1].item == b.t[i].item)
            b.t[m - 1].w += b.t[i].w;
        else
            b.t[m++] = b.t[i];
    }
    size_t nu = b.users.count, ni = cf->items.count;
    cf->nusers = nu;
    cf->u_off = calloc(nu + 1, sizeof(size_t));
    cf->i_off = calloc(ni + 1, sizeof(size_t));
    cf->u_item = malloc((m ? m : 1) * sizeof(uint32_t));
    cf->u_w = malloc((m ? m : 1) * sizeof(double));
    cf->i_user = malloc((m ? m : 1) * sizeof(uint32_t));
    cf->i_w = malloc((m ? m : 1) * sizeof(double));
    cf->i_norm = calloc(ni ? ni : 1, sizeof(double));
    if (!cf->u_off || !cf->i_off || !cf->u_item || !cf->u_w || !cf->i_user || !cf->i_w ||
        !cf->i_norm) {
        rc = STEP_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < m; i++) {
        cf->u_off[b.t[i].user + 1]++;
        cf->i_off[b.t[i].item + 1]++;
        cf->u_item[i] = b.t[i].item; /* sorted by user already */
        cf->u_w[i] = b.t[i].w;
        cf->i_norm[b.t[i].item] += metric == STEPD_RECOMMEND_COSINE ? b.t[i].w * b.t[i].w : 1.0;
    }
    for (size_t u = 0; u < nu; u++)
        cf->u_off[u + 1] += cf->u_off[u];
    for (size_t i = 0; i < ni; i++) {
        cf->i_off[i + 1] += cf->i_off[i];
        if (metric == STEPD_RECOMMEND_COSINE)
            cf->i_norm[i] = sqrt(cf->i_norm[i]);
    }
    size_t *cur = malloc((ni ? ni : 1) * sizeof(size_t));
    if (!cur) {
        rc = STEP_ENOMEM;
        goto fail;
    }
    memcpy(cur, cf->i_off, ni * sizeof(size_t));
    for (size_t i = 0; i < m; i++) {
        size_t p = cur[b.t[i].item]++;
        cf->i_user[p] = b.t[i].user;
        cf->i_w[p] = b.t[i].w;
    }
    free(cur);
    free(b.t);
    ai_recommend_strmap_free(&b.users);
    *out = cf;
    return 0;
fail:
    free(b.t);
    ai_recommend_strmap_free(&b.users);
    stepd_recommend_cf_free(cf);
    return ai_recommend_fail(err, rc, "recommend: out of memory while building the model");
}

void stepd_recommend_cf_free(stepd_recommend_cf *cf) {
    if (!cf)
        return;
    ai_recommend_strmap_free(&cf->items);
    free(cf->u_off);
    free(cf->u_item);
    free(cf->u_w);
    free(cf->i_off);
    free(cf->i_user);
    free(cf->i_w);
    free(cf->i_norm);
    free(cf);
}

typedef struct cand {
    double score;
    uint32_t item;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

int stepd_recommend_cf_similar(stepd_recommend_cf *cf, const char *id, size_t k,
                               stepd_recommend_hits *out, char **err) {
    if (!out)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: out is NULL");
    out->items = NULL;
    out->count = 0;
    if (!cf || !id)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: cf_similar needs a model and id");
    long it = ai_recommend_strmap_find(&cf->items, id, strlen(id));
    if (it < 0)
        return ai_recommend_fail(err, STEP_ENOTFOUND,
                                 "recommend: no user history mentions product '%s'", id);
    size_t ni = cf->items.count;
    double *acc = calloc(ni, sizeof(double));
    uint32_t *touched = malloc(ni * sizeof(uint32_t));
    cand *c = NULL;
    size_t nt = 0;
    if (!acc || !touched)
        goto nomem;
    for (size_t p = cf->i_off[it]; p < cf->i_off[it + 1]; p++) {
        uint32_t u = cf->i_user[p];
        double wu = cf->i_w[p];
        for (size_t q = cf->u_off[u]; q < cf->u_off[u + 1]; q++) {
            uint32_t j = cf->u_item[q];
            if (j == (uint32_t)it)
                continue;
            if (acc[j] == 0)
                touched[nt++] = j;
            acc[j] += cf->metric == STEPD_RECOMMEND_COSINE ? wu * cf->u_w[q] : 1.0;
        }
    }
    c = malloc((nt ? nt : 1) * sizeof(*c));
    if (!c)
        goto nomem;
    for (size_t i = 0; i < nt; i++) {
        uint32_t j = touched[i];
        double s;
        if (cf->metric == STEPD_RECOMMEND_COSINE)
            s = acc[j] / (cf->i_norm[it] * cf->i_norm[j]);
        else
            s = acc[j] / (cf->i_norm[it] + cf->i_norm[j] - acc[j]);
        c[i] = (cand){s > 1.0 ? 1.0 : s, j};
    }
    if (nt > 1)
        qsort(c, nt, sizeof(*c), cand_cmp);
    size_t n = nt < k ? nt : k;
    if (n) {
        out->items = calloc(n, sizeof(*out->items));
        if (!out->items)
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            out->items[i].product_id = strdup(ai_recommend_strmap_key(&cf->items, c[i].item));
            out->items[i].score = c[i].score;
            out->items[i].reason = ai_recommend_reason_cf();
            out->count++;
            if (!out->items[i].product_id) {
                stepd_recommend_hits_free(out);
                goto nomem;
            }
        }
    }
    free(acc);
    free(touched);
    free(c);
    return 0;
nomem:
    free(acc);
    free(touched);
    free(c);
    return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
}
