/*
 * recommend_util.c — small shared pieces of the recommend module: error messages, a string
 * interning map (open addressing over dense ids, keys in one pool so memory is proportional to
 * the distinct strings), product text assembly and id parsing, and the hits list helpers.
 */
#include "ai/recommend_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ai_recommend_fail(char **err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
        free(*err);
        *err = msg;
    }
    return code;
}

int ai_recommend_threads(int requested) {
    if (requested > 0)
        return requested > 64 ? 64 : requested;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > 8 ? 8 : (int)n;
}

const char *ai_recommend_reason_content(void) {
    return "similar_to_viewed";
}
const char *ai_recommend_reason_cf(void) {
    return "bought_together";
}
const char *ai_recommend_reason_pref(void) {
    return "matches_preferences";
}

/* FNV-1a, then a final avalanche so the low bits used for slots are well mixed. */
uint32_t ai_recommend_hash(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

static int strmap_grow_slots(ai_recommend_strmap *m) {
    size_t n = m->nslots ? m->nslots * 2 : 64;
    uint64_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return STEP_ENOMEM;
    for (size_t id = 0; id < m->count; id++) {
        size_t i = m->hash[id] & (n - 1);
        while (slots[i])
            i = (i + 1) & (n - 1);
        slots[i] = (uint64_t)m->hash[id] << 32 | (uint32_t)(id + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
    return 0;
}

static long strmap_lookup(const ai_recommend_strmap *m, const char *s, size_t len, uint32_t h,
                          size_t *slot) {
    if (!m->nslots) {
        *slot = 0;
        return -1;
    }
    size_t i = h & (m->nslots - 1);
    for (;;) {
        uint64_t v = m->slots[i];
        if (!v) {
            *slot = i;
            return -1;
        }
        uint32_t id = (uint32_t)v - 1;
        if ((uint32_t)(v >> 32) == h && m->len[id] == len && !memcmp(m->pool + m->off[id], s, len))
            return id;
        i = (i + 1) & (m->nslots - 1);
    }
}

long ai_recommend_strmap_find(const ai_recommend_strmap *m, const char *s, size_t len) {
    size_t slot;
    return strmap_lookup(m, s, len, ai_recommend_hash(s, len), &slot);
}

int ai_recommend_strmap_intern(ai_recommend_strmap *m, const char *s, size_t len, uint32_t *id) {
    if (len > UINT32_MAX - 1)
        return STEP_EINVAL;
    uint32_t h = ai_recommend_hash(s, len);
    size_t slot;
    long found = strmap_lookup(m, s, len, h, &slot);
    if (found >= 0) {
        *id = (uint32_t)found;
        return 0;
    }
    if (m->count >= UINT32_MAX - 1)
        return STEP_ENOMEM;
    if ((m->count + 1) * 2 > m->nslots) {
        if (strmap_grow_slots(m))
            return STEP_ENOMEM;
        strmap_lookup(m, s, len, h, &slot);
    }
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        size_t *off = realloc(m->off, cap * sizeof(*off));
        if (!off)
            return STEP_ENOMEM;
        m->off = off;
        uint32_t *ln = realloc(m->len, cap * sizeof(*ln));
        if (!ln)
            return STEP_ENOMEM;
        m->len = ln;
        uint32_t *hs = realloc(m->hash, cap * sizeof(*hs));
        if (!hs)
            return STEP_ENOMEM;
        m->hash = hs;
        m->cap = cap;
    }
    if (m->pool_len + len + 1 > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap : 1024;
        while (cap < m->pool_len + len + 1)
            cap *= 2;
        char *pool = realloc(m->pool, cap);
        if (!pool)
            return STEP_ENOMEM;
        m->pool = pool;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_len, s, len);
    m->pool[m->pool_len + len] = '\0';
    m->off[m->count] = m->pool_len;
    m->len[m->count] = (uint32_t)len;
    m->hash[m->count] = h;
    m->pool_len += len + 1;
    m->slots[slot] = (uint64_t)h << 32 | (uint32_t)(m->count + 1);
    *id = (uint32_t)m->count++;
    return 1;
}

void ai_recommend_strmap_free(ai_recommend_strmap *m) {
    free(m->pool);
    free(m->off);
    free(m->len);
    free(m->hash);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static int buf_append(char **buf, size_t *cap, size_t *len, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *b = realloc(*buf, c);
        if (!b)
            return STEP_ENOMEM;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int ai_recommend_product_text(const json_t *product, char *const *fields, char **buf, size_t *cap,
                              size_t *len) {
    *len = 0;
    if (buf_append(buf, cap, len, "", 0))
        return STEP_ENOMEM;
    /* One walk over the product's keys finds every field (cheaper than a hash lookup per
     * field for small objects); the text is then assembled in field order. */
    const json_t *vals[64] = {0};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)product, key, val) {
        for (size_t f = 0; f < 64 && fields[f]; f++)
            if (!vals[f] && key[0] == fields[f][0] && !strcmp(key, fields[f]))
                vals[f] = val;
    }
    int first = 1;
    for (size_t f = 0; f < 64 && fields[f]; f++) {
        const json_t *v = vals[f];
        if (json_is_string(v)) {
            if ((!first && buf_append(buf, cap, len, "\n", 1)) ||
                buf_append(buf, cap, len, json_string_value(v), json_string_length(v)))
                return STEP_ENOMEM;
            first = 0;
        } else if (json_is_array(v)) {
            if (!first && buf_append(buf, cap, len, "\n", 1))
                return STEP_ENOMEM;
            first = 0;
            size_t i, n = 0;
            const json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                    continue;
                if ((n++ && buf_append(buf, cap, len, " ", 1)) ||
                    buf_append(buf, cap, len, json_string_value(e), json_string_length(e)))
                    return STEP_ENOMEM;
            }
        }
    }
    return 0;
}

int ai_recommend_product_id(const json_t *product, char *out, size_t outsz) {
    const json_t *id = json_object_get(product, "id");
    if (json_is_string(id)) {
        size_t n = json_string_length(id);
        if (n == 0 || n >= outsz || memchr(json_string_value(id), '\0', n))
            return STEP_EINVAL;
        memcpy(out, json_string_value(id), n + 1);
        return 0;
    }
    if (json_is_integer(id)) {
        snprintf(out, outsz, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        return 0;
    }
    return STEP_EINVAL;
}

void stepd_recommend_hits_free(stepd_recommend_hits *hits) {
    if (!hits)
        return;
    for (size_t i = 0; i < hits->count; i++)
        free(hits->items[i].product_id);
    free(hits->items);
    hits->items = NULL;
    hits->count = 0;
}

json_t *stepd_recommend_hits_json(const stepd_recommend_hits *hits) {
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; hits && i < hits->count; i++) {
        json_t *o = json_pack("{s:s,s:f,s:s}", "productId", hits->items[i].product_id, "score",
                              hits->items[i].score, "reason", hits->items[i].reason);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
