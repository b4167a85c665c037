/*
 * recommend_index.c — the TF-IDF content index: options, lifetime, and what changes it.
 *
 * What is stored is only what text analysis produced: per product its (term, count) pairs,
 * and per term its document frequency and total count. Everything TF-IDF derives from those
 * (active vocabulary, idf, norms, inverted index) is recomputed in O(nnz) on the first query
 * after a change (recommend_search.c). So adding, updating or removing a product analyses only
 * that product's text, and the answers stay exactly those of refitting scikit-learn on the new
 * catalogue (idf depends on every document, so no cheaper exact update exists).
 *
 * Bulk builds analyse text on several threads, each with its own local vocabulary and
 * per-product term counting (a stamp per term instead of sorting), merged afterwards under the
 * write lock.
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
    if (nf == 0 || nf > 64)
        return ai_recommend_fail(err, STEP_EINVAL,
                                 "recommend: %zu text fields given (1 to 64 are supported)", nf);
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
    ai_recommend_scratch_free_all(idx);
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
    ai_recommend_meta meta; /* category, tags, price: read by the worker too */
} build_item;

typedef struct build_worker {
    const stepd_recommend_index *idx;
    build_item *items;
    size_t begin, end;
    ai_recommend_strmap local; /* thread-local vocabulary */
    uint32_t *terms;           /* distinct local term ids of the current product */
    size_t nterms, terms_cap;
    uint32_t *count, *stamp; /* per local term: count in the current product, product stamp */
    size_t local_cap;
    uint32_t cur; /* stamp of the current product */
    int rc;
} build_worker;

/* Counts one term occurrence: no per-product sort, a stamp says whether the term was already
 * seen in this product. */
static int collect_term(void *ud, const char *term, size_t len) {
    build_worker *w = ud;
    uint32_t id;
    int rc = ai_recommend_strmap_intern(&w->local, term, len, &id);
    if (rc < 0)
        return rc;
    if (id >= w->local_cap) {
        size_t cap = w->local_cap ? w->local_cap * 2 : 4096;
        uint32_t *c = realloc(w->count, cap * sizeof(*c));
        if (!c)
            return STEP_ENOMEM;
        w->count = c;
        uint32_t *s = realloc(w->stamp, cap * sizeof(*s));
        if (!s)
            return STEP_ENOMEM;
        memset(s + w->local_cap, 0, (cap - w->local_cap) * sizeof(*s));
        w->stamp = s;
        w->local_cap = cap;
    }
    if (w->stamp[id] == w->cur) {
        w->count[id]++;
        return 0;
    }
    w->stamp[id] = w->cur;
    w->count[id] = 1;
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
        if (++w->cur == 0) { /* stamps wrapped: forget them all */
            if (w->stamp)
                memset(w->stamp, 0, w->local_cap * sizeof(*w->stamp));
            w->cur = 1;
        }
        int rc = ai_recommend_analyze(&w->idx->an, &tb, s, len, collect_term, w);
        if (rc) {
            w->rc = rc;
            break;
        }
        uint32_t nnz = (uint32_t)w->nterms;
        it->tc = malloc((nnz ? nnz : 1) * 2 * sizeof(uint32_t));
        if (!it->tc) {
            w->rc = STEP_ENOMEM;
            break;
        }
        for (uint32_t j = 0; j < nnz; j++) {
            it->tc[j] = w->terms[j];
            it->tc[nnz + j] = w->count[w->terms[j]];
        }
        it->nnz = nnz;
        meta_from_product(it->product, &it->meta);
    }
    ai_recommend_tokbuf_free(&tb);
    free(text);
    return NULL;
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
            int r = ai_recommend_strmap_intern(&idx->vocab,
                                               ai_recommend_strmap_key(&w->local, (uint32_t)l),
                                               w->local.len[l], &map[l]);
            if (r < 0 || ensure_terms(idx, idx->vocab.count))
                rc = STEP_ENOMEM;
        }
        for (size_t i = w->begin; i < w->end && !rc; i++) {
            build_item *it = &items[i];
            for (uint32_t j = 0; j < it->nnz; j++)
                it->tc[j] = map[it->tc[j]];
            rc =
                ai_recommend_index_set_doc(idx, it->id, strlen(it->id), it->tc, it->nnz, &it->meta);
            it->tc = NULL;
            memset(&it->meta, 0, sizeof(it->meta));
        }
        free(map);
    }
    pthread_rwlock_unlock(&idx->lock);
out:
    if (ws)
        for (int t = 0; t < nthreads; t++) {
            ai_recommend_strmap_free(&ws[t].local);
            free(ws[t].terms);
            free(ws[t].count);
            free(ws[t].stamp);
        }
    free(ws);
    free(tids);
    for (size_t i = 0; i < n; i++) {
        free(items[i].tc);
        free(items[i].id);
        ai_recommend_meta_free(&items[i].meta);
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
                                     "string of at most 1023 bytes, or an integer)",
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
