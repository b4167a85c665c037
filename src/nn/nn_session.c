/*
 * nn_session.c — runs an nn_model. A session holds one tensor per model value and a pool of
 * buffers: a node's outputs take buffers from the pool, and the plan computed at load
 * (nn_graph.last_use) gives each intermediate back right after its last reader ran, so peak
 * memory follows the live set, not the whole graph, and a second run of the same shapes
 * finds every buffer it needs in the pool. Constants are borrowed from the model; inputs are
 * filled by the caller. `If` runs the chosen branch (a subgraph over the same value table)
 * and moves the branch outputs into its own.
 */
#include "nn/nn_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pool_buf {
    void *p;
    size_t cap;
    int busy;
} pool_buf;

typedef struct nn_pool {
    pool_buf *b;
    int n, cap;
    size_t bytes, allocs;
} nn_pool;

enum { V_POOL = 0, V_INPUT = 1, V_CONST = 2 };

struct nn_session {
    const nn_model *m;
    nn_tensor *vals;
    unsigned char *kind;
    nn_pool pool;
    int nthreads;
    int keep_all;
    double *prof; /* STEPD_NN_PROFILE=1: seconds per kernel id, printed at free */
    long *prof_n;
};

static double now_s(void) { /* CPU time of this thread: meaningful on a loaded machine */
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void nn_session_keep_all(nn_session *s, int on) {
    s->keep_all = on;
}
const nn_tensor *nn_session_value(nn_session *s, int id) {
    return id >= 0 && id < s->m->nvals ? &s->vals[id] : NULL;
}

static void *pool_get(nn_pool *p, size_t bytes, size_t *cap_out) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
        if (!p->b[i].busy && p->b[i].cap >= bytes && (best < 0 || p->b[i].cap < p->b[best].cap))
            best = i;
    if (best >= 0) {
        p->b[best].busy = 1;
        *cap_out = p->b[best].cap;
        return p->b[best].p;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        pool_buf *b = realloc(p->b, (size_t)cap * sizeof *b);
        if (!b)
            return NULL;
        p->b = b;
        p->cap = cap;
    }
    /* new buffers come in size classes, four per octave: a tensor that grows a little per
     * run (a decoder's KV cache, one token per step) keeps fitting the buffer it had, and
     * the next run of the same shapes meets the same classes. The slack is at most a
     * quarter and mostly never touched (not resident). */
    size_t cap = 64;
    while (cap < bytes)
        cap *= 2;
    size_t step = cap / 8 >= 64 ? cap / 8 : 64; /* multiples of 64 (aligned_alloc needs it) */
    while (cap - step >= bytes && cap - step >= 64)
        cap -= step;
    void *mem = nn_mem_alloc(cap);
    if (!mem)
        return NULL;
    p->b[p->n++] = (pool_buf){mem, cap, 1};
    p->bytes += cap;
    p->allocs++;
    *cap_out = cap;
    return mem;
}

static int pool_find(const nn_pool *p, const void *mem) {
    for (int i = p->n - 1; i >= 0; i--)
        if (p->b[i].p == mem)
            return i;
    return -1;
}

static void pool_put(nn_pool *p, void *mem) {
    int i = pool_find(p, mem);
    if (i >= 0)
        p->b[i].busy = 0;
}

/* The buffer leaves the pool (its new owner frees it). */
static void pool_detach(nn_pool *p, void *mem) {
    int i = pool_find(p, mem);
    if (i < 0)
        return;
    p->bytes -= p->b[i].cap;
    p->b[i] = p->b[--p->n];
}

/* A buffer from outside (nn_mem_alloc'ed, `cap` bytes) joins the pool, free. */
static int pool_adopt(nn_pool *p, void *mem, size_t cap) {
    if (p->n == p->cap) {
        int c = p->cap ? p->cap * 2 : 64;
        pool_buf *b = realloc(p->b, (size_t)c * sizeof *b);
        if (!b)
            return STEP_ENOMEM;
        p->b = b;
        p->cap = c;
    }
    p->b[p->n++] = (pool_buf){mem, cap, 0};
    p->bytes += cap;
    return 0;
}

int nn_kout(nn_kctx *k, nn_tensor *t, nn_dtype dtype, int ndim, const int64_t *dims) {
    if (!k->pool) {
        int rc = nn_tensor_alloc(t, dtype, ndim, dims);
        if (rc == STEP_EINVAL) {
            char b[128];
            return nn_kfail(k, rc, "output shape %s is invalid",
                            nn_shape_str(ndim, dims, b, sizeof b));
        }
        return rc < 0 ? nn_kfail(k, rc, "out of memory") : 0;
    }
    if (ndim < 0 || ndim > NN_MAXDIM)
        return nn_kfail(k, STEP_EINVAL, "output rank %d", ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] && n > ((int64_t)1 << 31) / dims[i])) {
            char b[128];
            return nn_kfail(k, STEP_EINVAL, "output shape %s is invalid",
                            nn_shape_str(ndim, dims, b, sizeof b));
        }
        n *= dims[i];
    }
    size_t bytes = (size_t)n * nn_dtype_size(dtype);
    if (t->data && t->cap >= bytes) {
        /* already has a pool buffer big enough (kernels that re-shape their output) */
    } else {
        if (t->data)
            pool_put(k->pool, t->data);
        size_t cap;
        t->data = pool_get(k->pool, bytes, &cap);
        if (!t->data) {
            t->cap = 0;
            return nn_kfail(k, STEP_ENOMEM, "out of memory (%zu bytes)", bytes);
        }
        t->cap = cap;
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    return 0;
}

void nn_kscratch_done(nn_kctx *k, nn_tensor *t) {
    if (!k->pool)
        nn_tensor_free(t);
    else if (t->data)
        pool_put(k->pool, t->data);
    memset(t, 0, sizeof *t);
}

int nn_kfail(nn_kctx *k, int code, const char *fmt, ...) {
    if (k->err && !*k->err) {
        char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
        nn_fail(k->err, code, "node '%s' (%s): %s", k->name ? k->name : "", k->op,
                msg ? msg : "failed");
        free(msg);
    }
    return code;
}

static void release(nn_session *s, int id) {
    if (id < 0 || s->kind[id] != V_POOL)
        return;
    nn_tensor *t = &s->vals[id];
    if (t->data)
        pool_put(&s->pool, t->data);
    t->data = NULL;
    t->cap = 0;
    t->ndim = 0;
    t->dtype = NN_UNDEF;
}

int nn_session_new(const nn_model *m, int nthreads, nn_session **out, char **err) {
    *out = NULL;
    nn_session *s = calloc(1, sizeof *s);
    if (!s)
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    s->m = m;
    s->vals = calloc((size_t)m->nvals + 1, sizeof *s->vals);
    s->kind = calloc((size_t)m->nvals + 1, 1);
    if (!s->vals || !s->kind) {
        nn_session_free(s);
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    for (int i = 0; i < m->nvals; i++)
        if (m->vals[i].is_const) {
            s->kind[i] = V_CONST;
            s->vals[i] = m->vals[i].init;
            s->vals[i].cap = 0; /* borrowed */
        }
    for (int i = 0; i < m->main.nin; i++)
        s->kind[m->main.inputs[i]] = V_INPUT;
    if (nthreads <= 0) {
        const char *e = getenv("STEPD_NN_THREADS");
        nthreads = e && atoi(e) > 0 ? atoi(e) : 2;
    }
    s->nthreads = nthreads > 64 ? 64 : nthreads;
    const char *pe = getenv("STEPD_NN_PROFILE");
    if (pe && *pe == '1') {
        s->prof = calloc(128, sizeof *s->prof);
        s->prof_n = calloc(128, sizeof *s->prof_n);
    }
    *out = s;
    return 0;
}

void nn_session_free(nn_session *s) {
    if (!s)
        return;
    if (s->prof) {
        for (int i = 0; i < 128; i++)
            if (s->prof_n[i] && nn_kernel_get(i))
                fprintf(stderr, "nn profile: %-24s %8ld calls %10.3f ms\n", nn_kernel_get(i)->op,
                        s->prof_n[i], s->prof[i] * 1e3);
        fprintf(stderr, "nn profile: pool %zu bytes in %d buffers; over 1 MB:", s->pool.bytes,
                s->pool.n);
        for (int i = 0; i < s->pool.n; i++)
            if (s->pool.b[i].cap > (1 << 20))
                fprintf(stderr, " %.1f", (double)s->pool.b[i].cap / (1 << 20));
        fprintf(stderr, "\n");
        free(s->prof);
        free(s->prof_n);
    }
    if (s->vals)
        for (int i = 0; i < s->m->nvals; i++)
            if (s->kind[i] == V_INPUT)
                nn_tensor_free(&s->vals[i]);
    for (int i = 0; i < s->pool.n; i++)
        nn_mem_free(s->pool.b[i].p, s->pool.b[i].cap);
    free(s->pool.b);
    free(s->vals);
    free(s->kind);
    free(s);
}

static int find_io(const nn_session *s, const char *name, const int *ids, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s->m->vals[ids[i]].name, name))
            return ids[i];
    return -1;
}

nn_tensor *nn_session_input(nn_session *s, const char *name) {
    int id = find_io(s, name, s->m->main.inputs, s->m->main.nin);
    return id < 0 ? NULL : &s->vals[id];
}

const nn_tensor *nn_session_output(nn_session *s, const char *name) {
    int id = find_io(s, name, s->m->main.outputs, s->m->main.nout);
    return id < 0 ? NULL : &s->vals[id];
}

void nn_session_recycle(nn_session *s, nn_tensor *t) {
    if (t->data && t->cap && pool_adopt(&s->pool, t->data, t->cap) == 0) {
        t->data = NULL;
        t->cap = 0;
    }
    nn_tensor_free(t);
}

int nn_session_take(nn_session *s, const char *name, nn_tensor *dst) {
    int id = find_io(s, name, s->m->main.outputs, s->m->main.nout);
    if (id < 0)
        return STEP_ENOTFOUND;
    nn_tensor *t = &s->vals[id];
    if (s->kind[id] != V_POOL || !t->data) {
        nn_tensor_free(dst);
        return nn_tensor_copy(dst, t);
    }
    /* an exchange: the output's buffer leaves the pool, dst's old one joins it, so a loop
     * that feeds outputs back as inputs (a decoder's KV cache) stops allocating once the
     * pool holds buffers of the sizes it cycles through */
    if (dst->data && dst->cap && pool_adopt(&s->pool, dst->data, dst->cap) == 0)
        memset(dst, 0, sizeof *dst);
    else
        nn_tensor_free(dst);
    pool_detach(&s->pool, t->data);
    *dst = *t;
    t->data = NULL;
    t->cap = 0;
    return 0;
}

size_t nn_session_pool_bytes(const nn_session *s) {
    return s->pool.bytes;
}
size_t nn_session_pool_allocs(const nn_session *s) {
    return s->pool.allocs;
}

static int run_graph(nn_session *s, const nn_graph *g, char **err, int depth);

static int run_if(nn_session *s, const nn_node *n, nn_kctx *k, int depth) {
    if (n->nin < 1 || n->in[0] < 0)
        return nn_kfail(k, STEP_EINVAL, "no condition input");
    const nn_tensor *c = &s->vals[n->in[0]];
    if (nn_tensor_numel(c) != 1 || !c->data)
        return nn_kfail(k, STEP_EINVAL, "condition must have one element");
    int cond = nn_get_i(c, 0) != 0;
    const nn_graph *g = NULL;
    for (int a = 0; a < n->nattr; a++)
        if (n->attrs[a].g && !strcmp(n->attrs[a].name, cond ? "then_branch" : "else_branch"))
            g = n->attrs[a].g;
    if (!g)
        return nn_kfail(k, STEP_EPARSE, "no %s", cond ? "then_branch" : "else_branch");
    if (g->nout != n->nout)
        return nn_kfail(k, STEP_EPARSE, "branch has %d outputs, node %d", g->nout, n->nout);
    int rc = run_graph(s, g, k->err, depth + 1);
    if (rc < 0)
        return rc;
    for (int j = 0; j < n->nout; j++) {
        int src = g->outputs[j], dst = n->out[j];
        if (dst < 0)
            continue;
        nn_tensor *st = &s->vals[src], *dt = &s->vals[dst];
        /* branch-local result: move it; outer value or constant: copy */
        int local = s->kind[src] == V_POOL;
        for (int c2 = 0; local && c2 < g->ncaptured; c2++)
            local = g->captured[c2] != src;
        if (local) {
            *dt = *st;
            memset(st, 0, sizeof *st);
        } else {
            if ((rc = nn_kout(k, dt, st->dtype, st->ndim, st->dims)) < 0)
                return rc;
            size_t bytes = (size_t)nn_tensor_numel(st) * nn_dtype_size(st->dtype);
            if (bytes)
                memcpy(dt->data, st->data, bytes);
        }
    }
    return 0;
}

static int run_graph(nn_session *s, const nn_graph *g, char **err, int depth) {
    const nn_tensor *ins[64];
    nn_tensor *outs[64];
    if (depth > 8)
        return nn_fail(err, STEP_EINVAL, "subgraphs nested too deep");
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        nn_kctx k = {n->op, n->name, n->attrs, n->nattr, &s->pool, s->nthreads, err, n->prep};
        if (n->folded || n->fused)
            continue;
        if (n->nin > 64 || n->nout > 64)
            return nn_kfail(&k, STEP_EUNSUPPORTED, "more than 64 inputs or outputs");
        for (int j = 0; j < n->nout; j++)
            if (n->out[j] >= 0)
                release(s, n->out[j]);
        int rc;
        if (!strcmp(n->op, "If")) {
            rc = run_if(s, n, &k, depth);
        } else {
            const nn_kernel *kn = nn_kernel_get(n->op_id);
            if (!kn)
                return nn_kfail(&k, STEP_EUNSUPPORTED, "no kernel for this op");
            int nin = n->nin;
            while (nin > 0 && n->in[nin - 1] < 0)
                nin--; /* trailing omitted optionals */
            if (nin < kn->min_in || nin > kn->max_in || n->nout > kn->nout_max || n->nout < 1)
                return nn_kfail(&k, STEP_EINVAL, "%d inputs / %d outputs (expects %d..%d / <= %d)",
                                nin, n->nout, kn->min_in, kn->max_in, kn->nout_max);
            static nn_tensor none; /* an omitted optional input reads as an empty tensor */
            for (int j = 0; j < nin; j++) {
                ins[j] = n->in[j] >= 0 ? &s->vals[n->in[j]] : &none;
                if (n->in[j] >= 0 && !ins[j]->data && nn_tensor_numel(ins[j]) &&
                    s->kind[n->in[j]] != V_CONST)
                    return nn_kfail(&k, STEP_EINVAL, "input '%s' has no value (not set?)",
                                    s->m->vals[n->in[j]].name);
            }
            nn_tensor scratch[4] = {0}; /* omitted outputs still get computed, then dropped */
            for (int j = 0; j < n->nout; j++)
                outs[j] = n->out[j] >= 0 ? &s->vals[n->out[j]] : &scratch[j & 3];
            /* in place: input 0 dies here, so output 0 may take its buffer (nn_kout keeps a
             * buffer that is big enough, returns a smaller one to the pool) */
            int donor = -1;
            if (kn->inplace && nin > 0 && n->in[0] >= 0 && n->out[0] >= 0 &&
                s->kind[n->in[0]] == V_POOL && !s->keep_all && s->vals[n->in[0]].data &&
                !s->vals[n->out[0]].data)
                for (int u = g->last_use_off[i]; u < g->last_use_off[i + 1]; u++)
                    if (g->last_use[u] == n->in[0]) {
                        donor = n->in[0];
                        s->vals[n->out[0]].data = s->vals[donor].data;
                        s->vals[n->out[0]].cap = s->vals[donor].cap;
                    }
            double t0 = s->prof ? now_s() : 0;
            rc = kn->fn(&k, ins, nin, outs, n->nout);
            if (donor >= 0) {
                /* the buffer now belongs to the output (or went back to the pool in nn_kout) */
                s->vals[donor].data = NULL;
                s->vals[donor].cap = 0;
            }
            if (s->prof && n->op_id < 128) {
                s->prof[n->op_id] += now_s() - t0;
                s->prof_n[n->op_id]++;
            }
            for (int j = 0; j < 4; j++)
                if (scratch[j].data)
                    pool_put(&s->pool, scratch[j].data);
        }
        if (rc < 0)
            return rc;
        for (int u = g->last_use_off[i]; u < g->last_use_off[i + 1] && !s->keep_all; u++)
            release(s, g->last_use[u]);
    }
    return 0;
}

int nn_session_run(nn_session *s, char **err) {
    const nn_model *m = s->m;
    for (int i = 0; i < m->nvals; i++)
        if (s->kind[i] == V_POOL)
            release(s, i);
    for (int i = 0; i < m->main.nin; i++) {
        const nn_value *v = &m->vals[m->main.inputs[i]];
        const nn_tensor *t = &s->vals[m->main.inputs[i]];
        if (!t->data && !(t->ndim > 0 && nn_tensor_numel(t) == 0))
            return nn_fail(err, STEP_EINVAL, "input '%s' was not set", v->name);
        if (v->dtype && t->dtype != v->dtype)
            return nn_fail(err, STEP_EINVAL, "input '%s' is %s, the model expects %s", v->name,
                           nn_dtype_name(t->dtype), nn_dtype_name(v->dtype));
        if (v->ndim >= 0) {
            int ok = t->ndim == v->ndim;
            for (int d = 0; ok && d < v->ndim; d++)
                ok = v->dims[d] < 0 || v->dims[d] == t->dims[d];
            if (!ok) {
                char a[128], b[128];
                return nn_fail(err, STEP_EINVAL, "input '%s' has shape %s, the model expects %s",
                               v->name, nn_shape_str(t->ndim, t->dims, a, sizeof a),
                               nn_shape_str(v->ndim, v->dims, b, sizeof b));
            }
        }
    }
    return run_graph(s, &m->main, err, 0);
}

int nn_op_run(const char *op, const nn_attr *attrs, int nattr, const nn_tensor *const *ins, int nin,
              nn_tensor *outs, int nout, char **err) {
    int id = nn_op_lookup(op);
    const nn_kernel *kn = nn_kernel_get(id);
    if (!kn)
        return nn_fail(err, STEP_EUNSUPPORTED, "op %s is not supported", op);
    nn_kctx k = {op, op, attrs, nattr, NULL, 2, err};
    if (nin < kn->min_in || nin > kn->max_in || nout > kn->nout_max || nout > 64 || nout < 1)
        return nn_kfail(&k, STEP_EINVAL, "%d inputs / %d outputs", nin, nout);
    nn_tensor *o[64];
    for (int j = 0; j < nout; j++)
        o[j] = &outs[j];
    return kn->fn(&k, ins, nin, o, nout);
}
