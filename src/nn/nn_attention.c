/*
 * nn_attention.c — the fused attention kernels nn_fuse.c rewrites graphs to (internal ops,
 * never named by a model file):
 *
 *   NN_OP_MATMUL_NT  (A, X, S)    -> A x (S X)^T                  (Transpose+Mul+MatMul)
 *   NN_OP_ATTENTION  (A, X, S, V) -> Softmax(A x (S X)^T) x V     (... +Softmax+MatMul)
 *
 * The first reads X (the keys) in place instead of writing a transposed copy; the second
 * also never materialises the B x M x N scores: it works through blocks of query rows whose
 * scores fit in a 64 KB stack buffer (scores, softmax and the product with V while the block
 * is in cache). Each block computes exactly what the unfused ops compute for those rows, in
 * the same order. Shapes or types outside the fast paths run the original kernels on
 * scratch buffers.
 */
#include "nn/nn_internal.h"

#include <string.h>

/* The fused attention scores (nn_fuse.c): inputs (A, X, S), output A x (S * X^T) where X^T
 * swaps X's last two dims, as MatMul(A, Mul(Transpose(X), S)) would give, without writing
 * X^T: a decoder step reads the cached cross-attention keys in place instead of transposing
 * all of them for its one query row. Other types or a non-scalar S run the three original
 * kernels on scratch buffers. */
typedef struct nt_job {
    const nn_tensor *a, *xt;
    int nb;
    const int64_t *bdims;
    int64_t M, N, K, panels;
    float s;
    float *C;
} nt_job;

#define NT_COLS 64  /* columns of C per work unit */
#define NT_MAXK 512 /* panel on the stack: K x 16 floats */

static void nt_range(void *arg, int64_t u0, int64_t u1) {
    const nt_job *j = arg;
    float panel[NT_MAXK * 16];
    for (int64_t u = u0; u < u1; u++) {
        int64_t b = u / j->panels, p = u % j->panels;
        int64_t n0 = p * NT_COLS, n1 = n0 + NT_COLS < j->N ? n0 + NT_COLS : j->N;
        nn_sgemm_nt_cols(j->M, j->K,
                         (const float *)j->a->data + nn_batch_off(j->a, j->nb, j->bdims, b), j->K,
                         (const float *)j->xt->data + nn_batch_off(j->xt, j->nb, j->bdims, b), j->K,
                         j->s, j->C + b * j->M * j->N, j->N, n0, n1, panel);
    }
}

static int nt_unfused(nn_kctx *k, const nn_tensor *const *in, nn_tensor *const *out) {
    const nn_fused_nt *f = k->prep;
    static const int64_t swap2[2] = {1, 0};
    nn_attr perm = {.name = "perm", .type = NN_ATTR_INTS, .n = 2, .ints = (int64_t *)swap2};
    nn_kctx kt = *k;
    kt.op = "Transpose";
    kt.attrs = f ? f->perm_attrs : &perm;
    kt.nattr = f ? f->perm_nattr : 1;
    nn_tensor xt = {0}, y = {0};
    nn_tensor *o1[1] = {&xt}, *o2[1] = {&y};
    const nn_tensor *ti[1] = {in[1]};
    int rc = nn_kernel_get(nn_op_lookup("Transpose"))->fn(&kt, ti, 1, o1, 1);
    if (rc == 0) {
        const nn_tensor *mi[2] = {&xt, in[2]};
        if (f && f->s_first) {
            mi[0] = in[2];
            mi[1] = &xt;
        }
        kt.op = "Mul";
        kt.attrs = NULL;
        kt.nattr = 0;
        rc = nn_kernel_get(nn_op_lookup("Mul"))->fn(&kt, mi, 2, o2, 1);
    }
    nn_kscratch_done(k, &xt);
    if (rc == 0) {
        const nn_tensor *ai[2] = {in[0], &y};
        nn_kctx km = *k;
        km.prep = NULL;
        rc = k_matmul(&km, ai, 2, out, 1);
    }
    nn_kscratch_done(k, &y);
    return rc;
}

int k_matmul_nt(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_tensor *a = in[0], *x = in[1], *s = in[2];
    if (a->dtype != NN_F32 || x->dtype != NN_F32 || s->dtype != NN_F32 || nn_tensor_numel(s) != 1 ||
        a->ndim < 2 || x->ndim < 2 || x->dims[x->ndim - 1] > NT_MAXK || !s->data)
        return nt_unfused(k, in, out);
    nn_tensor xt = *x; /* shape of X^T; batch_off only needs the product of the last two */
    xt.dims[x->ndim - 2] = x->dims[x->ndim - 1];
    xt.dims[x->ndim - 1] = x->dims[x->ndim - 2];
    nn_tensor a2, b2;
    int nb, n;
    int64_t bdims[NN_MAXDIM], odims[NN_MAXDIM];
    int rc = nn_mm_shape(k, a, &xt, &a2, &b2, &nb, bdims, &n, odims);
    if (rc < 0 || (rc = nn_kout(k, out[0], NN_F32, n, odims)) < 0)
        return rc;
    nt_job j = {a,
                &xt,
                nb,
                bdims,
                a->dims[a->ndim - 2],
                xt.dims[xt.ndim - 1],
                a->dims[a->ndim - 1],
                0,
                *(const float *)s->data,
                out[0]->data};
    j.panels = (j.N + NT_COLS - 1) / NT_COLS;
    int64_t units = nn_numel(nb, bdims) * j.panels;
    int threads = (double)units * j.M * NT_COLS * j.K < 65536 ? 1 : k->nthreads;
    if (j.N && j.M)
        nn_parallel(units, threads, nt_range, &j);
    return 0;
}

/* ---- scores, softmax and values in one pass ---------------------------------------------- */
#define ATT_SCORES 16384 /* floats of scores per block (64 KB on the stack) */

typedef struct att_job {
    const float *A, *X, *V;
    float *O;
    int64_t M, N, K, Dv, R, blocks;
    float s;
} att_job;

static void att_range(void *arg, int64_t u0, int64_t u1) {
    const att_job *j = arg;
    float panel[NT_MAXK * 16], sc[ATT_SCORES];
    for (int64_t u = u0; u < u1; u++) {
        int64_t b = u / j->blocks, r0 = (u % j->blocks) * j->R;
        int64_t rr = j->M - r0 < j->R ? j->M - r0 : j->R;
        nn_sgemm_nt_cols(rr, j->K, j->A + (b * j->M + r0) * j->K, j->K, j->X + b * j->N * j->K,
                         j->K, j->s, sc, j->N, 0, j->N, panel);
        for (int64_t i = 0; i < rr; i++)
            nn_softmax_row(sc + i * j->N, sc + i * j->N, j->N);
        nn_sgemm(rr, j->Dv, j->N, sc, j->N, j->V + b * j->N * j->Dv, j->Dv,
                 j->O + (b * j->M + r0) * j->Dv, j->Dv, 0, 1);
    }
}

static int att_unfused(nn_kctx *k, const nn_tensor *const *in, nn_tensor *const *out) {
    const nn_fused_attn *f = k->prep;
    nn_tensor c = {0}, p = {0};
    nn_tensor *oc[1] = {&c}, *op[1] = {&p};
    nn_kctx kk = *k;
    kk.prep = f ? &f->nt : NULL;
    int rc = k_matmul_nt(&kk, in, 3, oc, 1);
    if (rc == 0) {
        kk.op = "Softmax";
        kk.prep = NULL;
        kk.attrs = f ? f->sm_attrs : NULL;
        kk.nattr = f ? f->sm_nattr : 0;
        const nn_tensor *si[1] = {&c};
        rc = k_softmax(&kk, si, 1, op, 1);
    }
    nn_kscratch_done(k, &c);
    if (rc == 0) {
        kk = *k;
        kk.op = "MatMul";
        kk.prep = NULL;
        const nn_tensor *mi[2] = {&p, in[3]};
        rc = k_matmul(&kk, mi, 2, out, 1);
    }
    nn_kscratch_done(k, &p);
    return rc;
}

int k_attention(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout) {
    (void)nin, (void)nout;
    const nn_tensor *a = in[0], *x = in[1], *s = in[2], *v = in[3];
    int r = a->ndim, fast = r >= 2 && x->ndim == r && v->ndim == r && a->dtype == NN_F32 &&
                            x->dtype == NN_F32 && s->dtype == NN_F32 && v->dtype == NN_F32 &&
                            nn_tensor_numel(s) == 1 && s->data;
    for (int d = 0; fast && d < r - 2; d++)
        fast = a->dims[d] == x->dims[d] && a->dims[d] == v->dims[d];
    int64_t M = fast ? a->dims[r - 2] : 0, K = fast ? a->dims[r - 1] : 0;
    int64_t N = fast ? x->dims[r - 2] : 0, Dv = fast ? v->dims[r - 1] : 0;
    fast = fast && x->dims[r - 1] == K && v->dims[r - 2] == N && K <= NT_MAXK && N > 0 &&
           N <= ATT_SCORES;
    const nn_fused_attn *f = k->prep;
    for (int i = 0; fast && f && i < f->sm_nattr; i++)
        if (!strcmp(f->sm_attrs[i].name, "axis"))
            fast = f->sm_attrs[i].i == -1 || f->sm_attrs[i].i == r - 1;
    if (!fast)
        return att_unfused(k, in, out);
    int64_t odims[NN_MAXDIM];
    memcpy(odims, a->dims, sizeof odims);
    odims[r - 1] = Dv;
    int rc = nn_kout(k, out[0], NN_F32, r, odims);
    if (rc < 0)
        return rc;
    int64_t R = ATT_SCORES / N;
    R = R >= 16 ? 16 : R >= 4 ? R & ~(int64_t)3 : R; /* whole 4-row blocks of the kernel */
    att_job j = {a->data, x->data, v->data,         out[0]->data,           M, N, K,
                 Dv,      R,       (M + R - 1) / R, *(const float *)s->data};
    int64_t B = nn_numel(r - 2, a->dims), units = B * j.blocks;
    int threads = (double)B * M * N * (K + Dv) < 65536 ? 1 : k->nthreads;
    if (M && Dv)
        nn_parallel(units, threads, att_range, &j);
    return 0;
}
