/* fuzz_nn.c — the ONNX loader (src/nn/nn_onnx.c + nn_pb.c) on arbitrary bytes: it must
 * reject or load, never read out of bounds, leak, or crash. Models that load are also run
 * once on small zero inputs when every input has a small declared shape. */
#include "nn/nn.h"

#include <stdint.h>
#include <stdlib.h>

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
        if (ok && m->main.nnodes < 64)
            nn_session_run(s, &err);
    }
    free(err);
    nn_session_free(s);
    nn_model_free(m);
    return 0;
}
