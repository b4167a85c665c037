/*
 * recommend.c — blended recommendations for one user.
 *
 * Seeds are the product being looked at (if any) and the user's recent history. Each source
 * scores candidates in [0, 1]:
 *   content        best cosine similarity to a seed (TF-IDF index)      similar_to_viewed
 *   collaborative  best item-item similarity to a seed (histories)      bought_together
 *   preferences    mean of the criteria the user set: category liked,   matches_preferences
 *                  share of liked tags present, price inside the band
 * and the blend is the weighted sum. Purchased products and the seed item are dropped; each
 * product appears once, with the reason of the source that contributed most to its score.
 */
#include "ai/recommend_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEEDS 20  /* most recent history items used as seeds */
#define NEIGHBOURS 50 /* neighbours fetched per seed and source */

typedef struct cand {
    double src[3]; /* content, collaborative, preferences */
    double score;
    uint32_t id;
    int reason;
} cand;

typedef struct blend {
    ai_recommend_strmap ids; /* candidate ids -> index in c */
    cand *c;
    size_t cap;
    ai_recommend_strmap purchased;
    const json_t *cats, *tags; /* preferences, looked up once */
    double price_lo, price_hi;
    int has_price;
    int rc;
} blend;

static cand *cand_get(blend *b, const char *id) {
    uint32_t i;
    int r = ai_recommend_strmap_intern(&b->ids, id, strlen(id), &i);
    if (r < 0)
        return NULL;
    if (i >= b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        cand *c = realloc(b->c, cap * sizeof(*c));
        if (!c)
            return NULL;
        b->c = c;
        b->cap = cap;
    }
    if (r == 1)
        b->c[i] = (cand){{0, 0, 0}, 0, i, 0};
    return &b->c[i];
}

static void merge_hits(blend *b, const stepd_recommend_hits *h, int src, double seed_w) {
    for (size_t i = 0; i < h->count && !b->rc; i++) {
        cand *c = cand_get(b, h->items[i].product_id);
        if (!c) {
            b->rc = STEP_ENOMEM;
            return;
        }
        double s = h->items[i].score * seed_w;
        if (s > c->src[src])
            c->src[src] = s;
    }
}

static int str_in(const char *s, const json_t *arr) {
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && !strcasecmp(json_string_value(v), s))
            return 1;
    }
    return 0;
}

/* Preference score of one product: mean of the criteria the user expressed. */
static void pref_each(void *ud, const char *id, const ai_recommend_meta *m) {
    blend *b = ud;
    if (b->rc)
        return;
    const json_t *cats = b->cats, *tags = b->tags;
    double sum = 0;
    int n = 0;
    if (json_is_array(cats) && json_array_size(cats)) {
        n++;
        sum += m->category && str_in(m->category, cats);
    }
    if (json_is_array(tags) && json_array_size(tags)) {
        n++;
        size_t liked = 0;
        for (uint32_t i = 0; i < m->ntags; i++)
            liked += str_in(m->tags[i], tags);
        sum += (double)liked / (double)json_array_size(tags);
    }
    if (b->has_price) {
        n++;
        sum += !isnan(m->price) && m->price >= b->price_lo && m->price <= b->price_hi;
    }
    if (!n || sum <= 0)
        return;
    cand *c = cand_get(b, id);
    if (!c) {
        b->rc = STEP_ENOMEM;
        return;
    }
    c->src[2] = sum / n > 1.0 ? 1.0 : sum / n;
}

static int cand_cmp(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static int event_id(const json_t *ev, char *out, size_t outsz) {
    const json_t *p = json_object_get(ev, "productId");
    if (!p)
        p = json_object_get(ev, "itemId");
    json_t *tmp = json_pack("{sO}", "id", p ? p : json_null());
    int rc = tmp ? ai_recommend_product_id(tmp, out, outsz) : -1;
    json_decref(tmp);
    return rc;
}

static int is_purchase(const json_t *ev) {
    const char *t = json_string_value(json_object_get(ev, "type"));
    return t && (!strcmp(t, "purchase") || !strcmp(t, "purchased") || !strcmp(t, "buy"));
}

int stepd_recommend_for_user(stepd_recommend_index *idx, stepd_recommend_cf *cf,
                             const stepd_recommend_request *req, stepd_recommend_hits *out,
                             char **err) {
    if (!out || !req)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: for_user needs a request and out");
    out->items = NULL;
    out->count = 0;
    if (req->history && !json_is_array(req->history))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: history must be an array of events");
    if (req->preferences && !json_is_object(req->preferences))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: preferences must be an object");
    double w[3] = {req->w_content, req->w_collaborative, req->w_preferences};
    if (w[0] < 0 || w[1] < 0 || w[2] < 0 || isnan(w[0] + w[1] + w[2]))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: weights must be >= 0");
    if (w[0] == 0 && w[1] == 0 && w[2] == 0)
        w[0] = 1, w[1] = 1, w[2] = 0.5;
    size_t k = req->k ? req->k : 10;
    if (req->item_id && idx && !ai_recommend_index_has(idx, req->item_id))
        return ai_recommend_fail(err, STEP_ENOTFOUND, "recommend: unknown product '%s'",
                                 req->item_id);

    blend b = {0};
    if (req->preferences) {
        const json_t *pmin = json_object_get(req->preferences, "priceMin");
        const json_t *pmax = json_object_get(req->preferences, "priceMax");
        b.cats = json_object_get(req->preferences, "categories");
        b.tags = json_object_get(req->preferences, "tags");
        b.has_price = json_is_number(pmin) || json_is_number(pmax);
        b.price_lo = json_is_number(pmin) ? json_number_value(pmin) : -INFINITY;
        b.price_hi = json_is_number(pmax) ? json_number_value(pmax) : INFINITY;
    }
    /* seeds: the item, then the most recent distinct history items (weight 1) */
    const char *seeds[MAX_SEEDS + 1];
    char seedbuf[MAX_SEEDS][1024];
    size_t nseeds = 0;
    ai_recommend_strmap seen = {0};
    uint32_t dummy;
    if (req->item_id) {
        seeds[nseeds++] = req->item_id;
        if (ai_recommend_strmap_intern(&seen, req->item_id, strlen(req->item_id), &dummy) < 0)
            b.rc = STEP_ENOMEM;
    }
    size_t nh = req->history ? json_array_size(req->history) : 0;
    for (size_t i = nh; i > 0 && !b.rc; i--) {
        const json_t *ev = json_array_get(req->history, i - 1);
        char id[1024];
        if (event_id(ev, id, sizeof(id)))
            continue;
        if (is_purchase(ev) && ai_recommend_strmap_intern(&b.purchased, id, strlen(id), &dummy) < 0)
            b.rc = STEP_ENOMEM;
        if (nseeds - (req->item_id != NULL) >= MAX_SEEDS)
            continue;
        int r = ai_recommend_strmap_intern(&seen, id, strlen(id), &dummy);
        if (r < 0)
            b.rc = STEP_ENOMEM;
        if (r == 1) {
            memcpy(seedbuf[nseeds - (req->item_id != NULL)], id, strlen(id) + 1);
            seeds[nseeds] = seedbuf[nseeds - (req->item_id != NULL)];
            nseeds++;
        }
    }
    size_t fetch = k + NEIGHBOURS;
    for (size_t s = 0; s < nseeds && !b.rc; s++) {
        stepd_recommend_hits h;
        if (idx && w[0] > 0 && !stepd_recommend_index_similar(idx, seeds[s], fetch, &h, NULL)) {
            merge_hits(&b, &h, 0, 1.0);
            stepd_recommend_hits_free(&h);
        }
        if (cf && w[1] > 0 && !stepd_recommend_cf_similar(cf, seeds[s], fetch, &h, NULL)) {
            merge_hits(&b, &h, 1, 1.0);
            stepd_recommend_hits_free(&h);
        }
    }
    if (!b.rc && idx && w[2] > 0 && req->preferences)
        ai_recommend_index_each(idx, pref_each, &b);

    size_t n = 0;
    for (size_t i = 0; i < b.ids.count && !b.rc; i++) {
        cand c = b.c[i];
        const char *id = ai_recommend_strmap_key(&b.ids, (uint32_t)i);
        if (req->item_id && !strcmp(id, req->item_id))
            continue;
        if (ai_recommend_strmap_find(&b.purchased, id, strlen(id)) >= 0)
            continue;
        if (idx && !ai_recommend_index_has(idx, id))
            continue; /* collaborative neighbours no longer in the catalogue */
        double best = -1;
        c.score = 0;
        for (int s = 0; s < 3; s++) {
            double v = w[s] * c.src[s];
            c.score += v;
            if (v > best)
                best = v, c.reason = s;
        }
        if (c.score > 0)
            b.c[n++] = c;
    }
    int rc = b.rc;
    if (!rc) {
        if (n > 1)
            qsort(b.c, n, sizeof(cand), cand_cmp);
        size_t m = n < k ? n : k;
        if (m && !(out->items = calloc(m, sizeof(*out->items))))
            rc = STEP_ENOMEM;
        static const char *(*const reasons[3])(void) = {
            ai_recommend_reason_content, ai_recommend_reason_cf, ai_recommend_reason_pref};
        for (size_t i = 0; i < m && !rc; i++) {
            stepd_recommend_hit *h = &out->items[i];
            h->product_id = strdup(ai_recommend_strmap_key(&b.ids, b.c[i].id));
            h->score = b.c[i].score;
            h->reason = reasons[b.c[i].reason]();
            out->count++;
            if (!h->product_id)
                rc = STEP_ENOMEM;
        }
        if (rc)
            stepd_recommend_hits_free(out);
    }
    ai_recommend_strmap_free(&b.ids);
    ai_recommend_strmap_free(&b.purchased);
    ai_recommend_strmap_free(&seen);
    free(b.c);
    if (rc)
        return ai_recommend_fail(err, rc, "recommend: out of memory");
    return 0;
}
