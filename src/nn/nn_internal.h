/*
 * nn_internal.h — what the engine's files share: the kernel interface, attribute access,
 * broadcasting helpers, the matrix-multiply primitives. Not used outside src/nn/ and tests.
 */
#ifndef STEPD_NN_INTERNAL_H
#define STEPD_NN_INTERNAL_H

#include "nn/nn.h"

#include <stdbool.h>
#include <stepd/step.h>

struct nn_pool;

/* What a kernel sees of the node it runs. */
typedef struct nn_kctx {
    const char *op, *name;
    const nn_attr *attrs;
    int nattr;
    struct nn_pool *pool; /* NULL: outputs get their own buffers (nn_op_run) */
    int nthreads;
    char **err;
    const void *prep; /* the node's nn_node.prep, or NULL */
} nn_kctx;

typedef int (*nn_kernel_fn)(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out,
                            int nout);

typedef struct nn_kernel {
    const char *op;
    nn_kernel_fn fn;
    int min_in, max_in, nout_max;
    int inplace; /* output 0 may take input 0's buffer (element-wise, same type) */
} nn_kernel;

const nn_kernel *nn_kernel_get(int op_id);

/* Gives output t the type and shape (buffer from the session pool or its own). */
int nn_kout(nn_kctx *k, nn_tensor *t, nn_dtype dtype, int ndim, const int64_t *dims);
/* Returns a scratch tensor from nn_kout to the pool (or frees it). */
void nn_kscratch_done(nn_kctx *k, nn_tensor *t);
/* Error naming the node: "node 'x' (MatMul): ..." */
int nn_kfail(nn_kctx *k, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

const nn_attr *nn_attr_find(const nn_kctx *k, const char *name);
int64_t nn_attr_i(const nn_kctx *k, const char *name, int64_t def);
float nn_attr_f(const nn_kctx *k, const char *name, float def);

/* Reads element i of an integer tensor (int64/int32/uint8/int8/bool) as int64. */
int64_t nn_get_i(const nn_tensor *t, int64_t i);

/* Broadcast of two shapes (numpy rules) into out; -1 if incompatible. */
int nn_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out);

/* Broadcasting helpers (nn_ops.c). */
int nn_norm_axis(int64_t axis, int rank); /* -1 when out of range */
/* Strides of t broadcast to the n-dim shape out (0 where t's dim is 1 or missing). */
void nn_bstrides(const nn_tensor *t, int n, const int64_t *out, int64_t *st);
int nn_bad_shapes(nn_kctx *k, const nn_tensor *a, const nn_tensor *b);
/* Walks every output position of an n-dim broadcast of up to three inputs, calling the inner
 * loop over the last dimension with each input's offset and stride. */
typedef void (*nn_inner_fn)(void *ctx, int64_t o, int64_t ia, int64_t ib, int64_t ic, int64_t len,
                            int64_t sa, int64_t sb, int64_t sc);
void nn_walk(int n, const int64_t *dims, const int64_t *sa, const int64_t *sb, const int64_t *sc,
             nn_inner_fn fn, void *ctx);
double nn_get_d(const nn_tensor *t, int64_t i); /* element i as double (float, f16, ints) */

/* C[M,N] (+)= A[M,K] * B[K,N], row-major with leading dimensions; accumulate when acc. */
void nn_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
              int64_t ldb, float *C, int64_t ldc, int acc, int nthreads);
/* C[M, n0:n1) = A[M,K] x (s * X[N,K])^T, X row-major with leading dimension ldx; one thread.
 * panel: K x 16 floats of scratch. */
void nn_sgemm_nt_cols(int64_t M, int64_t K, const float *A, int64_t lda, const float *X,
                      int64_t ldx, float s, float *C, int64_t ldc, int64_t n0, int64_t n1,
                      float *panel);
/* C[M,N] int32 = (A[M,K] - za) * (B[K,N] - zb[n]) for uint8 A and uint8/int8 B. zb has N
 * entries (per column) or one (zb_per_col 0). */
void nn_qgemm(int64_t M, int64_t N, int64_t K, const uint8_t *A, int32_t za, const uint8_t *B,
              int b_signed, const int32_t *zb, int zb_per_col, int32_t *C, int nthreads);

/* uint8/int8 weights B[K,N] minus their zero points, as int16 pairs interleaved along K
 * (the layout of the AVX2 pairwise multiply-add), in one malloc block (free()). */
typedef struct nn_qpacked {
    int64_t K, N, Kp; /* Kp: K rounded up to even */
    int16_t *w;       /* Kp/2 x N x 2 */
} nn_qpacked;
nn_qpacked *nn_qpack(const uint8_t *B, int b_signed, int64_t K, int64_t N, const int32_t *zb,
                     int zb_per_col);
/* C[M,N] = (A - za) x packed B, exact. scratch: M x Kp/2 int32. */
void nn_qgemm_packed(int64_t M, const uint8_t *A, int32_t za, const nn_qpacked *P, int32_t *C,
                     int32_t *scratch, int nthreads);
/* A float weight matrix kept quantised: B[k][n] = (q[k][n] - zp) * scale, dequantised inside
 * the product instead of being stored as float (MatMul's node->prep). */
typedef struct nn_dqmat {
    int64_t K, N;
    const uint8_t *q; /* borrowed from the model's constant `src` */
    int is_signed;
    float scale;
    int32_t zp;
    int src;
} nn_dqmat;
/* C[M,N] = A[M,K] x dequantised B (fused multiply-add in k order for every column). */
void nn_sgemm_dq(int64_t M, const float *A, const nn_dqmat *B, float *C, int nthreads);

/* node->prep of a fused attention-score product (nn_fuse.c): MatMul(A, Mul(Transpose(X), S))
 * run as one node with inputs (A, X, S). */
typedef struct nn_fused_nt {
    const nn_attr *perm_attrs; /* the Transpose's attributes (borrowed from the model) */
    int perm_nattr;
    int s_first; /* the Mul read S as its first input */
} nn_fused_nt;
/* node->prep of a fused attention: the scores' nn_fused_nt and the Softmax's attributes. */
typedef struct nn_fused_attn {
    nn_fused_nt nt;
    const nn_attr *sm_attrs; /* borrowed from the model */
    int sm_nattr;
} nn_fused_attn;
#define NN_OP_MATMUL_NT "stepd.MatMulTransposedB" /* internal: never in a model file */
#define NN_OP_ATTENTION "stepd.Attention"         /* internal: never in a model file */

/* Kernels other kernels fall back on (nn_ops_math.c, nn_attention.c). */
int k_matmul(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout);
int k_softmax(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout);
int k_matmul_nt(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout);
int k_attention(nn_kctx *k, const nn_tensor *const *in, int nin, nn_tensor *const *out, int nout);
/* MatMul helpers (nn_ops_math.c): numpy shapes of a product, and an operand's offset for
 * batch b of the broadcast batch dims. */
int nn_mm_shape(nn_kctx *k, const nn_tensor *a0, const nn_tensor *b0, nn_tensor *a, nn_tensor *b,
                int *nb, int64_t *bdims, int *nout, int64_t *odims);
int64_t nn_batch_off(const nn_tensor *t, int nb, const int64_t *bdims, int64_t b);
/* Softmax of one contiguous row (y may be v). */
void nn_softmax_row(const float *v, float *y, int64_t len);
/* Load-time rewrites (after folding): see nn_fuse.c. */
int nn_model_fuse(nn_model *m, char **err);

#if defined(__x86_64__) || defined(__i386__)
void nn_erf_avx2(const float *x, float *y, int64_t n); /* only when the CPU has AVX2+FMA */
#endif

/* Builds node->prep for kernels that prepare constant inputs at load (MatMulInteger). */
int nn_prepare_node(nn_model *m, nn_node *n, char **err);

/* Runs fn(arg, i0, i1) over [0, n) split into up to nthreads contiguous ranges. */
void nn_parallel(int64_t n, int nthreads, void (*fn)(void *arg, int64_t i0, int64_t i1), void *arg);

#endif
