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

static int fold_graph(nn_model *m, nn_graph *g, char **err) {
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g) {
                int rc = fold_graph(m, n->attrs[a].g, err);
                if (rc < 0)
                    return rc;
            }
        if (n->folded || n->op_id < 0 || !strcmp(n->op, "If") || n->nout > 4 || n->nin > 16)
            continue;
        int rc0 = nn_prepare_node(m, n, err);
        if (rc0 < 0)
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
    }
    for (int i = 0; i < g->nout; i++)
        used[g->outputs[i]] = 1;
}

int nn_model_fold(nn_model *m, char **err) {
    int rc = fold_graph(m, &m->main, err);
    if (rc < 0)
        return rc;
    unsigned char *used = calloc((size_t)m->nvals + 1, 1);
    if (!used)
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    mark_used(&m->main, used);
    for (int i = 0; i < m->nvals; i++)
        if (m->vals[i].is_const && !used[i] && m->vals[i].init.cap) {
            /* the data goes; type and shape stay (kernels with prepared data read them) */
            free(m->vals[i].init.data);
            m->vals[i].init.data = NULL;
            m->vals[i].init.cap = 0;
        }
    free(used);
    return 0;
}
