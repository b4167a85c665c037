/*
 * nn_ops.c — the kernel table, the broadcasting helpers, and the element-wise ops:
 * arithmetic and comparisons with numpy broadcasting, unary math, Cast, Where. Semantics
 * follow the ONNX operator docs (opset 14). Shape and indexing ops live in nn_ops_shape.c,
 * the heavy ones (matrix products, convolution, normalisation) in nn_ops_math.c.
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------- */
const nn_attr *nn_attr_find(const nn_kctx *k, const char *name) {
    for (int i = 0; i < k->nattr; i++)
        if (k->attrs[i].name && !strcmp(k->attrs[i].name, name))
            return &k->attrs[i];
    return NULL;
}

int64_t nn_attr_i(const nn_kctx *k, const char *name, int64_t def) {
    const nn_attr *a = nn_attr_find(k, name);
    return a ? a->i : def;
}

float nn_attr_f(const nn_kctx *k, const char *name, float def) {
    const nn_attr *a = nn_attr_find(k, name);
    return a ? a->f : def;
}

int64_t nn_get_i(const nn_tensor *t, int64_t i) {
    switch (t->dtype) {
    case NN_I64:
        return ((const int64_t *)t->data)[i];
    case NN_I32:
        return ((const int32_t *)t->data)[i];
    case NN_U8:
    case NN_BOOL:
        return ((const uint8_t *)t->data)[i];
    case NN_I8:
        return ((const int8_t *)t->data)[i];
    case NN_F32: { /* saturating (and NaN -> 0): a float out of range is undefined in C */
        float f = ((const float *)t->data)[i];
        return f != f ? 0 : f >= 0x1p63f ? INT64_MAX : f <= -0x1p63f ? INT64_MIN : (int64_t)f;
    }
    default:
        return 0;
    }
}

int nn_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da != db && da != 1 && db != 1)
            return -1;
        out[i] = da == 1 ? db : da;
    }
    *nout = n;
    return 0;
}

int nn_norm_axis(int64_t axis, int rank) {
    if (axis < 0)
        axis += rank;
    return axis < 0 || axis >= (rank ? rank : 1) ? -1 : (int)axis;
}

/* Strides of t broadcast to the n-dim shape out (0 where t's dim is 1 or missing). */
void nn_bstrides(const nn_tensor *t, int n, const int64_t *out, int64_t *st) {
    int64_t s = 1;
    for (int i = n - 1; i >= 0; i--) {
        int ti = i - (n - t->ndim);
        if (ti < 0 || t->dims[ti] == 1) {
            st[i] = 0;
        } else {
            st[i] = s;
        }
        if (ti >= 0)
            s *= t->dims[ti];
    }
    (void)out;
}

int nn_bad_shapes(nn_kctx *k, const nn_tensor *a, const nn_tensor *b) {
    char x[128], y[128];
    return nn_kfail(k, STEP_EINVAL, "shapes %s and %s do not broadcast",
                    nn_shape_str(a->ndim, a->dims, x, sizeof x),
                    nn_shape_str(b->ndim, b->dims, y, sizeof y));
}

/* Walks every output position of an n-dim broadcast of up to three inputs, calling the inner
 * loop over the last dimension. */
void nn_walk(int n, const int64_t *dims, const int64_t *sa, const int64_t *sb, const int64_t *sc,
             nn_inner_fn fn, void *ctx) {
    if (nn_numel(n, dims) == 0)
        return;
    if (n == 0) {
        fn(ctx, 0, 0, 0, 0, 1, 0, 0, 0);
        return;
    }
    int64_t idx[NN_MAXDIM] = {0};
    int64_t len = dims[n - 1], o = 0;
    int64_t outer = nn_numel(n - 1, dims);
    for (int64_t r = 0; r < outer; r++) {
        int64_t ia = 0, ib = 0, ic = 0;
        for (int d = 0; d < n - 1; d++) {
            ia += idx[d] * sa[d];
            ib += idx[d] * sb[d];
            ic += idx[d] * sc[d];
        }
        fn(ctx, o, ia, ib, ic, len, sa[n - 1], sb[n - 1], sc[n - 1]);
        o += len;
        for (int d = n - 2; d >= 0; d--) {
            if (++idx[d] < dims[d])
                break;
            idx[d] = 0;
        }
    }
}

/* ---- binary arithmetic ---------------------------------------------------------------------- */
typedef struct bin_ctx {
    const void *a, *b;
    void *o;
    int op;
    nn_dtype t;
} bin_ctx;

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_EQ, OP_GT };

#define BIN_LOOP(T, EXPR)                                                                          \
    do {                                                                                           \
        const T *A = (const T *)c->a + ia, *B = (const T *)c->b + ib;                              \
        T *O = (T *)c->o + o;                                                                      \
        if (sa == 1 && sb == 1)                                                                    \
            for (int64_t i = 0; i < len; i++) {                                                    \
                T x = A[i], y = B[i];                                                              \
                O[i] = EXPR;                                                                       \
            }                                                                                      \
        else if (sa == 1 && sb == 0) {                                                             \
            T y = B[0];                                                                            \
            for (int64_t i = 0; i < len; i++) {                                                    \
                T x = A[i];                                                                        \
                O[i] = EXPR;                                                                       \
            }                                                                                      \
        } else                                                                                     \
            for (int64_t i = 0; i < len; i++) {                                                    \
                T x = A[i * sa], y = B[i * sb];                                                    \
                O[i] = EXPR;                                                                       \
            }                                                                                      \
    } while (0)

static void bin_f32(void *ctx, int64_t o, int64_t ia, int64_t ib, int64_t ic, int64_t len,
                    int64_t sa, int64_t sb, int64_t sc) {
    (void)ic, (void)sc;
    bin_ctx *c = ctx;
    switch (c->op) {
    case OP_ADD:
        BIN_LOOP(float, x + y);
        break;
    case OP_SUB:
        BIN_LOOP(float, x - y);
        break;
    case OP_MUL:
        BIN_LOOP(float, x *y);
        break;
    case OP_DIV:
        BIN_LOOP(float, x / y);
        break;
    case OP_POW:
        BIN_LOOP(float, y == 2.0f ? x * x : y == 0.5f ? sqrtf(x) : powf(x, y));
        break;
    }
}

static void bin_i64(void *ctx, int64_t o, int64_t ia, int64_t ib, int64_t ic, int64_t len,
                    int64_t sa, int64_t sb, int64_t sc) {
    (void)ic, (void)sc;
    bin_ctx *c = ctx;
    switch (c->op) {
    case OP_ADD:
        BIN_LOOP(int64_t, (int64_t)((uint64_t)x + (uint64_t)y));
        break;
    case OP_SUB:
        BIN_LOOP(int64_t, (int64_t)((uint64_t)x - (uint64_t)y));
        break;
    case OP_MUL:
        BIN_LOOP(int64_t, (int64_t)((uint64_t)x * (uint64_t)y));
        break;
    case OP_DIV:
        BIN_LOOP(int64_t, y == 0 || (y == -1 && x == INT64_MIN) ? 0 : x / y);
        break;
    case OP_POW:
        BIN_LOOP(int64_t, (int64_t)pow((double)x, (double)y));
        break;
    }
}

static void bin_i32(void *ctx, int64_t o, int64_t ia, int64_t ib, int64_t ic, int64_t len,
                    int64_t sa, int64_t sb, int64_t sc) {
    (void)ic, (void)sc;
    bin_ctx *c = ctx;
    switch (c->op) {
    case OP_ADD:
        BIN_LOOP(int32_t, (int32_t)((uint32_t)x + (uint32_t)y));
        break;
    case OP_SUB:
        BIN_LOOP(int32_t, (int32_t)((uint32_t)x - (uint32_t)y));
        break;
    case OP_MUL:
        BIN_LOOP(int32_t, (int32_t)((uint32_t)x * (uint32_t)y));
        break;
    case OP_DIV:
        BIN_LOOP(int32_t, y == 0 || (y == -1 && x == INT32_MIN) ? 0 : x / y);
        break;
    case OP_POW:
        BIN_LOOP(int32_t, (int32_t)pow((double)x, (double)y));
        break;
    }
}

#define CMP_LOOP(T)                                                                                \
    do {                                                                                           \
        const T *A = (const T *)c->a + ia, *B = (const T *)c->b + ib;                              \
        uint8_t *O = (uint8_t *)c->o + o;                                                          \
        if (c->op == OP_EQ)                                                                        \
            for (int64_t i = 0; i < len; i++)                                                      \
                O[i] = A[i * sa] == B[i * sb];                                                     \
        else                                                                                       \
            for (int64_t i = 0; i < len; i++)                                                      \
                O[i] = A[i * sa] > B[i * sb];                                                      \
    } while (0)

static void cmp_any(void *ctx, int64_t o, int64_t ia, int64_t ib, int64_t ic, int64_t len,
                    int64_t sa, int64_t sb, int64_t sc) {
    (void)ic, (void)sc;
    bin_ctx *c = ctx;
    switch (c->t) {
    case NN_F32:
        CMP_LOOP(float);
        break;
    case NN_I64:
        CMP_LOOP(int64_t);
        break;
    case NN_I32:
        CMP_LOOP(int32_t);
        break;
    case NN_I8:
        CMP_LOOP(int8_t);
        break;
    default:
        CMP_LOOP(uint8_t);
        break;
    }
}

static int binary(nn_kctx *k, const nn_tensor *a, const nn_tensor *b, nn_tensor *out, int op) {
    if (a->dtype != b->dtype)
        return nn_kfail(k, STEP_EINVAL, "input types differ (%s, %s)", nn_dtype_name(a->dtype),
                        nn_dtype_name(b->dtype));
    int n;
    int64_t dims[NN_MAXDIM], sa[NN_MAXDIM], sb[NN_MAXDIM];
    if (nn_broadcast(a->ndim, a->dims, b->ndim, b->dims, &n, dims) < 0)
        return nn_bad_shapes(k, a, b);
    int cmp = op == OP_EQ || op == OP_GT;
    nn_inner_fn fn = NULL;
    if (cmp)
        fn = cmp_any;
    else if (a->dtype == NN_F32)
        fn = bin_f32;
    else if (a->dtype == NN_I64)
        fn = bin_i64;
    else if (a->dtype == NN_I32)
        fn = bin_i32;
    if (!fn)
        return nn_kfail(k, STEP_EUNSUPPORTED, "type %s", nn_dtype_name(a->dtype));
    int rc = nn_kout(k, out, cmp ? NN_BOOL : a->dtype, n, dims);
    if (rc < 0)
        return rc;
    nn_bstrides(a, n, dims, sa);
    nn_bstrides(b, n, dims, sb);
    bin_ctx c = {a->data, b->data, out->data, op, a->dtype};
    nn_walk(n, dims, sa, sb, sa, fn, &c);
    return 0;
}

#define BINARY_KERNEL(NAME, OP)                                                                    \
    static int k_##NAME(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,    \
                        int nout) {                                                                \
        (void)nin, (void)nout;                                                                     \
        return binary(k, in[0], in[1], out[0], OP);                                                \
    }
BINARY_KERNEL(add, OP_ADD)
BINARY_KERNEL(sub, OP_SUB)
BINARY_KERNEL(mul, OP_MUL)
BINARY_KERNEL(div, OP_DIV)
BINARY_KERNEL(pow, OP_POW)
BINARY_KERNEL(equal, OP_EQ)
BINARY_KERNEL(greater, OP_GT)

/* ---- unary ----------------------------------------------------------------------------------- */
enum { U_NEG, U_SQRT, U_SIN, U_COS, U_ERF, U_TANH, U_SIGMOID };

typedef struct unary_job {
    const float *x;
    float *y;
    int op;
    int64_t n;
} unary_job;

static void unary_range(void *arg, int64_t i0, int64_t i1) {
    const unary_job *j = arg;
    const float *x = j->x;
    float *y = j->y;
    switch (j->op) {
    case U_NEG:
        for (int64_t i = i0; i < i1; i++)
            y[i] = -x[i];
        break;
    case U_SQRT:
        for (int64_t i = i0; i < i1; i++)
            y[i] = sqrtf(x[i]);
        break;
    case U_SIN:
        for (int64_t i = i0; i < i1; i++)
            y[i] = sinf(x[i]);
        break;
    case U_COS:
        for (int64_t i = i0; i < i1; i++)
            y[i] = cosf(x[i]);
        break;
    case U_ERF:
#if defined(__x86_64__) || defined(__i386__)
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            nn_erf_avx2(x + i0, y + i0, i1 - i0);
            break;
        }
#endif
        for (int64_t i = i0; i < i1; i++)
            y[i] = erff(x[i]);
        break;
    case U_TANH:
        for (int64_t i = i0; i < i1; i++)
            y[i] = tanhf(x[i]);
        break;
    case U_SIGMOID:
        for (int64_t i = i0; i < i1; i++)
            y[i] = x[i] >= 0 ? 1.0f / (1.0f + expf(-x[i])) : expf(x[i]) / (1.0f + expf(x[i]));
        break;
    }
}

static void unary_chunks(void *arg, int64_t c0, int64_t c1) {
    const unary_job *j = arg;
    int64_t i1 = c1 * 16384;
    unary_range(arg, c0 * 16384, i1 < j->n ? i1 : j->n);
}

static int unary(nn_kctx *k, const nn_tensor *a, nn_tensor *out, int op) {
    if (a->dtype == NN_I64 && op == U_NEG) {
        int rc = nn_kout(k, out, NN_I64, a->ndim, a->dims);
        if (rc < 0)
            return rc;
        const int64_t *x = a->data;
        int64_t *y = out->data;
        for (int64_t i = 0, n = nn_tensor_numel(a); i < n; i++)
            y[i] = (int64_t)(0 - (uint64_t)x[i]);
        return 0;
    }
    if (a->dtype != NN_F32)
        return nn_kfail(k, STEP_EUNSUPPORTED, "type %s", nn_dtype_name(a->dtype));
    const float *x = a->data; /* read before nn_kout: the output may take this buffer */
    int rc = nn_kout(k, out, NN_F32, a->ndim, a->dims);
    if (rc < 0)
        return rc;
    int64_t n = nn_tensor_numel(a);
    unary_job j = {x, out->data, op, n};
    /* transcendental functions cost enough to split; 16k-element chunks */
    if (n >= 65536 && op != U_NEG)
        nn_parallel((n + 16383) / 16384, k->nthreads, unary_chunks, &j);
    else
        unary_range(&j, 0, n);
    return 0;
}

#define UNARY_KERNEL(NAME, OP)                                                                     \
    static int k_##NAME(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,    \
                        int nout) {                                                                \
        (void)nin, (void)nout;                                                                     \
        return unary(k, in[0], out[0], OP);                                                        \
    }
UNARY_KERNEL(neg, U_NEG)
UNARY_KERNEL(sqrt, U_SQRT)
UNARY_KERNEL(sin, U_SIN)
UNARY_KERNEL(cos, U_COS)
UNARY_KERNEL(erf, U_ERF)
UNARY_KERNEL(tanh, U_TANH)
UNARY_KERNEL(sigmoid, U_SIGMOID)

/* ---- Cast ------------------------------------------------------------------------------------ */
static uint16_t f32_to_f16(float f) {
    union {
        float f;
        uint32_t u;
    } v = {f};
    uint32_t x = v.u, sign = (x >> 16) & 0x8000;
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff)
        return (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        m |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | ((uint32_t)e << 10) | (m >> 13), rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)h;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, x;
    if (e == 0) {
        if (!m)
            x = sign;
        else {
            e = 127 - 15 + 1;
            while (!(m & 0x400)) {
                m <<= 1;
                e--;
            }
            x = sign | (e << 23) | ((m & 0x3ff) << 13);
        }
    } else if (e == 31)
        x = sign | 0x7f800000 | (m << 13);
    else
        x = sign | ((e + 127 - 15) << 23) | (m << 13);
    union {
        uint32_t u;
        float f;
    } v = {x};
    return v.f;
}

double nn_get_d(const nn_tensor *t, int64_t i) {
    switch (t->dtype) {
    case NN_F32:
        return ((const float *)t->data)[i];
    case NN_F16:
        return f16_to_f32(((const uint16_t *)t->data)[i]);
    default:
        return (double)nn_get_i(t, i);
    }
}

static int k_cast(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                  int nout) {
    (void)nin, (void)nout;
    const nn_tensor *a = in[0];
    nn_dtype to = (nn_dtype)nn_attr_i(k, "to", 0);
    if (!nn_dtype_size(to) || !nn_dtype_size(a->dtype))
        return nn_kfail(k, STEP_EUNSUPPORTED, "cast %s to type %d", nn_dtype_name(a->dtype),
                        (int)to);
    int rc = nn_kout(k, out[0], to, a->ndim, a->dims);
    if (rc < 0)
        return rc;
    int64_t n = nn_tensor_numel(a);
    void *y = out[0]->data;
    if (a->dtype == to) {
        memcpy(y, a->data, (size_t)n * nn_dtype_size(to));
        return 0;
    }
    if (a->dtype == NN_I32 && to == NN_F32) { /* the quantised layers' hot path */
        const int32_t *x = a->data;
        for (int64_t i = 0; i < n; i++)
            ((float *)y)[i] = (float)x[i];
        return 0;
    }
    for (int64_t i = 0; i < n; i++) {
        if (a->dtype == NN_F32 || a->dtype == NN_F16) {
            double v = nn_get_d(a, i);
            switch (to) {
            case NN_F32:
                ((float *)y)[i] = (float)v;
                break;
            case NN_F16:
                ((uint16_t *)y)[i] = f32_to_f16((float)v);
                break;
            case NN_BOOL:
                ((uint8_t *)y)[i] = v != 0;
                break;
            case NN_I64:
                ((int64_t *)y)[i] = isnan(v) || fabs(v) > 9.2e18 ? INT64_MIN : (int64_t)v;
                break;
            case NN_I32:
                ((int32_t *)y)[i] = isnan(v) || fabs(v) > 2.1e9 ? INT32_MIN : (int32_t)v;
                break;
            case NN_U8:
                ((uint8_t *)y)[i] = v > 0 && v < 256 ? (uint8_t)v : 0;
                break;
            case NN_I8:
                ((int8_t *)y)[i] = v > -129 && v < 128 ? (int8_t)v : 0;
                break;
            default:
                break;
            }
        } else {
            int64_t v = nn_get_i(a, i);
            switch (to) {
            case NN_F32:
                ((float *)y)[i] = (float)v;
                break;
            case NN_F16:
                ((uint16_t *)y)[i] = f32_to_f16((float)v);
                break;
            case NN_BOOL:
                ((uint8_t *)y)[i] = v != 0;
                break;
            case NN_I64:
                ((int64_t *)y)[i] = v;
                break;
            case NN_I32:
                ((int32_t *)y)[i] = (int32_t)v;
                break;
            case NN_U8:
                ((uint8_t *)y)[i] = (uint8_t)v;
                break;
            case NN_I8:
                ((int8_t *)y)[i] = (int8_t)v;
                break;
            default:
                break;
            }
        }
    }
    return 0;
}

/* ---- Where ---------------------------------------------------------------------------------- */
typedef struct where_ctx {
    const uint8_t *c;
    const char *x, *y;
    char *o;
    size_t es;
} where_ctx;

static void where_inner(void *ctx, int64_t o, int64_t ic, int64_t ix, int64_t iy, int64_t len,
                        int64_t sc, int64_t sx, int64_t sy) {
    where_ctx *w = ctx;
    if (w->es == 4) {
        const float *X = (const float *)w->x, *Y = (const float *)w->y;
        float *O = (float *)w->o + o;
        for (int64_t i = 0; i < len; i++)
            O[i] = w->c[ic + i * sc] ? X[ix + i * sx] : Y[iy + i * sy];
        return;
    }
    for (int64_t i = 0; i < len; i++)
        memcpy(w->o + (o + i) * (int64_t)w->es,
               w->c[ic + i * sc] ? w->x + (ix + i * sx) * (int64_t)w->es
                                 : w->y + (iy + i * sy) * (int64_t)w->es,
               w->es);
}

static int k_where(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                   int nout) {
    (void)nin, (void)nout;
    const nn_tensor *c = in[0], *x = in[1], *y = in[2];
    if (c->dtype != NN_BOOL || x->dtype != y->dtype)
        return nn_kfail(k, STEP_EINVAL, "types (%s, %s, %s)", nn_dtype_name(c->dtype),
                        nn_dtype_name(x->dtype), nn_dtype_name(y->dtype));
    int n1, n;
    int64_t d1[NN_MAXDIM], dims[NN_MAXDIM], sc[NN_MAXDIM], sx[NN_MAXDIM], sy[NN_MAXDIM];
    if (nn_broadcast(c->ndim, c->dims, x->ndim, x->dims, &n1, d1) < 0)
        return nn_bad_shapes(k, c, x);
    if (nn_broadcast(n1, d1, y->ndim, y->dims, &n, dims) < 0)
        return nn_bad_shapes(k, x, y);
    int rc = nn_kout(k, out[0], x->dtype, n, dims);
    if (rc < 0)
        return rc;
    nn_bstrides(c, n, dims, sc);
    nn_bstrides(x, n, dims, sx);
    nn_bstrides(y, n, dims, sy);
    where_ctx w = {c->data, x->data, y->data, out[0]->data, nn_dtype_size(x->dtype)};
    nn_walk(n, dims, sc, sx, sy, where_inner, &w);
    return 0;
}

/* ---- table ------------------------------------------------------------------------------------
 */
int k_shape(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_reshape(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_unsqueeze(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_expand(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_concat(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_gather(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_slice(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_transpose(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_range(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_constant(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_constant_of_shape(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_trilu(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_matmul(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_matmul_integer(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_dynamic_quantize_linear(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_dequantize_linear(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_conv(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_instance_norm(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_softmax(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);
int k_reduce_mean(nn_kctx *, const nn_tensor *const *, int, nn_tensor *const *, int);

static int k_if(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)in, (void)nin, (void)out, (void)nout;
    return nn_kfail(k, STEP_EUNSUPPORTED, "If runs only inside a session");
}

static const nn_kernel KERNELS[] = {
    {"Add", k_add, 2, 2, 1, 1},
    {"Cast", k_cast, 1, 1, 1},
    {"Concat", k_concat, 1, 64, 1},
    {"Constant", k_constant, 0, 0, 1},
    {"ConstantOfShape", k_constant_of_shape, 1, 1, 1},
    {"Conv", k_conv, 2, 3, 1},
    {"Cos", k_cos, 1, 1, 1, 1},
    {"DequantizeLinear", k_dequantize_linear, 2, 3, 1},
    {"Div", k_div, 2, 2, 1, 1},
    {"DynamicQuantizeLinear", k_dynamic_quantize_linear, 1, 1, 3},
    {"Equal", k_equal, 2, 2, 1},
    {"Erf", k_erf, 1, 1, 1, 1},
    {"Expand", k_expand, 2, 2, 1},
    {"Gather", k_gather, 2, 2, 1},
    {"Greater", k_greater, 2, 2, 1},
    {"If", k_if, 1, 1, 64},
    {"InstanceNormalization", k_instance_norm, 3, 3, 1},
    {"MatMul", k_matmul, 2, 2, 1},
    {"MatMulInteger", k_matmul_integer, 2, 4, 1},
    {"Mul", k_mul, 2, 2, 1, 1},
    {"Neg", k_neg, 1, 1, 1, 1},
    {"Pow", k_pow, 2, 2, 1, 1},
    {"Range", k_range, 3, 3, 1},
    {"ReduceMean", k_reduce_mean, 1, 2, 1},
    {"Reshape", k_reshape, 2, 2, 1},
    {"Shape", k_shape, 1, 1, 1},
    {"Sigmoid", k_sigmoid, 1, 1, 1, 1},
    {"Sin", k_sin, 1, 1, 1, 1},
    {"Slice", k_slice, 3, 5, 1},
    {"Softmax", k_softmax, 1, 1, 1, 1},
    {"Sqrt", k_sqrt, 1, 1, 1, 1},
    {"Sub", k_sub, 2, 2, 1, 1},
    {"Tanh", k_tanh, 1, 1, 1, 1},
    {"Transpose", k_transpose, 1, 1, 1},
    {"Trilu", k_trilu, 1, 2, 1},
    {"Unsqueeze", k_unsqueeze, 1, 2, 1},
    {"Where", k_where, 3, 3, 1},
    {NN_OP_MATMUL_NT, k_matmul_nt, 3, 3, 1}, /* internal (nn_fuse.c) */
    {NN_OP_ATTENTION, k_attention, 4, 4, 1}, /* internal (nn_fuse.c) */
};
#define NKERNELS (int)(sizeof KERNELS / sizeof KERNELS[0])

int nn_op_lookup(const char *op) {
    if (strchr(op, '.')) /* internal kernels ("stepd.") are never a model's op */
        return -1;
    for (int i = 0; i < NKERNELS; i++)
        if (!strcmp(KERNELS[i].op, op))
            return i;
    return -1;
}

const nn_kernel *nn_kernel_get(int id) {
    return id >= 0 && id < NKERNELS ? &KERNELS[id] : NULL;
}

const char *nn_op_list(void) {
    return "Add Cast Concat Constant ConstantOfShape Conv Cos DequantizeLinear Div "
           "DynamicQuantizeLinear Equal Erf Expand Gather Greater If InstanceNormalization MatMul "
           "MatMulInteger Mul Neg Pow Range ReduceMean Reshape Shape Sigmoid Sin Slice Softmax "
           "Sqrt Sub Tanh Transpose Trilu Unsqueeze Where";
}
