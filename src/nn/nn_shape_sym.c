/*
 * nn_shape_sym.c — the dimension algebra of shape inference (nn_shape.c): a dimension is a
 * known integer, a symbol or unknown (nn_sdim). Symbols are texts — the graph inputs' named
 * dynamic dimensions and simple expressions of them ("past+1", "(n-127)/64+1", "seq*288") —
 * interned in the model, so equal texts are one pointer and compare with ==. Expressions
 * are kept short: a trailing constant addend is folded ("x+1" + 2 = "x+3"), a longer text
 * than SYM_LEN, or one that cannot be stored, becomes unknown (always a safe answer).
 */
#include "nn/nn_shape.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SYMS 65536
#define SYM_LEN 64

const char *nn_sd_intern(nn_model *m, const char *fmt, ...) {
    char buf[SYM_LEN];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= SYM_LEN || !*buf)
        return NULL; /* too long to be useful: unknown */
    for (int i = 0; i < m->nsyms; i++)
        if (!strcmp(m->syms[i], buf))
            return m->syms[i];
    if (m->nsyms >= MAX_SYMS)
        return NULL;
    if (!(m->nsyms & (m->nsyms - 1)) || !m->nsyms) {
        int cap = m->nsyms ? m->nsyms * 2 : 16;
        char **s = realloc(m->syms, (size_t)cap * sizeof *s);
        if (!s)
            return NULL;
        m->syms = s;
    }
    char *s = strdup(buf);
    if (!s)
        return NULL;
    m->syms[m->nsyms++] = s;
    return s;
}

/* ---- symbolic arithmetic ------------------------------------------------------------------ */
static int compound(const char *s) {
    return strpbrk(s, "+-*/") != NULL;
}

/* an addition or subtraction outside parentheses (needs parentheses as a factor) */
static int top_level_sum(const char *s) {
    int depth = 0;
    for (const char *p = s; *p; p++) {
        depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (!depth && p > s && (*p == '+' || *p == '-'))
            return 1;
    }
    return 0;
}

/* Splits "X+k" / "X-k" (a trailing constant addend is always top-level) into X and k. */
static int split_addend(const char *s, size_t *xlen, int64_t *k) {
    size_t n = strlen(s), i = n;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    if (i == n || i < 2 || (s[i - 1] != '+' && s[i - 1] != '-') || n - i > 15)
        return 0;
    *k = strtoll(s + i, NULL, 10) * (s[i - 1] == '-' ? -1 : 1);
    *xlen = i - 1;
    return 1;
}

nn_sdim nn_sd_addk(nn_model *m, nn_sdim a, int64_t k) {
    if (nn_sd_is_known(a)) {
        int64_t r;
        return __builtin_add_overflow(a.v, k, &r) || r == NN_SD_UNK ? NN_SD_UNKNOWN
                                                                    : nn_sd_known(r);
    }
    if (!a.s)
        return NN_SD_UNKNOWN;
    if (!k)
        return a;
    size_t xl;
    int64_t k0;
    if (split_addend(a.s, &xl, &k0) && !__builtin_add_overflow(k0, k, &k0)) {
        if (!k0)
            return (nn_sdim){NN_SD_UNK, nn_sd_intern(m, "%.*s", (int)xl, a.s)};
        return (nn_sdim){NN_SD_UNK, nn_sd_intern(m, "%.*s%+lld", (int)xl, a.s, (long long)k0)};
    }
    return (nn_sdim){NN_SD_UNK, nn_sd_intern(m, "%s%+lld", a.s, (long long)k)};
}

nn_sdim nn_sd_add(nn_model *m, nn_sdim a, nn_sdim b, int sub) {
    if (nn_sd_is_known(b)) {
        if (sub && b.v == INT64_MIN)
            return NN_SD_UNKNOWN;
        return nn_sd_addk(m, a, sub ? -b.v : b.v);
    }
    if (nn_sd_is_known(a) && !sub)
        return nn_sd_addk(m, b, a.v);
    if (!a.s || !b.s)
        return NN_SD_UNKNOWN;
    if (sub && a.s == b.s)
        return nn_sd_known(0);
    if (nn_sd_is_known(a))
        return (nn_sdim){NN_SD_UNK,
                         nn_sd_intern(m, "%lld-%s%s%s", (long long)a.v, compound(b.s) ? "(" : "",
                                      b.s, compound(b.s) ? ")" : "")};
    if (sub)
        return (nn_sdim){NN_SD_UNK, nn_sd_intern(m, "%s-%s%s%s", a.s, compound(b.s) ? "(" : "", b.s,
                                                 compound(b.s) ? ")" : "")};
    return (nn_sdim){NN_SD_UNK, nn_sd_intern(m, "%s+%s", a.s, b.s)};
}

/* op '*' or '/' (floor division, as for non-negative sizes) */
nn_sdim nn_sd_muldiv(nn_model *m, nn_sdim a, nn_sdim b, char op) {
    if (nn_sd_is_known(a) && nn_sd_is_known(b)) {
        int64_t r;
        if (op == '*')
            return __builtin_mul_overflow(a.v, b.v, &r) || r == NN_SD_UNK ? NN_SD_UNKNOWN
                                                                          : nn_sd_known(r);
        if (!b.v || (a.v == INT64_MIN && b.v == -1))
            return NN_SD_UNKNOWN;
        r = a.v / b.v;
        if ((a.v % b.v) && ((a.v < 0) != (b.v < 0)))
            r--;
        return nn_sd_known(r);
    }
    if (nn_sd_is_known(b) && b.v == 1)
        return a;
    if (op == '*' && nn_sd_is_known(a) && a.v == 1)
        return b;
    if (op == '*' && ((nn_sd_is_known(a) && !a.v) || (nn_sd_is_known(b) && !b.v)))
        return nn_sd_known(0);
    if ((!a.s && !nn_sd_is_known(a)) || (!b.s && !nn_sd_is_known(b)))
        return NN_SD_UNKNOWN;
    char x[24], y[24];
    const char *as = a.s, *bs = b.s;
    if (!as) {
        snprintf(x, sizeof x, "%lld", (long long)a.v);
        as = x;
    }
    if (!bs) {
        snprintf(y, sizeof y, "%lld", (long long)b.v);
        bs = y;
    }
    int pa = a.s && top_level_sum(as), pb = b.s && (op == '/' ? compound(bs) : top_level_sum(bs));
    return (nn_sdim){NN_SD_UNK, nn_sd_intern(m, "%s%s%s%c%s%s%s", pa ? "(" : "", as, pa ? ")" : "",
                                             op, pb ? "(" : "", bs, pb ? ")" : "")};
}

/* 1 equal, 0 known to differ, -1 cannot tell */
int nn_sd_same(nn_sdim a, nn_sdim b) {
    if (nn_sd_is_known(a) && nn_sd_is_known(b))
        return a.v == b.v;
    if (a.s && a.s == b.s)
        return 1;
    return -1;
}

/* ---- shapes ------------------------------------------------------------------------------ */
nn_sdim nn_sd_dim(const nn_shape *s, int d) {
    if (s->dims[d] >= 0)
        return nn_sd_known(s->dims[d]);
    return (nn_sdim){NN_SD_UNK, s->sym[d]};
}

void nn_sd_set(nn_shape *s, int d, nn_sdim v) {
    s->dims[d] = nn_sd_is_known(v) && v.v >= 0 ? v.v : -1;
    s->sym[d] = s->dims[d] < 0 ? v.s : NULL;
}

void nn_shape_unknown(nn_shape *s, nn_dtype t, int ndim) {
    memset(s, 0, sizeof *s);
    s->dtype = t;
    s->ndim = ndim;
    for (int d = 0; d < NN_MAXDIM; d++)
        s->dims[d] = -1;
}

const char *nn_shape_text(const nn_shape *s, char *buf, size_t size) {
    if (!size)
        return buf;
    if (s->ndim < 0) {
        snprintf(buf, size, "[?]");
        return buf;
    }
    size_t o = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < s->ndim && o < size; d++) {
        const char *sep = d ? ", " : "";
        if (s->dims[d] >= 0)
            o += (size_t)snprintf(buf + o, size - o, "%s%lld", sep, (long long)s->dims[d]);
        else
            o += (size_t)snprintf(buf + o, size - o, "%s%s", sep, s->sym[d] ? s->sym[d] : "?");
    }
    if (o < size)
        snprintf(buf + o, size - o, "]");
    return buf;
}

/* numpy broadcasting of a (into out); 0 ok, -1 incompatible known dims */
int nn_shape_broadcast(nn_shape *out, const nn_shape *a) {
    if (a->ndim < 0 || out->ndim < 0) {
        out->ndim = -1;
        return 0;
    }
    int n = a->ndim > out->ndim ? a->ndim : out->ndim;
    nn_shape r;
    nn_shape_unknown(&r, out->dtype, n);
    for (int d = 0; d < n; d++) {
        int da = d - (n - a->ndim), db = d - (n - out->ndim);
        nn_sdim x = da >= 0 ? nn_sd_dim(a, da) : nn_sd_known(1),
                y = db >= 0 ? nn_sd_dim(out, db) : nn_sd_known(1);
        nn_sdim z;
        if (nn_sd_is_known(x) && x.v == 1)
            z = y;
        else if (nn_sd_is_known(y) && y.v == 1)
            z = x;
        else if (nn_sd_same(x, y) == 1)
            z = x;
        else if (nn_sd_is_known(x) && nn_sd_is_known(y))
            return -1;
        else if (nn_sd_is_known(x))
            z = x; /* y must be x (or 1) */
        else if (nn_sd_is_known(y))
            z = y;
        else
            z = NN_SD_UNKNOWN;
        nn_sd_set(&r, d, z);
    }
    *out = r;
    return 0;
}

/* ---- small integer contents ------------------------------------------------------------- */