/*
 * recommend_search.c — derived TF-IDF data and the queries on it.
 *
 * refresh() turns the stored counts into what queries need, in O(nnz) on several threads:
 * the active vocabulary (max_features picked exactly as CountVectorizer does), idf, each
 * product's l2 norm, and an inverted index of normalised weights. A query for product q walks
 * the postings of q's terms into a dense score array (one per thread, reused, reset through a
 * touched list) and keeps the k best in a small heap; batches split queries across threads.
 * Readers hold the index's read lock; refresh runs under the write lock when the index is
 * dirty.
 */
#include "ai/recommend_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void ai_recommend_scratch_free_all(stepd_recommend_index *idx) {
    while (idx->scratch_free) {
        ai_recommend_scratch *s = idx->scratch_free;
        idx->scratch_free = s->next;
        scratch_free(s);
    }
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

typedef struct refresh_part {
    stepd_recommend_index *idx;
    size_t begin, end; /* product slots */
    size_t *cursor;    /* per term: postings counted (pass 0), then next write position */
    size_t nnz;
    int phase;
} refresh_part;

static void *refresh_run(void *arg) {
    refresh_part *p = arg;
    stepd_recommend_index *idx = p->idx;
    for (size_t d = p->begin; d < p->end; d++) {
        const ai_recommend_doc *doc = &idx->docs[d];
        if (p->phase == 0) {
            double ss = 0;
            for (uint32_t i = 0; doc->alive && i < doc->nnz; i++) {
                double w = tf_weight(idx, doc->tc[doc->nnz + i]) * idx->idf[doc->tc[i]];
                if (w != 0) {
                    ss += w * w;
                    p->cursor[doc->tc[i]]++;
                    p->nnz++;
                }
            }
            idx->inv_norm[d] = ss > 0 ? 1.0 / sqrt(ss) : 0;
            continue;
        }
        for (uint32_t i = 0; doc->alive && i < doc->nnz; i++) {
            uint32_t t = doc->tc[i];
            double w = tf_weight(idx, doc->tc[doc->nnz + i]) * idx->idf[t];
            if (w == 0)
                continue;
            size_t at = p->cursor[t]++;
            idx->post_doc[at] = (uint32_t)d;
            idx->post_w[at] = w * idx->inv_norm[d];
        }
    }
    return NULL;
}

/* Runs fn on parts[0..n) on n threads (this one included); a part whose thread cannot start
 * runs here. */
static void run_parts(refresh_part *parts, int n, void *(*fn)(void *)) {
    pthread_t tids[64];
    int running[64] = {0};
    for (int t = 1; t < n; t++)
        running[t] = !pthread_create(&tids[t], NULL, fn, &parts[t]);
    fn(&parts[0]);
    for (int t = 1; t < n; t++) {
        if (running[t])
            pthread_join(tids[t], NULL);
        else
            fn(&parts[t]);
    }
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
        idx->idf[t] =
            idx->opts.use_idf ? log(n / ((double)idx->df[t] + idx->opts.smooth_idf)) + 1.0 : 1.0;
    }
    /* Two passes over the products, each split across threads by product range: count
     * postings per term (and the norms), then fill. Each thread writes its own slice of every
     * term's postings, so the postings stay in product order, as with one thread. */
    int nth = ndocs >= 8192 ? idx->nthreads : 1;
    refresh_part *parts = calloc((size_t)nth, sizeof(*parts));
    int rc = parts ? 0 : STEP_ENOMEM;
    for (int t = 0; t < nth && !rc; t++) {
        parts[t] = (refresh_part){
            idx, ndocs * (size_t)t / (size_t)nth, ndocs * (size_t)(t + 1) / (size_t)nth, NULL, 0,
            0};
        if (!(parts[t].cursor = calloc(nterms ? nterms : 1, sizeof(size_t))))
            rc = STEP_ENOMEM;
    }
    size_t nnz = 0;
    if (!rc) {
        run_parts(parts, nth, refresh_run);
        for (int t = 0; t < nth; t++)
            nnz += parts[t].nnz;
    }
    if (!rc && (nnz > idx->post_cap || !idx->post_doc)) {
        uint32_t *pd = realloc(idx->post_doc, (nnz ? nnz : 1) * sizeof(*pd));
        double *pw = pd ? realloc(idx->post_w, (nnz ? nnz : 1) * sizeof(*pw)) : NULL;
        if (pd)
            idx->post_doc = pd;
        if (pw) {
            idx->post_w = pw;
            idx->post_cap = nnz;
        } else {
            rc = STEP_ENOMEM;
        }
    }
    if (!rc) {
        size_t at = 0;
        for (size_t t = 0; t < nterms; t++) {
            idx->post_off[t] = at;
            for (int th = 0; th < nth; th++) {
                size_t c = parts[th].cursor[t];
                parts[th].cursor[t] = at;
                at += c;
            }
        }
        idx->post_off[nterms] = at;
        for (int th = 0; th < nth; th++)
            parts[th].phase = 1;
        run_parts(parts, nth, refresh_run);
    }
    for (int t = 0; parts && t < nth; t++)
        free(parts[t].cursor);
    free(parts);
    if (rc)
        return rc;
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
                                        size_t n, size_t k, stepd_recommend_hits *out, char **err) {
    if (!idx || (n && (!ids || !out)))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: similar_batch needs ids and out");
    memset(out, 0, n * sizeof(*out));
    int rc = read_begin(idx);
    if (rc)
        return ai_recommend_fail(err, rc, "recommend: out of memory while refreshing the index");
    int nthreads = n >= 64 ? idx->nthreads : 1;
    batch_worker ws[64] = {0};
    pthread_t tids[64];
    int running[64] = {0};
    for (int t = 0; t < nthreads; t++)
        ws[t] = (batch_worker){
            idx, ids, out, n * (size_t)t / (size_t)nthreads, n * (size_t)(t + 1) / (size_t)nthreads,
            k,   0};
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
