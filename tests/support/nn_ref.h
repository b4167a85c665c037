/*
 * nn_ref.h — test fixtures for the neural engine: a tiny ONNX writer (one-op models, and
 * broken models for the error tests) and a bridge to onnxruntime-node (tests/nn/ort_run.js)
 * that runs a model on the same inputs, the reference every kernel is checked against.
 */
#ifndef STEPD_TESTS_NN_REF_H
#define STEPD_TESTS_NN_REF_H

#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nn_buf {
    uint8_t *p;
    size_t n, cap;
} nn_buf;

void nn_buf_free(nn_buf *b);

/* Serialises a ModelProto with one node `op` reading inputs in0..in{nin-1} (types from
 * ins[i]; initializers when init[i] is set) and writing out0..out{nout-1} of out_types. */
int nn_ref_op_model(nn_buf *out, const char *op, const nn_attr *attrs, int nattr,
                    const nn_tensor *const *ins, const int *init, int nin,
                    const nn_dtype *out_types, int nout);
/* Serialises a model described one line per item (for hand-built graphs in tests):
 *   in NAME TYPE DIMS          graph input; DIMS "batch,7,?" (name = symbolic, ? = unnamed),
 *                              "-" for a scalar
 *   init NAME TYPE DIMS [= V...]  initializer (values, else zeros)
 *   node OP IN,IN -> OUT,OUT [ATTR=V ...]  V: an int, ints "0,2,1", or "s:TEXT"
 *   out NAME [TYPE [DIMS]]      graph output (type float32 unless given; DIMS declared,
 *                              known sizes only)
 * TYPE: float32 int64 int32 uint8 int8 bool. Nodes are named n0, n1, ... in order.
 * Returns 0, or -1 on a line it cannot read. */
int nn_ref_graph_model(nn_buf *out, const char *spec);
int nn_ref_write_file(const char *path, const nn_buf *b);

/* NULL when node and onnxruntime-node are usable, else the reason (static string). */
const char *nn_ref_unavailable(void);
/* Runs model with onnxruntime-node on named inputs; outs[] (model output order) get owned
 * tensors. *ms (optional): its time per run. Returns 0 or -1 (message on stderr). */
int nn_ref_run(const char *model, const char *const *names, const nn_tensor *const *ins, int nin,
               nn_tensor *outs, int nout, int threads, double *ms);

/* Fills t with uniform values in [lo, hi) from a fixed seed stream. */
void nn_ref_fill(nn_tensor *t, uint64_t *seed, double lo, double hi);
/* Largest |a-b| over float tensors; -1 when shapes or types differ. Integers compare exactly
 * (0 or 1e30 on a difference). */
double nn_ref_maxdiff(const nn_tensor *a, const nn_tensor *b);

/* A copy of an ONNX model whose graph also outputs the named intermediate values (types
 * given), for comparing a model value by value. */
int nn_ref_expose(const uint8_t *model, size_t n, const char *const *names, const nn_dtype *types,
                  int k, nn_buf *out);

#endif
