/*
 * nn_fold.c — constant folding at load. Quantised models store weights as uint8 and
 * dequantise (and often transpose) them in the graph; run naively that is redone on every
 * inference (for Moonshine's decoder: the 32768 x 288 embedding, every token). Here every
 * node whose inputs are all constants runs once through its kernel and its outputs become
 * constants; then constants that no remaining node (or graph output) reads are freed.
 * Results larger than FOLD_MAX elements are left to run time.
 */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

#define FOLD_MAX ((int64_t)64 << 20)

/* Folded nodes so far: a node identical to one of them (If branches often repeat the same
 * weight preparation) shares its results instead of holding a second copy. */
typedef struct fold_state {
    const nn_node **done;
    int n, cap;
    int *alias;             /* per value: the value whose data it borrows, or -1 */
    unsigned char *mm_only; /* per value: read only as MatMul's B (never a graph output) */
    nn_dqmat **dq;          /* per value: kept-quantised weights (virtual constant) */
    const nn_node **packed; /* nodes with prepared (packed) weights, shared by their twins */
    int npacked, cap_packed;
} fold_state;

#define DQ_MIN ((int64_t)1 << 20) /* elements: smaller weights are simply folded */

static void scan_uses(const nn_graph *g, unsigned char *mm_only) {
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g)
                scan_uses(n->attrs[a].g, mm_only);
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0 && !(j == 1 && !strcmp(n->op, "MatMul")))
                mm_only[n->in[j]] = 0;
    }
    for (int i = 0; i < g->nout; i++)
        mm_only[g->outputs[i]] = 0;
}

/* A DequantizeLinear of big constant 8-bit weights read only by MatMuls: keep the 8-bit data
 * and let MatMul dequantise on the fly (4x less memory and memory traffic). */
static int keep_quantised(nn_model *m, nn_node *n, fold_state *st) {
    if (strcmp(n->op, "DequantizeLinear") || n->nout != 1 || n->out[0] < 0 ||
        !st->mm_only[n->out[0]])
        return 0;
    const nn_value *x = &m->vals[n->in[0]], *s = &m->vals[n->in[1]];
    const nn_value *z = n->nin > 2 && n->in[2] >= 0 ? &m->vals[n->in[2]] : NULL;
    if (!x->is_const || !x->init.data || x->init.ndim != 2 ||
        (x->init.dtype != NN_U8 && x->init.dtype != NN_I8) || nn_tensor_numel(&x->init) < DQ_MIN ||
        !s->is_const || !s->init.data || s->init.dtype != NN_F32 ||
        nn_tensor_numel(&s->init) != 1 ||
        (z && (!z->is_const || !z->init.data || nn_tensor_numel(&z->init) != 1)))
        return 0;
    nn_dqmat *d = malloc(sizeof *d);
    if (!d)
        return STEP_ENOMEM;
    *d = (nn_dqmat){x->init.dims[0],
                    x->init.dims[1],
                    x->init.data,
                    x->init.dtype == NN_I8,
                    *(const float *)s->init.data,
                    z ? (int32_t)nn_get_i(&z->init, 0) : 0,
                    n->in[0]};
    nn_value *v = &m->vals[n->out[0]];
    v->is_const = 1; /* virtual: shape only, the MatMuls read d */
    memset(&v->init, 0, sizeof v->init);
    v->init.dtype = NN_F32;
    v->init.ndim = 2;
    v->init.dims[0] = d->K;
    v->init.dims[1] = d->N;
    v->dtype = NN_F32;
    v->ndim = 2;
    v->dims[0] = d->K;
    v->dims[1] = d->N;
    st->dq[n->out[0]] = d;
    n->folded = 1;
    return 1;
}

static int same_attrs(const nn_node *a, const nn_node *b) {
    if (a->nattr != b->nattr)
        return 0;
    for (int i = 0; i < a->nattr; i++) {
        const nn_attr *x = &a->attrs[i], *y = &b->attrs[i];
        if (x->g || y->g || x->t.data || y->t.data || strcmp(x->name, y->name) ||
            x->type != y->type || x->i != y->i || x->f != y->f || x->n != y->n ||
            (!x->s) != (!y->s) || (x->s && strcmp(x->s, y->s)) ||
            (x->ints && memcmp(x->ints, y->ints, (size_t)x->n * 8)) ||
            (x->floats && memcmp(x->floats, y->floats, (size_t)x->n * 4)))
            return 0;
    }
    return 1;
}

static int resolve(const fold_state *st, int id) {
    return id >= 0 && st->alias[id] >= 0 ? st->alias[id] : id;
}

static const nn_node *find_twin(const fold_state *st, const nn_node *n) {
    for (int i = 0; i < st->n; i++) {
        const nn_node *d = st->done[i];
        if (d->nin != n->nin || d->nout != n->nout || strcmp(d->op, n->op) || !same_attrs(d, n))
            continue;
        int same = 1;
        for (int j = 0; j < n->nin && same; j++)
            same = resolve(st, d->in[j]) == resolve(st, n->in[j]);
        if (same)
            return d;
    }
    return NULL;
}

/* Packs a node's constant weights once per distinct (op, weights, zero points): the two
 * branches of a merged decoder read the same initializers, and each packing is twice the
 * size of the 8-bit weights. */
static int prepare_or_share(nn_model *m, nn_node *n, fold_state *st, char **err) {
    for (int i = 0; i < st->npacked && !n->prep; i++) {
        const nn_node *d = st->packed[i];
        int same = !strcmp(d->op, n->op) && d->nin == n->nin;
        for (int j = 1; same && j < n->nin; j += 2) /* B (1) and its zero point (3) */
            same = resolve(st, d->in[j]) == resolve(st, n->in[j]);
        if (same) {
            n->prep = d->prep;
            n->prep_shared = 1;
            return 0;
        }
    }
    if (n->prep)
        return 0;
    int rc = nn_prepare_node(m, n, err);
    if (rc < 0 || !n->prep)
        return rc;
    if (st->npacked == st->cap_packed) {
        int cap = st->cap_packed ? st->cap_packed * 2 : 64;
        const nn_node **p = realloc(st->packed, (size_t)cap * sizeof *p);
        if (!p)
            return nn_fail(err, STEP_ENOMEM, "out of memory");
        st->packed = p;
        st->cap_packed = cap;
    }
    st->packed[st->npacked++] = n;
    return 0;
}

static int fold_graph(nn_model *m, nn_graph *g, fold_state *st, char **err) {
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g) {
                int rc = fold_graph(m, n->attrs[a].g, st, err);
                if (rc < 0)
                    return rc;
            }
        if (!n->folded && !strcmp(n->op, "MatMul") && n->nin == 2 && n->in[1] >= 0 &&
            st->dq[n->in[1]] && !n->prep) {
            n->prep = malloc(sizeof(nn_dqmat));
            if (!n->prep)
                return nn_fail(err, STEP_ENOMEM, "out of memory");
            memcpy(n->prep, st->dq[n->in[1]], sizeof(nn_dqmat));
            continue;
        }
        if (n->folded || n->op_id < 0 || !strcmp(n->op, "If") || n->nout > 4 || n->nin > 16)
            continue;
        int rc0 = keep_quantised(m, n, st);
        if (rc0 < 0)
            return nn_fail(err, rc0, "out of memory");
        if (rc0 > 0)
            continue;
        if ((rc0 = prepare_or_share(m, n, st, err)) < 0)
            return rc0;
        int all = 1;
        const nn_tensor *ins[16];
        for (int j = 0; j < n->nin && all; j++) {
            if (n->in[j] < 0) {
                static nn_tensor none;
                ins[j] = &none;
                continue;
            }
            all = m->vals[n->in[j]].is_const;
            ins[j] = &m->vals[n->in[j]].init;
        }
        for (int j = 0; j < n->nout && all; j++)
            all = n->out[j] >= 0;
        if (!all)
            continue;
        const nn_node *twin = find_twin(st, n);
        if (twin) {
            for (int j = 0; j < n->nout; j++) {
                nn_value *v = &m->vals[n->out[j]], *src = &m->vals[twin->out[j]];
                v->is_const = 1;
                v->init = src->init;
                v->init.cap = 0; /* borrowed from the twin's output */
                v->dtype = src->dtype;
                v->ndim = src->ndim;
                memcpy(v->dims, src->dims, sizeof v->dims);
                st->alias[n->out[j]] = resolve(st, twin->out[j]);
            }
            n->folded = 1;
            continue;
        }
        int nin = n->nin;
        while (nin > 0 && n->in[nin - 1] < 0)
            nin--;
        nn_tensor outs[4] = {0};
        char *e = NULL;
        int rc = nn_op_run(n->op, n->attrs, n->nattr, ins, nin, outs, n->nout, &e);
        int big = 0;
        for (int j = 0; j < n->nout && rc == 0; j++)
            big |= nn_tensor_numel(&outs[j]) > FOLD_MAX;
        if (rc < 0 || big) {
            /* leave it to run time, where the same error (if any) names the node */
            free(e);
            for (int j = 0; j < n->nout; j++)
                nn_tensor_free(&outs[j]);
            if (rc == STEP_ENOMEM)
                return nn_fail(err, rc, "out of memory folding constants");
            continue;
        }
        for (int j = 0; j < n->nout; j++) {
            nn_value *v = &m->vals[n->out[j]];
            v->is_const = 1;
            v->init = outs[j];
            v->dtype = outs[j].dtype;
            v->ndim = outs[j].ndim;
            memcpy(v->dims, outs[j].dims, sizeof v->dims);
        }
        n->folded = 1;
        if (st->n == st->cap) {
            int cap = st->cap ? st->cap * 2 : 64;
            const nn_node **d = realloc(st->done, (size_t)cap * sizeof *d);
            if (!d)
                return nn_fail(err, STEP_ENOMEM, "out of memory folding constants");
            st->done = d;
            st->cap = cap;
        }
        st->done[st->n++] = n;
    }
    return 0;
}

static void mark_used(const nn_graph *g, unsigned char *used) {
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g)
                mark_used(n->attrs[a].g, used);
        if (n->folded)
            continue;
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0 && !(j == 1 && n->prep)) /* packed weights replace input 1 */
                used[n->in[j]] = 1;
        if (n->prep && !strcmp(n->op, "MatMul")) /* kept-quantised weights: their 8-bit data */
            used[((const nn_dqmat *)n->prep)->src] = 1;
    }
    for (int i = 0; i < g->nout; i++)
        used[g->outputs[i]] = 1;
}

int nn_model_fold(nn_model *m, char **err) {
    fold_state st = {0};
    st.alias = malloc(((size_t)m->nvals + 1) * sizeof *st.alias);
    if (!st.alias)
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    st.mm_only = malloc((size_t)m->nvals + 1);
    st.dq = calloc((size_t)m->nvals + 1, sizeof *st.dq);
    if (!st.mm_only || !st.dq) {
        free(st.alias);
        free(st.mm_only);
        free(st.dq);
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    for (int i = 0; i < m->nvals; i++) {
        st.alias[i] = -1;
        st.mm_only[i] = 1;
    }
    scan_uses(&m->main, st.mm_only);
    int rc = fold_graph(m, &m->main, &st, err);
    free(st.done);
    free(st.packed);
    for (int i = 0; i < m->nvals; i++)
        free(st.dq[i]);
    free(st.dq);
    free(st.mm_only);
    unsigned char *used = rc < 0 ? NULL : calloc((size_t)m->nvals + 1, 1);
    if (!used) {
        free(st.alias);
        return rc < 0 ? rc : nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    mark_used(&m->main, used);
    for (int i = 0; i < m->nvals; i++) /* a used borrower keeps its lender */
        if (used[i] && st.alias[i] >= 0)
            used[st.alias[i]] = 1;
    free(st.alias);
    for (int i = 0; i < m->nvals; i++)
        if (m->vals[i].is_const && !used[i]) {
            /* the data goes; type and shape stay (kernels with prepared data read them). An
             * unused borrower forgets its lender's data too: the lender may go as well. */
            if (m->vals[i].init.cap)
                nn_mem_free(m->vals[i].init.data, m->vals[i].init.cap);
            m->vals[i].init.data = NULL;
            m->vals[i].init.cap = 0;
        }
    free(used);
    int rc2 = nn_model_infer(m, err);
    return rc2 < 0 ? rc2 : nn_model_fuse(m, err);
}
