/*
 * nn_ops_shape.c — the ops that compute or move shapes and indices: Shape, Reshape,
 * Unsqueeze, Expand, Concat, Gather, Slice, Transpose, Range, Constant, ConstantOfShape,
 * Trilu (ONNX opset 14 semantics). Data is copied, never aliased, so every value owns its
 * buffer and the session's plan stays simple.
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shapes ---------------------------------------------------------------------------------- */
int k_shape(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    int r = in[0]->ndim;
    int64_t s = nn_attr_i(k, "start", 0), e = nn_attr_i(k, "end", r);
    if (s < 0)
        s += r;
    if (e < 0)
        e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    int64_t n = e > s ? e - s : 0;
    int rc = nn_kout(k, out[0], NN_I64, 1, &n);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)out[0]->data)[i] = in[0]->dims[s + i];
    return 0;
}

static int copy_as(nn_kctx *k, const nn_tensor *a, nn_tensor *o, int ndim, const int64_t *dims) {
    int rc = nn_kout(k, o, a->dtype, ndim, dims);
    if (rc < 0)
        return rc;
    size_t bytes = (size_t)nn_tensor_numel(a) * nn_dtype_size(a->dtype);
    if (bytes)
        memcpy(o->data, a->data, bytes);
    return 0;
}

int k_reshape(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_tensor *a = in[0], *s = in[1];
    int64_t n = nn_tensor_numel(s);
    if (s->ndim != 1 || n > NN_MAXDIM || (s->dtype != NN_I64 && s->dtype != NN_I32))
        return nn_kfail(k, STEP_EINVAL, "shape input must be a 1-D int64 tensor of <= %d dims",
                        NN_MAXDIM);
    int allowzero = (int)nn_attr_i(k, "allowzero", 0);
    int64_t dims[NN_MAXDIM], known = 1;
    int infer = -1;
    for (int i = 0; i < n; i++) {
        dims[i] = nn_get_i(s, i);
        if (dims[i] == 0 && !allowzero) {
            if (i >= a->ndim)
                return nn_kfail(k, STEP_EINVAL, "0 at dim %d beyond the input's rank", i);
            dims[i] = a->dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0)
                return nn_kfail(k, STEP_EINVAL, "more than one -1 in the shape");
            infer = i;
        } else if (dims[i] < 0)
            return nn_kfail(k, STEP_EINVAL, "negative dim %lld", (long long)dims[i]);
        else if (__builtin_mul_overflow(known, dims[i], &known))
            return nn_kfail(k, STEP_EINVAL, "target shape too large");
    }
    int64_t total = nn_tensor_numel(a);
    if (infer >= 0) {
        if (known == 0 || total % known)
            return nn_kfail(k, STEP_EINVAL, "cannot infer -1 (%lld elements)", (long long)total);
        dims[infer] = total / known;
    }
    if (nn_numel((int)n, dims) != total) {
        char x[128], y[128];
        return nn_kfail(k, STEP_EINVAL, "cannot reshape %s to %s",
                        nn_shape_str(a->ndim, a->dims, x, sizeof x),
                        nn_shape_str((int)n, dims, y, sizeof y));
    }
    return copy_as(k, a, out[0], (int)n, dims);
}

int k_unsqueeze(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nout;
    const nn_tensor *a = in[0];
    int64_t axes[NN_MAXDIM];
    int na = 0;
    if (nin > 1) {
        na = (int)nn_tensor_numel(in[1]);
        if (na > NN_MAXDIM)
            return nn_kfail(k, STEP_EINVAL, "too many axes");
        for (int i = 0; i < na; i++)
            axes[i] = nn_get_i(in[1], i);
    } else {
        const nn_attr *at = nn_attr_find(k, "axes");
        na = at && at->n <= NN_MAXDIM ? at->n : 0;
        for (int i = 0; i < na; i++)
            axes[i] = at->ints[i];
    }
    int r = a->ndim + na;
    if (r > NN_MAXDIM)
        return nn_kfail(k, STEP_EINVAL, "rank %d is over %d", r, NN_MAXDIM);
    int is_new[NN_MAXDIM] = {0};
    for (int i = 0; i < na; i++) {
        int ax = nn_norm_axis(axes[i], r);
        if (ax < 0 || is_new[ax])
            return nn_kfail(k, STEP_EINVAL, "bad axis %lld", (long long)axes[i]);
        is_new[ax] = 1;
    }
    int64_t dims[NN_MAXDIM];
    for (int i = 0, j = 0; i < r; i++)
        dims[i] = is_new[i] ? 1 : a->dims[j++];
    return copy_as(k, a, out[0], r, dims);
}

typedef struct copy_ctx {
    const char *a;
    char *o;
    size_t es;
} copy_ctx;

static void copy_inner(void *ctx, int64_t o, int64_t ia, int64_t ib, int64_t ic, int64_t len,
                       int64_t sa, int64_t sb, int64_t sc) {
    (void)ib, (void)ic, (void)sb, (void)sc;
    copy_ctx *c = ctx;
    if (c->es == 4) {
        const uint32_t *A = (const uint32_t *)c->a + ia;
        uint32_t *O = (uint32_t *)c->o + o;
        for (int64_t i = 0; i < len; i++)
            O[i] = A[i * sa];
        return;
    }
    if (sa == 1) {
        memcpy(c->o + o * (int64_t)c->es, c->a + ia * (int64_t)c->es, (size_t)len * c->es);
        return;
    }
    for (int64_t i = 0; i < len; i++)
        memcpy(c->o + (o + i) * (int64_t)c->es, c->a + (ia + i * sa) * (int64_t)c->es, c->es);
}

int k_expand(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_tensor *a = in[0], *s = in[1];
    int64_t sd[NN_MAXDIM], dims[NN_MAXDIM], sa[NN_MAXDIM];
    int ns = (int)nn_tensor_numel(s), n;
    if (ns > NN_MAXDIM)
        return nn_kfail(k, STEP_EINVAL, "shape has over %d dims", NN_MAXDIM);
    for (int i = 0; i < ns; i++)
        sd[i] = nn_get_i(s, i);
    if (nn_broadcast(a->ndim, a->dims, ns, sd, &n, dims) < 0) {
        nn_tensor t = {.ndim = ns};
        memcpy(t.dims, sd, sizeof sd);
        return nn_bad_shapes(k, a, &t);
    }
    int rc = nn_kout(k, out[0], a->dtype, n, dims);
    if (rc < 0)
        return rc;
    nn_bstrides(a, n, dims, sa);
    copy_ctx c = {a->data, out[0]->data, nn_dtype_size(a->dtype)};
    nn_walk(n, dims, sa, sa, sa, copy_inner, &c);
    return 0;
}

int k_concat(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nout;
    const nn_tensor *a = in[0];
    int ax = nn_norm_axis(nn_attr_i(k, "axis", 0), a->ndim);
    if (ax < 0)
        return nn_kfail(k, STEP_EINVAL, "bad axis");
    int64_t dims[NN_MAXDIM];
    memcpy(dims, a->dims, sizeof dims);
    dims[ax] = 0;
    for (int i = 0; i < nin; i++) {
        const nn_tensor *t = in[i];
        int ok = t->ndim == a->ndim && t->dtype == a->dtype;
        for (int d = 0; ok && d < a->ndim; d++)
            ok = d == ax || t->dims[d] == a->dims[d];
        if (!ok) {
            char x[128], y[128];
            return nn_kfail(k, STEP_EINVAL, "input %d %s %s does not match %s %s on axis %d", i,
                            nn_dtype_name(t->dtype), nn_shape_str(t->ndim, t->dims, x, sizeof x),
                            nn_dtype_name(a->dtype), nn_shape_str(a->ndim, a->dims, y, sizeof y),
                            ax);
        }
        dims[ax] += t->dims[ax];
    }
    int rc = nn_kout(k, out[0], a->dtype, a->ndim, dims);
    if (rc < 0)
        return rc;
    size_t es = nn_dtype_size(a->dtype);
    int64_t outer = nn_numel(ax, dims), inner = nn_numel(a->ndim - ax - 1, dims + ax + 1);
    char *o = out[0]->data;
    for (int64_t r = 0; r < outer; r++)
        for (int i = 0; i < nin; i++) {
            size_t chunk = (size_t)(in[i]->dims[ax] * inner) * es;
            if (chunk)
                memcpy(o, (const char *)in[i]->data + (size_t)r * chunk, chunk);
            o += chunk;
        }
    return 0;
}

int k_gather(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_tensor *a = in[0], *ix = in[1];
    int ax = nn_norm_axis(nn_attr_i(k, "axis", 0), a->ndim);
    if (ax < 0 || a->ndim == 0)
        return nn_kfail(k, STEP_EINVAL, "bad axis");
    if (ix->dtype != NN_I64 && ix->dtype != NN_I32)
        return nn_kfail(k, STEP_EINVAL, "indices must be int64 or int32");
    int r = a->ndim - 1 + ix->ndim;
    if (r > NN_MAXDIM)
        return nn_kfail(k, STEP_EINVAL, "rank over %d", NN_MAXDIM);
    int64_t dims[NN_MAXDIM];
    int d = 0;
    for (int i = 0; i < ax; i++)
        dims[d++] = a->dims[i];
    for (int i = 0; i < ix->ndim; i++)
        dims[d++] = ix->dims[i];
    for (int i = ax + 1; i < a->ndim; i++)
        dims[d++] = a->dims[i];
    int rc = nn_kout(k, out[0], a->dtype, r, dims);
    if (rc < 0)
        return rc;
    size_t es = nn_dtype_size(a->dtype);
    int64_t outer = nn_numel(ax, a->dims), inner = nn_numel(a->ndim - ax - 1, a->dims + ax + 1);
    int64_t ni = nn_tensor_numel(ix), len = a->dims[ax];
    char *o = out[0]->data;
    for (int64_t ro = 0; ro < outer; ro++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t v = nn_get_i(ix, j);
            if (v < 0)
                v += len;
            if (v < 0 || v >= len)
                return nn_kfail(k, STEP_EINVAL, "index %lld out of range [0, %lld)",
                                (long long)nn_get_i(ix, j), (long long)len);
            memcpy(o, (const char *)a->data + ((size_t)(ro * len + v) * (size_t)inner) * es,
                   (size_t)inner * es);
            o += (size_t)inner * es;
        }
    return 0;
}

int k_slice(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nout;
    const nn_tensor *a = in[0];
    int r = a->ndim;
    int64_t start[NN_MAXDIM], step[NN_MAXDIM], dims[NN_MAXDIM];
    for (int i = 0; i < r; i++) {
        start[i] = 0;
        step[i] = 1;
        dims[i] = a->dims[i];
    }
    int64_t n = nn_tensor_numel(in[1]);
    if (n != nn_tensor_numel(in[2]) || n > r)
        return nn_kfail(k, STEP_EINVAL, "starts and ends differ in length or exceed the rank");
    int seen[NN_MAXDIM] = {0};
    for (int64_t i = 0; i < n; i++) {
        int ax = nin > 3 && in[3]->data && nn_tensor_numel(in[3])
                     ? nn_norm_axis(nn_get_i(in[3], i), r)
                     : (int)i;
        if (ax < 0 || seen[ax]++)
            return nn_kfail(k, STEP_EINVAL, "bad axes");
        int64_t st = nin > 4 && in[4]->data && nn_tensor_numel(in[4]) ? nn_get_i(in[4], i) : 1;
        if (st == 0)
            return nn_kfail(k, STEP_EINVAL, "step 0");
        int64_t D = a->dims[ax], s = nn_get_i(in[1], i), e = nn_get_i(in[2], i);
        if (s < 0)
            s += D;
        if (e < 0)
            e += D;
        if (st > 0) {
            s = s < 0 ? 0 : s > D ? D : s;
            e = e < 0 ? 0 : e > D ? D : e;
            dims[ax] = e > s ? (e - s + st - 1) / st : 0;
        } else {
            s = s < 0 ? -1 : s > D - 1 ? D - 1 : s;
            e = e < -1 ? -1 : e > D - 1 ? D - 1 : e;
            dims[ax] = s > e ? (s - e + (-st) - 1) / (-st) : 0;
        }
        start[ax] = s;
        step[ax] = st;
    }
    int rc = nn_kout(k, out[0], a->dtype, r, dims);
    if (rc < 0)
        return rc;
    int64_t sa[NN_MAXDIM], s = 1, off = 0;
    for (int i = r - 1; i >= 0; i--) {
        sa[i] = s * step[i];
        off += s * start[i];
        s *= a->dims[i];
    }
    size_t es = nn_dtype_size(a->dtype);
    copy_ctx c = {(const char *)a->data + off * (int64_t)es, out[0]->data, es};
    nn_walk(r, dims, sa, sa, sa, copy_inner, &c);
    return 0;
}

int k_transpose(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_tensor *a = in[0];
    int r = a->ndim;
    const nn_attr *p = nn_attr_find(k, "perm");
    int perm[NN_MAXDIM], used[NN_MAXDIM] = {0};
    for (int i = 0; i < r; i++) {
        perm[i] = p ? (i < p->n ? (int)p->ints[i] : -1) : r - 1 - i;
        if (perm[i] < 0 || perm[i] >= r || used[perm[i]]++)
            return nn_kfail(k, STEP_EINVAL, "bad perm");
    }
    if (p && p->n != r)
        return nn_kfail(k, STEP_EINVAL, "perm has %d entries for rank %d", p->n, r);
    int64_t dims[NN_MAXDIM], st[NN_MAXDIM], sa[NN_MAXDIM], s = 1;
    for (int i = r - 1; i >= 0; i--) {
        st[i] = s;
        s *= a->dims[i];
    }
    for (int i = 0; i < r; i++) {
        dims[i] = a->dims[perm[i]];
        sa[i] = st[perm[i]];
    }
    int rc = nn_kout(k, out[0], a->dtype, r, dims);
    if (rc < 0)
        return rc;
    /* the common case, the last two dims swapped on 4-byte elements: blocked so both sides
     * stay in cache */
    int swap_last =
        r >= 2 && nn_dtype_size(a->dtype) == 4 && perm[r - 1] == r - 2 && perm[r - 2] == r - 1;
    for (int i = 0; i < r - 2 && swap_last; i++)
        swap_last = perm[i] == i;
    if (swap_last) {
        int64_t R = a->dims[r - 2], C = a->dims[r - 1], B = nn_numel(r - 2, a->dims);
        for (int64_t b = 0; b < B; b++) {
            const uint32_t *x = (const uint32_t *)a->data + b * R * C;
            uint32_t *y = (uint32_t *)out[0]->data + b * R * C;
            for (int64_t i0 = 0; i0 < R; i0 += 16)
                for (int64_t j0 = 0; j0 < C; j0 += 16) {
                    int64_t i1 = i0 + 16 < R ? i0 + 16 : R, j1 = j0 + 16 < C ? j0 + 16 : C;
                    for (int64_t i = i0; i < i1; i++)
                        for (int64_t j = j0; j < j1; j++)
                            y[j * R + i] = x[i * C + j];
                }
        }
        return 0;
    }
    copy_ctx c = {a->data, out[0]->data, nn_dtype_size(a->dtype)};
    nn_walk(r, dims, sa, sa, sa, copy_inner, &c);
    return 0;
}

int k_range(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    nn_dtype t = in[0]->dtype;
    if (in[1]->dtype != t || in[2]->dtype != t || nn_tensor_numel(in[0]) != 1 ||
        nn_tensor_numel(in[1]) != 1 || nn_tensor_numel(in[2]) != 1)
        return nn_kfail(k, STEP_EINVAL, "start, limit, delta must be scalars of one type");
    double s = nn_get_d(in[0], 0), l = nn_get_d(in[1], 0), d = nn_get_d(in[2], 0);
    if (d == 0)
        return nn_kfail(k, STEP_EINVAL, "delta is 0");
    double cnt = ceil((l - s) / d);
    int64_t n = cnt > 0 ? (int64_t)cnt : 0;
    if (n > ((int64_t)1 << 31))
        return nn_kfail(k, STEP_EINVAL, "range of %lld elements", (long long)n);
    if (t != NN_F32 && t != NN_I64 && t != NN_I32)
        return nn_kfail(k, STEP_EUNSUPPORTED, "type %s", nn_dtype_name(t));
    int64_t si = t == NN_F32 ? 0 : nn_get_i(in[0], 0), di = t == NN_F32 ? 0 : nn_get_i(in[2], 0);
    int64_t last;
    if (t != NN_F32 && n > 0 &&
        (__builtin_mul_overflow(n - 1, di, &last) || __builtin_add_overflow(si, last, &last)))
        return nn_kfail(k, STEP_EINVAL, "range overflows int64");
    int rc = nn_kout(k, out[0], t, 1, &n);
    if (rc < 0)
        return rc;
    if (t == NN_F32)
        for (int64_t i = 0; i < n; i++)
            ((float *)out[0]->data)[i] = (float)(s + (double)i * d);
    else if (t == NN_I64)
        for (int64_t i = 0; i < n; i++)
            ((int64_t *)out[0]->data)[i] = si + i * di;
    else
        for (int64_t i = 0; i < n; i++)
            ((int32_t *)out[0]->data)[i] = (int32_t)(si + i * di);
    return 0;
}

int k_constant(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)in, (void)nin, (void)nout;
    const nn_attr *a;
    if ((a = nn_attr_find(k, "value")) && a->type == NN_ATTR_TENSOR)
        return copy_as(k, &a->t, out[0], a->t.ndim, a->t.dims);
    if ((a = nn_attr_find(k, "value_float"))) {
        int rc = nn_kout(k, out[0], NN_F32, 0, NULL);
        if (rc == 0)
            *(float *)out[0]->data = a->f;
        return rc;
    }
    if ((a = nn_attr_find(k, "value_int"))) {
        int rc = nn_kout(k, out[0], NN_I64, 0, NULL);
        if (rc == 0)
            *(int64_t *)out[0]->data = a->i;
        return rc;
    }
    if ((a = nn_attr_find(k, "value_ints"))) {
        int64_t n = a->n;
        int rc = nn_kout(k, out[0], NN_I64, 1, &n);
        if (rc == 0 && n)
            memcpy(out[0]->data, a->ints, (size_t)n * 8);
        return rc;
    }
    if ((a = nn_attr_find(k, "value_floats"))) {
        int64_t n = a->n;
        int rc = nn_kout(k, out[0], NN_F32, 1, &n);
        if (rc == 0 && n)
            memcpy(out[0]->data, a->floats, (size_t)n * 4);
        return rc;
    }
    return nn_kfail(k, STEP_EUNSUPPORTED, "no supported value attribute");
}

int k_constant_of_shape(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                        int nout) {
    (void)nin, (void)nout;
    const nn_tensor *s = in[0];
    int n = (int)nn_tensor_numel(s);
    if (n > NN_MAXDIM)
        return nn_kfail(k, STEP_EINVAL, "shape has over %d dims", NN_MAXDIM);
    int64_t dims[NN_MAXDIM];
    for (int i = 0; i < n; i++)
        dims[i] = nn_get_i(s, i);
    const nn_attr *a = nn_attr_find(k, "value");
    nn_dtype t = a && a->t.data ? a->t.dtype : NN_F32;
    int rc = nn_kout(k, out[0], t, n, dims);
    if (rc < 0)
        return rc;
    size_t es = nn_dtype_size(t);
    int64_t cnt = nn_tensor_numel(out[0]);
    if (!a || !a->t.data) {
        memset(out[0]->data, 0, (size_t)cnt * es);
        return 0;
    }
    for (int64_t i = 0; i < cnt; i++)
        memcpy((char *)out[0]->data + (size_t)i * es, a->t.data, es);
    return 0;
}

int k_trilu(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nout;
    const nn_tensor *a = in[0];
    if (a->ndim < 2)
        return nn_kfail(k, STEP_EINVAL, "input rank below 2");
    int64_t kk = nin > 1 && nn_tensor_numel(in[1]) ? nn_get_i(in[1], 0) : 0;
    int upper = (int)nn_attr_i(k, "upper", 1);
    int rc = copy_as(k, a, out[0], a->ndim, a->dims);
    if (rc < 0)
        return rc;
    int64_t R = a->dims[a->ndim - 2], C = a->dims[a->ndim - 1], B = nn_numel(a->ndim - 2, a->dims);
    size_t es = nn_dtype_size(a->dtype);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++)
                if (upper ? j - i < kk : j - i > kk)
                    memset((char *)out[0]->data + ((size_t)((b * R + i) * C + j)) * es, 0, es);
    return 0;
}
