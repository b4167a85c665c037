/*
 * nn_gemm.c — the matrix products every heavy op reduces to, and the worker threads that
 * split them. nn_sgemm: float C = A·B with an AVX2+FMA register-blocked kernel (4 rows x 16
 * columns of C in registers) chosen at run time, and a plain loop the compiler vectorises
 * otherwise. nn_qgemm: uint8 x uint8/int8 -> int32 with zero points, exact (integer) so any
 * order of summation gives onnxruntime's result; it uses
 *   sum_k (a-za)(b-zb) = sum_k (a-za) b - zb sum_k (a-za)
 * so B is read as stored and never converted.
 * Threads: one process-wide pool of workers started on first use; a call splits its rows
 * (or columns when there is one row) into contiguous ranges, the calling thread takes one.
 * Concurrent callers do not queue behind each other: if the pool is busy, the work runs on
 * the caller's thread.
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NN_X86 1
#endif

/* ---- worker pool -------------------------------------------------------------------------- */
#define MAX_WORKERS 15

static struct {
    pthread_mutex_t busy; /* held by the caller that owns the pool for one job */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int started, nworkers;
    unsigned gen;
    int pending;
    void (*fn)(void *, int64_t, int64_t);
    void *arg;
    int64_t n;
    int parts;
} P = {PTHREAD_MUTEX_INITIALIZER,
       PTHREAD_MUTEX_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       0,
       0,
       0,
       0,
       NULL,
       NULL,
       0,
       0};

static unsigned start_gen[MAX_WORKERS + 1];

static void *worker(void *idx) {
    int me = (int)(intptr_t)idx; /* 1..nworkers; part 0 is the caller's */
    pthread_mutex_lock(&P.mu);
    unsigned seen = start_gen[me]; /* jobs before this worker existed are not its own */
    for (;;) {
        while (P.gen == seen)
            pthread_cond_wait(&P.go, &P.mu);
        seen = P.gen;
        int parts = P.parts;
        void (*fn)(void *, int64_t, int64_t) = P.fn;
        void *arg = P.arg;
        int64_t n = P.n;
        pthread_mutex_unlock(&P.mu);
        if (me < parts)
            fn(arg, n * me / parts, n * (me + 1) / parts);
        pthread_mutex_lock(&P.mu);
        if (--P.pending == 0)
            pthread_cond_signal(&P.done);
    }
    return NULL;
}

static int ensure_workers(int want) {
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    while (P.nworkers < want) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&P.mu);
        start_gen[P.nworkers + 1] = P.gen;
        int rc = pthread_create(&t, &at, worker, (void *)(intptr_t)(P.nworkers + 1));
        if (rc == 0)
            P.nworkers++;
        pthread_mutex_unlock(&P.mu);
        pthread_attr_destroy(&at);
        if (rc != 0)
            break;
    }
    return P.nworkers;
}

void nn_parallel(int64_t n, int nthreads, void (*fn)(void *arg, int64_t i0, int64_t i1),
                 void *arg) {
    if (nthreads <= 1 || n < 2 || pthread_mutex_trylock(&P.busy) != 0) {
        fn(arg, 0, n);
        return;
    }
    int parts = nthreads > n ? (int)n : nthreads;
    int have = ensure_workers(parts - 1);
    if (parts > have + 1)
        parts = have + 1;
    pthread_mutex_lock(&P.mu);
    P.fn = fn;
    P.arg = arg;
    P.n = n;
    P.parts = parts;
    P.pending = P.nworkers;
    P.gen++;
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.mu);
    fn(arg, 0, n / parts);
    pthread_mutex_lock(&P.mu);
    while (P.pending > 0)
        pthread_cond_wait(&P.done, &P.mu);
    pthread_mutex_unlock(&P.mu);
    pthread_mutex_unlock(&P.busy);
}

/* ---- float ------------------------------------------------------------------------------------
 */
typedef struct sg {
    int64_t M, N, K, lda, ldb, ldc;
    const float *A, *B;
    float *C;
    int acc, by_cols;
    int packed; /* B is already a compact K x 16 panel: no copy */
} sg;

static void sgemm_plain(const sg *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    for (int64_t i = m0; i < m1; i++) {
        float *c = g->C + i * g->ldc;
        if (!g->acc)
            for (int64_t j = n0; j < n1; j++)
                c[j] = 0;
        const float *a = g->A + i * g->lda;
        for (int64_t k = 0; k < g->K; k++) {
            float av = a[k];
            const float *b = g->B + k * g->ldb;
            for (int64_t j = n0; j < n1; j++)
                c[j] += av * b[j];
        }
    }
}

#ifdef NN_X86
/* Lanes [0, r) of 8 set (r clamped to 0..8): masks for column tails narrower than 16. */
__attribute__((target("avx2"))) static inline __m256i tail_mask(int64_t r) {
    static const int32_t src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    int64_t n = r < 0 ? 0 : r > 8 ? 8 : r;
    return _mm256_loadu_si256((const __m256i *)(src + 8 - n));
}

/* C rows i..i+rows-1 (rows 1 or 4), columns j..j+r-1 (r <= 16) with masked loads and stores:
 * a ragged edge (Moonshine's head size 36 = 2 x 16 + 4) stays in vector registers instead
 * of falling to the scalar loop. b: B's column j, rows ldb apart. */
__attribute__((target("avx2,fma"))) static void
tail_avx2(const sg *g, int64_t i, int rows, int64_t j, int64_t r, const float *b, int64_t ldb) {
    const __m256i k0 = tail_mask(r), k1 = tail_mask(r - 8);
    const int64_t K = g->K, lda = g->lda, ldc = g->ldc;
    __m256 acc[4][2];
    for (int q = 0; q < 4; q++)
        acc[q][0] = acc[q][1] = _mm256_setzero_ps();
    const float *a = g->A + i * lda;
    if (rows == 4) {
        for (int64_t k = 0; k < K; k++, b += ldb) {
            __m256 b0 = _mm256_maskload_ps(b, k0), b1 = _mm256_maskload_ps(b + 8, k1);
            for (int q = 0; q < 4; q++) {
                __m256 x = _mm256_broadcast_ss(a + q * lda + k);
                acc[q][0] = _mm256_fmadd_ps(x, b0, acc[q][0]);
                acc[q][1] = _mm256_fmadd_ps(x, b1, acc[q][1]);
            }
        }
    } else {
        for (int64_t k = 0; k < K; k++, b += ldb) {
            __m256 x = _mm256_broadcast_ss(a + k);
            acc[0][0] = _mm256_fmadd_ps(x, _mm256_maskload_ps(b, k0), acc[0][0]);
            acc[0][1] = _mm256_fmadd_ps(x, _mm256_maskload_ps(b + 8, k1), acc[0][1]);
        }
    }
    for (int q = 0; q < rows; q++) {
        float *c = g->C + (i + q) * ldc + j;
        if (g->acc) {
            acc[q][0] = _mm256_add_ps(acc[q][0], _mm256_maskload_ps(c, k0));
            acc[q][1] = _mm256_add_ps(acc[q][1], _mm256_maskload_ps(c + 8, k1));
        }
        _mm256_maskstore_ps(c, k0, acc[q][0]);
        _mm256_maskstore_ps(c + 8, k1, acc[q][1]);
    }
}

/* Many rows: B's 16-column panel is copied to a contiguous K x 16 block first (B rows are
 * far apart; the copy keeps the panel in cache for every 4-row block of A). */
__attribute__((target("avx2,fma"))) static void
sgemm_avx2_panels(const sg *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *panel) {
    const int64_t K = g->K, lda = g->lda, ldb = g->ldb, ldc = g->ldc;
    int64_t j = n0;
    for (; j + 16 <= n1; j += 16) {
        for (int64_t k = 0; k < K; k++) {
            _mm256_storeu_ps(panel + k * 16, _mm256_loadu_ps(g->B + k * ldb + j));
            _mm256_storeu_ps(panel + k * 16 + 8, _mm256_loadu_ps(g->B + k * ldb + j + 8));
        }
        int64_t i = m0;
        for (; i + 4 <= m1; i += 4) {
            const float *a0 = g->A + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                   c30 = c00, c31 = c00;
            const float *b = panel;
            for (int64_t k = 0; k < K; k++, b += 16) {
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                __m256 x = _mm256_broadcast_ss(a0 + k);
                c00 = _mm256_fmadd_ps(x, b0, c00);
                c01 = _mm256_fmadd_ps(x, b1, c01);
                x = _mm256_broadcast_ss(a1 + k);
                c10 = _mm256_fmadd_ps(x, b0, c10);
                c11 = _mm256_fmadd_ps(x, b1, c11);
                x = _mm256_broadcast_ss(a2 + k);
                c20 = _mm256_fmadd_ps(x, b0, c20);
                c21 = _mm256_fmadd_ps(x, b1, c21);
                x = _mm256_broadcast_ss(a3 + k);
                c30 = _mm256_fmadd_ps(x, b0, c30);
                c31 = _mm256_fmadd_ps(x, b1, c31);
            }
            float *c = g->C + i * ldc + j;
            if (g->acc) {
                c00 = _mm256_add_ps(c00, _mm256_loadu_ps(c));
                c01 = _mm256_add_ps(c01, _mm256_loadu_ps(c + 8));
                c10 = _mm256_add_ps(c10, _mm256_loadu_ps(c + ldc));
                c11 = _mm256_add_ps(c11, _mm256_loadu_ps(c + ldc + 8));
                c20 = _mm256_add_ps(c20, _mm256_loadu_ps(c + 2 * ldc));
                c21 = _mm256_add_ps(c21, _mm256_loadu_ps(c + 2 * ldc + 8));
                c30 = _mm256_add_ps(c30, _mm256_loadu_ps(c + 3 * ldc));
                c31 = _mm256_add_ps(c31, _mm256_loadu_ps(c + 3 * ldc + 8));
            }
            _mm256_storeu_ps(c, c00);
            _mm256_storeu_ps(c + 8, c01);
            _mm256_storeu_ps(c + ldc, c10);
            _mm256_storeu_ps(c + ldc + 8, c11);
            _mm256_storeu_ps(c + 2 * ldc, c20);
            _mm256_storeu_ps(c + 2 * ldc + 8, c21);
            _mm256_storeu_ps(c + 3 * ldc, c30);
            _mm256_storeu_ps(c + 3 * ldc + 8, c31);
        }
        if (i < m1)
            sgemm_plain(g, i, m1, j, j + 16);
    }
    if (j < n1) {
        int64_t r = n1 - j;
        for (int64_t k = 0; k < K; k++)
            for (int64_t jj = 0; jj < 16; jj++)
                panel[k * 16 + jj] = jj < r ? g->B[k * ldb + j + jj] : 0.0f;
        int64_t i = m0;
        for (; i + 4 <= m1; i += 4)
            tail_avx2(g, i, 4, j, r, panel, 16);
        for (; i < m1; i++)
            tail_avx2(g, i, 1, j, r, panel, 16);
    }
}

__attribute__((target("avx2,fma"))) static void sgemm_avx2(const sg *g, int64_t m0, int64_t m1,
                                                           int64_t n0, int64_t n1) {
    const int64_t K = g->K, lda = g->lda, ldb = g->ldb, ldc = g->ldc;
    if (m1 - m0 >= 16 && K <= 8192 && !g->packed) {
        float *panel = nn_mem_alloc((size_t)K * 16 * sizeof(float));
        if (panel) {
            sgemm_avx2_panels(g, m0, m1, n0, n1, panel);
            nn_mem_free(panel, (size_t)K * 16 * sizeof(float));
            return;
        }
    }
    int64_t i = m0;
    for (; i + 4 <= m1; i += 4) {
        const float *a0 = g->A + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        int64_t j = n0;
        for (; j + 16 <= n1; j += 16) {
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                   c30 = c00, c31 = c00;
            const float *b = g->B + j;
            for (int64_t k = 0; k < K; k++, b += ldb) {
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                __m256 x = _mm256_broadcast_ss(a0 + k);
                c00 = _mm256_fmadd_ps(x, b0, c00);
                c01 = _mm256_fmadd_ps(x, b1, c01);
                x = _mm256_broadcast_ss(a1 + k);
                c10 = _mm256_fmadd_ps(x, b0, c10);
                c11 = _mm256_fmadd_ps(x, b1, c11);
                x = _mm256_broadcast_ss(a2 + k);
                c20 = _mm256_fmadd_ps(x, b0, c20);
                c21 = _mm256_fmadd_ps(x, b1, c21);
                x = _mm256_broadcast_ss(a3 + k);
                c30 = _mm256_fmadd_ps(x, b0, c30);
                c31 = _mm256_fmadd_ps(x, b1, c31);
            }
            float *c = g->C + i * ldc + j;
            if (g->acc) {
                c00 = _mm256_add_ps(c00, _mm256_loadu_ps(c));
                c01 = _mm256_add_ps(c01, _mm256_loadu_ps(c + 8));
                c10 = _mm256_add_ps(c10, _mm256_loadu_ps(c + ldc));
                c11 = _mm256_add_ps(c11, _mm256_loadu_ps(c + ldc + 8));
                c20 = _mm256_add_ps(c20, _mm256_loadu_ps(c + 2 * ldc));
                c21 = _mm256_add_ps(c21, _mm256_loadu_ps(c + 2 * ldc + 8));
                c30 = _mm256_add_ps(c30, _mm256_loadu_ps(c + 3 * ldc));
                c31 = _mm256_add_ps(c31, _mm256_loadu_ps(c + 3 * ldc + 8));
            }
            _mm256_storeu_ps(c, c00);
            _mm256_storeu_ps(c + 8, c01);
            _mm256_storeu_ps(c + ldc, c10);
            _mm256_storeu_ps(c + ldc + 8, c11);
            _mm256_storeu_ps(c + 2 * ldc, c20);
            _mm256_storeu_ps(c + 2 * ldc + 8, c21);
            _mm256_storeu_ps(c + 3 * ldc, c30);
            _mm256_storeu_ps(c + 3 * ldc + 8, c31);
        }
        for (; j < n1; j += 16)
            tail_avx2(g, i, 4, j, n1 - j < 16 ? n1 - j : 16, g->B + j, ldb);
    }
    for (; i < m1; i++) {
        const float *a = g->A + i * lda;
        float *c = g->C + i * ldc;
        int64_t j = n0;
        for (; j + 32 <= n1; j += 32) {
            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            const float *b = g->B + j;
            for (int64_t k = 0; k < K; k++, b += ldb) {
                __m256 x = _mm256_broadcast_ss(a + k);
                c0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b), c0);
                c1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + 8), c1);
                c2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + 16), c2);
                c3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + 24), c3);
            }
            if (g->acc) {
                c0 = _mm256_add_ps(c0, _mm256_loadu_ps(c + j));
                c1 = _mm256_add_ps(c1, _mm256_loadu_ps(c + j + 8));
                c2 = _mm256_add_ps(c2, _mm256_loadu_ps(c + j + 16));
                c3 = _mm256_add_ps(c3, _mm256_loadu_ps(c + j + 24));
            }
            _mm256_storeu_ps(c + j, c0);
            _mm256_storeu_ps(c + j + 8, c1);
            _mm256_storeu_ps(c + j + 16, c2);
            _mm256_storeu_ps(c + j + 24, c3);
        }
        for (; j < n1; j += 16)
            tail_avx2(g, i, 1, j, n1 - j < 16 ? n1 - j : 16, g->B + j, ldb);
    }
}
#endif

static int use_avx2(void) {
#ifdef NN_X86
    static int v = -1;
    if (v < 0)
        v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return v;
#else
    return 0;
#endif
}

static void sgemm_range(void *arg, int64_t r0, int64_t r1) {
    const sg *g = arg;
    int64_t m0 = 0, m1 = g->M, n0 = 0, n1 = g->N;
    if (g->by_cols) {
        /* split columns on 16-wide boundaries so every part keeps the vector kernel */
        n0 = r0 * 16;
        n1 = r1 * 16 < g->N ? r1 * 16 : g->N;
    } else {
        m0 = r0 * 4;
        m1 = r1 * 4 < g->M ? r1 * 4 : g->M;
    }
#ifdef NN_X86
    if (use_avx2()) {
        sgemm_avx2(g, m0, m1, n0, n1);
        return;
    }
#endif
    sgemm_plain(g, m0, m1, n0, n1);
}

void nn_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
              int64_t ldb, float *C, int64_t ldc, int acc, int nthreads) {
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!acc)
            for (int64_t i = 0; i < M; i++)
                memset(C + i * ldc, 0, (size_t)N * sizeof *C);
        return;
    }
    sg g = {M, N, K, lda, ldb, ldc, A, B, C, acc, M < 8, 0};
    int64_t units = g.by_cols ? (N + 15) / 16 : (M + 3) / 4;
    if ((double)M * (double)N * (double)K < 65536)
        nthreads = 1;
    nn_parallel(units, nthreads, sgemm_range, &g);
}

/* C[M, n0:n1) = A x (s * X)^T, 16 columns at a time: rows n of X are read in order, scaled
 * and written down a column of a K x 16 panel (L1-sized), which the 4 x 16 kernel then
 * multiplies. The products are those of MatMul(A, Mul(Transpose(X), s)) in k order. */
void nn_sgemm_nt_cols(int64_t M, int64_t K, const float *A, int64_t lda, const float *X,
                      int64_t ldx, float s, float *C, int64_t ldc, int64_t n0, int64_t n1,
                      float *panel) {
    for (int64_t j = n0; j < n1; j += 16) {
        int64_t nb = n1 - j < 16 ? n1 - j : 16;
        for (int64_t jj = 0; jj < nb; jj++) {
            const float *x = X + (j + jj) * ldx;
            for (int64_t k = 0; k < K; k++)
                panel[k * 16 + jj] = x[k] * s;
        }
        sg g = {M, nb, K, lda, 16, ldc, A, panel, C + j, 0, 0, 1};
#ifdef NN_X86
        if (use_avx2()) {
            sgemm_avx2(&g, 0, M, 0, nb);
            continue;
        }
#endif
        sgemm_plain(&g, 0, M, 0, nb);
    }
}

/* ---- integer ----------------------------------------------------------------------------------
 */
typedef struct qg {
    int64_t M, N, K;
    const uint8_t *A, *B;
    int32_t za;
    int b_signed;
    const int32_t *zb;
    int zb_per_col;
    int32_t *C;
    int by_cols;
} qg;

#define QG_ROW(BT)                                                                                 \
    do {                                                                                           \
        const BT *Bm = (const BT *)g->B;                                                           \
        for (int64_t j = n0; j < n1; j++)                                                          \
            c[j] = 0;                                                                              \
        int32_t asum = 0;                                                                          \
        for (int64_t k = 0; k < K; k++) {                                                          \
            int32_t av = (int32_t)a[k] - g->za;                                                    \
            asum += av;                                                                            \
            if (!av)                                                                               \
                continue;                                                                          \
            const BT *b = Bm + k * N;                                                              \
            for (int64_t j = n0; j < n1; j++)                                                      \
                c[j] += av * (int32_t)b[j];                                                        \
        }                                                                                          \
        for (int64_t j = n0; j < n1; j++)                                                          \
            c[j] -= asum * g->zb[g->zb_per_col ? j : 0];                                           \
    } while (0)

static void qgemm_rows_plain(const qg *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const int64_t K = g->K, N = g->N;
    for (int64_t i = m0; i < m1; i++) {
        const uint8_t *a = g->A + i * K;
        int32_t *c = g->C + i * N;
        if (g->b_signed)
            QG_ROW(int8_t);
        else
            QG_ROW(uint8_t);
    }
}

#ifdef NN_X86
__attribute__((target("avx2"))) static void qgemm_rows_avx2(const qg *g, int64_t m0, int64_t m1,
                                                            int64_t n0, int64_t n1) {
    const int64_t K = g->K, N = g->N;
    for (int64_t i = m0; i < m1; i++) {
        const uint8_t *a = g->A + i * K;
        int32_t *c = g->C + i * N;
        if (g->b_signed)
            QG_ROW(int8_t);
        else
            QG_ROW(uint8_t);
    }
}
#endif

static void qgemm_range(void *arg, int64_t r0, int64_t r1) {
    const qg *g = arg;
    int64_t m0 = 0, m1 = g->M, n0 = 0, n1 = g->N;
    if (g->by_cols) {
        n0 = r0 * 16;
        n1 = r1 * 16 < g->N ? r1 * 16 : g->N;
    } else {
        m0 = r0;
        m1 = r1;
    }
#ifdef NN_X86
    if (use_avx2()) {
        qgemm_rows_avx2(g, m0, m1, n0, n1);
        return;
    }
#endif
    qgemm_rows_plain(g, m0, m1, n0, n1);
}

void nn_qgemm(int64_t M, int64_t N, int64_t K, const uint8_t *A, int32_t za, const uint8_t *B,
              int b_signed, const int32_t *zb, int zb_per_col, int32_t *C, int nthreads) {
    if (M <= 0 || N <= 0)
        return;
    qg g = {M, N, K, A, B, za, b_signed, zb, zb_per_col, C, M < 4};
    int64_t units = g.by_cols ? (N + 15) / 16 : M;
    if ((double)M * (double)N * (double)K < 65536)
        nthreads = 1;
    nn_parallel(units, nthreads, qgemm_range, &g);
}

/* ---- packed integer ---------------------------------------------------------------------- */
nn_qpacked *nn_qpack(const uint8_t *B, int b_signed, int64_t K, int64_t N, const int32_t *zb,
                     int zb_per_col) {
    int64_t Kp = (K + 1) & ~(int64_t)1;
    size_t bytes = sizeof(nn_qpacked) + 64 + (size_t)(Kp * N) * sizeof(int16_t);
    nn_qpacked *P = malloc(bytes);
    if (!P)
        return NULL;
    P->K = K;
    P->N = N;
    P->Kp = Kp;
    P->w = (int16_t *)(((uintptr_t)(P + 1) + 63) & ~(uintptr_t)63);
    for (int64_t k = 0; k < Kp; k++)
        for (int64_t j = 0; j < N; j++) {
            int32_t v = 0;
            if (k < K)
                v = (b_signed ? (int32_t)((const int8_t *)B)[k * N + j] : (int32_t)B[k * N + j]) -
                    zb[zb_per_col ? j : 0];
            P->w[((k >> 1) * N + j) * 2 + (k & 1)] = (int16_t)v;
        }
    return P;
}

typedef struct qp {
    int64_t M;
    const int32_t *Ap; /* M x Kp/2 pairs */
    const nn_qpacked *P;
    int32_t *C;
    int by_cols;
} qp;

static void qp_plain(const qp *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    const int64_t N = g->P->N, K2 = g->P->Kp / 2;
    for (int64_t i = m0; i < m1; i++) {
        const int32_t *a = g->Ap + i * K2;
        int32_t *c = g->C + i * N;
        for (int64_t j = n0; j < n1; j++)
            c[j] = 0;
        for (int64_t kp = 0; kp < K2; kp++) {
            int32_t a0 = (int16_t)(a[kp] & 0xffff), a1 = (int16_t)((uint32_t)a[kp] >> 16);
            const int16_t *w = g->P->w + kp * N * 2;
            for (int64_t j = n0; j < n1; j++)
                c[j] += a0 * w[2 * j] + a1 * w[2 * j + 1];
        }
    }
}

#ifdef NN_X86
__attribute__((target("avx2"))) static void qp_avx2(const qp *g, int64_t m0, int64_t m1, int64_t n0,
                                                    int64_t n1) {
    const int64_t N = g->P->N, K2 = g->P->Kp / 2;
    const int16_t *W = g->P->w;
    int64_t i = m0;
    for (; i + 4 <= m1; i += 4) {
        const int32_t *a0 = g->Ap + i * K2, *a1 = a0 + K2, *a2 = a1 + K2, *a3 = a2 + K2;
        int64_t j = n0;
        for (; j + 16 <= n1; j += 16) {
            __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
                    c21 = c00, c30 = c00, c31 = c00;
            const int16_t *w = W + j * 2;
            for (int64_t kp = 0; kp < K2; kp++, w += N * 2) {
                __m256i b0 = _mm256_loadu_si256((const __m256i *)w);
                __m256i b1 = _mm256_loadu_si256((const __m256i *)(w + 16));
                __m256i x = _mm256_set1_epi32(a0[kp]);
                c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, b0));
                c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, b1));
                x = _mm256_set1_epi32(a1[kp]);
                c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, b0));
                c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, b1));
                x = _mm256_set1_epi32(a2[kp]);
                c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, b0));
                c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, b1));
                x = _mm256_set1_epi32(a3[kp]);
                c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, b0));
                c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, b1));
            }
            int32_t *c = g->C + i * N + j;
            _mm256_storeu_si256((__m256i *)c, c00);
            _mm256_storeu_si256((__m256i *)(c + 8), c01);
            _mm256_storeu_si256((__m256i *)(c + N), c10);
            _mm256_storeu_si256((__m256i *)(c + N + 8), c11);
            _mm256_storeu_si256((__m256i *)(c + 2 * N), c20);
            _mm256_storeu_si256((__m256i *)(c + 2 * N + 8), c21);
            _mm256_storeu_si256((__m256i *)(c + 3 * N), c30);
            _mm256_storeu_si256((__m256i *)(c + 3 * N + 8), c31);
        }
        if (j < n1)
            qp_plain(g, i, i + 4, j, n1);
    }
    for (; i < m1; i++) {
        const int32_t *a = g->Ap + i * K2;
        int64_t j = n0;
        for (; j + 32 <= n1; j += 32) {
            __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
            const int16_t *w = W + j * 2;
            for (int64_t kp = 0; kp < K2; kp++, w += N * 2) {
                __m256i x = _mm256_set1_epi32(a[kp]);
                c0 = _mm256_add_epi32(c0,
                                      _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)w)));
                c1 = _mm256_add_epi32(
                    c1, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(w + 16))));
                c2 = _mm256_add_epi32(
                    c2, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(w + 32))));
                c3 = _mm256_add_epi32(
                    c3, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(w + 48))));
            }
            int32_t *c = g->C + i * N + j;
            _mm256_storeu_si256((__m256i *)c, c0);
            _mm256_storeu_si256((__m256i *)(c + 8), c1);
            _mm256_storeu_si256((__m256i *)(c + 16), c2);
            _mm256_storeu_si256((__m256i *)(c + 24), c3);
        }
        if (j < n1)
            qp_plain(g, i, i + 1, j, n1);
    }
}
#endif

static void qp_range(void *arg, int64_t r0, int64_t r1) {
    const qp *g = arg;
    int64_t m0 = 0, m1 = g->M, n0 = 0, n1 = g->P->N;
    if (g->by_cols) {
        n0 = r0 * 32;
        n1 = r1 * 32 < g->P->N ? r1 * 32 : g->P->N;
    } else {
        m0 = r0 * 4;
        m1 = r1 * 4 < g->M ? r1 * 4 : g->M;
    }
#ifdef NN_X86
    if (use_avx2()) {
        qp_avx2(g, m0, m1, n0, n1);
        return;
    }
#endif
    qp_plain(g, m0, m1, n0, n1);
}

void nn_qgemm_packed(int64_t M, const uint8_t *A, int32_t za, const nn_qpacked *P, int32_t *C,
                     int32_t *scratch, int nthreads) {
    if (M <= 0 || P->N <= 0)
        return;
    const int64_t K = P->K, K2 = P->Kp / 2;
    /* A - za as int16 pairs */
    for (int64_t i = 0; i < M; i++) {
        const uint8_t *a = A + i * K;
        int32_t *o = scratch + i * K2;
        for (int64_t kp = 0; kp < K2; kp++) {
            int32_t lo = (int32_t)a[2 * kp] - za;
            int32_t hi = 2 * kp + 1 < K ? (int32_t)a[2 * kp + 1] - za : 0;
            o[kp] = (int32_t)(((uint32_t)(uint16_t)(int16_t)lo) |
                              ((uint32_t)(uint16_t)(int16_t)hi << 16));
        }
    }
    qp g = {M, scratch, P, C, M < 8};
    int64_t units = g.by_cols ? (P->N + 31) / 32 : (M + 3) / 4;
    if ((double)M * (double)P->N * (double)K < 65536)
        nthreads = 1;
    nn_parallel(units, nthreads, qp_range, &g);
}

/* ---- float x dequantised weights ----------------------------------------------------------- */
typedef struct dqj {
    int64_t M;
    const float *A;
    const nn_dqmat *B;
    float *C;
} dqj;

static void dq_plain(const dqj *g, int64_t n0, int64_t n1) {
    const nn_dqmat *B = g->B;
    for (int64_t i = 0; i < g->M; i++) {
        const float *a = g->A + i * B->K;
        float *c = g->C + i * B->N;
        for (int64_t j = n0; j < n1; j++)
            c[j] = 0;
        for (int64_t k = 0; k < B->K; k++) {
            const uint8_t *q = B->q + k * B->N;
            for (int64_t j = n0; j < n1; j++) {
                int32_t v = B->is_signed ? (int32_t)(int8_t)q[j] : (int32_t)q[j];
                c[j] = fmaf(a[k], (float)(v - B->zp) * B->scale, c[j]);
            }
        }
    }
}

#ifdef NN_X86
__attribute__((target("avx2,fma"))) static void dq_avx2(const dqj *g, int64_t n0, int64_t n1) {
    const nn_dqmat *B = g->B;
    const __m256 sc = _mm256_set1_ps(B->scale);
    const __m256i zp = _mm256_set1_epi32(B->zp);
    int64_t j = n0;
    for (; j + 32 <= n1; j += 32)
        for (int64_t i = 0; i < g->M; i++) {
            const float *a = g->A + i * B->K;
            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            const uint8_t *q = B->q + j;
            for (int64_t k = 0; k < B->K; k++, q += B->N) {
                __m256i raw = _mm256_loadu_si256((const __m256i *)q);
                __m128i lo = _mm256_castsi256_si128(raw), hi = _mm256_extracti128_si256(raw, 1);
                __m256i v0, v1, v2, v3;
                if (B->is_signed) {
                    v0 = _mm256_cvtepi8_epi32(lo);
                    v1 = _mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8));
                    v2 = _mm256_cvtepi8_epi32(hi);
                    v3 = _mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8));
                } else {
                    v0 = _mm256_cvtepu8_epi32(lo);
                    v1 = _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8));
                    v2 = _mm256_cvtepu8_epi32(hi);
                    v3 = _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8));
                }
                __m256 x = _mm256_broadcast_ss(a + k);
                c0 = _mm256_fmadd_ps(
                    x, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v0, zp)), sc), c0);
                c1 = _mm256_fmadd_ps(
                    x, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v1, zp)), sc), c1);
                c2 = _mm256_fmadd_ps(
                    x, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v2, zp)), sc), c2);
                c3 = _mm256_fmadd_ps(
                    x, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v3, zp)), sc), c3);
            }
            float *c = g->C + i * B->N + j;
            _mm256_storeu_ps(c, c0);
            _mm256_storeu_ps(c + 8, c1);
            _mm256_storeu_ps(c + 16, c2);
            _mm256_storeu_ps(c + 24, c3);
        }
    if (j < n1)
        dq_plain(g, j, n1);
}
#endif

static void dq_range(void *arg, int64_t r0, int64_t r1) {
    const dqj *g = arg;
    int64_t n0 = r0 * 32, n1 = r1 * 32 < g->B->N ? r1 * 32 : g->B->N;
#ifdef NN_X86
    if (use_avx2()) {
        dq_avx2(g, n0, n1);
        return;
    }
#endif
    dq_plain(g, n0, n1);
}

void nn_sgemm_dq(int64_t M, const float *A, const nn_dqmat *B, float *C, int nthreads) {
    dqj g = {M, A, B, C};
    if (M <= 0 || B->N <= 0)
        return;
    nn_parallel((B->N + 31) / 32, nthreads, dq_range, &g);
}
