/*
 * recommend_index.c — the TF-IDF content index and cosine top-k.
 *
 * What is stored is only what text analysis produced: per product its (term, count) pairs,
 * and per term its document frequency and total count. Everything TF-IDF derives from those
 * (the active vocabulary under max_features, idf, l2 norms, and an inverted index of the
 * normalised weights) is recomputed by refresh() in O(nnz) on the first query after a change.
 * So adding, updating or removing a product analyses only that product's text, and the
 * answers stay exactly those of refitting scikit-learn on the new catalogue (idf depends on
 * every document, so no cheaper exact update exists).
 *
 * Queries walk the postings of the query product's terms into a dense score array (one per
 * thread, reused), then keep the k best in a small heap. Bulk builds analyse text on several
 * threads, each with its own local vocabulary, merged afterwards.
 */
#include "ai/recommend_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_fields[] = {"title", "description", "category", "tags", NULL};

void stepd_recommend_options_init(stepd_recommend_options *o) {
    memset(o, 0, sizeof(*o));
    o->ngram_min = 1;
    o->ngram_max = 1;
    o->use_idf = 1;
    o->smooth_idf = 1;
    o->norm = STEPD_RECOMMEND_NORM_L2;
}

void ai_recommend_meta_free(ai_recommend_meta *m) {
    free(m->category);
    for (uint32_t i = 0; i < m->ntags; i++)
        free(m->tags[i]);
    free(m->tags);
    memset(m, 0, sizeof(*m));
    m->price = NAN;
}

int ai_recommend_index_create(const stepd_recommend_options *opts, stepd_recommend_index **out,
                              char **err) {
    *out = NULL;
    stepd_recommend_options o;
    if (opts)
        o = *opts;
    else
        stepd_recommend_options_init(&o);
    if (o.ngram_min < 1 || o.ngram_max < o.ngram_min || o.ngram_max > 8)
        return ai_recommend_fail(err, STEP_EINVAL,
                                 "recommend: ngram range (%d, %d) is invalid (need 1 <= min <= "
                                 "max <= 8)",
                                 o.ngram_min, o.ngram_max);
    if (o.norm < STEPD_RECOMMEND_NORM_L2 || o.norm > STEPD_RECOMMEND_NORM_NONE)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: unknown norm %d", (int)o.norm);
    if (o.stop_words && !ai_recommend_have_stop_words())
        return ai_recommend_fail(err, STEP_EUNSUPPORTED,
                                 "recommend: stop_words='english' needs scikit-learn's list, "
                                 "which was not found at build time (install python3-sklearn "
                                 "and rebuild)");
    stepd_recommend_index *idx = calloc(1, sizeof(*idx));
    if (!idx)
        return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
    const char *const *src = o.fields ? o.fields : default_fields;
    size_t nf = 0;
    while (src[nf])
        nf++;
    idx->fields = calloc(nf + 1, sizeof(char *));
    if (!idx->fields)
        goto nomem;
    for (size_t i = 0; i < nf; i++)
        if (!(idx->fields[i] = strdup(src[i])))
            goto nomem;
    o.fields = (const char *const *)idx->fields;
    o.stop_words = !!o.stop_words;
    o.sublinear_tf = !!o.sublinear_tf;
    o.use_idf = !!o.use_idf;
    o.smooth_idf = !!o.smooth_idf;
    idx->opts = o;
    idx->an.ngram_min = o.ngram_min;
    idx->an.ngram_max = o.ngram_max;
    idx->an.stop_words = o.stop_words;
    idx->nthreads = ai_recommend_threads(o.threads);
    pthread_rwlock_init(&idx->lock, NULL);
    pthread_mutex_init(&idx->scratch_mu, NULL);
    *out = idx;
    return 0;
nomem:
    if (idx->fields)
        for (size_t i = 0; i < nf; i++)
            free(idx->fields[i]);
    free(idx->fields);
    free(idx);
    return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
}

int stepd_recommend_index_new(const stepd_recommend_options *opts, stepd_recommend_index **out,
                              char **err) {
    if (!out)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: out is NULL");
    return ai_recommend_index_create(opts, out, err);
}

struct ai_recommend_scratch {
    double *score;
    uint32_t *touched;
    size_t cap;
    ai_recommend_scratch *next;
};

static void scratch_free(ai_recommend_scratch *s) {
    if (!s)
        return;
    free(s->score);
    free(s->touched);
    free(s);
}

void stepd_recommend_index_free(stepd_recommend_index *idx) {
    if (!idx)
        return;
    for (size_t i = 0; i < idx->ids.count; i++) {
        free(idx->docs[i].tc);
        ai_recommend_meta_free(&idx->docs[i].meta);
    }
    free(idx->docs);
    for (size_t i = 0; idx->fields[i]; i++)
        free(idx->fields[i]);
    free(idx->fields);
    ai_recommend_strmap_free(&idx->vocab);
    ai_recommend_strmap_free(&idx->ids);
    free(idx->df);
    free(idx->tf_total);
    free(idx->idf);
    free(idx->inv_norm);
    free(idx->post_off);
    free(idx->post_doc);
    free(idx->post_w);
    while (idx->scratch_free) {
        ai_recommend_scratch *s = idx->scratch_free;
        idx->scratch_free = s->next;
        scratch_free(s);
    }
    pthread_rwlock_destroy(&idx->lock);
    pthread_mutex_destroy(&idx->scratch_mu);
    free(idx);
}

/* ---- mutation ------------------------------------------------------------------------------ */

static int ensure_terms(stepd_recommend_index *idx, size_t n) {
    if (n <= idx->terms_cap)
        return 0;
    size_t cap = idx->terms_cap ? idx->terms_cap : 1024;
    while (cap < n)
        cap *= 2;
    uint32_t *df = realloc(idx->df, cap * sizeof(*df));
    if (!df)
        return STEP_ENOMEM;
    idx->df = df;
    uint64_t *tf = realloc(idx->tf_total, cap * sizeof(*tf));
    if (!tf)
        return STEP_ENOMEM;
    idx->tf_total = tf;
    memset(df + idx->terms_cap, 0, (cap - idx->terms_cap) * sizeof(*df));
    memset(tf + idx->terms_cap, 0, (cap - idx->terms_cap) * sizeof(*tf));
    idx->terms_cap = cap;
    return 0;
}

static void unlink_doc(stepd_recommend_index *idx, uint32_t slot) {
    ai_recommend_doc *d = &idx->docs[slot];
    if (!d->alive)
        return;
    for (uint32_t i = 0; i < d->nnz; i++) {
        idx->df[d->tc[i]]--;
        idx->tf_total[d->tc[i]] -= d->tc[d->nnz + i];
    }
    free(d->tc);
    d->tc = NULL;
    d->nnz = 0;
    d->alive = 0;
    ai_recommend_meta_free(&d->meta);
    idx->n_alive--;
    idx->dirty = 1;
}

int ai_recommend_index_set_doc(stepd_recommend_index *idx, const char *id, size_t idlen,
                               uint32_t *tc, uint32_t nnz, ai_recommend_meta *meta) {
    int rc = 0;
    if (idx->ids.count >= idx->docs_cap) { /* room for a new slot before interning the id */
        size_t cap = idx->docs_cap ? idx->docs_cap * 2 : 256;
        ai_recommend_doc *docs = realloc(idx->docs, cap * sizeof(*docs));
        if (!docs) {
            rc = STEP_ENOMEM;
            goto fail;
        }
        memset(docs + idx->docs_cap, 0, (cap - idx->docs_cap) * sizeof(*docs));
        for (size_t i = idx->docs_cap; i < cap; i++)
            docs[i].meta.price = NAN;
        idx->docs = docs;
        idx->docs_cap = cap;
    }
    uint32_t slot;
    rc = ai_recommend_strmap_intern(&idx->ids, id, idlen, &slot);
    if (rc < 0)
        goto fail;
    unlink_doc(idx, slot);
    ai_recommend_doc *d = &idx->docs[slot];
    d->tc = tc;
    d->nnz = nnz;
    d->alive = 1;
    d->meta = *meta;
    for (uint32_t i = 0; i < nnz; i++) {
        idx->df[tc[i]]++;
        idx->tf_total[tc[i]] += tc[nnz + i];
    }
    idx->n_alive++;
    idx->dirty = 1;
    return 0;
fail:
    free(tc);
    ai_recommend_meta_free(meta);
    return rc;
}

/* One product to analyse: its text comes from `product` (fields) or from text/len. */
typedef struct build_item {
    const json_t *product;
    const char *text;
    size_t len;
    char *id;
    uint32_t *tc;
    uint32_t nnz;
} build_item;

typedef struct build_worker {
    const stepd_recommend_index *idx;
    build_item *items;
    size_t begin, end;
    ai_recommend_strmap local; /* thread-local vocabulary */
    uint32_t *terms;           /* term ids of the current product, in order */
    size_t nterms, terms_cap;
    int rc;
} build_worker;

static int collect_term(void *ud, const char *term, size_t len) {
    build_worker *w = ud;
    uint32_t id;
    int rc = ai_recommend_strmap_intern(&w->local, term, len, &id);
    if (rc < 0)
        return rc;
    if (w->nterms == w->terms_cap) {
        size_t cap = w->terms_cap ? w->terms_cap * 2 : 256;
        uint32_t *t = realloc(w->terms, cap * sizeof(*t));
        if (!t)
            return STEP_ENOMEM;
        w->terms = t;
        w->terms_cap = cap;
    }
    w->terms[w->nterms++] = id;
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void *build_run(void *arg) {
    build_worker *w = arg;
    ai_recommend_tokbuf tb = {0};
    char *text = NULL;
    size_t cap = 0;
    for (size_t i = w->begin; i < w->end && !w->rc; i++) {
        build_item *it = &w->items[i];
        const char *s = it->text;
        size_t len = it->len;
        if (it->product) {
            if (ai_recommend_product_text(it->product, w->idx->fields, &text, &cap, &len)) {
                w->rc = STEP_ENOMEM;
                break;
            }
            s = text;
        }
        w->nterms = 0;
        int rc = ai_recommend_analyze(&w->idx->an, &tb, s, len, collect_term, w);
        if (rc) {
            w->rc = rc;
            break;
        }
        if (w->nterms > 1)
            qsort(w->terms, w->nterms, sizeof(uint32_t), cmp_u32);
        uint32_t nnz = 0;
        for (size_t t = 0; t < w->nterms; t++)
            if (t == 0 || w->terms[t] != w->terms[t - 1])
                nnz++;
        it->tc = malloc((nnz ? nnz : 1) * 2 * sizeof(uint32_t));
        if (!it->tc) {
            w->rc = STEP_ENOMEM;
            break;
        }
        uint32_t j = 0;
        for (size_t t = 0; t < w->nterms; t++) {
            if (t == 0 || w->terms[t] != w->terms[t - 1]) {
                it->tc[j] = w->terms[t];
                it->tc[nnz + j] = 0;
                j++;
            }
            it->tc[nnz + j - 1]++;
        }
        it->nnz = nnz;
    }
    ai_recommend_tokbuf_free(&tb);
    free(text);
    return NULL;
}

static void meta_from_product(const json_t *p, ai_recommend_meta *m) {
    memset(m, 0, sizeof(*m));
    m->price = NAN;
    const json_t *c = json_object_get(p, "category");
    if (json_is_array(c))
        c = json_array_get(c, 0);
    if (json_is_string(c))
        m->category = strdup(json_string_value(c));
    const json_t *tags = json_object_get(p, "tags");
    if (json_is_array(tags) && json_array_size(tags)) {
        m->tags = calloc(json_array_size(tags), sizeof(char *));
        size_t i;
        const json_t *t;
        json_array_foreach(tags, i, t) {
            if (m->tags && json_is_string(t) && (m->tags[m->ntags] = strdup(json_string_value(t))))
                m->ntags++;
        }
    }
    const json_t *price = json_object_get(p, "price");
    if (json_is_number(price))
        m->price = json_number_value(price);
}

/* Analyses items (on threads when there are many), then merges the local vocabularies and
 * stores the products under the write lock. Frees everything it was given. */
static int build_items(stepd_recommend_index *idx, build_item *items, size_t n, char **err) {
    int nthreads = n >= 512 ? idx->nthreads : 1;
    if ((size_t)nthreads > n)
        nthreads = n ? (int)n : 1;
    build_worker *ws = calloc((size_t)nthreads, sizeof(*ws));
    pthread_t *tids = calloc((size_t)nthreads, sizeof(*tids));
    int rc = 0;
    if (!ws || !tids) {
        rc = STEP_ENOMEM;
        goto out;
    }
    for (int t = 0; t < nthreads; t++) {
        ws[t].idx = idx;
        ws[t].items = items;
        ws[t].begin = n * (size_t)t / (size_t)nthreads;
        ws[t].end = n * (size_t)(t + 1) / (size_t)nthreads;
    }
    int *running = calloc((size_t)nthreads, sizeof(int));
    if (!running) {
        rc = STEP_ENOMEM;
        goto out;
    }
    for (int t = 1; t < nthreads; t++)
        running[t] = !pthread_create(&tids[t], NULL, build_run, &ws[t]);
    build_run(&ws[0]);
    for (int t = 1; t < nthreads; t++) {
        if (running[t])
            pthread_join(tids[t], NULL);
        else
            build_run(&ws[t]);
    }
    free(running);
    for (int t = 0; t < nthreads; t++)
        if (ws[t].rc && !rc)
            rc = ws[t].rc;
    if (rc)
        goto out;

    pthread_rwlock_wrlock(&idx->lock);
    for (int t = 0; t < nthreads && !rc; t++) {
        build_worker *w = &ws[t];
        uint32_t *map = malloc((w->local.count ? w->local.count : 1) * sizeof(*map));
        if (!map) {
            rc = STEP_ENOMEM;
            break;
        }
        for (size_t l = 0; l < w->local.count && !rc; l++) {
            int r = ai_recommend_strmap_intern(
                &idx->vocab, ai_recommend_strmap_key(&w->local, (uint32_t)l), w->local.len[l],
                &map[l]);
            if (r < 0 || ensure_terms(idx, idx->vocab.count))
                rc = STEP_ENOMEM;
        }
        for (size_t i = w->begin; i < w->end && !rc; i++) {
            build_item *it = &items[i];
            for (uint32_t j = 0; j < it->nnz; j++)
                it->tc[j] = map[it->tc[j]];
            ai_recommend_meta meta;
            if (it->product)
                meta_from_product(it->product, &meta);
            else
                meta_from_product(NULL, &meta);
            rc = ai_recommend_index_set_doc(idx, it->id, strlen(it->id), it->tc, it->nnz, &meta);
            it->tc = NULL;
        }
        free(map);
    }
    pthread_rwlock_unlock(&idx->lock);
out:
    if (ws)
        for (int t = 0; t < nthreads; t++) {
            ai_recommend_strmap_free(&ws[t].local);
            free(ws[t].terms);
        }
    free(ws);
    free(tids);
    for (size_t i = 0; i < n; i++) {
        free(items[i].tc);
        free(items[i].id);
    }
    if (rc == STEP_EINVAL)
        return ai_recommend_fail(err, rc, "recommend: a product's text is too large (> 2 GB)");
    if (rc)
        return ai_recommend_fail(err, rc, "recommend: out of memory while indexing");
    return 0;
}

int stepd_recommend_index_add_products(stepd_recommend_index *idx, const json_t *products,
                                       char **err) {
    if (!idx || !json_is_array(products))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: the catalogue must be a JSON array");
    size_t n = json_array_size(products);
    build_item *items = calloc(n ? n : 1, sizeof(*items));
    if (!items)
        return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
    char id[1024];
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(products, i);
        if (!json_is_object(p) || ai_recommend_product_id(p, id, sizeof(id))) {
            for (size_t j = 0; j < i; j++)
                free(items[j].id);
            free(items);
            return ai_recommend_fail(err, STEP_EINVAL,
                                     "recommend: product #%zu has no usable \"id\" (a non-empty "
                                     "string or an integer is required)",
                                     i);
        }
        items[i].product = p;
        if (!(items[i].id = strdup(id))) {
            for (size_t j = 0; j < i; j++)
                free(items[j].id);
            free(items);
            return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
        }
    }
    int rc = build_items(idx, items, n, err);
    free(items);
    return rc;
}

int stepd_recommend_index_put(stepd_recommend_index *idx, const json_t *product, char **err) {
    if (!idx || !json_is_object(product))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: a product must be a JSON object");
    json_t *one = json_array();
    if (!one || json_array_append(one, (json_t *)product)) {
        json_decref(one);
        return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
    }
    int rc = stepd_recommend_index_add_products(idx, one, err);
    json_decref(one);
    return rc;
}

int stepd_recommend_index_put_text(stepd_recommend_index *idx, const char *id, const char *text,
                                   size_t len, char **err) {
    if (!idx || !id || !*id || (!text && len))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: put_text needs an id and text");
    build_item it = {.text = text ? text : "", .len = len, .id = strdup(id)};
    if (!it.id)
        return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
    return build_items(idx, &it, 1, err);
}

int stepd_recommend_index_remove(stepd_recommend_index *idx, const char *id) {
    if (!idx || !id)
        return STEP_EINVAL;
    pthread_rwlock_wrlock(&idx->lock);
    long slot = ai_recommend_strmap_find(&idx->ids, id, strlen(id));
    int rc = STEP_ENOTFOUND;
    if (slot >= 0 && idx->docs[slot].alive) {
        unlink_doc(idx, (uint32_t)slot);
        rc = 0;
    }
    pthread_rwlock_unlock(&idx->lock);
    return rc;
}

/* ---- refresh: idf, norms, postings --------------------------------------------------------- */

static double tf_weight(const stepd_recommend_index *idx, uint32_t count) {
    return idx->opts.sublinear_tf ? 1.0 + log((double)count) : (double)count;
}

/* numpy's default argsort (introsort: median-of-3 quicksort, insertion sort for small ranges,
 * heapsort past a depth limit) on int64 keys. Reproduced because CountVectorizer picks
 * max_features with (-tfs).argsort(), which is not stable: equal counts are kept in exactly the
 * order this produces, so ours must match to keep the same features. */
static int key_less(const int64_t *v, size_t a, size_t b) {
    return v[a] < v[b];
}

static void heap_argsort(const int64_t *v, size_t *idx, size_t n) {
    size_t *a = idx - 1; /* 1-based */
    for (size_t l = n >> 1; l > 0; --l) {
        size_t tmp = a[l], i = l, j = l << 1;
        while (j <= n) {
            if (j < n && key_less(v, a[j], a[j + 1]))
                j++;
            if (!key_less(v, tmp, a[j]))
                break;
            a[i] = a[j];
            i = j;
            j += j;
        }
        a[i] = tmp;
    }
    for (; n > 1;) {
        size_t tmp = a[n], i = 1, j = 2;
        a[n] = a[1];
        n--;
        while (j <= n) {
            if (j < n && key_less(v, a[j], a[j + 1]))
                j++;
            if (!key_less(v, tmp, a[j]))
                break;
            a[i] = a[j];
            i = j;
            j += j;
        }
        a[i] = tmp;
    }
}

#define SWAPZ(x, y)                                                                                \
    do {                                                                                           \
        size_t t_ = (x);                                                                           \
        (x) = (y);                                                                                 \
        (y) = t_;                                                                                  \
    } while (0)

static int numpy_argsort(const int64_t *v, size_t *tosort, size_t num) {
    if (num < 2)
        return 0;
    size_t *stack[128];
    int depth[64];
    size_t **sp = stack;
    int *dp = depth;
    int msb = 0;
    for (size_t x = num; x > 1; x >>= 1)
        msb++;
    int cdepth = msb * 2;
    size_t *pl = tosort, *pr = tosort + num - 1;
    for (;;) {
        if (cdepth < 0) {
            heap_argsort(v, pl, (size_t)(pr - pl) + 1);
            goto pop;
        }
        while (pr - pl > 16) {
            size_t *pm = pl + ((pr - pl) >> 1);
            if (key_less(v, *pm, *pl))
                SWAPZ(*pm, *pl);
            if (key_less(v, *pr, *pm))
                SWAPZ(*pr, *pm);
            if (key_less(v, *pm, *pl))
                SWAPZ(*pm, *pl);
            int64_t vp = v[*pm];
            size_t *pi = pl, *pj = pr - 1;
            SWAPZ(*pm, *pj);
            for (;;) {
                do
                    ++pi;
                while (v[*pi] < vp);
                do
                    --pj;
                while (vp < v[*pj]);
                if (pi >= pj)
                    break;
                SWAPZ(*pi, *pj);
            }
            size_t *pk = pr - 1;
            SWAPZ(*pi, *pk);
            if (pi - pl < pr - pi) {
                *sp++ = pi + 1;
                *sp++ = pr;
                pr = pi - 1;
            } else {
                *sp++ = pl;
                *sp++ = pi - 1;
                pl = pi + 1;
            }
            *dp++ = --cdepth;
        }
        for (size_t *pi = pl + 1; pi <= pr; ++pi) {
            size_t vi = *pi;
            int64_t vv = v[vi];
            size_t *pj = pi, *pk = pi - 1;
            while (pj > pl && vv < v[*pk])
                *pj-- = *pk--;
            *pj = vi;
        }
    pop:
        if (sp == stack)
            break;
        pr = *(--sp);
        pl = *(--sp);
        cdepth = *(--dp);
    }
    return 0;
}

static const stepd_recommend_index *sort_idx; /* qsort has no context argument */
static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;

static int cmp_term(const void *a, const void *b) {
    const ai_recommend_strmap *m = &sort_idx->vocab;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    size_t lx = m->len[x], ly = m->len[y];
    int c = memcmp(m->pool + m->off[x], m->pool + m->off[y], lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

/* Marks the active vocabulary in idf (1 = active) following CountVectorizer: all terms present
 * in some product, or with max_features the top ones by total count, ties as numpy breaks
 * them over the alphabetically sorted vocabulary. */
static int select_features(stepd_recommend_index *idx, size_t nterms) {
    size_t present = 0;
    for (size_t t = 0; t < nterms; t++)
        present += idx->df[t] > 0;
    size_t limit = idx->opts.max_features;
    if (!limit || present <= limit) {
        for (size_t t = 0; t < nterms; t++)
            idx->idf[t] = idx->df[t] > 0;
        idx->n_active = present;
        return 0;
    }
    uint32_t *sorted = malloc(present * sizeof(*sorted));
    int64_t *keys = malloc(present * sizeof(*keys));
    size_t *perm = malloc(present * sizeof(*perm));
    if (!sorted || !keys || !perm) {
        free(sorted);
        free(keys);
        free(perm);
        return STEP_ENOMEM;
    }
    size_t j = 0;
    for (size_t t = 0; t < nterms; t++)
        if (idx->df[t] > 0)
            sorted[j++] = (uint32_t)t;
    pthread_mutex_lock(&sort_mu);
    sort_idx = idx;
    qsort(sorted, present, sizeof(*sorted), cmp_term);
    pthread_mutex_unlock(&sort_mu);
    for (size_t i = 0; i < present; i++) {
        keys[i] = -(int64_t)idx->tf_total[sorted[i]];
        perm[i] = i;
    }
    numpy_argsort(keys, perm, present);
    for (size_t t = 0; t < nterms; t++)
        idx->idf[t] = 0;
    for (size_t i = 0; i < limit; i++)
        idx->idf[sorted[perm[i]]] = 1;
    idx->n_active = limit;
    free(sorted);
    free(keys);
    free(perm);
    return 0;
}

static int refresh(stepd_recommend_index *idx) {
    size_t nterms = idx->vocab.count, ndocs = idx->ids.count;
    if (nterms > idx->derived_terms || !idx->idf) {
        double *idf = realloc(idx->idf, (nterms ? nterms : 1) * sizeof(*idf));
        if (!idf)
            return STEP_ENOMEM;
        idx->idf = idf;
        size_t *po = realloc(idx->post_off, (nterms + 1) * sizeof(*po));
        if (!po)
            return STEP_ENOMEM;
        idx->post_off = po;
        idx->derived_terms = nterms;
    }
    if (ndocs > idx->derived_docs || !idx->inv_norm) {
        double *nr = realloc(idx->inv_norm, (ndocs ? ndocs : 1) * sizeof(*nr));
        if (!nr)
            return STEP_ENOMEM;
        idx->inv_norm = nr;
        idx->derived_docs = ndocs;
    }
    if (select_features(idx, nterms))
        return STEP_ENOMEM;
    double n = (double)idx->n_alive + idx->opts.smooth_idf;
    for (size_t t = 0; t < nterms; t++) {
        if (idx->idf[t] == 0)
            continue;
        idx->idf[t] = idx->opts.use_idf
                          ? log(n / ((double)idx->df[t] + idx->opts.smooth_idf)) + 1.0
                          : 1.0;
    }
    size_t nnz = 0;
    memset(idx->post_off, 0, (nterms + 1) * sizeof(size_t));
    for (size_t d = 0; d < ndocs; d++) {
        const ai_recommend_doc *doc = &idx->docs[d];
        double ss = 0;
        for (uint32_t i = 0; doc->alive && i < doc->nnz; i++) {
            double w = tf_weight(idx, doc->tc[doc->nnz + i]) * idx->idf[doc->tc[i]];
            if (w != 0) {
                ss += w * w;
                idx->post_off[doc->tc[i] + 1]++;
                nnz++;
            }
        }
        idx->inv_norm[d] = ss > 0 ? 1.0 / sqrt(ss) : 0;
    }
    if (nnz > idx->post_cap || !idx->post_doc) {
        uint32_t *pd = realloc(idx->post_doc, (nnz ? nnz : 1) * sizeof(*pd));
        if (!pd)
            return STEP_ENOMEM;
        idx->post_doc = pd;
        double *pw = realloc(idx->post_w, (nnz ? nnz : 1) * sizeof(*pw));
        if (!pw)
            return STEP_ENOMEM;
        idx->post_w = pw;
        idx->post_cap = nnz;
    }
    for (size_t t = 0; t < nterms; t++)
        idx->post_off[t + 1] += idx->post_off[t];
    /* fill using post_off[t] as a cursor, then shift back */
    for (size_t d = 0; d < ndocs; d++) {
        const ai_recommend_doc *doc = &idx->docs[d];
        for (uint32_t i = 0; doc->alive && i < doc->nnz; i++) {
            uint32_t t = doc->tc[i];
            double w = tf_weight(idx, doc->tc[doc->nnz + i]) * idx->idf[t];
            if (w == 0)
                continue;
            size_t p = idx->post_off[t]++;
            idx->post_doc[p] = (uint32_t)d;
            idx->post_w[p] = w * idx->inv_norm[d];
        }
    }
    for (size_t t = nterms; t > 0; t--)
        idx->post_off[t] = idx->post_off[t - 1];
    idx->post_off[0] = 0;
    idx->dirty = 0;
    return 0;
}

/* Takes the read lock with derived data up to date. */
static int read_begin(stepd_recommend_index *idx) {
    for (;;) {
        pthread_rwlock_rdlock(&idx->lock);
        if (!idx->dirty)
            return 0;
        pthread_rwlock_unlock(&idx->lock);
        pthread_rwlock_wrlock(&idx->lock);
        int rc = idx->dirty ? refresh(idx) : 0;
        pthread_rwlock_unlock(&idx->lock);
        if (rc)
            return rc;
    }
}

size_t stepd_recommend_index_count(stepd_recommend_index *idx) {
    if (!idx)
        return 0;
    pthread_rwlock_rdlock(&idx->lock);
    size_t n = idx->n_alive;
    pthread_rwlock_unlock(&idx->lock);
    return n;
}

size_t stepd_recommend_index_features(stepd_recommend_index *idx) {
    if (!idx || read_begin(idx))
        return 0;
    size_t n = idx->n_active;
    pthread_rwlock_unlock(&idx->lock);
    return n;
}

/* ---- queries ------------------------------------------------------------------------------- */

static ai_recommend_scratch *scratch_get(stepd_recommend_index *idx) {
    pthread_mutex_lock(&idx->scratch_mu);
    ai_recommend_scratch *s = idx->scratch_free;
    if (s)
        idx->scratch_free = s->next;
    pthread_mutex_unlock(&idx->scratch_mu);
    size_t need = idx->ids.count ? idx->ids.count : 1;
    if (s && s->cap < need) {
        scratch_free(s);
        s = NULL;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return NULL;
        s->score = calloc(need, sizeof(double));
        s->touched = malloc(need * sizeof(uint32_t));
        s->cap = need;
        if (!s->score || !s->touched) {
            scratch_free(s);
            return NULL;
        }
    }
    return s;
}

static void scratch_put(stepd_recommend_index *idx, ai_recommend_scratch *s) {
    pthread_mutex_lock(&idx->scratch_mu);
    s->next = idx->scratch_free;
    idx->scratch_free = s;
    pthread_mutex_unlock(&idx->scratch_mu);
}

typedef struct heap_ent {
    double score;
    uint32_t doc;
} heap_ent;

/* a ranks below b: lower score, or equal score and later in the catalogue */
static int ranks_below(heap_ent a, heap_ent b) {
    return a.score < b.score || (a.score == b.score && a.doc > b.doc);
}

static void heap_sift_down(heap_ent *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && ranks_below(h[l], h[m]))
            m = l;
        if (l + 1 < n && ranks_below(h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        heap_ent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Top-k cosine neighbours of slot q; caller holds the read lock (derived data fresh). */
static int similar_slot(stepd_recommend_index *idx, ai_recommend_scratch *s, uint32_t q, size_t k,
                        stepd_recommend_hits *out) {
    out->items = NULL;
    out->count = 0;
    const ai_recommend_doc *doc = &idx->docs[q];
    if (!k || idx->inv_norm[q] == 0)
        return 0;
    size_t nt = 0;
    for (uint32_t i = 0; i < doc->nnz; i++) {
        uint32_t t = doc->tc[i];
        if (idx->idf[t] == 0)
            continue;
        double wq = tf_weight(idx, doc->tc[doc->nnz + i]) * idx->idf[t] * idx->inv_norm[q];
        const uint32_t *pd = idx->post_doc + idx->post_off[t];
        const double *pw = idx->post_w + idx->post_off[t];
        size_t np = idx->post_off[t + 1] - idx->post_off[t];
        for (size_t p = 0; p < np; p++) {
            uint32_t d = pd[p];
            if (s->score[d] == 0)
                s->touched[nt++] = d;
            s->score[d] += wq * pw[p];
        }
    }
    heap_ent *heap = malloc((k < nt ? k : nt ? nt : 1) * sizeof(*heap));
    size_t hn = 0;
    int rc = heap ? 0 : STEP_ENOMEM;
    for (size_t i = 0; i < nt; i++) {
        uint32_t d = s->touched[i];
        heap_ent e = {s->score[d], d};
        s->score[d] = 0;
        if (!heap || d == q || e.score <= 0)
            continue;
        if (hn < k) {
            heap[hn++] = e;
            for (size_t j = hn - 1; j > 0;) {
                size_t p = (j - 1) / 2;
                if (!ranks_below(heap[j], heap[p]))
                    break;
                heap_ent t = heap[j];
                heap[j] = heap[p];
                heap[p] = t;
                j = p;
            }
        } else if (ranks_below(heap[0], e)) {
            heap[0] = e;
            heap_sift_down(heap, hn, 0);
        }
    }
    if (rc || !hn) {
        free(heap);
        return rc;
    }
    out->items = calloc(hn, sizeof(*out->items));
    if (!out->items) {
        free(heap);
        return STEP_ENOMEM;
    }
    for (size_t i = hn; i > 0; i--) { /* pop worst first into the back */
        heap_ent e = heap[0];
        heap[0] = heap[i - 1];
        heap_sift_down(heap, i - 1, 0);
        stepd_recommend_hit *h = &out->items[i - 1];
        h->product_id = strdup(ai_recommend_strmap_key(&idx->ids, e.doc));
        h->score = e.score > 1.0 ? 1.0 : e.score;
        h->reason = ai_recommend_reason_content();
        out->count++;
        if (!h->product_id) {
            rc = STEP_ENOMEM;
        }
    }
    free(heap);
    if (rc)
        stepd_recommend_hits_free(out);
    return rc;
}

static long live_slot(const stepd_recommend_index *idx, const char *id) {
    long slot = ai_recommend_strmap_find(&idx->ids, id, strlen(id));
    return slot >= 0 && idx->docs[slot].alive ? slot : -1;
}

int stepd_recommend_index_similar(stepd_recommend_index *idx, const char *id, size_t k,
                                  stepd_recommend_hits *out, char **err) {
    if (!out)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: out is NULL");
    out->items = NULL;
    out->count = 0;
    if (!idx || !id)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: similar needs an index and an id");
    int rc = read_begin(idx);
    if (rc)
        return ai_recommend_fail(err, rc, "recommend: out of memory while refreshing the index");
    long slot = live_slot(idx, id);
    if (slot < 0) {
        pthread_rwlock_unlock(&idx->lock);
        return ai_recommend_fail(err, STEP_ENOTFOUND, "recommend: unknown product '%s'", id);
    }
    ai_recommend_scratch *s = scratch_get(idx);
    rc = s ? similar_slot(idx, s, (uint32_t)slot, k, out) : STEP_ENOMEM;
    if (s)
        scratch_put(idx, s);
    pthread_rwlock_unlock(&idx->lock);
    if (rc)
        return ai_recommend_fail(err, rc, "recommend: out of memory");
    return 0;
}

typedef struct batch_worker {
    stepd_recommend_index *idx;
    const char *const *ids;
    stepd_recommend_hits *out;
    size_t begin, end, k;
    int rc;
} batch_worker;

static void *batch_run(void *arg) {
    batch_worker *w = arg;
    ai_recommend_scratch *s = scratch_get(w->idx);
    if (!s) {
        w->rc = STEP_ENOMEM;
        return NULL;
    }
    for (size_t i = w->begin; i < w->end && !w->rc; i++) {
        long slot = w->ids[i] ? live_slot(w->idx, w->ids[i]) : -1;
        if (slot >= 0)
            w->rc = similar_slot(w->idx, s, (uint32_t)slot, w->k, &w->out[i]);
    }
    scratch_put(w->idx, s);
    return NULL;
}

int stepd_recommend_index_similar_batch(stepd_recommend_index *idx, const char *const *ids,
                                        size_t n, size_t k, stepd_recommend_hits *out,
                                        char **err) {
    if (!idx || (n && (!ids || !out)))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: similar_batch needs ids and out");
    memset(out, 0, n * sizeof(*out));
    int rc = read_begin(idx);
    if (rc)
        return ai_recommend_fail(err, rc, "recommend: out of memory while refreshing the index");
    int nthreads = n >= 64 ? idx->nthreads : 1;
    batch_worker ws[64];
    pthread_t tids[64];
    int running[64] = {0};
    for (int t = 0; t < nthreads; t++)
        ws[t] = (batch_worker){idx, ids, out, n * (size_t)t / (size_t)nthreads,
                               n * (size_t)(t + 1) / (size_t)nthreads, k, 0};
    for (int t = 1; t < nthreads; t++)
        running[t] = !pthread_create(&tids[t], NULL, batch_run, &ws[t]);
    batch_run(&ws[0]);
    for (int t = 1; t < nthreads; t++) {
        if (running[t])
            pthread_join(tids[t], NULL);
        else
            batch_run(&ws[t]); /* could not start a thread: do its share here */
    }
    pthread_rwlock_unlock(&idx->lock);
    for (int t = 0; t < nthreads; t++)
        if (ws[t].rc)
            rc = ws[t].rc;
    if (rc) {
        for (size_t i = 0; i < n; i++)
            stepd_recommend_hits_free(&out[i]);
        return ai_recommend_fail(err, rc, "recommend: out of memory");
    }
    return 0;
}

int stepd_recommend_index_vector(stepd_recommend_index *idx, const char *id, json_t **out,
                                 char **err) {
    if (!idx || !id || !out)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: vector needs an index, id, out");
    *out = NULL;
    int rc = read_begin(idx);
    if (rc)
        return ai_recommend_fail(err, rc, "recommend: out of memory while refreshing the index");
    long slot = live_slot(idx, id);
    if (slot < 0) {
        pthread_rwlock_unlock(&idx->lock);
        return ai_recommend_fail(err, STEP_ENOTFOUND, "recommend: unknown product '%s'", id);
    }
    const ai_recommend_doc *doc = &idx->docs[slot];
    double sum = 0;
    for (uint32_t i = 0; i < doc->nnz; i++) {
        double w = tf_weight(idx, doc->tc[doc->nnz + i]) * idx->idf[doc->tc[i]];
        sum += idx->opts.norm == STEPD_RECOMMEND_NORM_L1 ? fabs(w) : w * w;
    }
    double div = idx->opts.norm == STEPD_RECOMMEND_NORM_L2   ? sqrt(sum)
                 : idx->opts.norm == STEPD_RECOMMEND_NORM_L1 ? sum
                                                             : 1.0;
    if (div == 0)
        div = 1.0;
    json_t *v = json_object();
    for (uint32_t i = 0; v && i < doc->nnz; i++) {
        uint32_t t = doc->tc[i];
        double w = tf_weight(idx, doc->tc[doc->nnz + i]) * idx->idf[t];
        if (w == 0)
            continue;
        if (json_object_set_new(v, ai_recommend_strmap_key(&idx->vocab, t), json_real(w / div))) {
            json_decref(v);
            v = NULL;
        }
    }
    pthread_rwlock_unlock(&idx->lock);
    if (!v)
        return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
    *out = v;
    return 0;
}

void ai_recommend_index_each(stepd_recommend_index *idx, ai_recommend_meta_fn fn, void *ud) {
    pthread_rwlock_rdlock(&idx->lock);
    for (size_t d = 0; d < idx->ids.count; d++)
        if (idx->docs[d].alive)
            fn(ud, ai_recommend_strmap_key(&idx->ids, (uint32_t)d), &idx->docs[d].meta);
    pthread_rwlock_unlock(&idx->lock);
}

int ai_recommend_index_has(stepd_recommend_index *idx, const char *id) {
    pthread_rwlock_rdlock(&idx->lock);
    int has = live_slot(idx, id) >= 0;
    pthread_rwlock_unlock(&idx->lock);
    return has;
}
