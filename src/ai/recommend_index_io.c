/*
 * recommend_index_io.c — persisting the content index, so a restart skips text analysis.
 *
 * The file holds what analysis produced (vocabulary, per product its term counts) plus the
 * options and product metadata; idf, norms and postings are derived again on the first query.
 * Layout, little-endian, every string as u32 length + bytes (0xFFFFFFFF = absent):
 *   "STEPDREC" u32 version
 *   u32 ngram_min ngram_max stop_words sublinear_tf use_idf smooth_idf norm; u64 max_features
 *   u32 nfields, fields; u32 nterms, terms; u32 nslots, then per slot:
 *     id, u8 alive; if alive: u32 nnz, nnz term ids, nnz counts, category, u32 ntags, tags,
 *     f64 price
 * The loader checks every length and id against what remains, so a damaged file is an error,
 * never a crash. Saving writes PATH.tmp and renames it over PATH.
 */
#include "ai/recommend_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "STEPDREC"
#define VERSION 1u
#define ABSENT 0xFFFFFFFFu

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n) {
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(wbuf *b, uint32_t v) {
    put(b, &v, 4);
}

static void put_str(wbuf *b, const char *s) {
    if (!s) {
        put_u32(b, ABSENT);
        return;
    }
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

int stepd_recommend_index_save_buffer(stepd_recommend_index *idx, unsigned char **buf, size_t *len,
                                      char **err) {
    if (!idx || !buf || !len)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: save needs an index and a buffer");
    wbuf b = {0};
    pthread_rwlock_rdlock(&idx->lock);
    const stepd_recommend_options *o = &idx->opts;
    put(&b, MAGIC, 8);
    put_u32(&b, VERSION);
    uint32_t hdr[7] = {(uint32_t)o->ngram_min,    (uint32_t)o->ngram_max, (uint32_t)o->stop_words,
                       (uint32_t)o->sublinear_tf, (uint32_t)o->use_idf,   (uint32_t)o->smooth_idf,
                       (uint32_t)o->norm};
    put(&b, hdr, sizeof(hdr));
    uint64_t mf = o->max_features;
    put(&b, &mf, 8);
    uint32_t nf = 0;
    while (idx->fields[nf])
        nf++;
    put_u32(&b, nf);
    for (uint32_t i = 0; i < nf; i++)
        put_str(&b, idx->fields[i]);
    put_u32(&b, (uint32_t)idx->vocab.count);
    for (size_t t = 0; t < idx->vocab.count; t++) {
        put_u32(&b, idx->vocab.len[t]);
        put(&b, ai_recommend_strmap_key(&idx->vocab, (uint32_t)t), idx->vocab.len[t]);
    }
    put_u32(&b, (uint32_t)idx->ids.count);
    for (size_t d = 0; d < idx->ids.count; d++) {
        const ai_recommend_doc *doc = &idx->docs[d];
        put_u32(&b, idx->ids.len[d]);
        put(&b, ai_recommend_strmap_key(&idx->ids, (uint32_t)d), idx->ids.len[d]);
        unsigned char alive = doc->alive;
        put(&b, &alive, 1);
        if (!alive)
            continue;
        put_u32(&b, doc->nnz);
        put(&b, doc->tc, (size_t)doc->nnz * 2 * sizeof(uint32_t));
        put_str(&b, doc->meta.category);
        put_u32(&b, doc->meta.ntags);
        for (uint32_t i = 0; i < doc->meta.ntags; i++)
            put_str(&b, doc->meta.tags[i]);
        put(&b, &doc->meta.price, 8);
    }
    pthread_rwlock_unlock(&idx->lock);
    if (b.oom) {
        free(b.p);
        return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory while saving");
    }
    *buf = b.p;
    *len = b.len;
    return 0;
}

int stepd_recommend_index_save(stepd_recommend_index *idx, const char *path, char **err) {
    if (!path)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: save needs a path");
    unsigned char *buf;
    size_t len;
    int rc = stepd_recommend_index_save_buffer(idx, &buf, &len, err);
    if (rc)
        return rc;
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0) {
        free(buf);
        return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
    }
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(buf, 1, len, f) == len;
    if (f && fclose(f))
        ok = 0;
    int saved_errno = errno;
    free(buf);
    if (!ok || rename(tmp, path)) {
        if (ok)
            saved_errno = errno;
        remove(tmp);
        free(tmp);
        return ai_recommend_fail(err, STEP_EIO, "recommend: cannot write index %s: %s", path,
                                 strerror(saved_errno));
    }
    free(tmp);
    return 0;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t len, off;
    int bad;
} rbuf;

static const void *take(rbuf *r, size_t n) {
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        return NULL;
    }
    const void *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint32_t get_u32(rbuf *r) {
    const void *p = take(r, 4);
    uint32_t v = 0;
    if (p)
        memcpy(&v, p, 4);
    return v;
}

/* Returns a malloc'ed NUL-terminated copy, NULL when absent (*absent = 1) or on error. */
static char *get_str(rbuf *r, int *absent) {
    uint32_t n = get_u32(r);
    *absent = 0;
    if (n == ABSENT) {
        *absent = 1;
        return NULL;
    }
    const char *s = take(r, n);
    if (!s || memchr(s, '\0', n)) {
        r->bad = 1;
        return NULL;
    }
    return strndup(s, n);
}

int stepd_recommend_index_load_buffer(const unsigned char *buf, size_t len,
                                      stepd_recommend_index **out, char **err) {
    if (!out || (!buf && len))
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: load needs a buffer and out");
    *out = NULL;
    rbuf r = {buf, len, 0, 0};
    const void *magic = take(&r, 8);
    if (!magic || memcmp(magic, MAGIC, 8))
        return ai_recommend_fail(err, STEP_EPARSE, "recommend: not a stepd recommend index");
    if (get_u32(&r) != VERSION)
        return ai_recommend_fail(err, STEP_EPARSE, "recommend: unsupported index version");
    stepd_recommend_options o;
    stepd_recommend_options_init(&o);
    uint32_t hdr[7];
    for (int i = 0; i < 7; i++)
        hdr[i] = get_u32(&r);
    const void *mf = take(&r, 8);
    if (r.bad)
        return ai_recommend_fail(err, STEP_EPARSE, "recommend: index header is truncated");
    uint64_t max_features;
    memcpy(&max_features, mf, 8);
    if (hdr[0] > 8 || hdr[1] > 8 || hdr[2] > 1 || hdr[3] > 1 || hdr[4] > 1 || hdr[5] > 1 ||
        hdr[6] > 2 || max_features > SIZE_MAX)
        return ai_recommend_fail(err, STEP_EPARSE, "recommend: index header is invalid");
    o.ngram_min = (int)hdr[0];
    o.ngram_max = (int)hdr[1];
    o.stop_words = (int)hdr[2];
    o.sublinear_tf = (int)hdr[3];
    o.use_idf = (int)hdr[4];
    o.smooth_idf = (int)hdr[5];
    o.norm = (stepd_recommend_norm)hdr[6];
    o.max_features = (size_t)max_features;
    uint32_t nf = get_u32(&r);
    if (r.bad || nf > 64)
        return ai_recommend_fail(err, STEP_EPARSE, "recommend: index field list is invalid");
    char *fields[65] = {0};
    int absent, rc = 0;
    for (uint32_t i = 0; i < nf && !r.bad; i++) {
        fields[i] = get_str(&r, &absent);
        if (!fields[i])
            r.bad = 1;
    }
    stepd_recommend_index *idx = NULL;
    if (!r.bad) {
        o.fields = (const char *const *)fields;
        rc = ai_recommend_index_create(&o, &idx, err);
    }
    for (uint32_t i = 0; i < nf; i++)
        free(fields[i]);
    if (rc)
        return rc;
    if (r.bad)
        return ai_recommend_fail(err, STEP_EPARSE, "recommend: index field list is invalid");

    uint32_t nterms = get_u32(&r);
    for (uint32_t t = 0; t < nterms && !r.bad; t++) {
        uint32_t n = get_u32(&r);
        const char *s = take(&r, n);
        uint32_t id;
        if (!s)
            break;
        int ir = ai_recommend_strmap_intern(&idx->vocab, s, n, &id);
        if (ir < 0) {
            rc = STEP_ENOMEM;
            break;
        }
        if (ir == 0 || id != t) /* duplicate term */
            r.bad = 1;
    }
    if (!rc && !r.bad) {
        idx->terms_cap = 0;
        uint32_t *df = calloc(nterms ? nterms : 1, sizeof(*df));
        uint64_t *tf = calloc(nterms ? nterms : 1, sizeof(*tf));
        if (!df || !tf) {
            free(df);
            free(tf);
            rc = STEP_ENOMEM;
        } else {
            idx->df = df;
            idx->tf_total = tf;
            idx->terms_cap = nterms ? nterms : 1;
        }
    }
    uint32_t nslots = rc ? 0 : get_u32(&r);
    for (uint32_t d = 0; d < nslots && !r.bad && !rc; d++) {
        uint32_t n = get_u32(&r);
        const char *id = take(&r, n);
        const unsigned char *alive = take(&r, 1);
        if (!id || !alive || n == 0 || memchr(id, '\0', n) || *alive > 1) {
            r.bad = 1;
            break;
        }
        if (!*alive) {
            uint32_t slot;
            int ir = ai_recommend_strmap_intern(&idx->ids, id, n, &slot);
            if (ir < 0)
                rc = STEP_ENOMEM;
            else if (ir == 0)
                r.bad = 1;
            else if (slot >= idx->docs_cap) {
                /* keep docs[] as long as ids: dead slots are zeroed entries */
                size_t cap = idx->docs_cap ? idx->docs_cap * 2 : 256;
                ai_recommend_doc *docs = realloc(idx->docs, cap * sizeof(*docs));
                if (!docs) {
                    rc = STEP_ENOMEM;
                } else {
                    memset(docs + idx->docs_cap, 0, (cap - idx->docs_cap) * sizeof(*docs));
                    for (size_t i = idx->docs_cap; i < cap; i++)
                        docs[i].meta.price = NAN;
                    idx->docs = docs;
                    idx->docs_cap = cap;
                }
            }
            continue;
        }
        if (ai_recommend_strmap_find(&idx->ids, id, n) >= 0) {
            r.bad = 1;
            break;
        }
        uint32_t nnz = get_u32(&r);
        if (r.bad || (size_t)nnz * 8 > r.len - r.off) {
            r.bad = 1;
            break;
        }
        uint32_t *tc = malloc((nnz ? nnz : 1) * 2 * sizeof(uint32_t));
        if (!tc) {
            rc = STEP_ENOMEM;
            break;
        }
        memcpy(tc, take(&r, (size_t)nnz * 8), (size_t)nnz * 8);
        for (uint32_t i = 0; i < nnz; i++)
            if (tc[i] >= nterms || tc[nnz + i] == 0)
                r.bad = 1;
        ai_recommend_meta meta = {0};
        meta.price = NAN;
        meta.category = get_str(&r, &absent);
        if (!meta.category && !absent)
            r.bad = 1;
        uint32_t ntags = get_u32(&r);
        if (!r.bad && (size_t)ntags * 4 > r.len - r.off)
            r.bad = 1;
        if (!r.bad && ntags && !(meta.tags = calloc(ntags, sizeof(char *))))
            rc = STEP_ENOMEM;
        for (uint32_t i = 0; i < ntags && !r.bad && !rc; i++) {
            meta.tags[i] = get_str(&r, &absent);
            if (!meta.tags[i]) {
                r.bad = 1;
                break;
            }
            meta.ntags++;
        }
        const void *price = take(&r, 8);
        if (price)
            memcpy(&meta.price, price, 8);
        if (r.bad || rc) {
            free(tc);
            ai_recommend_meta_free(&meta);
            break;
        }
        rc = ai_recommend_index_set_doc(idx, id, n, tc, nnz, &meta);
    }
    if (!rc && !r.bad && r.off != r.len)
        r.bad = 1;
    if (rc || r.bad) {
        stepd_recommend_index_free(idx);
        if (rc)
            return ai_recommend_fail(err, rc, "recommend: out of memory while loading the index");
        return ai_recommend_fail(
            err, STEP_EPARSE, "recommend: the index is damaged (at byte %zu of %zu)", r.off, r.len);
    }
    *out = idx;
    return 0;
}

int stepd_recommend_index_load(const char *path, stepd_recommend_index **out, char **err) {
    if (!path || !out)
        return ai_recommend_fail(err, STEP_EINVAL, "recommend: load needs a path and out");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ai_recommend_fail(err, errno == ENOENT ? STEP_ENOTFOUND : STEP_EIO,
                                 "recommend: cannot open index %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return ai_recommend_fail(err, STEP_ENOMEM, "recommend: out of memory");
            }
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return ai_recommend_fail(err, STEP_EIO, "recommend: cannot read index %s", path);
    }
    int rc = stepd_recommend_index_load_buffer(buf, len, out, err);
    free(buf);
    if (rc && err && *err) {
        char *m = NULL;
        if (asprintf(&m, "%s (%s)", *err, path) >= 0) {
            free(*err);
            *err = m;
        }
    }
    return rc;
}
