/* fuzz_nn.c — the ONNX loader (src/nn/nn_onnx.c + nn_pb.c) on arbitrary bytes: it must
 * reject or load, never read out of bounds, leak, or crash. Models that load are also run
 * once on small zero inputs when every input has a small declared shape and the shapes
 * inferred at load bound the ops whose output size comes from data. */
#include "nn/nn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Ops whose output size comes from data (a Range of 2^31 elements is a valid model, and
 * minutes of work): the model runs only when shape inference bounds their outputs. */
static int unbounded(const nn_model *m, const nn_graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g && unbounded(m, n->attrs[a].g))
                return 1;
        if (strcmp(n->op, "Range") && strcmp(n->op, "ConstantOfShape") && strcmp(n->op, "Expand"))
            continue;
        for (int j = 0; j < n->nout; j++) {
            if (n->out[j] < 0)
                continue;
            const nn_shape *s = &m->shapes[n->out[j]];
            int64_t numel = 1;
            if (s->ndim < 0)
                return 1;
            for (int d = 0; d < s->ndim; d++) {
                if (s->dims[d] < 0 && !s->sym[d])
                    return 1;
                int64_t dim = s->dims[d] < 0 ? 1 : s->dims[d]; /* symbols: inputs' dims are 1 */
                if (dim > (1 << 20) || (numel *= dim) > (1 << 20))
                    return 1;
            }
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nn_model *m = NULL;
    char *err = NULL;
    if (nn_onnx_load(data, size, 0, &m, &err) != 0) {
        free(err);
        return 0;
    }
    nn_session *s = NULL;
    if (nn_session_new(m, 1, &s, &err) == 0) {
        int ok = 1;
        for (int i = 0; i < m->main.nin && ok; i++) {
            const nn_value *v = &m->vals[m->main.inputs[i]];
            int64_t dims[NN_MAXDIM];
            int64_t n = 1;
            ok = v->ndim >= 0 && nn_dtype_size(v->dtype);
            for (int d = 0; ok && d < v->ndim; d++) {
                dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
                n *= dims[d] ? dims[d] : 1;
                ok = n <= 4096;
            }
            nn_tensor *t = ok ? nn_session_input(s, v->name) : NULL;
            if (t && nn_tensor_alloc(t, v->dtype, v->ndim, dims) == 0)
                __builtin_memset(t->data, 0, (size_t)nn_tensor_numel(t) * nn_dtype_size(v->dtype));
            else
                ok = 0;
        }
        if (ok && m->main.nnodes < 64 && !unbounded(m, &m->main))
            nn_session_run(s, &err);
    }
    free(err);
    nn_session_free(s);
    nn_model_free(m);
    return 0;
}
