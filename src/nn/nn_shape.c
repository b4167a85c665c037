/*
 * nn_shape.c — static shape inference at load. Every value gets an element type, a rank and
 * per dimension a known size, a symbol or "unknown" (nn_shape in nn.h). Symbols start as the
 * graph inputs' named dynamic dimensions; ops derive simple expressions from them as text
 * ("past+1", "(n-127)/64+1"; the algebra is in nn_shape_sym.c). Besides shapes, the values of small
 * integer tensors (rank <= 1, <= NN_MAXDIM elements) are carried as dimensions too: that is what
 * shape subgraphs compute (Shape -> Gather -> Unsqueeze -> Concat -> Reshape), so the targets of
 * Reshape, Expand, ConstantOfShape and Range are known at load even when they depend on the
 * input's dynamic sizes.
 *
 * A rule only reports an inconsistency when both sides are known integers (or a rank); a
 * symbol against a different symbol is never an error (they may be equal at run time).
 * Runs after constant folding (folded values are constants with exact shapes) and before
 * the fusions (which replace ops by internal kernels).
 */
#include "nn/nn_shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct content {
    int n; /* elements; -1: not known */
    nn_sdim e[NN_MAXDIM];
} content;

typedef struct infer {
    nn_model *m;
    content *c; /* per value */
    char **err;
    unsigned char *is_out; /* per value: a main graph output */
} infer;

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
        c->e[i] = x == NN_SD_UNK ? NN_SD_UNKNOWN : nn_sd_known(x);
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
        if (!nn_sd_is_known(c->e[i]))
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
    nn_shape_unknown(o, t, -1);
    if (a.ndim < 1 || b.ndim < 1)
        return 0;
    nn_sdim ak = nn_sd_dim(&a, a.ndim - 1), bk = nn_sd_dim(&b, b.ndim >= 2 ? b.ndim - 2 : 0);
    if (nn_sd_same(ak, bk) == 0)
        return bad(I, n, "inner dimensions differ", n->in, 2);
    nn_shape ba, bb;
    nn_shape_unknown(&ba, t, a.ndim > 2 ? a.ndim - 2 : 0);
    nn_shape_unknown(&bb, t, b.ndim > 2 ? b.ndim - 2 : 0);
    for (int d = 0; d < ba.ndim; d++)
        nn_sd_set(&ba, d, nn_sd_dim(&a, d));
    for (int d = 0; d < bb.ndim; d++)
        nn_sd_set(&bb, d, nn_sd_dim(&b, d));
    if (nn_shape_broadcast(&ba, &bb) < 0)
        return bad(I, n, "batch dimensions do not broadcast", n->in, 2);
    int r = ba.ndim;
    if (a.ndim >= 2)
        nn_sd_set(&ba, r++, nn_sd_dim(&a, a.ndim - 2));
    if (b.ndim >= 2)
        nn_sd_set(&ba, r++, nn_sd_dim(&b, b.ndim - 1));
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
    nn_shape_unknown(o, S(I, n, 0)->dtype, rank);
    if (rank < 0)
        return 0;
    int ax = nn_norm_axis(attr_i(n, "axis", 0), rank);
    if (ax < 0)
        return bad(I, n, "axis out of range", n->in, nin);
    for (int d = 0; d < rank; d++) {
        nn_sdim z = d == ax ? nn_sd_known(0) : NN_SD_UNKNOWN;
        for (int i = 0; i < nin; i++) {
            const nn_shape *s = S(I, n, i);
            if (s->ndim < 0) {
                if (d == ax)
                    z = NN_SD_UNKNOWN;
                continue;
            }
            nn_sdim x = nn_sd_dim(s, d);
            if (d == ax) {
                z = nn_sd_add(I->m, z, x, 0);
                continue;
            }
            if (nn_sd_same(z, x) == 0)
                return bad(I, n, "dimensions differ off the concatenation axis", n->in, nin);
            if (!nn_sd_is_known(z) && (nn_sd_is_known(x) || !z.s))
                z = x;
        }
        nn_sd_set(o, d, z);
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
        nn_sdim x = a->e[a->n == 1 ? 0 : i], y = b->e[b->n == 1 ? 0 : i];
        oc->e[i] = op == 'A'   ? nn_sd_add(I->m, x, y, 0)
                   : op == 'S' ? nn_sd_add(I->m, x, y, 1)
                   : op == 'M' ? nn_sd_muldiv(I->m, x, y, '*')
                               : nn_sd_muldiv(I->m, x, y, '/');
    }
    oc->n = len;
}

/* Reshape target: 0 copies the input's dim, -1 is what the element count leaves. */
static int rule_reshape(infer *I, const nn_node *n, nn_shape *o) {
    const nn_shape *x = S(I, n, 0);
    const content *c = cont(I, n->in[1]);
    const nn_shape *ts = S(I, n, 1);
    nn_shape_unknown(
        o, x->dtype,
        ts->ndim == 1 && ts->dims[0] >= 0 && ts->dims[0] <= NN_MAXDIM ? (int)ts->dims[0] : -1);
    if (!c)
        return 0;
    o->ndim = c->n;
    int minus = -1, allowzero = (int)attr_i(n, "allowzero", 0);
    nn_sdim e[NN_MAXDIM];
    for (int d = 0; d < c->n; d++) {
        e[d] = c->e[d];
        if (nn_sd_is_known(e[d]) && e[d].v == 0 && !allowzero)
            e[d] = x->ndim > d ? nn_sd_dim(x, d) : NN_SD_UNKNOWN;
        if (nn_sd_is_known(e[d]) && e[d].v == -1) {
            if (minus >= 0)
                return bad(I, n, "more than one -1 in the target shape", n->in, 2);
            minus = d;
        } else if (nn_sd_is_known(e[d]) && e[d].v < 0)
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
            if (nn_sd_is_known(e[d]))
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
            nn_sdim r = nn_sd_known(kin / kout);
            if (nsin == 1)
                r = nn_sd_muldiv(I->m, (nn_sdim){NN_SD_UNK, sin[0]}, r, '*');
            else if (nsin > 1)
                r = NN_SD_UNKNOWN;
            e[minus] = r;
        } else if (minus >= 0)
            e[minus] = NN_SD_UNKNOWN;
    } else if (minus >= 0)
        e[minus] = NN_SD_UNKNOWN;
    for (int d = 0; d < c->n; d++)
        nn_sd_set(o, d, e[d]);
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
            nn_sd_set(o, d, NN_SD_UNKNOWN);
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
        nn_sdim L = nn_sd_dim(x, a), r = NN_SD_UNKNOWN;
        if (nn_sd_is_known(L)) {
            int64_t len = L.v, s = st[i], e = en[i], p = sp[i];
            if (s < 0)
                s = s < -len ? 0 : s + len;
            if (e < 0)
                e = e < -len ? -1 : e + len;
            if (p > 0) {
                s = s > len ? len : s;
                e = e > len ? len : (e < 0 ? 0 : e);
                r = nn_sd_known(e > s ? (e - s - 1) / p + 1 : 0);
            } else {
                s = s > len - 1 ? len - 1 : s;
                e = e > len - 1 ? len - 1 : e;
                r = nn_sd_known(s > e ? (s - e - 1) / (-p) + 1 : 0);
            }
            if (xc && a == 0 && x->ndim == 1 && sp[i] > 0 && r.v >= 0) {
                oc->n = (int)r.v;
                memmove(oc->e, xc->e + s, (size_t)r.v * sizeof *xc->e);
            }
        } else if (sp[i] == 1 && st[i] >= 0 && en[i] >= ((int64_t)1 << 40))
            r = nn_sd_add(I->m, L, nn_sd_known(st[i]), 1);
        nn_sd_set(o, a, r);
    }
}

static void rule_conv(infer *I, const nn_node *n, nn_shape *o) {
    const nn_shape *x = S(I, n, 0), *w = S(I, n, 1);
    nn_shape_unknown(o, x->dtype, x->ndim);
    if (x->ndim < 3)
        return;
    int sp = x->ndim - 2;
    nn_sd_set(o, 0, nn_sd_dim(x, 0));
    if (w->ndim >= 1)
        nn_sd_set(o, 1, nn_sd_dim(w, 0));
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
        nn_sdim L = nn_sd_addk(I->m, nn_sd_dim(x, 2 + d), p - (l * (k - 1) + 1));
        nn_sd_set(o, 2 + d, nn_sd_addk(I->m, nn_sd_muldiv(I->m, L, nn_sd_known(s), '/'), 1));
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
                if (nn_sd_same(nn_sd_dim(o, d), nn_sd_dim(s, d)) != 1)
                    nn_sd_set(o, d, NN_SD_UNKNOWN);
        }
        if (first)
            nn_shape_unknown(o, NN_UNDEF, -1);
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
            if (i != (wh ? 1 : 0) && nn_shape_broadcast(o, S(I, n, i)) < 0)
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
        nn_shape_unknown(o, NN_I64, 1);
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
            oc->e[d - s] = nn_sd_dim(x, (int)d);
        return 0;
    }
    if (!strcmp(op, "Gather")) {
        const nn_shape *ix = S(I, n, 1);
        nn_shape_unknown(o, x->dtype, -1);
        if (x->ndim < 1 || ix->ndim < 0)
            return 0;
        int ax = nn_norm_axis(attr_i(n, "axis", 0), x->ndim);
        if (ax < 0)
            return bad(I, n, "axis out of range", n->in, 2);
        if (x->ndim - 1 + ix->ndim > NN_MAXDIM)
            return bad(I, n, "result has too many dimensions", n->in, 2);
        int r = 0;
        for (int d = 0; d < ax; d++)
            nn_sd_set(o, r++, nn_sd_dim(x, d));
        for (int d = 0; d < ix->ndim; d++)
            nn_sd_set(o, r++, nn_sd_dim(ix, d));
        for (int d = ax + 1; d < x->ndim; d++)
            nn_sd_set(o, r++, nn_sd_dim(x, d));
        o->ndim = r;
        const content *ic = cont(I, n->in[1]);
        if (xc && ic && x->ndim == 1 && ix->ndim <= 1) {
            for (int i = 0; i < ic->n; i++) {
                if (!nn_sd_is_known(ic->e[i]) || ic->e[i].v < -xc->n || ic->e[i].v >= xc->n)
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
        nn_shape_unknown(o, x->dtype, -1);
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
            nn_sd_set(o, d, one[d] ? nn_sd_known(1) : nn_sd_dim(x, k++));
        if (xc && r <= 1)
            oc[0] = *xc;
        return 0;
    }
    if (!strcmp(op, "Slice")) {
        rule_slice(I, n, o, oc);
        return 0;
    }
    if (!strcmp(op, "Transpose")) {
        nn_shape_unknown(o, x->dtype, x->ndim);
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
            nn_sd_set(o, d, nn_sd_dim(x, (int)s));
        }
        return 0;
    }
    if (!strcmp(op, "Expand")) {
        const content *c = cont(I, n->in[1]);
        const nn_shape *ts = S(I, n, 1);
        nn_shape t;
        nn_shape_unknown(&t, x->dtype,
                         c ? c->n
                         : ts->ndim == 1 && ts->dims[0] >= 0 && ts->dims[0] <= NN_MAXDIM
                             ? (int)ts->dims[0]
                             : -1);
        for (int d = 0; c && d < c->n; d++)
            nn_sd_set(&t, d, c->e[d]);
        *o = *x;
        if (nn_shape_broadcast(o, &t) < 0)
            return bad(I, n, "shape does not broadcast to the target", n->in, 2);
        o->dtype = x->dtype;
        return 0;
    }
    if (!strcmp(op, "ConstantOfShape")) {
        const nn_attr *v = attr(n, "value");
        nn_shape_unknown(o, v && v->t.dtype ? v->t.dtype : NN_F32,
                         xc ? xc->n
                         : x->ndim == 1 && x->dims[0] >= 0 && x->dims[0] <= NN_MAXDIM
                             ? (int)x->dims[0]
                             : -1);
        for (int d = 0; xc && d < xc->n; d++)
            nn_sd_set(o, d, xc->e[d]);
        return 0;
    }
    if (!strcmp(op, "Range")) {
        nn_shape_unknown(o, x->dtype, 1);
        const content *a = xc, *b = cont(I, n->in[1]), *c = cont(I, n->in[2]);
        if (!a || !b || !c || a->n != 1 || b->n != 1 || c->n != 1)
            return 0;
        nn_sdim s = a->e[0], l = b->e[0], d = c->e[0];
        if (nn_sd_is_known(s) && nn_sd_is_known(l) && nn_sd_is_known(d) && d.v && d.v != -1) {
            int64_t span;
            if (__builtin_sub_overflow(l.v, s.v, &span))
                return 0;
            int64_t k = span / d.v + (span % d.v && ((span > 0) == (d.v > 0)));
            nn_sd_set(o, 0, nn_sd_known(k > 0 ? k : 0));
        } else if (nn_sd_is_known(d) && d.v == 1)
            nn_sd_set(o, 0, nn_sd_add(I->m, l, s, 1));
        return 0;
    }
    if (!strcmp(op, "Constant")) {
        const nn_attr *v = attr(n, "value");
        nn_shape_unknown(o, NN_UNDEF, -1);
        if (v && v->type == NN_ATTR_TENSOR) {
            o->dtype = v->t.dtype;
            o->ndim = v->t.ndim;
            for (int d = 0; d < v->t.ndim; d++)
                nn_sd_set(o, d, nn_sd_known(v->t.dims[d]));
        }
        return 0;
    }
    if (!strcmp(op, "ReduceMean")) {
        int64_t axes[NN_MAXDIM];
        int na = int_list(I, n, "axes", 1, axes), keep = attr_i(n, "keepdims", 1) != 0;
        nn_shape_unknown(o, x->dtype, -1);
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
                nn_sd_set(o, r++, NN_SD_UNKNOWN);
            else if (rd && keep)
                nn_sd_set(o, r++, nn_sd_known(1));
            else if (!rd)
                nn_sd_set(o, r++, nn_sd_dim(x, d));
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
        nn_shape_unknown(&o[1], NN_F32, 0);
        nn_shape_unknown(&o[2], NN_U8, 0);
        return 0;
    }
    if (n->op_id >= 0) { /* the remaining kernels keep their input's type and shape */
        *o = *x;
        return 0;
    }
    nn_shape_unknown(o, NN_UNDEF, -1); /* no kernel (inspection only): declared shapes */
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
        nn_shape_unknown(s, s->dtype, v->ndim);
    for (int d = 0; d < v->ndim; d++) {
        if (v->dims[d] >= 0 && s->dims[d] >= 0 && v->dims[d] != s->dims[d])
            goto conflict;
        if (s->dims[d] < 0 && !s->sym[d]) {
            if (v->dims[d] >= 0)
                s->dims[d] = v->dims[d];
            else if (v->dim_names[d])
                s->sym[d] = nn_sd_intern(I->m, "%s", v->dim_names[d]);
        }
    }
    return 0;
conflict:
    if (!I->is_out[id]) /* value_info of an intermediate is a hint: the rules win */
        return 0;
    char a[160], b[160];
    nn_shape dec;
    nn_shape_unknown(&dec, v->dtype, v->ndim);
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
            nn_shape_unknown(&o[j], NN_UNDEF, -1);
            oc[j].n = -1;
        }
        int all_const = 1;
        for (int j = 0; j < n->nout; j++)
            all_const &= n->out[j] < 0 || m->vals[n->out[j]].is_const;
        if (!n->folded || !all_const)
            if ((rc = rule(I, n, o, oc)) < 0)
                return rc;
        for (int j = 0; j < n->nout; j++) {
            int id = n->out[j];
            if (id < 0)
                continue;
            if (m->vals[id].is_const) { /* folded: exact */
                const nn_tensor *t = &m->vals[id].init;
                nn_shape_unknown(&m->shapes[id], t->dtype, t->ndim);
                for (int d = 0; d < t->ndim; d++)
                    m->shapes[id].dims[d] = t->dims[d];
                content_from_const(I, id);
                continue;
            }
            nn_shape *s = &m->shapes[id];
            if (j < 4)
                *s = o[j];
            else
                nn_shape_unknown(s, NN_UNDEF, -1);
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
    infer I = {m, calloc((size_t)m->nvals + 1, sizeof *I.c), err, calloc((size_t)m->nvals + 1, 1)};
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
            nn_shape_unknown(s, v->init.dtype, v->init.ndim);
            for (int d = 0; d < v->init.ndim; d++)
                s->dims[d] = v->init.dims[d];
            content_from_const(&I, i);
            continue;
        }
        nn_shape_unknown(s, v->dtype, v->ndim);
        for (int d = 0; d < v->ndim; d++) {
            if (v->dims[d] >= 0)
                s->dims[d] = v->dims[d];
            else if (v->dim_names[d])
                s->sym[d] = nn_sd_intern(m, "%s", v->dim_names[d]);
        }
    }
    int rc = infer_graph(&I, &m->main);
    free(I.c);
    free(I.is_out);
    return rc;
}
