/*
 * text_util.c — small building blocks of the text module: a growable byte buffer, an
 * open-addressing string hash map whose keys live in big blocks (the lexicons hold ~100k
 * words, so per-key mallocs would dominate load time), UTF-8 decoding/sanitising, and the
 * few Python string semantics (isspace, lower) the Pattern-compatible code must reproduce.
 */
#include "ai/text_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int tbuf_grow(tbuf *b, size_t need) {
    if (b->oom)
        return -1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = b->fixed ? malloc(cap) : realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    if (b->fixed && b->len)
        memcpy(p, b->p, b->len + 1 <= b->cap ? b->len + 1 : b->len);
    b->p = p;
    b->cap = cap;
    b->fixed = 0;
    return 0;
}
void tbuf_puts(tbuf *b, const char *s) {
    tbuf_put(b, s, strlen(s));
}

void tbuf_free(tbuf *b) {
    if (!b->fixed)
        free(b->p);
    memset(b, 0, sizeof(*b));
}

/* FNV-1a: short keys, good enough spread for words. */
uint32_t tmap_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static char *tmap_store_key(tmap *m, const char *key, size_t klen) {
    if (m->nblocks == 0 || m->block_used + klen + 1 > m->block_cap) {
        /* small first (per-document maps hold a few dozen keys), doubling up to 64 KiB */
        size_t want = m->nblocks ? m->block_cap * 2 : 1024;
        if (want > 65536)
            want = 65536;
        size_t cap = klen + 1 > want ? klen + 1 : want;
        char **bl = realloc(m->blocks, (m->nblocks + 1) * sizeof(*bl));
        if (!bl)
            return NULL;
        m->blocks = bl;
        bl[m->nblocks] = malloc(cap);
        if (!bl[m->nblocks])
            return NULL;
        m->nblocks++;
        m->block_used = 0;
        m->block_cap = cap;
    }
    char *k = m->blocks[m->nblocks - 1] + m->block_used;
    memcpy(k, key, klen);
    k[klen] = 0;
    m->block_used += klen + 1;
    return k;
}

static int tmap_grow(tmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    tmap_entry *s = calloc(cap, sizeof(*s));
    if (!s)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (s[j].key)
            j = (j + 1) & (cap - 1);
        s[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    return 0;
}

int tmap_reserve_sparse(tmap *m) {
    while (m->count * 4 > m->cap)
        if (tmap_grow(m) != 0)
            return -1;
    return 0;
}

tmap_entry *tmap_put(tmap *m, const char *key, size_t klen) {
    if ((m->count + 1) * 4 >= m->cap * 3 && tmap_grow(m) != 0)
        return NULL;
    uint32_t h = tmap_hash(key, klen);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        tmap_entry *e = &m->slots[j];
        if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
            return e;
        j = (j + 1) & (m->cap - 1);
    }
    char *k = tmap_store_key(m, key, klen);
    if (!k)
        return NULL;
    m->slots[j] = (tmap_entry){.key = k, .hash = h, .klen = (uint32_t)klen, .val = NULL};
    m->count++;
    return &m->slots[j];
}

const tmap_entry *tmap_get(const tmap *m, const char *key, size_t klen) {
    return tmap_get_hashed(m, key, klen, tmap_hash(key, klen));
}

const tmap_entry *tmap_get_hashed(const tmap *m, const char *key, size_t klen, uint32_t h) {
    if (!m->cap)
        return NULL;
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key) {
        const tmap_entry *e = &m->slots[j];
        if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
            return e;
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void tmap_free(tmap *m) {
    for (size_t i = 0; i < m->nblocks; i++)
        free(m->blocks[i]);
    free(m->blocks);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

int32_t utf8_decode(const unsigned char *s, size_t n, int *len) {
    *len = 1;
    if (n == 0)
        return -1;
    unsigned c = s[0];
    if (c < 0x80)
        return (int32_t)c;
    int need;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0)
        need = 1, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        need = 2, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        need = 3, cp = c & 0x07, min = 0x10000;
    else
        return -1;
    if ((size_t)need >= n)
        return -1;
    for (int i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = need + 1;
    return (int32_t)cp;
}

int utf8_encode(uint32_t cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *utf8_sanitize(const char *s, size_t n, size_t *out_len) {
    tbuf b = {0};
    tbuf_grow(&b, n + 1);
    size_t i = 0, run = 0;
    while (i < n) {
        int l;
        int32_t cp = utf8_decode((const unsigned char *)s + i, n - i, &l);
        if (cp > 0) {
            i += (size_t)l;
            run += (size_t)l;
            continue;
        }
        tbuf_put(&b, s + i - run, run);
        run = 0;
        tbuf_put(&b, "\xEF\xBF\xBD", 3);
        i += (size_t)l;
    }
    tbuf_put(&b, s + i - run, run);
    if (!b.p)
        tbuf_put(&b, "", 0);
    if (b.oom) {
        tbuf_free(&b);
        return NULL;
    }
    *out_len = b.len;
    return b.p;
}

int utf8_valid(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* 8 bytes at a time while they are all ASCII and none is NUL */
        while (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            uint64_t zero = (v - 0x0101010101010101ull) & ~v;
            if ((v | zero) & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80) {
            i++;
            continue;
        }
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        int l;
        if (utf8_decode((const unsigned char *)s + i, n - i, &l) < 0)
            return 0;
        i += (size_t)l;
    }
    return 1;
}

size_t utf8_count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

int py_isspace(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

int py_isalpha_cp(uint32_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7) || (c >= 0x370 && c <= 0x3FF) ||
           (c >= 0x400 && c <= 0x4FF);
}

static uint32_t lower_cp(uint32_t c) {
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F)
            return c;
        if (c == 0x178)
            return 0xFF;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
            return (c & 1) ? c + 1 : c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
        return c + 32;
    if (c == 0x386)
        return 0x3AC;
    if (c >= 0x388 && c <= 0x38A)
        return c + 0x25;
    if (c == 0x38C)
        return 0x3CC;
    if (c == 0x38E || c == 0x38F)
        return c + 0x3F;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    if (c == 0x212A)
        return 'k';
    if (c == 0x212B)
        return 0xE5;
    return c;
}

void utf8_lower(tbuf *out, const char *s, size_t n) {
    size_t i = 0;
    if (out->len + n + 1 > out->cap && tbuf_grow(out, out->len + n + 1))
        return;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) { /* a run of ASCII: one capacity check */
            size_t j = i;
            while (j < n && (unsigned char)s[j] < 0x80)
                j++;
            if (out->len + (j - i) + 1 > out->cap && tbuf_grow(out, out->len + (j - i) + 1))
                return;
            char *d = out->p + out->len;
            for (size_t k = i; k < j; k++) {
                c = (unsigned char)s[k];
                *d++ = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
            }
            *d = 0;
            out->len += j - i;
            i = j;
            continue;
        }
        int l;
        int32_t cp = utf8_decode((const unsigned char *)s + i, n - i, &l);
        if (cp < 0) {
            tbuf_put(out, s + i, 1);
            i++;
            continue;
        }
        char enc[8];
        if (cp == 0x130) { /* İ lowers to i + combining dot above */
            tbuf_put(out, "i\xCC\x87", 3);
        } else {
            int k = utf8_encode(lower_cp((uint32_t)cp), enc);
            tbuf_put(out, enc, (size_t)k);
        }
        i += (size_t)l;
    }
    if (!out->p)
        tbuf_put(out, "", 0);
}

char *text_errf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

char *text_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    tbuf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        tbuf_put(&b, tmp, n);
    int bad = ferror(f);
    fclose(f);
    if (!b.p)
        tbuf_put(&b, "", 0);
    if (bad || b.oom) {
        tbuf_free(&b);
        errno = bad ? EIO : ENOMEM;
        return NULL;
    }
    *len = b.len;
    return b.p;
}
