/*
 * nn_fuse.c — graph rewrites at load, after constant folding, that save whole passes over
 * memory at run time. One so far, attention scores: exporters write Q·Kᵀ·scale as
 *
 *     T = Transpose(X, perm swaps the last two dims);  U = Mul(T, S);  C = MatMul(A, U)
 *
 * which, run as written, transposes all of X on every call — for a decoder step that is the
 * whole cached cross-attention key tensor, rewritten for one query row. When T and U each
 * have exactly one reader (and are no graph output), the MatMul becomes the internal kernel
 * NN_OP_MATMUL_NT with inputs (A, X, S) and T and U are marked fused (skipped). X and S must
 * then live until the MatMul: their release moves from T or U to it in the liveness plan.
 *
 * Then attention itself: P = Softmax(C, last axis), O = MatMul(P, V) after such a fused C
 * (each read once) becomes NN_OP_ATTENTION with inputs (A, X, S, V), which never holds the
 * whole B x M x N score tensor (24 MB in Moonshine's encoder on 21 s of audio).
 */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

static void count_uses(const nn_graph *g, int *uses) {
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g)
                count_uses(n->attrs[a].g, uses);
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0)
                uses[n->in[j]]++;
    }
    for (int i = 0; i < g->nout; i++)
        uses[g->outputs[i]] += 2; /* a graph output is never fused away */
}

/* Moves value v's release in g's liveness plan to node `to` if it was released earlier. */
static void hold_until(nn_graph *g, int v, int to) {
    for (int r = 0; r < to; r++)
        for (int u = g->last_use_off[r]; u < g->last_use_off[r + 1]; u++) {
            if (g->last_use[u] != v)
                continue;
            int end = g->last_use_off[to + 1] - 1;
            memmove(&g->last_use[u], &g->last_use[u + 1], (size_t)(end - u) * sizeof(int));
            g->last_use[end] = v;
            for (int k = r + 1; k <= to; k++)
                g->last_use_off[k]--;
            return;
        }
}

static int swaps_last_two(const nn_node *t) {
    for (int a = 0; a < t->nattr; a++) {
        const nn_attr *p = &t->attrs[a];
        if (strcmp(p->name, "perm") || p->type != NN_ATTR_INTS || p->n < 2)
            continue;
        for (int i = 0; i < p->n - 2; i++)
            if (p->ints[i] != i)
                return 0;
        return p->ints[p->n - 2] == p->n - 1 && p->ints[p->n - 1] == p->n - 2;
    }
    return 0; /* no perm: a full reversal, the same only for rank 2, which we cannot know */
}

static int producer(const nn_graph *g, int upto, int v) {
    for (int i = upto - 1; i >= 0; i--)
        for (int j = 0; j < g->nodes[i].nout; j++)
            if (g->nodes[i].out[j] == v)
                return i;
    return -1;
}

/* Softmax over the last axis whatever the rank: axis -1, or no axis from opset 13 on. */
static int softmax_last_axis(const nn_model *m, const nn_node *n) {
    for (int a = 0; a < n->nattr; a++)
        if (!strcmp(n->attrs[a].name, "axis"))
            return n->attrs[a].type == NN_ATTR_INT && n->attrs[a].i == -1;
    return m->opset >= 13;
}

/* Node i is MatMul(P, V) with P = Softmax(C) and C from a fused NN_OP_MATMUL_NT node. */
static int fuse_attention(nn_model *m, nn_graph *g, int i, const int *uses, int op_nt, int op_att,
                          char **err) {
    nn_node *n = &g->nodes[i];
    if (n->in[0] < 0 || uses[n->in[0]] != 1)
        return 0;
    int is = producer(g, i, n->in[0]);
    nn_node *sm = is >= 0 ? &g->nodes[is] : NULL;
    if (!sm || sm->folded || sm->fused || strcmp(sm->op, "Softmax") || sm->nin != 1 ||
        sm->in[0] < 0 || uses[sm->in[0]] != 1 || !softmax_last_axis(m, sm))
        return 0;
    int ic = producer(g, is, sm->in[0]);
    nn_node *c = ic >= 0 ? &g->nodes[ic] : NULL;
    if (!c || c->op_id != op_nt || c->fused || !c->prep || c->nin != 3)
        return 0;
    nn_fused_attn *f = malloc(sizeof *f);
    int *in = malloc(4 * sizeof *in);
    if (!f || !in) {
        free(f);
        free(in);
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    *f = (nn_fused_attn){*(const nn_fused_nt *)c->prep, sm->attrs, sm->nattr};
    memcpy(in, c->in, 3 * sizeof *in);
    in[3] = n->in[1];
    free(n->in);
    n->in = in;
    n->nin = 4;
    n->op_id = op_att;
    n->prep = f;
    c->fused = sm->fused = 1;
    for (int j = 0; j < 3; j++)
        hold_until(g, in[j], i);
    return 1;
}

static int fuse_graph(nn_model *m, nn_graph *g, const int *uses, int op_mm, int op_nt, int op_att,
                      char **err) {
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g) {
                int rc = fuse_graph(m, n->attrs[a].g, uses, op_mm, op_nt, op_att, err);
                if (rc < 0)
                    return rc;
            }
        if (n->op_id != op_mm || n->folded || n->prep || n->nin != 2 || n->in[0] < 0 ||
            n->in[1] < 0)
            continue;
        if (op_att >= 0) {
            int rc = fuse_attention(m, g, i, uses, op_nt, op_att, err);
            if (rc < 0)
                return rc;
            if (rc > 0)
                continue;
        }
        if (uses[n->in[1]] != 1)
            continue;
        int iu = producer(g, i, n->in[1]);
        nn_node *u = iu >= 0 ? &g->nodes[iu] : NULL;
        if (!u || u->folded || u->fused || strcmp(u->op, "Mul") || u->nin != 2 || u->nout != 1 ||
            u->in[0] < 0 || u->in[1] < 0)
            continue;
        int s_first = 0, it = -1;
        for (int side = 0; side < 2 && it < 0; side++) {
            int v = u->in[side];
            if (uses[v] != 1 || m->vals[v].is_const)
                continue;
            int p = producer(g, iu, v);
            if (p >= 0 && !strcmp(g->nodes[p].op, "Transpose") && !g->nodes[p].folded &&
                g->nodes[p].nin == 1 && g->nodes[p].in[0] >= 0 && swaps_last_two(&g->nodes[p])) {
                it = p;
                s_first = side == 1;
            }
        }
        if (it < 0)
            continue;
        nn_node *t = &g->nodes[it];
        nn_fused_nt *f = malloc(sizeof *f);
        int *in = malloc(3 * sizeof *in);
        if (!f || !in) {
            free(f);
            free(in);
            return nn_fail(err, STEP_ENOMEM, "out of memory");
        }
        *f = (nn_fused_nt){t->attrs, t->nattr, s_first};
        in[0] = n->in[0];
        in[1] = t->in[0];
        in[2] = u->in[s_first ? 0 : 1];
        free(n->in);
        n->in = in;
        n->nin = 3;
        n->op_id = op_nt;
        n->prep = f;
        t->fused = u->fused = 1;
        hold_until(g, in[1], i);
        hold_until(g, in[2], i);
    }
    return 0;
}

int nn_model_fuse(nn_model *m, char **err) {
    const char *off = getenv("STEPD_NN_FUSE"); /* "0": run graphs as written (comparisons) */
    if (off && !strcmp(off, "0"))
        return 0;
    int op_mm = nn_op_lookup("MatMul"), op_nt = -1, op_att = -1;
    for (int i = 0; nn_kernel_get(i); i++) {
        if (!strcmp(nn_kernel_get(i)->op, NN_OP_MATMUL_NT))
            op_nt = i;
        if (!strcmp(nn_kernel_get(i)->op, NN_OP_ATTENTION))
            op_att = i;
    }
    if (op_nt < 0)
        return 0;
    int *uses = calloc((size_t)m->nvals + 1, sizeof *uses);
    if (!uses)
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    count_uses(&m->main, uses);
    int rc = fuse_graph(m, &m->main, uses, op_mm, op_nt, op_att, err);
    free(uses);
    return rc;
}
