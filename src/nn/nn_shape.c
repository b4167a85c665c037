/*
 * nn_shape.c — static shape inference at load. Every value gets an element type, a rank and
 * per dimension a known size, a symbol or "unknown" (nn_shape in nn.h). Symbols start as the
 * graph inputs' named dynamic dimensions; ops derive simple expressions from them as text
 * ("past+1", "(n-127)/64+1"), interned in the model so that equal texts are equal pointers
 * and two values' dimensions compare with ==. Besides shapes, the values of small integer
 * tensors (rank <= 1, <= NN_MAXDIM elements) are carried as dimensions too: that is what shape
 * subgraphs compute (Shape -> Gather -> Unsqueeze -> Concat -> Reshape), so the targets of
 * Reshape, Expand, ConstantOfShape and Range are known at load even when they depend on the
 * input's dynamic sizes.
 *
 * A rule only reports an inconsistency when both sides are known integers (or a rank); a
 * symbol against a different symbol is never an error (they may be equal at run time).
 * Runs after constant folding (folded values are constants with exact shapes) and before
 * the fusions (which replace ops by internal kernels).
 */
#include "nn/nn_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNK INT64_MIN
#define MAX_SYMS 65536
#define SYM_LEN 64

/* A dimension or an element of a small integer tensor: v known when s is NULL and v != UNK;
 * symbolic when s is set; else unknown. */
typedef struct sdim {
    int64_t v;
    const char *s;
} sdim;

typedef struct content {
    int n; /* elements; -1: not known */
    sdim e[NN_MAXDIM];
} content;

typedef struct infer {
    nn_model *m;
    content *c; /* per value */
    char **err;
    int oom;
    unsigned char *is_out; /* per value: a main graph output */
} infer;

static const sdim UNKNOWN = {UNK, NULL};

static sdim known(int64_t v) {
    return (sdim){v, NULL};
}
static int is_known(sdim d) {
    return !d.s && d.v != UNK;
}

static const char *intern(infer *I, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *intern(infer *I, const char *fmt, ...) {
    char buf[SYM_LEN];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= SYM_LEN || !*buf)
        return NULL; /* too long to be useful: unknown */
    nn_model *m = I->m;
    for (int i = 0; i < m->nsyms; i++)
        if (!strcmp(m->syms[i], buf))
            return m->syms[i];
    if (m->nsyms >= MAX_SYMS)
        return NULL;
    if (!(m->nsyms & (m->nsyms - 1)) || !m->nsyms) {
        int cap = m->nsyms ? m->nsyms * 2 : 16;
        char **s = realloc(m->syms, (size_t)cap * sizeof *s);
        if (!s) {
            I->oom = 1;
            return NULL;
        }
        m->syms = s;
    }
    char *s = strdup(buf);
    if (!s) {
        I->oom = 1;
        return NULL;
    }
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

static sdim sd_addk(infer *I, sdim a, int64_t k) {
    if (is_known(a)) {
        int64_t r;
        return __builtin_add_overflow(a.v, k, &r) || r == UNK ? UNKNOWN : known(r);
    }
    if (!a.s)
        return UNKNOWN;
    if (!k)
        return a;
    size_t xl;
    int64_t k0;
    if (split_addend(a.s, &xl, &k0) && !__builtin_add_overflow(k0, k, &k0)) {
        if (!k0)
            return (sdim){UNK, intern(I, "%.*s", (int)xl, a.s)};
        return (sdim){UNK, intern(I, "%.*s%+lld", (int)xl, a.s, (long long)k0)};
    }
    return (sdim){UNK, intern(I, "%s%+lld", a.s, (long long)k)};
}

static sdim sd_add(infer *I, sdim a, sdim b, int sub) {
    if (is_known(b)) {
        if (sub && b.v == INT64_MIN)
            return UNKNOWN;
        return sd_addk(I, a, sub ? -b.v : b.v);
    }
    if (is_known(a) && !sub)
        return sd_addk(I, b, a.v);
    if (!a.s || !b.s)
        return UNKNOWN;
    if (sub && a.s == b.s)
        return known(0);
    if (is_known(a))
        return (sdim){UNK, intern(I, "%lld-%s%s%s", (long long)a.v, compound(b.s) ? "(" : "", b.s,
                                  compound(b.s) ? ")" : "")};
    if (sub)
        return (sdim){UNK, intern(I, "%s-%s%s%s", a.s, compound(b.s) ? "(" : "", b.s,
                                  compound(b.s) ? ")" : "")};
    return (sdim){UNK, intern(I, "%s+%s", a.s, b.s)};
}

/* op '*' or '/' (floor division, as for non-negative sizes) */
static sdim sd_muldiv(infer *I, sdim a, sdim b, char op) {
    if (is_known(a) && is_known(b)) {
        int64_t r;
        if (op == '*')
            return __builtin_mul_overflow(a.v, b.v, &r) || r == UNK ? UNKNOWN : known(r);
        if (!b.v || (a.v == INT64_MIN && b.v == -1))
            return UNKNOWN;
        r = a.v / b.v;
        if ((a.v % b.v) && ((a.v < 0) != (b.v < 0)))
            r--;
        return known(r);
    }
    if (is_known(b) && b.v == 1)
        return a;
    if (op == '*' && is_known(a) && a.v == 1)
        return b;
    if (op == '*' && ((is_known(a) && !a.v) || (is_known(b) && !b.v)))
        return known(0);
    if ((!a.s && !is_known(a)) || (!b.s && !is_known(b)))
        return UNKNOWN;
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
    return (sdim){UNK, intern(I, "%s%s%s%c%s%s%s", pa ? "(" : "", as, pa ? ")" : "", op,
                              pb ? "(" : "", bs, pb ? ")" : "")};
}

/* 1 equal, 0 known to differ, -1 cannot tell */
static int sd_same(sdim a, sdim b) {
    if (is_known(a) && is_known(b))
        return a.v == b.v;
    if (a.s && a.s == b.s)
        return 1;
    return -1;
}

/* ---- shapes ------------------------------------------------------------------------------ */
static sdim dim_of(const nn_shape *s, int d) {
    if (s->dims[d] >= 0)
        return known(s->dims[d]);
    return (sdim){UNK, s->sym[d]};
}

static void set_dim(nn_shape *s, int d, sdim v) {
    s->dims[d] = is_known(v) && v.v >= 0 ? v.v : -1;
    s->sym[d] = s->dims[d] < 0 ? v.s : NULL;
}

static void shape_unknown(nn_shape *s, nn_dtype t, int ndim) {
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

static int bad(infer *I, const nn_node *n, const char *what, const int *vals, int nv) {
    char txt[512];
    size_t o = 0;
    txt[0] = 0;
    for (int i = 0; i < nv && o < sizeof txt; i++) {
        if (vals[i] < 0) /* an omitted optional input */
            continue;
        char b[160];
        const nn_value *v = &I->m->vals[vals[i]];
        o += (size_t)snprintf(txt + o, sizeof txt - o, "%s'%s' %s", i ? ", " : "", v->name,
                              nn_shape_text(&I->m->shapes[vals[i]], b, sizeof b));
    }
    return nn_fail(I->err, STEP_EINVAL, "node '%s' (%s): %s: %s", n->name, n->op, what, txt);
}

/* numpy broadcasting of a (into out); 0 ok, -1 incompatible known dims */
static int broadcast(infer *I, nn_shape *out, const nn_shape *a) {
    (void)I;
    if (a->ndim < 0 || out->ndim < 0) {
        out->ndim = -1;
        return 0;
    }
    int n = a->ndim > out->ndim ? a->ndim : out->ndim;
    nn_shape r;
    shape_unknown(&r, out->dtype, n);
    for (int d = 0; d < n; d++) {
        int da = d - (n - a->ndim), db = d - (n - out->ndim);
        sdim x = da >= 0 ? dim_of(a, da) : known(1), y = db >= 0 ? dim_of(out, db) : known(1);
        sdim z;
        if (is_known(x) && x.v == 1)
            z = y;
        else if (is_known(y) && y.v == 1)
            z = x;
        else if (sd_same(x, y) == 1)
            z = x;
        else if (is_known(x) && is_known(y))
            return -1;
        else if (is_known(x))
            z = x; /* y must be x (or 1) */
        else if (is_known(y))
            z = y;
        else
            z = UNKNOWN;
        set_dim(&r, d, z);
    }
    *out = r;
    return 0;
}

/* ---- small integer contents ------------------------------------------------------------- */
static const content *cont(infer *I, int id) {
    return id >= 0 && I->c[id].n >= 0 ? &I->c[id] : NULL;
}

static void content_from_const(infer *I, int id) {
    const nn_value *v = &I->m->vals[id];
    content *c = &I->c[id];
    c->n = -1;
    const nn_tensor *t = &v->init;
    if (!t->data || t->ndim > 1 ||
        (t->dtype != NN_I64 && t->dtype != NN_I32 && t->dtype != NN_U8 && t->dtype != NN_I8 &&
         t->dtype != NN_BOOL))
        return;
    int64_t n = nn_tensor_numel(t);
    if (n < 0 || n > NN_MAXDIM)
        return;
    c->n = (int)n;
    for (int i = 0; i < c->n; i++) {
        int64_t x = nn_get_i(t, i);
        c->e[i] = x == UNK ? UNKNOWN : known(x);
    }
}

static int64_t attr_i(const nn_node *n, const char *name, int64_t def) {
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name))
            return n->attrs[i].i;
    return def;
}

static const nn_attr *attr(const nn_node *n, const char *name) {
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

/* A list of known integers from an ints attribute or an input's content; count -1 unknown. */
static int int_list(infer *I, const nn_node *n, const char *aname, int input, int64_t *out) {
    const nn_attr *a = aname ? attr(n, aname) : NULL;
    if (a && a->ints) {
        if (a->n > NN_MAXDIM)
            return -1;
        memcpy(out, a->ints, (size_t)a->n * sizeof *out);
        return a->n;
    }
    const content *c = input < n->nin ? cont(I, n->in[input]) : NULL;
    if (!c)
        return -1;
    for (int i = 0; i < c->n; i++) {
        if (!is_known(c->e[i]))
            return -1;
        out[i] = c->e[i].v;
    }
    return c->n;
}

/* ---- op rules ------------------------------------------------------------------------------ */
static const nn_shape *S(infer *I, const nn_node *n, int i) {
    static nn_shape none = {NN_UNDEF, -1, {0}, {0}};
    return i < n->nin && n->in[i] >= 0 ? &I->m->shapes[n->in[i]] : &none;
}

static int rule_matmul(infer *I, const nn_node *n, nn_shape *o, nn_dtype t) {
    nn_shape a = *S(I, n, 0), b = *S(I, n, 1);
    shape_unknown(o, t, -1);
    if (a.ndim < 1 || b.ndim < 1)
        return 0;
    sdim ak = dim_of(&a, a.ndim - 1), bk = dim_of(&b, b.ndim >= 2 ? b.ndim - 2 : 0);
    if (sd_same(ak, bk) == 0)
        return bad(I, n, "inner dimensions differ", n->in, 2);
    nn_shape ba, bb;
    shape_unknown(&ba, t, a.ndim > 2 ? a.ndim - 2 : 0);
    shape_unknown(&bb, t, b.ndim > 2 ? b.ndim - 2 : 0);
    for (int d = 0; d < ba.ndim; d++)
        set_dim(&ba, d, dim_of(&a, d));
    for (int d = 0; d < bb.ndim; d++)
        set_dim(&bb, d, dim_of(&b, d));
    if (broadcast(I, &ba, &bb) < 0)
        return bad(I, n, "batch dimensions do not broadcast", n->in, 2);
    int r = ba.ndim;
    if (a.ndim >= 2)
        set_dim(&ba, r++, dim_of(&a, a.ndim - 2));
    if (b.ndim >= 2)
        set_dim(&ba, r++, dim_of(&b, b.ndim - 1));
    ba.ndim = r;
    *o = ba;
    o->dtype = t;
    return 0;
}

static int rule_concat(infer *I, const nn_node *n, nn_shape *o, content *oc) {
    int nin = n->nin, rank = -1;
    for (int i = 0; i < nin; i++) {
        const nn_shape *s = S(I, n, i);
        if (s->ndim < 0)
            continue;
        if (rank >= 0 && s->ndim != rank)
            return bad(I, n, "inputs of different ranks", n->in, nin);
        rank = s->ndim;
    }
    shape_unknown(o, S(I, n, 0)->dtype, rank);
    if (rank < 0)
        return 0;
    int ax = nn_norm_axis(attr_i(n, "axis", 0), rank);
    if (ax < 0)
        return bad(I, n, "axis out of range", n->in, nin);
    for (int d = 0; d < rank; d++) {
        sdim z = d == ax ? known(0) : UNKNOWN;
        for (int i = 0; i < nin; i++) {
            const nn_shape *s = S(I, n, i);
            if (s->ndim < 0) {
                if (d == ax)
                    z = UNKNOWN;
                continue;
            }
            sdim x = dim_of(s, d);
            if (d == ax) {
                z = sd_add(I, z, x, 0);
                continue;
            }
            if (sd_same(z, x) == 0)
                return bad(I, n, "dimensions differ off the concatenation axis", n->in, nin);
            if (!is_known(z) && (is_known(x) || !z.s))
                z = x;
        }
        set_dim(o, d, z);
    }
    /* contents: joined when every input's is known */
    oc->n = rank == 1 ? 0 : -1;
    for (int i = 0; i < nin && oc->n >= 0; i++) {
        const content *c = cont(I, n->in[i]);
        if (!c || oc->n + c->n > NN_MAXDIM) {
            oc->n = -1;
            break;
        }
        memcpy(oc->e + oc->n, c->e, (size_t)c->n * sizeof *c->e);
        oc->n += c->n;
    }
    return 0;
}

static void rule_elementwise_content(infer *I, const nn_node *n, content *oc) {
    const content *a = cont(I, n->in[0]), *b = n->nin > 1 ? cont(I, n->in[1]) : NULL;
    if (!a || !b || (a->n != b->n && a->n != 1 && b->n != 1))
        return;
    int len = a->n > b->n ? a->n : b->n;
    char op = n->op[0]; /* Add Sub Mul Div */
    for (int i = 0; i < len; i++) {
        sdim x = a->e[a->n == 1 ? 0 : i], y = b->e[b->n == 1 ? 0 : i];
        oc->e[i] = op == 'A'   ? sd_add(I, x, y, 0)
                   : op == 'S' ? sd_add(I, x, y, 1)
                   : op == 'M' ? sd_muldiv(I, x, y, '*')
                               : sd_muldiv(I, x, y, '/');
    }
    oc->n = len;
}

/* Reshape target: 0 copies the input's dim, -1 is what the element count leaves. */
static int rule_reshape(infer *I, const nn_node *n, nn_shape *o) {
    const nn_shape *x = S(I, n, 0);
    const content *c = cont(I, n->in[1]);
    const nn_shape *ts = S(I, n, 1);
    shape_unknown(o, x->dtype,
                  ts->ndim == 1 && ts->dims[0] >= 0 && ts->dims[0] <= NN_MAXDIM ? (int)ts->dims[0]
                                                                                : -1);
    if (!c)
        return 0;
    o->ndim = c->n;
    int minus = -1, allowzero = (int)attr_i(n, "allowzero", 0);
    sdim e[NN_MAXDIM];
    for (int d = 0; d < c->n; d++) {
        e[d] = c->e[d];
        if (is_known(e[d]) && e[d].v == 0 && !allowzero)
            e[d] = x->ndim > d ? dim_of(x, d) : UNKNOWN;
        if (is_known(e[d]) && e[d].v == -1) {
            if (minus >= 0)
                return bad(I, n, "more than one -1 in the target shape", n->in, 2);
            minus = d;
        } else if (is_known(e[d]) && e[d].v < 0)
            return bad(I, n, "negative target dimension", n->in, 2);
    }
    /* element counts: known product and the symbols left over */
    if (x->ndim >= 0) {
        int64_t kin = 1, kout = 1;
        const char *sin[NN_MAXDIM];
        int nsin = 0, ok = 1;
        for (int d = 0; d < x->ndim && ok; d++) {
            if (x->dims[d] >= 0)
                ok = !__builtin_mul_overflow(kin, x->dims[d], &kin);
            else if (x->sym[d])
                sin[nsin++] = x->sym[d];
            else
                ok = 0;
        }
        for (int d = 0; d < c->n && ok; d++) {
            if (d == minus)
                continue;
            if (is_known(e[d]))
                ok = !__builtin_mul_overflow(kout, e[d].v, &kout);
            else if (e[d].s) {
                int j = 0;
                while (j < nsin && sin[j] != e[d].s)
                    j++;
                if (j == nsin)
                    ok = 0;
                else
                    sin[j] = sin[--nsin];
            } else
                ok = 0;
        }
        if (ok && minus < 0 && !nsin && kin != kout)
            return bad(I, n, "element counts differ", n->in, 2);
        if (ok && minus >= 0) {
            if (kout == 0 || kin % kout)
                return bad(I, n, "element count not divisible by the target shape", n->in, 2);
            sdim r = known(kin / kout);
            if (nsin == 1)
                r = sd_muldiv(I, (sdim){UNK, sin[0]}, r, '*');
            else if (nsin > 1)
                r = UNKNOWN;
            e[minus] = r;
        } else if (minus >= 0)
            e[minus] = UNKNOWN;
    } else if (minus >= 0)
        e[minus] = UNKNOWN;
    for (int d = 0; d < c->n; d++)
        set_dim(o, d, e[d]);
    return 0;
}

static void rule_slice(infer *I, const nn_node *n, nn_shape *o, content *oc) {
    const nn_shape *x = S(I, n, 0);
    *o = *x;
    int64_t st[NN_MAXDIM], en[NN_MAXDIM], ax[NN_MAXDIM], sp[NN_MAXDIM];
    int ns = int_list(I, n, NULL, 1, st), ne = int_list(I, n, NULL, 2, en);
    int na = n->nin > 3 && n->in[3] >= 0 ? int_list(I, n, NULL, 3, ax) : ns;
    int np = n->nin > 4 && n->in[4] >= 0 ? int_list(I, n, NULL, 4, sp) : ns;
    if (x->ndim < 0)
        return;
    if (ns < 0 || ne != ns || na != ns || np != ns) {
        for (int d = 0; d < o->ndim; d++) /* which axes change is unknown */
            set_dim(o, d, UNKNOWN);
        return;
    }
    if (!(n->nin > 3 && n->in[3] >= 0))
        for (int i = 0; i < ns; i++)
            ax[i] = i;
    if (!(n->nin > 4 && n->in[4] >= 0))
        for (int i = 0; i < ns; i++)
            sp[i] = 1;
    const content *xc = cont(I, n->in[0]);
    for (int i = 0; i < ns; i++) {
        int a = nn_norm_axis(ax[i], x->ndim);
        if (a < 0 || !sp[i] || sp[i] == INT64_MIN)
            return;
        sdim L = dim_of(x, a), r = UNKNOWN;
        if (is_known(L)) {
            int64_t len = L.v, s = st[i], e = en[i], p = sp[i];
            if (s < 0)
                s = s < -len ? 0 : s + len;
            if (e < 0)
                e = e < -len ? -1 : e + len;
            if (p > 0) {
                s = s > len ? len : s;
                e = e > len ? len : (e < 0 ? 0 : e);
                r = known(e > s ? (e - s - 1) / p + 1 : 0);
            } else {
                s = s > len - 1 ? len - 1 : s;
                e = e > len - 1 ? len - 1 : e;
                r = known(s > e ? (s - e - 1) / (-p) + 1 : 0);
            }
            if (xc && a == 0 && x->ndim == 1 && sp[i] > 0 && r.v >= 0) {
                oc->n = (int)r.v;
                memmove(oc->e, xc->e + s, (size_t)r.v * sizeof *xc->e);
            }
        } else if (sp[i] == 1 && st[i] >= 0 && en[i] >= ((int64_t)1 << 40))
            r = sd_add(I, L, known(st[i]), 1);
        set_dim(o, a, r);
    }
}

static void rule_conv(infer *I, const nn_node *n, nn_shape *o) {
    const nn_shape *x = S(I, n, 0), *w = S(I, n, 1);
    shape_unknown(o, x->dtype, x->ndim);
    if (x->ndim < 3)
        return;
    int sp = x->ndim - 2;
    set_dim(o, 0, dim_of(x, 0));
    if (w->ndim >= 1)
        set_dim(o, 1, dim_of(w, 0));
    const nn_attr *ap = attr(n, "auto_pad");
    if (ap && ap->s && strcmp(ap->s, "NOTSET"))
        return;
    const nn_attr *ks = attr(n, "kernel_shape"), *st = attr(n, "strides"), *pd = attr(n, "pads"),
                  *dl = attr(n, "dilations");
    for (int d = 0; d < sp; d++) {
        int64_t k = ks && ks->n == sp ? ks->ints[d] : w->ndim == x->ndim ? w->dims[2 + d] : -1;
        int64_t s = st && st->n == sp ? st->ints[d] : 1, l = dl && dl->n == sp ? dl->ints[d] : 1;
        int64_t p = pd && pd->n == 2 * sp ? pd->ints[d] + pd->ints[d + sp] : 0;
        if (k < 1 || s < 1 || l < 1 || k > (1 << 20) || l > (1 << 20) || p < 0 || p > (1 << 20))
            continue;
        sdim L = sd_addk(I, dim_of(x, 2 + d), p - (l * (k - 1) + 1));
        set_dim(o, 2 + d, sd_addk(I, sd_muldiv(I, L, known(s), '/'), 1));
    }
}

static int infer_graph(infer *I, nn_graph *g);

static int rule_if(infer *I, nn_node *n) {
    const nn_graph *br[2] = {NULL, NULL};
    for (int a = 0; a < n->nattr; a++) {
        nn_graph *sub = n->attrs[a].g;
        if (!sub)
            continue;
        int rc = infer_graph(I, sub);
        if (rc < 0)
            return rc;
        br[!strcmp(n->attrs[a].name, "else_branch")] = sub;
    }
    for (int j = 0; j < n->nout; j++) {
        if (n->out[j] < 0)
            continue;
        nn_shape *o = &I->m->shapes[n->out[j]];
        int first = 1;
        for (int b = 0; b < 2; b++) {
            if (!br[b] || j >= br[b]->nout)
                continue;
            const nn_shape *s = &I->m->shapes[br[b]->outputs[j]];
            if (first) {
                *o = *s;
                first = 0;
                continue;
            }
            if (o->dtype != s->dtype)
                o->dtype = NN_UNDEF;
            if (o->ndim != s->ndim) {
                o->ndim = -1;
                continue;
            }
            for (int d = 0; d < o->ndim; d++)
                if (sd_same(dim_of(o, d), dim_of(s, d)) != 1)
                    set_dim(o, d, UNKNOWN);
        }
        if (first)
            shape_unknown(o, NN_UNDEF, -1);
    }
    return 0;
}

/* The rule for one node's outputs (o[0..], contents oc[0..]). */
static int rule(infer *I, nn_node *n, nn_shape *o, content *oc) {
    const char *op = n->op;
    const nn_shape *x = S(I, n, 0);
    const content *xc = n->nin ? cont(I, n->in[0]) : NULL;
    if (!strcmp(op, "MatMul"))
        return rule_matmul(I, n, o, x->dtype);
    if (!strcmp(op, "MatMulInteger"))
        return rule_matmul(I, n, o, NN_I32);
    if (!strcmp(op, "Concat"))
        return rule_concat(I, n, o, oc);
    if (!strcmp(op, "Reshape")) {
        int rc = rule_reshape(I, n, o);
        if (rc == 0 && xc && o->ndim <= 1)
            oc[0] = *xc;
        return rc;
    }
    if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div") ||
        !strcmp(op, "Pow") || !strcmp(op, "Equal") || !strcmp(op, "Greater") ||
        !strcmp(op, "Where")) {
        int cmp = op[0] == 'E' || op[0] == 'G', wh = op[0] == 'W';
        *o = *S(I, n, wh ? 1 : 0);
        for (int i = 0; i < n->nin; i++)
            if (i != (wh ? 1 : 0) && broadcast(I, o, S(I, n, i)) < 0)
                return bad(I, n, "shapes do not broadcast", n->in, n->nin);
        o->dtype = cmp ? NN_BOOL : S(I, n, wh ? 1 : 0)->dtype;
        if (strchr("ASMD", op[0]) && strcmp(op, "Pow"))
            rule_elementwise_content(I, n, oc);
        return 0;
    }
    if (!strcmp(op, "Cast")) {
        *o = *x;
        o->dtype = (nn_dtype)attr_i(n, "to", 0);
        if (xc && (o->dtype == NN_I64 || o->dtype == NN_I32))
            oc[0] = *xc;
        return 0;
    }
    if (!strcmp(op, "Shape")) {
        shape_unknown(o, NN_I64, 1);
        if (x->ndim < 0)
            return 0;
        int64_t s = attr_i(n, "start", 0), e = attr_i(n, "end", x->ndim);
        s = s < 0 ? s + x->ndim : s;
        e = e < 0 ? e + x->ndim : e;
        s = s < 0 ? 0 : s > x->ndim ? x->ndim : s;
        e = e < s ? s : e > x->ndim ? x->ndim : e;
        o->dims[0] = e - s;
        oc->n = (int)(e - s);
        for (int64_t d = s; d < e; d++)
            oc->e[d - s] = dim_of(x, (int)d);
        return 0;
    }
    if (!strcmp(op, "Gather")) {
        const nn_shape *ix = S(I, n, 1);
        shape_unknown(o, x->dtype, -1);
        if (x->ndim < 1 || ix->ndim < 0)
            return 0;
        int ax = nn_norm_axis(attr_i(n, "axis", 0), x->ndim);
        if (ax < 0)
            return bad(I, n, "axis out of range", n->in, 2);
        if (x->ndim - 1 + ix->ndim > NN_MAXDIM)
            return bad(I, n, "result has too many dimensions", n->in, 2);
        int r = 0;
        for (int d = 0; d < ax; d++)
            set_dim(o, r++, dim_of(x, d));
        for (int d = 0; d < ix->ndim; d++)
            set_dim(o, r++, dim_of(ix, d));
        for (int d = ax + 1; d < x->ndim; d++)
            set_dim(o, r++, dim_of(x, d));
        o->ndim = r;
        const content *ic = cont(I, n->in[1]);
        if (xc && ic && x->ndim == 1 && ix->ndim <= 1) {
            for (int i = 0; i < ic->n; i++) {
                if (!is_known(ic->e[i]) || ic->e[i].v < -xc->n || ic->e[i].v >= xc->n)
                    return 0;
                int64_t k = ic->e[i].v < 0 ? ic->e[i].v + xc->n : ic->e[i].v;
                oc->e[i] = xc->e[k];
            }
            oc->n = ic->n;
        }
        return 0;
    }
    if (!strcmp(op, "Unsqueeze")) {
        int64_t axes[NN_MAXDIM];
        int na = int_list(I, n, "axes", 1, axes);
        shape_unknown(o, x->dtype, -1);
        if (x->ndim < 0 || na < 0)
            return 0;
        int r = x->ndim + na;
        if (r > NN_MAXDIM)
            return bad(I, n, "result has too many dimensions", n->in, 1);
        unsigned char one[NN_MAXDIM] = {0};
        for (int i = 0; i < na; i++) {
            int a = nn_norm_axis(axes[i], r);
            if (a < 0 || one[a])
                return bad(I, n, "bad axes", n->in, 1);
            one[a] = 1;
        }
        o->ndim = r;
        for (int d = 0, k = 0; d < r; d++)
            set_dim(o, d, one[d] ? known(1) : dim_of(x, k++));
        if (xc && r <= 1)
            oc[0] = *xc;
        return 0;
    }
    if (!strcmp(op, "Slice")) {
        rule_slice(I, n, o, oc);
        return 0;
    }
    if (!strcmp(op, "Transpose")) {
        shape_unknown(o, x->dtype, x->ndim);
        if (x->ndim < 0)
            return 0;
        const nn_attr *p = attr(n, "perm");
        if (p && p->n != x->ndim)
            return bad(I, n, "perm does not match the rank", n->in, 1);
        unsigned char seen[NN_MAXDIM] = {0};
        for (int d = 0; d < x->ndim; d++) {
            int64_t s = p ? p->ints[d] : x->ndim - 1 - d;
            if (s < 0 || s >= x->ndim || seen[s])
                return bad(I, n, "perm is not a permutation", n->in, 1);
            seen[s] = 1;
            set_dim(o, d, dim_of(x, (int)s));
        }
        return 0;
    }
    if (!strcmp(op, "Expand")) {
        const content *c = cont(I, n->in[1]);
        const nn_shape *ts = S(I, n, 1);
        nn_shape t;
        shape_unknown(&t, x->dtype,
                      c ? c->n
                      : ts->ndim == 1 && ts->dims[0] >= 0 && ts->dims[0] <= NN_MAXDIM
                          ? (int)ts->dims[0]
                          : -1);
        for (int d = 0; c && d < c->n; d++)
            set_dim(&t, d, c->e[d]);
        *o = *x;
        if (broadcast(I, o, &t) < 0)
            return bad(I, n, "shape does not broadcast to the target", n->in, 2);
        o->dtype = x->dtype;
        return 0;
    }
    if (!strcmp(op, "ConstantOfShape")) {
        const nn_attr *v = attr(n, "value");
        shape_unknown(o, v && v->t.dtype ? v->t.dtype : NN_F32,
                      xc                                                           ? xc->n
                      : x->ndim == 1 && x->dims[0] >= 0 && x->dims[0] <= NN_MAXDIM ? (int)x->dims[0]
                                                                                   : -1);
        for (int d = 0; xc && d < xc->n; d++)
            set_dim(o, d, xc->e[d]);
        return 0;
    }
    if (!strcmp(op, "Range")) {
        shape_unknown(o, x->dtype, 1);
        const content *a = xc, *b = cont(I, n->in[1]), *c = cont(I, n->in[2]);
        if (!a || !b || !c || a->n != 1 || b->n != 1 || c->n != 1)
            return 0;
        sdim s = a->e[0], l = b->e[0], d = c->e[0];
        if (is_known(s) && is_known(l) && is_known(d) && d.v && d.v != -1) {
            int64_t span;
            if (__builtin_sub_overflow(l.v, s.v, &span))
                return 0;
            int64_t k = span / d.v + (span % d.v && ((span > 0) == (d.v > 0)));
            set_dim(o, 0, known(k > 0 ? k : 0));
        } else if (is_known(d) && d.v == 1)
            set_dim(o, 0, sd_add(I, l, s, 1));
        return 0;
    }
    if (!strcmp(op, "Constant")) {
        const nn_attr *v = attr(n, "value");
        shape_unknown(o, NN_UNDEF, -1);
        if (v && v->type == NN_ATTR_TENSOR) {
            o->dtype = v->t.dtype;
            o->ndim = v->t.ndim;
            for (int d = 0; d < v->t.ndim; d++)
                set_dim(o, d, known(v->t.dims[d]));
        }
        return 0;
    }
    if (!strcmp(op, "ReduceMean")) {
        int64_t axes[NN_MAXDIM];
        int na = int_list(I, n, "axes", 1, axes), keep = attr_i(n, "keepdims", 1) != 0;
        shape_unknown(o, x->dtype, -1);
        if (x->ndim < 0 || (na < 0 && !keep))
            return 0;
        unsigned char red[NN_MAXDIM] = {0};
        for (int i = 0; i < na; i++) {
            int a = nn_norm_axis(axes[i], x->ndim);
            if (a < 0)
                return bad(I, n, "axis out of range", n->in, 1);
            red[a] = 1;
        }
        int r = 0;
        for (int d = 0; d < x->ndim; d++) {
            int rd = na <= 0 || red[d]; /* no axes: all */
            if (na < 0)
                set_dim(o, r++, UNKNOWN);
            else if (rd && keep)
                set_dim(o, r++, known(1));
            else if (!rd)
                set_dim(o, r++, dim_of(x, d));
        }
        o->ndim = r;
        return 0;
    }
    if (!strcmp(op, "Conv")) {
        rule_conv(I, n, o);
        return 0;
    }
    if (!strcmp(op, "DequantizeLinear")) {
        *o = *x;
        o->dtype = NN_F32;
        return 0;
    }
    if (!strcmp(op, "DynamicQuantizeLinear")) {
        o[0] = *x;
        o[0].dtype = NN_U8;
        shape_unknown(&o[1], NN_F32, 0);
        shape_unknown(&o[2], NN_U8, 0);
        return 0;
    }
    if (n->op_id >= 0) { /* the remaining kernels keep their input's type and shape */
        *o = *x;
        return 0;
    }
    shape_unknown(o, NN_UNDEF, -1); /* no kernel (inspection only): declared shapes */
    return 0;
}

/* Combines an inferred shape with the file's declaration of the value: a contradiction of
 * known ranks or sizes is an error; what inference left unknown the declaration fills. */
static int merge_declared(infer *I, const nn_node *n, int id, nn_shape *s) {
    const nn_value *v = &I->m->vals[id];
    if (!s->dtype)
        s->dtype = v->dtype;
    if (v->ndim < 0)
        return 0;
    if (s->ndim >= 0 && s->ndim != v->ndim)
        goto conflict;
    if (s->ndim < 0)
        shape_unknown(s, s->dtype, v->ndim);
    for (int d = 0; d < v->ndim; d++) {
        if (v->dims[d] >= 0 && s->dims[d] >= 0 && v->dims[d] != s->dims[d])
            goto conflict;
        if (s->dims[d] < 0 && !s->sym[d]) {
            if (v->dims[d] >= 0)
                s->dims[d] = v->dims[d];
            else if (v->dim_names[d])
                s->sym[d] = intern(I, "%s", v->dim_names[d]);
        }
    }
    return 0;
conflict:
    if (!I->is_out[id]) /* value_info of an intermediate is a hint: the rules win */
        return 0;
    char a[160], b[160];
    nn_shape dec;
    shape_unknown(&dec, v->dtype, v->ndim);
    for (int d = 0; d < v->ndim; d++)
        if (v->dims[d] >= 0)
            dec.dims[d] = v->dims[d];
        else
            dec.sym[d] = v->dim_names[d];
    return nn_fail(I->err, STEP_EINVAL, "node '%s' (%s): output '%s' is declared %s but is %s",
                   n->name, n->op, v->name, nn_shape_text(&dec, a, sizeof a),
                   nn_shape_text(s, b, sizeof b));
}

static int check_arity(infer *I, const nn_node *n) {
    const nn_kernel *k = nn_kernel_get(n->op_id);
    if (!k || n->op_id < 0)
        return 0;
    int nin = n->nin;
    while (nin > 0 && n->in[nin - 1] < 0)
        nin--;
    if (nin < k->min_in || nin > k->max_in) {
        char want[32];
        if (k->min_in == k->max_in)
            snprintf(want, sizeof want, "%d", k->min_in);
        else
            snprintf(want, sizeof want, "%d to %d", k->min_in, k->max_in);
        return nn_fail(I->err, STEP_EINVAL, "node '%s' (%s): takes %s inputs, given %d", n->name,
                       n->op, want, nin);
    }
    for (int j = 0; j < k->min_in; j++)
        if (n->in[j] < 0)
            return nn_fail(I->err, STEP_EINVAL, "node '%s' (%s): input %d is required", n->name,
                           n->op, j);
    if (n->nout > k->nout_max && strcmp(n->op, "If"))
        return nn_fail(I->err, STEP_EINVAL, "node '%s' (%s): has %d outputs, at most %d", n->name,
                       n->op, n->nout, k->nout_max);
    return 0;
}

static int infer_graph(infer *I, nn_graph *g) {
    nn_model *m = I->m;
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        int rc = check_arity(I, n);
        if (rc < 0)
            return rc;
        if (!strcmp(n->op, "If")) {
            if ((rc = rule_if(I, n)) < 0)
                return rc;
            for (int j = 0; j < n->nout; j++)
                if (n->out[j] >= 0 &&
                    (rc = merge_declared(I, n, n->out[j], &m->shapes[n->out[j]])) < 0)
                    return rc;
            continue;
        }
        nn_shape o[4];
        content oc[4];
        for (int j = 0; j < 4; j++) {
            shape_unknown(&o[j], NN_UNDEF, -1);
            oc[j].n = -1;
        }
        int all_const = 1;
        for (int j = 0; j < n->nout; j++)
            all_const &= n->out[j] < 0 || m->vals[n->out[j]].is_const;
        if (!n->folded || !all_const)
            if ((rc = rule(I, n, o, oc)) < 0)
                return rc;
        if (I->oom)
            return nn_fail(I->err, STEP_ENOMEM, "out of memory inferring shapes");
        for (int j = 0; j < n->nout; j++) {
            int id = n->out[j];
            if (id < 0)
                continue;
            if (m->vals[id].is_const) { /* folded: exact */
                const nn_tensor *t = &m->vals[id].init;
                shape_unknown(&m->shapes[id], t->dtype, t->ndim);
                for (int d = 0; d < t->ndim; d++)
                    m->shapes[id].dims[d] = t->dims[d];
                content_from_const(I, id);
                continue;
            }
            nn_shape *s = &m->shapes[id];
            if (j < 4)
                *s = o[j];
            else
                shape_unknown(s, NN_UNDEF, -1);
            if (s->ndim > NN_MAXDIM)
                s->ndim = -1;
            if ((rc = merge_declared(I, n, id, s)) < 0)
                return rc;
            if (j < 4)
                I->c[id] = oc[j];
        }
    }
    return 0;
}

int nn_model_infer(nn_model *m, char **err) {
    free(m->shapes);
    m->shapes = calloc((size_t)m->nvals + 1, sizeof *m->shapes);
    infer I = {m, calloc((size_t)m->nvals + 1, sizeof *I.c), err, 0,
               calloc((size_t)m->nvals + 1, 1)};
    if (!m->shapes || !I.c || !I.is_out) {
        free(I.c);
        free(I.is_out);
        return nn_fail(err, STEP_ENOMEM, "out of memory inferring shapes");
    }
    for (int i = 0; i < m->main.nout; i++)
        I.is_out[m->main.outputs[i]] = 1;
    /* constants and declared values first; then nodes in order */
    for (int i = 0; i < m->nvals; i++) {
        const nn_value *v = &m->vals[i];
        nn_shape *s = &m->shapes[i];
        I.c[i].n = -1;
        if (v->is_const) {
            shape_unknown(s, v->init.dtype, v->init.ndim);
            for (int d = 0; d < v->init.ndim; d++)
                s->dims[d] = v->init.dims[d];
            content_from_const(&I, i);
            continue;
        }
        shape_unknown(s, v->dtype, v->ndim);
        for (int d = 0; d < v->ndim; d++) {
            if (v->dims[d] >= 0)
                s->dims[d] = v->dims[d];
            else if (v->dim_names[d])
                s->sym[d] = intern(&I, "%s", v->dim_names[d]);
        }
    }
    int rc = I.oom ? nn_fail(err, STEP_ENOMEM, "out of memory inferring shapes")
                   : infer_graph(&I, &m->main);
    free(I.c);
    free(I.is_out);
    return rc;
}
