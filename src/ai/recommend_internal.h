/*
 * recommend_internal.h — pieces shared by the recommend module's files (not public).
 *   recommend_text.c   analyzer: UTF-8, Python-compatible lowercasing and \w, stop words, n-grams
 *   recommend_util.c   string interning map, error helper
 *   recommend_index.c  TF-IDF index: options, lifetime, building and updating
 *   recommend_search.c derived data (idf, norms, postings) and cosine top-k queries
 *   recommend_index_io.c  persistence
 *   recommend_cf.c     item-item collaborative filtering
 *   recommend.c        preference scoring and the blend
 */
#ifndef STEPD_AI_RECOMMEND_INTERNAL_H
#define STEPD_AI_RECOMMEND_INTERNAL_H

#include <stepd/ai/recommend.h>
#include <stepd/step.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Sets *err (if err) to a malloc'ed printf-style message and returns code. */
int ai_recommend_fail(char **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- string interning: each distinct string gets a dense id 0, 1, 2, ... forever ---------- */
typedef struct ai_recommend_strmap {
    char *pool; /* NUL-terminated keys back to back */
    size_t pool_len, pool_cap;
    size_t *off;
    uint32_t *len, *hash;
    size_t count, cap;
    uint64_t *slots; /* hash << 32 | (id + 1); 0 = empty */
    size_t nslots;   /* power of two */
} ai_recommend_strmap;

uint32_t ai_recommend_hash(const char *s, size_t len);
/* *id = the string's id, interning it if new. Returns 1 if new, 0 if known, STEP_ENOMEM. */
int ai_recommend_strmap_intern(ai_recommend_strmap *m, const char *s, size_t len, uint32_t *id);
/* Id of s, or -1. */
long ai_recommend_strmap_find(const ai_recommend_strmap *m, const char *s, size_t len);
/* Borrowed, valid until the next intern. */
static inline const char *ai_recommend_strmap_key(const ai_recommend_strmap *m, uint32_t id) {
    return m->pool + m->off[id];
}
void ai_recommend_strmap_free(ai_recommend_strmap *m);

/* ---- analyzer ------------------------------------------------------------------------------ */
typedef struct ai_recommend_analyzer {
    int ngram_min, ngram_max, stop_words;
} ai_recommend_analyzer;

/* Scratch buffers reused across documents by one thread. */
typedef struct ai_recommend_tokbuf {
    char *low; /* lowercased text, UTF-8 */
    size_t low_cap;
    uint32_t *tok; /* pairs (offset, length) into low */
    size_t ntok, tok_cap;
    char *gram;
    size_t gram_cap;
} ai_recommend_tokbuf;

typedef int (*ai_recommend_term_fn)(void *ud, const char *term, size_t len);

/* Splits text into terms exactly like scikit-learn's default analyzer would on the decoded
 * string (lowercase, (?u)\b\w\w+\b, stop words, n-grams joined by " ") and calls emit for each
 * term in order. Returns 0, STEP_ENOMEM, or emit's first non-zero return. */
int ai_recommend_analyze(const ai_recommend_analyzer *a, ai_recommend_tokbuf *buf, const char *text,
                         size_t len, ai_recommend_term_fn emit, void *ud);
void ai_recommend_tokbuf_free(ai_recommend_tokbuf *buf);
/* 1 when the English stop word list was compiled in (from the installed scikit-learn). */
int ai_recommend_have_stop_words(void);
int ai_recommend_is_stop_word(const char *s, size_t len);

/* ---- product text and metadata -------------------------------------------------------------- */
/* Appends the product's text per `fields` (NULL-terminated) to *buf (malloc'ed, grows).
 * Returns 0 or STEP_ENOMEM. Sets *len. */
int ai_recommend_product_text(const json_t *product, char *const *fields, char **buf, size_t *cap,
                              size_t *len);
/* The product id as a string into out (size outsz): strings as is, integers in decimal.
 * Returns 0, or STEP_EINVAL when missing / not a string or integer / too long. */
int ai_recommend_product_id(const json_t *product, char *out, size_t outsz);

const char *ai_recommend_reason_content(void);
const char *ai_recommend_reason_cf(void);
const char *ai_recommend_reason_pref(void);

/* ---- index internals used by the blend --------------------------------------------------------
 */
typedef struct ai_recommend_meta {
    char *category; /* or NULL */
    char **tags;    /* ntags owned strings */
    uint32_t ntags;
    double price; /* NAN when absent */
} ai_recommend_meta;

/* Calls fn for every live product with its metadata under the index's read lock. */
typedef void (*ai_recommend_meta_fn)(void *ud, const char *id, const ai_recommend_meta *meta);
void ai_recommend_index_each(stepd_recommend_index *idx, ai_recommend_meta_fn fn, void *ud);
int ai_recommend_index_has(stepd_recommend_index *idx, const char *id);

int ai_recommend_threads(int requested);

/* The index itself (recommend_index.c; persistence in recommend_index_io.c). */
typedef struct ai_recommend_doc {
    uint32_t *tc; /* nnz term ids, then nnz counts (one allocation) */
    uint32_t nnz;
    uint8_t alive;
    ai_recommend_meta meta;
} ai_recommend_doc;

typedef struct ai_recommend_scratch ai_recommend_scratch;

struct stepd_recommend_index {
    stepd_recommend_options opts; /* opts.fields points at `fields` */
    char **fields;                /* NULL-terminated, owned */
    ai_recommend_analyzer an;
    int nthreads;
    pthread_rwlock_t lock; /* readers: queries; writer: mutations and refresh */

    ai_recommend_strmap vocab; /* every term ever seen; id = term index */
    uint32_t *df;              /* live products containing the term */
    uint64_t *tf_total;        /* total count over live products */
    size_t terms_cap;

    ai_recommend_strmap ids; /* product ids; id = slot in docs (stable across removals) */
    ai_recommend_doc *docs;
    size_t docs_cap;
    size_t n_alive;

    /* Derived from the counts by refresh(), O(nnz), whenever `dirty`. */
    int dirty;
    double *idf;      /* per term; 0 for terms not in the active vocabulary */
    double *inv_norm; /* per slot: 1 / ||tf-idf||_2, 0 for empty or dead products */
    size_t n_active;
    size_t *post_off; /* per term: postings [post_off[t], post_off[t+1]) */
    uint32_t *post_doc;
    double *post_w; /* l2-normalised tf-idf weight of the term in post_doc */
    size_t derived_terms, derived_docs, post_cap;

    pthread_mutex_t scratch_mu;
    ai_recommend_scratch *scratch_free;
};

/* Validates opts and returns an empty index (used by _new and the loader). */
int ai_recommend_index_create(const stepd_recommend_options *opts, stepd_recommend_index **out,
                              char **err);
/* Puts analysed counts into the product's slot, replacing a live one. Takes ownership of tc and
 * meta's allocations (also on failure). Caller holds the write lock. */
int ai_recommend_index_set_doc(stepd_recommend_index *idx, const char *id, size_t idlen,
                               uint32_t *tc, uint32_t nnz, ai_recommend_meta *meta);
void ai_recommend_meta_free(ai_recommend_meta *m);
/* Frees the per-thread query buffers kept by the index (recommend_search.c). */
void ai_recommend_scratch_free_all(stepd_recommend_index *idx);

#endif
