/*
 * nn_ops_math.c — the compute-heavy kernels: MatMul (numpy batching), MatMulInteger,
 * DynamicQuantizeLinear and DequantizeLinear (bit-exact with onnxruntime: scale from the
 * zero-including range, zero point and values rounded half to even), Conv (1-D/2-D via
 * im2col + nn_sgemm), InstanceNormalization, Softmax, ReduceMean.
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Batch offsets of a [..., R, C] operand broadcast to the output's batch dims. */
int64_t nn_batch_off(const nn_tensor *t, int nb, const int64_t *bdims, int64_t b) {
    int tb = t->ndim - 2;
    int64_t off = 0, stride = t->dims[t->ndim - 2] * t->dims[t->ndim - 1];
    for (int d = nb - 1; d >= 0; d--) {
        int64_t i = b % bdims[d];
        b /= bdims[d];
        int td = d - (nb - tb);
        if (td >= 0) {
            if (t->dims[td] != 1)
                off += i * stride;
            stride *= t->dims[td];
        }
    }
    return off;
}

/* Shapes of a numpy matmul; 1-D operands are promoted and the extra dim dropped after. */
int nn_mm_shape(nn_kctx *k, const nn_tensor *a0, const nn_tensor *b0, nn_tensor *a, nn_tensor *b,
                int *nb, int64_t *bdims, int *nout, int64_t *odims) {
    *a = *a0;
    *b = *b0;
    if (a->ndim == 0 || b->ndim == 0)
        return nn_kfail(k, STEP_EINVAL, "scalar operand");
    if (a->ndim == 1) {
        a->dims[1] = a->dims[0];
        a->dims[0] = 1;
        a->ndim = 2;
    }
    if (b->ndim == 1) {
        b->dims[1] = 1;
        b->ndim = 2;
    }
    if (a->dims[a->ndim - 1] != b->dims[b->ndim - 2]) {
        char x[128], y[128];
        return nn_kfail(k, STEP_EINVAL, "cannot multiply %s by %s",
                        nn_shape_str(a0->ndim, a0->dims, x, sizeof x),
                        nn_shape_str(b0->ndim, b0->dims, y, sizeof y));
    }
    if (nn_broadcast(a->ndim - 2, a->dims, b->ndim - 2, b->dims, nb, bdims) < 0)
        return nn_kfail(k, STEP_EINVAL, "batch dims do not broadcast");
    int n = 0;
    for (int i = 0; i < *nb; i++)
        odims[n++] = bdims[i];
    if (a0->ndim > 1)
        odims[n++] = a->dims[a->ndim - 2];
    if (b0->ndim > 1)
        odims[n++] = b->dims[b->ndim - 1];
    *nout = n;
    return 0;
}

int k_matmul(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_dqmat *dq = k->prep;
    if (dq && in[0]->dtype == NN_F32 && in[0]->ndim >= 1 && in[0]->dims[in[0]->ndim - 1] == dq->K) {
        /* weights kept quantised (nn_fold.c): [..., K] x [K, N] */
        int64_t dims[NN_MAXDIM];
        int nd = in[0]->ndim;
        memcpy(dims, in[0]->dims, sizeof dims);
        dims[nd - 1] = dq->N;
        int rc = nn_kout(k, out[0], NN_F32, nd, dims);
        if (rc < 0)
            return rc;
        nn_sgemm_dq(nn_tensor_numel(in[0]) / (dq->K ? dq->K : 1), in[0]->data, dq, out[0]->data,
                    k->nthreads);
        return 0;
    }
    if (in[0]->dtype != NN_F32 || in[1]->dtype != NN_F32)
        return nn_kfail(k, STEP_EUNSUPPORTED, "MatMul of %s and %s (float32 only)",
                        nn_dtype_name(in[0]->dtype), nn_dtype_name(in[1]->dtype));
    nn_tensor a, b;
    int nb, n;
    int64_t bdims[NN_MAXDIM], odims[NN_MAXDIM];
    int rc = nn_mm_shape(k, in[0], in[1], &a, &b, &nb, bdims, &n, odims);
    if (rc < 0 || (rc = nn_kout(k, out[0], NN_F32, n, odims)) < 0)
        return rc;
    int64_t M = a.dims[a.ndim - 2], K = a.dims[a.ndim - 1], N = b.dims[b.ndim - 1];
    int64_t B = nn_numel(nb, bdims);
    for (int64_t i = 0; i < B; i++)
        nn_sgemm(M, N, K, (const float *)a.data + nn_batch_off(&a, nb, bdims, i), K,
                 (const float *)b.data + nn_batch_off(&b, nb, bdims, i), N,
                 (float *)out[0]->data + i * M * N, N, 0, k->nthreads);
    return 0;
}

static int zero_points(nn_kctx *k, const nn_tensor *zbt, int64_t N, int bdims, int32_t **zb,
                       int64_t *nzb) {
    *nzb = zbt ? nn_tensor_numel(zbt) : 1;
    if (*nzb != 1 && (*nzb != N || bdims != 2))
        return nn_kfail(k, STEP_EUNSUPPORTED, "b_zero_point must be a scalar or per column");
    *zb = malloc((size_t)*nzb * sizeof **zb);
    if (!*zb)
        return nn_kfail(k, STEP_ENOMEM, "out of memory");
    for (int64_t j = 0; j < *nzb; j++)
        (*zb)[j] = zbt ? (int32_t)nn_get_i(zbt, j) : 0;
    return 0;
}

int nn_prepare_node(nn_model *m, nn_node *n, char **err) {
    if (strcmp(n->op, "MatMulInteger") || n->prep || n->nin < 2 || n->in[1] < 0)
        return 0;
    const nn_value *b = &m->vals[n->in[1]];
    const nn_value *z = n->nin > 3 && n->in[3] >= 0 ? &m->vals[n->in[3]] : NULL;
    if (!b->is_const || b->init.ndim != 2 || (z && !z->is_const) ||
        (b->init.dtype != NN_U8 && b->init.dtype != NN_I8))
        return 0;
    nn_kctx k = {n->op, n->name, NULL, 0, NULL, 1, err, NULL};
    int32_t *zb;
    int64_t nzb, K = b->init.dims[0], N = b->init.dims[1];
    int rc = zero_points(&k, z ? &z->init : NULL, N, 2, &zb, &nzb);
    if (rc < 0)
        return rc;
    n->prep = nn_qpack(b->init.data, b->init.dtype == NN_I8, K, N, zb, nzb > 1);
    free(zb);
    return n->prep ? 0 : nn_fail(err, STEP_ENOMEM, "out of memory packing weights");
}

int k_matmul_integer(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                     int nout) {
    (void)nout;
    const nn_qpacked *P = k->prep;
    if (in[0]->dtype != NN_U8 || (!P && in[1]->dtype != NN_U8 && in[1]->dtype != NN_I8))
        return nn_kfail(k, STEP_EUNSUPPORTED, "MatMulInteger of %s and %s (uint8 x uint8/int8)",
                        nn_dtype_name(in[0]->dtype), nn_dtype_name(in[1]->dtype));
    nn_tensor a, b;
    int nb, n;
    int64_t bdims[NN_MAXDIM], odims[NN_MAXDIM];
    int rc = nn_mm_shape(k, in[0], in[1], &a, &b, &nb, bdims, &n, odims);
    if (rc < 0)
        return rc;
    int64_t M = a.dims[a.ndim - 2], K = a.dims[a.ndim - 1], N = b.dims[b.ndim - 1];
    const nn_tensor *za = nin > 2 && in[2]->data ? in[2] : NULL;
    if (za && nn_tensor_numel(za) != 1)
        return nn_kfail(k, STEP_EUNSUPPORTED, "a_zero_point must be a scalar");
    int32_t z = za ? (int32_t)nn_get_i(za, 0) : 0;
    if ((rc = nn_kout(k, out[0], NN_I32, n, odims)) < 0)
        return rc;
    int64_t B = nn_numel(nb, bdims);
    if (P && b.ndim == 2 && P->K == K && P->N == N) {
        /* weights packed at load: the batch dims of A fold into its rows */
        nn_tensor scratch = {0};
        int64_t cnt = M * B * (P->Kp / 2) + 1;
        if ((rc = nn_kout(k, &scratch, NN_I32, 1, &cnt)) < 0)
            return rc;
        nn_qgemm_packed(M * B, a.data, z, P, out[0]->data, scratch.data, k->nthreads);
        nn_kscratch_done(k, &scratch);
        return 0;
    }
    int32_t *zb;
    int64_t nzb;
    const nn_tensor *zbt = nin > 3 && in[3]->data ? in[3] : NULL;
    if ((rc = zero_points(k, zbt, N, b.ndim, &zb, &nzb)) < 0)
        return rc;
    for (int64_t i = 0; i < B; i++)
        nn_qgemm(M, N, K, (const uint8_t *)a.data + nn_batch_off(&a, nb, bdims, i), z,
                 (const uint8_t *)b.data + nn_batch_off(&b, nb, bdims, i), b.dtype == NN_I8, zb,
                 nzb > 1, (int32_t *)out[0]->data + i * M * N, k->nthreads);
    free(zb);
    return 0;
}

int k_dynamic_quantize_linear(nn_kctx *k, const nn_tensor *const *in, int nin,
                              nn_tensor *const *out, int nout) {
    (void)nin;
    const nn_tensor *x = in[0];
    if (x->dtype != NN_F32)
        return nn_kfail(k, STEP_EINVAL, "input must be float32");
    int64_t n = nn_tensor_numel(x);
    const float *v = x->data;
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    float zpf = 0.0f - lo / scale;
    zpf = zpf < 0 ? 0 : zpf > 255 ? 255 : zpf;
    uint8_t zp = (uint8_t)nearbyintf(zpf);
    int rc = nn_kout(k, out[0], NN_U8, x->ndim, x->dims);
    if (rc < 0)
        return rc;
    uint8_t *y = out[0]->data;
    float qlo = 0.0f - zp, qhi = 255.0f - zp;
    for (int64_t i = 0; i < n; i++) {
        float q = v[i] / scale;
        q = q < qlo ? qlo : q > qhi ? qhi : q;
        y[i] = (uint8_t)((int32_t)nearbyintf(q) + zp);
    }
    if (nout > 1 && (rc = nn_kout(k, out[1], NN_F32, 0, NULL)) == 0)
        *(float *)out[1]->data = scale;
    if (rc == 0 && nout > 2 && (rc = nn_kout(k, out[2], NN_U8, 0, NULL)) == 0)
        *(uint8_t *)out[2]->data = zp;
    return rc;
}

int k_dequantize_linear(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                        int nout) {
    (void)nout;
    const nn_tensor *x = in[0], *s = in[1], *z = nin > 2 && in[2]->data ? in[2] : NULL;
    if (s->dtype != NN_F32)
        return nn_kfail(k, STEP_EINVAL, "scale must be float32");
    int64_t ns = nn_tensor_numel(s), n = nn_tensor_numel(x);
    int64_t inner = 1, len = 1;
    if (ns > 1) {
        int ax = (int)nn_attr_i(k, "axis", 1);
        if (ax < 0)
            ax += x->ndim;
        if (ax < 0 || ax >= x->ndim || x->dims[ax] != ns)
            return nn_kfail(k, STEP_EINVAL, "per-axis scale of %lld does not fit the axis",
                            (long long)ns);
        len = ns;
        inner = nn_numel(x->ndim - ax - 1, x->dims + ax + 1);
    }
    if (z && nn_tensor_numel(z) != ns)
        return nn_kfail(k, STEP_EINVAL, "zero point and scale differ in size");
    int rc = nn_kout(k, out[0], NN_F32, x->ndim, x->dims);
    if (rc < 0)
        return rc;
    const float *sc = s->data;
    float *y = out[0]->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = ns > 1 ? (i / inner) % len : 0;
        int32_t q = x->dtype == NN_I32 ? ((const int32_t *)x->data)[i] : (int32_t)nn_get_i(x, i);
        int32_t zp = z ? (int32_t)nn_get_i(z, c) : 0;
        y[i] = (float)(q - zp) * sc[c];
    }
    return 0;
}

/* ---- Conv ------------------------------------------------------------------------------------ */
#define CONV_COLS ((int64_t)1 << 18) /* floats of im2col scratch per slice */

int k_conv(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nout;
    const nn_tensor *x = in[0], *w = in[1], *bias = nin > 2 && in[2]->data ? in[2] : NULL;
    if (x->dtype != NN_F32 || w->dtype != NN_F32 || (bias && bias->dtype != NN_F32))
        return nn_kfail(k, STEP_EUNSUPPORTED, "float32 only");
    int sp = x->ndim - 2;
    if (sp < 1 || sp > 2 || w->ndim != x->ndim)
        return nn_kfail(k, STEP_EUNSUPPORTED, "only 1-D and 2-D convolutions (input rank %d)",
                        x->ndim);
    int64_t group = nn_attr_i(k, "group", 1);
    int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0], Cg = w->dims[1];
    if (group < 1 || C % group || M % group || Cg != C / group)
        return nn_kfail(k, STEP_EINVAL, "channels %lld, weight %lld x %lld, group %lld",
                        (long long)C, (long long)M, (long long)Cg, (long long)group);
    if (bias && nn_tensor_numel(bias) != M)
        return nn_kfail(k, STEP_EINVAL, "bias size");
    const nn_attr *ks = nn_attr_find(k, "kernel_shape"), *st = nn_attr_find(k, "strides"),
                  *pd = nn_attr_find(k, "pads"), *dl = nn_attr_find(k, "dilations"),
                  *ap = nn_attr_find(k, "auto_pad");
    if (ap && ap->s && strcmp(ap->s, "NOTSET"))
        return nn_kfail(k, STEP_EUNSUPPORTED, "auto_pad %s", ap->s);
    int64_t kd[2] = {1, 1}, sd[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0}, dd[2] = {1, 1},
            id[2] = {1, 1}, od[2] = {1, 1};
    for (int i = 0; i < sp; i++) {
        kd[i] = ks && ks->n == sp ? ks->ints[i] : w->dims[2 + i];
        sd[i] = st && st->n == sp ? st->ints[i] : 1;
        dd[i] = dl && dl->n == sp ? dl->ints[i] : 1;
        pb[i] = pd && pd->n == 2 * sp ? pd->ints[i] : 0;
        pe[i] = pd && pd->n == 2 * sp ? pd->ints[sp + i] : 0;
        id[i] = x->dims[2 + i];
        if (kd[i] != w->dims[2 + i] || sd[i] < 1 || dd[i] < 1 || pb[i] < 0 || pe[i] < 0)
            return nn_kfail(k, STEP_EINVAL, "bad kernel/stride/dilation/pads");
        int64_t span = dd[i] * (kd[i] - 1) + 1;
        od[i] = id[i] + pb[i] + pe[i] >= span ? (id[i] + pb[i] + pe[i] - span) / sd[i] + 1 : 0;
    }
    int64_t odims[4] = {N, M, od[0], od[1]};
    int rc = nn_kout(k, out[0], NN_F32, x->ndim, odims);
    if (rc < 0)
        return rc;
    int64_t L = od[0] * od[1], KK = Cg * kd[0] * kd[1], IL = id[0] * id[1], Mg = M / group;
    if (L == 0 || N == 0)
        return 0;
    /* im2col a slice of output positions at a time (~1 MB of columns, from the session
     * pool): the whole matrix would be KK x L (14 MB for Moonshine's second conv on 21 s) */
    int64_t LC = (CONV_COLS / KK) & ~(int64_t)15;
    if (LC < 16)
        LC = 16;
    if (LC > L)
        LC = L;
    nn_tensor colt = {0};
    if ((rc = nn_kout(k, &colt, NN_F32, 2, (int64_t[]){KK, LC})) < 0)
        return rc;
    float *col = colt.data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            const float *xs = (const float *)x->data + (n * C + g * Cg) * IL;
            float *y = (float *)out[0]->data + (n * M + g * Mg) * L;
            if (bias)
                for (int64_t m = 0; m < Mg; m++)
                    for (int64_t l = 0; l < L; l++)
                        y[m * L + l] = ((const float *)bias->data)[g * Mg + m];
            for (int64_t l0 = 0; l0 < L; l0 += LC) {
                int64_t lc = L - l0 < LC ? L - l0 : LC;
                for (int64_t c = 0; c < Cg; c++)
                    for (int64_t ky = 0; ky < kd[0]; ky++)
                        for (int64_t kx = 0; kx < kd[1]; kx++) {
                            float *row = col + ((c * kd[0] + ky) * kd[1] + kx) * lc;
                            for (int64_t l = 0; l < lc; l++) {
                                int64_t oy = (l0 + l) / od[1], ox = (l0 + l) % od[1];
                                int64_t iy = oy * sd[0] - pb[0] + ky * dd[0];
                                int64_t ix = ox * sd[1] - pb[1] + kx * dd[1];
                                int ok = iy >= 0 && iy < id[0] && ix >= 0 && ix < id[1];
                                row[l] = ok ? xs[c * IL + iy * id[1] + ix] : 0.0f;
                            }
                        }
                nn_sgemm(Mg, lc, KK, (const float *)w->data + g * Mg * KK, KK, col, lc, y + l0, L,
                         bias != NULL, k->nthreads);
            }
        }
    nn_kscratch_done(k, &colt);
    return 0;
}

/* ---- normalisation and reductions --------------------------------------------------------------
 */
int k_instance_norm(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                    int nout) {
    (void)nin, (void)nout;
    const nn_tensor *x = in[0], *s = in[1], *b = in[2];
    if (x->dtype != NN_F32 || x->ndim < 2)
        return nn_kfail(k, STEP_EINVAL, "float32 input of rank >= 2");
    int64_t N = x->dims[0], C = x->dims[1], L = nn_numel(x->ndim - 2, x->dims + 2);
    if (nn_tensor_numel(s) != C || nn_tensor_numel(b) != C)
        return nn_kfail(k, STEP_EINVAL, "scale and B must have %lld entries", (long long)C);
    float eps = nn_attr_f(k, "epsilon", 1e-5f);
    int rc = nn_kout(k, out[0], NN_F32, x->ndim, x->dims);
    if (rc < 0)
        return rc;
    for (int64_t i = 0; i < N * C; i++) {
        const float *v = (const float *)x->data + i * L;
        float *y = (float *)out[0]->data + i * L;
        double sum = 0, sq = 0;
        for (int64_t j = 0; j < L; j++)
            sum += v[j];
        double mean = L ? sum / (double)L : 0;
        for (int64_t j = 0; j < L; j++)
            sq += ((double)v[j] - mean) * ((double)v[j] - mean);
        double var = L ? sq / (double)L : 0;
        float inv = (float)(1.0 / sqrt(var + eps));
        float sc = ((const float *)s->data)[i % C] * inv, bb = ((const float *)b->data)[i % C];
        float fm = (float)mean;
        for (int64_t j = 0; j < L; j++)
            y[j] = (v[j] - fm) * sc + bb;
    }
    return 0;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* exp on 8 floats (Cephes' polynomial, ~1 ulp on the range softmax uses: x <= 0). */
__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)),
                      _mm256_set1_ps(-88.3762626647949f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* erf on n floats (Abramowitz & Stegun 7.1.26: 1 - poly(t) e^(-x^2), t = 1/(1 + p|x|),
 * absolute error under 2e-7 — GELU adds it to 1): libm's scalar erff was 5% of Moonshine's
 * encoder. The caller checks for AVX2. */
__attribute__((target("avx2,fma"))) void nn_erf_avx2(const float *x, float *y, int64_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 a = _mm256_andnot_ps(sign, v);
        __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), a, one));
        __m256 q = _mm256_set1_ps(1.061405429f);
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.453152027f));
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.421413741f));
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.284496736f));
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.254829592f));
        q = _mm256_mul_ps(q, t);
        __m256 e = exp8(_mm256_xor_ps(_mm256_mul_ps(a, a), sign));
        __m256 r = _mm256_fnmadd_ps(q, e, one);
        _mm256_storeu_ps(y + i, _mm256_or_ps(r, _mm256_and_ps(v, sign)));
    }
    for (; i < n; i++)
        y[i] = erff(x[i]);
}

/* One contiguous softmax row; returns 0 when the CPU lacks AVX2 (caller does it). */
__attribute__((target("avx2,fma"))) static int softmax_row_avx2(const float *v, float *y,
                                                                int64_t len) {
    float mx = -INFINITY;
    for (int64_t q = 0; q < len; q++)
        mx = v[q] > mx ? v[q] : mx;
    if (mx == -INFINITY)
        return 0;
    __m256 m = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
    int64_t q = 0;
    for (; q + 8 <= len; q += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(v + q), m));
        _mm256_storeu_ps(y + q, e);
        acc = _mm256_add_ps(acc, e);
    }
    float t[8], sum = 0;
    _mm256_storeu_ps(t, acc);
    for (int i = 0; i < 8; i++)
        sum += t[i];
    for (; q < len; q++) {
        y[q] = expf(v[q] - mx);
        sum += y[q];
    }
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (q = 0; q + 8 <= len; q += 8)
        _mm256_storeu_ps(y + q, _mm256_mul_ps(_mm256_loadu_ps(y + q), inv));
    for (; q < len; q++)
        y[q] *= 1.0f / sum;
    return 1;
}
#define NN_SOFTMAX_AVX2 1
#endif

typedef struct softmax_job {
    const float *x;
    float *y;
    int64_t len, inner;
} softmax_job;

static void softmax_rows(void *arg, int64_t r0, int64_t r1) {
    const softmax_job *j = arg;
    const int64_t len = j->len, inner = j->inner;
#ifdef NN_SOFTMAX_AVX2
    static int avx2 = -1;
    if (avx2 < 0)
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    for (int64_t r = r0; r < r1; r++) {
        int64_t o = r / inner, in_ = r % inner;
        const float *v = j->x + o * len * inner + in_;
        float *y = j->y + o * len * inner + in_;
#ifdef NN_SOFTMAX_AVX2
        if (avx2 && inner == 1 && softmax_row_avx2(v, y, len))
            continue;
#endif
        float mx = -INFINITY;
        for (int64_t q = 0; q < len; q++)
            mx = v[q * inner] > mx ? v[q * inner] : mx;
        float sum = 0;
        for (int64_t q = 0; q < len; q++) {
            float e = mx == -INFINITY ? 0.0f : expf(v[q * inner] - mx);
            y[q * inner] = e;
            sum += e;
        }
        float inv = sum > 0 ? 1.0f / sum : 0.0f;
        for (int64_t q = 0; q < len; q++)
            y[q * inner] *= inv;
    }
}

void nn_softmax_row(const float *v, float *y, int64_t len) {
    softmax_job j = {v, y, len, 1};
    softmax_rows(&j, 0, 1);
}

int k_softmax(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_tensor *x = in[0];
    if (x->dtype != NN_F32)
        return nn_kfail(k, STEP_EINVAL, "float32 only");
    int64_t ax = nn_attr_i(k, "axis", -1);
    if (ax < 0)
        ax += x->ndim;
    if (ax < 0 || ax >= (x->ndim ? x->ndim : 1))
        return nn_kfail(k, STEP_EINVAL, "bad axis");
    const float *xd = x->data; /* the output may take this buffer (in place) */
    int rc = nn_kout(k, out[0], NN_F32, x->ndim, x->dims);
    if (rc < 0)
        return rc;
    softmax_job j = {xd, out[0]->data, x->ndim ? x->dims[ax] : 1,
                     nn_numel(x->ndim - (int)ax - 1, x->dims + ax + 1)};
    int64_t rows = nn_numel((int)ax, x->dims) * j.inner;
    if (rows * j.len >= 65536)
        nn_parallel(rows, k->nthreads, softmax_rows, &j);
    else
        softmax_rows(&j, 0, rows);
    return 0;
}

int k_reduce_mean(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                  int nout) {
    (void)nout;
    const nn_tensor *x = in[0];
    if (x->dtype != NN_F32)
        return nn_kfail(k, STEP_EINVAL, "float32 only");
    int r = x->ndim, red[NN_MAXDIM] = {0}, nax = 0;
    if (nin > 1 && in[1]->data) {
        for (int64_t i = 0; i < nn_tensor_numel(in[1]) && i < NN_MAXDIM; i++, nax++) {
            int64_t a = nn_get_i(in[1], i);
            if (a < 0)
                a += r;
            if (a < 0 || a >= r)
                return nn_kfail(k, STEP_EINVAL, "bad axis");
            red[a] = 1;
        }
    } else {
        const nn_attr *at = nn_attr_find(k, "axes");
        for (int i = 0; at && i < at->n && i < NN_MAXDIM; i++, nax++) {
            int64_t a = at->ints[i];
            if (a < 0)
                a += r;
            if (a < 0 || a >= r)
                return nn_kfail(k, STEP_EINVAL, "bad axis");
            red[a] = 1;
        }
    }
    if (nax == 0 && !nn_attr_i(k, "noop_with_empty_axes", 0))
        for (int i = 0; i < r; i++)
            red[i] = 1;
    int keep = (int)nn_attr_i(k, "keepdims", 1);
    int64_t odims[NN_MAXDIM], kdims[NN_MAXDIM];
    int no = 0;
    for (int i = 0; i < r; i++) {
        kdims[i] = red[i] ? 1 : x->dims[i];
        if (!red[i] || keep)
            odims[no++] = kdims[i];
    }
    int rc = nn_kout(k, out[0], NN_F32, no, odims);
    if (rc < 0)
        return rc;
    int64_t on = nn_numel(r, kdims), n = nn_tensor_numel(x), cnt = on ? n / on : 0;
    double *acc = calloc((size_t)on + 1, sizeof *acc);
    if (!acc)
        return nn_kfail(k, STEP_ENOMEM, "out of memory");
    /* fast path: reducing the trailing axes only */
    int trailing = 1, seen = 0;
    for (int i = 0; i < r; i++) {
        if (red[i])
            seen = 1;
        else if (seen)
            trailing = 0;
    }
    const float *v = x->data;
    if (trailing) {
        for (int64_t o = 0; o < on; o++) {
            double s = 0;
            for (int64_t j = 0; j < cnt; j++)
                s += v[o * cnt + j];
            acc[o] = s;
        }
    } else {
        int64_t idx[NN_MAXDIM] = {0};
        for (int64_t i = 0; i < n; i++) {
            int64_t o = 0;
            for (int d = 0; d < r; d++)
                o = o * kdims[d] + (red[d] ? 0 : idx[d]);
            acc[o] += v[i];
            for (int d = r - 1; d >= 0; d--) {
                if (++idx[d] < x->dims[d])
                    break;
                idx[d] = 0;
            }
        }
    }
    for (int64_t o = 0; o < on; o++)
        ((float *)out[0]->data)[o] = cnt ? (float)(acc[o] / (double)cnt) : NAN;
    free(acc);
    return 0;
}
