/*
 * stepd/ai/recommend.h — native product recommendations.
 *
 * Three sources, usable alone or blended:
 *   - content: a TF-IDF index over the products' text (same analyzer, weights and cosine as
 *     scikit-learn's TfidfVectorizer + cosine_similarity), top-k similar items;
 *   - collaborative: item-item similarity (cosine or Jaccard) from user histories;
 *   - preferences: categories, tags and price band a user likes.
 * Every result carries {productId, score, reason} with reason one of "similar_to_viewed",
 * "bought_together", "matches_preferences".
 *
 * Errors: functions return 0 or a negative STEP_E* code (<stepd/step.h>). Those taking
 * `char **err` set *err (when err is not NULL) to a message naming what failed; the caller
 * frees it with free(). Objects are thread-safe: queries run concurrently, mutations are
 * serialised against them. Every *_free(NULL) is a no-op.
 */
#ifndef STEPD_AI_RECOMMEND_H
#define STEPD_AI_RECOMMEND_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options --------------------------------------------------------------------------- */

typedef enum stepd_recommend_norm {
    STEPD_RECOMMEND_NORM_L2 = 0,
    STEPD_RECOMMEND_NORM_L1 = 1,
    STEPD_RECOMMEND_NORM_NONE = 2,
} stepd_recommend_norm;

/* TF-IDF settings. stepd_recommend_options_init() gives scikit-learn's TfidfVectorizer()
 * defaults: lowercase, token_pattern r"(?u)\b\w\w+\b", ngram_range (1,1), no stop words,
 * smooth_idf, use_idf, l2 norm, raw term counts. */
typedef struct stepd_recommend_options {
    int ngram_min;             /* 1 */
    int ngram_max;             /* 1; 2 adds bigrams like ngram_range=(1,2) */
    int stop_words;            /* 0; 1 = scikit-learn's ENGLISH_STOP_WORDS (stop_words='english') */
    int sublinear_tf;          /* 0; 1 = tf replaced by 1 + ln(tf) */
    int use_idf;               /* 1 */
    int smooth_idf;            /* 1: idf = ln((1+n)/(1+df)) + 1; 0: ln(n/df) + 1 */
    stepd_recommend_norm norm; /* of the vectors returned by stepd_recommend_index_vector */
    size_t max_features;       /* 0 = all; else the terms with the highest corpus counts */
    /* Product fields that make up a product's text, joined with "\n" in this order; string
     * values are used as is, arrays contribute their strings joined with " ". NULL-terminated;
     * NULL means {"title", "description", "category", "tags", NULL}. Copied by _new. */
    const char *const *fields;
    int threads; /* worker threads for bulk builds and batched queries; 0 = online CPUs (<= 8) */
} stepd_recommend_options;

void stepd_recommend_options_init(stepd_recommend_options *opts);

/* ---- results --------------------------------------------------------------------------- */

typedef struct stepd_recommend_hit {
    char *product_id;   /* owned by the hits list */
    double score;       /* higher is better; cosine in [0, 1] for similar-items */
    const char *reason; /* static string */
} stepd_recommend_hit;

typedef struct stepd_recommend_hits {
    stepd_recommend_hit *items; /* best first: score desc, then catalogue order */
    size_t count;
} stepd_recommend_hits;

/* Frees the items (not the struct itself) and zeroes it. */
void stepd_recommend_hits_free(stepd_recommend_hits *hits);
/* New reference: [{"productId": ..., "score": ..., "reason": ...}, ...]. NULL on OOM. */
json_t *stepd_recommend_hits_json(const stepd_recommend_hits *hits);

/* ---- content index (TF-IDF + cosine) --------------------------------------------------- */

typedef struct stepd_recommend_index stepd_recommend_index;

int stepd_recommend_index_new(const stepd_recommend_options *opts, stepd_recommend_index **out,
                              char **err);
void stepd_recommend_index_free(stepd_recommend_index *idx);

/* Adds (or replaces, by id) every product of `products` (borrowed JSON array of objects with an
 * "id" string or integer; other fields per opts.fields, plus "category", "tags" and "price" kept
 * for preference scoring). Text is analysed on opts.threads threads. A later duplicate id
 * replaces an earlier one. On error nothing is added. */
int stepd_recommend_index_add_products(stepd_recommend_index *idx, const json_t *products,
                                       char **err);
/* Adds or replaces one product (borrowed JSON object). */
int stepd_recommend_index_put(stepd_recommend_index *idx, const json_t *product, char **err);
/* Adds or replaces one product from raw text (len bytes, any bytes; invalid UTF-8 sequences count
 * as separators, as if decoded with errors='replace'). */
int stepd_recommend_index_put_text(stepd_recommend_index *idx, const char *id, const char *text,
                                   size_t len, char **err);
/* STEP_ENOTFOUND when id is not in the index. */
int stepd_recommend_index_remove(stepd_recommend_index *idx, const char *id);

size_t stepd_recommend_index_count(stepd_recommend_index *idx);    /* products */
size_t stepd_recommend_index_features(stepd_recommend_index *idx); /* active terms */

/* Top-k products most similar (cosine of TF-IDF vectors) to product `id`, excluding itself and
 * products with score 0; reason "similar_to_viewed". *out is filled (free with _hits_free).
 * STEP_ENOTFOUND for an unknown id; a product without text has no similar items (count 0). */
int stepd_recommend_index_similar(stepd_recommend_index *idx, const char *id, size_t k,
                                  stepd_recommend_hits *out, char **err);
/* The same for n ids at once on opts.threads threads: out[i] answers ids[i]; an unknown id
 * gets an empty list (the call still succeeds). out is an array of n the caller provides. */
int stepd_recommend_index_similar_batch(stepd_recommend_index *idx, const char *const *ids,
                                        size_t n, size_t k, stepd_recommend_hits *out, char **err);
/* New reference: {"term": weight, ...}, the product's TF-IDF vector with opts.norm applied
 * (what TfidfVectorizer.fit_transform gives for that row). */
int stepd_recommend_index_vector(stepd_recommend_index *idx, const char *id, json_t **out,
                                 char **err);

/* Persists the index (analysed term counts and product metadata; no text) to `path`
 * atomically (write + rename). Loading it skips all text analysis. */
int stepd_recommend_index_save(stepd_recommend_index *idx, const char *path, char **err);
int stepd_recommend_index_load(const char *path, stepd_recommend_index **out, char **err);
/* The same from/to memory (e.g. to keep it in state); *buf is malloc'ed, caller frees. */
int stepd_recommend_index_save_buffer(stepd_recommend_index *idx, unsigned char **buf, size_t *len,
                                      char **err);
int stepd_recommend_index_load_buffer(const unsigned char *buf, size_t len,
                                      stepd_recommend_index **out, char **err);

/* ---- collaborative filtering (item-item) ----------------------------------------------- */

typedef enum stepd_recommend_metric {
    STEPD_RECOMMEND_COSINE = 0,  /* over weighted user-item interactions */
    STEPD_RECOMMEND_JACCARD = 1, /* over the sets of users who interacted */
} stepd_recommend_metric;

typedef struct stepd_recommend_cf stepd_recommend_cf;

/* Builds the item-item model from histories (borrowed), in any of these shapes:
 *   {"user1": [event, ...], ...}
 *   [{"userId": "user1", "events": [event, ...]}, ...]   ("history" also accepted)
 *   [[event, ...], ...]                                    (one array per user)
 * where event = {"productId": ID, "type": "view"|"cart"|"purchase", "weight": number?}.
 * The weight defaults by type: view 1, cart 2, purchase 3 (other types 1). */
int stepd_recommend_cf_new(const json_t *histories, stepd_recommend_metric metric,
                           stepd_recommend_cf **out, char **err);
void stepd_recommend_cf_free(stepd_recommend_cf *cf);
/* Top-k items co-interacted with `id`, reason "bought_together". STEP_ENOTFOUND when no user
 * interacted with id. */
int stepd_recommend_cf_similar(stepd_recommend_cf *cf, const char *id, size_t k,
                               stepd_recommend_hits *out, char **err);

/* ---- blended recommendations for a user ------------------------------------------------ */

typedef struct stepd_recommend_request {
    const json_t *history;     /* the user's events (array, borrowed) or NULL */
    const json_t *preferences; /* {"categories": [..], "tags": [..], "priceMin": n,
                                  "priceMax": n} (borrowed) or NULL */
    const char *item_id;       /* a product being looked at (seed), or NULL */
    size_t k;                  /* results wanted (0 = 10) */
    double w_content, w_collaborative, w_preferences; /* per-source weights (all 0 = 1,1,0.5) */
} stepd_recommend_request;

/* Blends the sources (either model may be NULL): content similarity to the seed item and the
 * user's history, item-item neighbours of those items, and preference matches over the
 * catalogue. Purchased items and the seed item are removed, each product appears once, and
 * its reason is the source that contributed most. */
int stepd_recommend_for_user(stepd_recommend_index *idx, stepd_recommend_cf *cf,
                             const stepd_recommend_request *req, stepd_recommend_hits *out,
                             char **err);

#ifdef __cplusplus
}
#endif
#endif
