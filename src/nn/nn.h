/*
 * nn.h — stepd's small neural inference engine: tensors, a format-independent graph, and a
 * session that runs it. Loaders (ONNX today, TFJS next) build an nn_model; the kernels never
 * see the file format.
 *
 *   nn_model  immutable after load: values (names, declared types/shapes), nodes, weights.
 *             Shared freely between threads.
 *   nn_session one per thread: the tensors of one inference and a buffer pool. Intermediate
 *             buffers are returned to the pool after their last reader runs and reused, so a
 *             session that runs the same shapes again allocates nothing after warm-up.
 *
 * Errors: functions return 0 or a negative STEP_E* code (<stepd/step.h>) and, when err is not
 * NULL, set *err to a malloc'ed message naming what failed (caller frees).
 */
#ifndef STEPD_NN_H
#define STEPD_NN_H

#include <stddef.h>
#include <stdint.h>

/* Element types; the values are ONNX's TensorProto.DataType codes. */
typedef enum nn_dtype {
    NN_UNDEF = 0,
    NN_F32 = 1,
    NN_U8 = 2,
    NN_I8 = 3,
    NN_I32 = 6,
    NN_I64 = 7,
    NN_BOOL = 9,
    NN_F16 = 10,
} nn_dtype;

#define NN_MAXDIM 8

typedef struct nn_tensor {
    nn_dtype dtype;
    int ndim;
    int64_t dims[NN_MAXDIM];
    void *data; /* 64-byte aligned when owned */
    size_t cap; /* bytes owned by this tensor; 0 = borrowed (or empty) */
} nn_tensor;

/* Buffers of `cap` bytes, 64-byte aligned (big ones mmap'ed); free with the same cap. */
void *nn_mem_alloc(size_t cap);
void nn_mem_free(void *p, size_t cap);
size_t nn_dtype_size(nn_dtype t);                /* 0 for unknown types */
const char *nn_dtype_name(nn_dtype t);           /* "float32", "uint8", ... ("?" for unknown) */
int64_t nn_numel(int ndim, const int64_t *dims); /* INT64_MAX when the product overflows */
static inline int64_t nn_tensor_numel(const nn_tensor *t) {
    return nn_numel(t->ndim, t->dims);
}
/* Sets type and shape, growing t's own buffer if needed (contents undefined). A borrowed
 * tensor gets its own buffer. Fails with STEP_EINVAL on negative/huge dims. */
int nn_tensor_alloc(nn_tensor *t, nn_dtype dtype, int ndim, const int64_t *dims);
void nn_tensor_free(nn_tensor *t); /* frees an owned buffer; leaves an empty tensor */
/* Makes dst an owned copy of src. */
int nn_tensor_copy(nn_tensor *dst, const nn_tensor *src);
/* Shape as text "[1, 8, 0, 36]" into buf. */
const char *nn_shape_str(int ndim, const int64_t *dims, char *buf, size_t size);

/* ---- graph ---------------------------------------------------------------------------- */
typedef enum nn_attr_type {
    NN_ATTR_FLOAT = 1,
    NN_ATTR_INT = 2,
    NN_ATTR_STRING = 3,
    NN_ATTR_TENSOR = 4,
    NN_ATTR_GRAPH = 5,
    NN_ATTR_FLOATS = 6,
    NN_ATTR_INTS = 7,
} nn_attr_type;

struct nn_graph;

typedef struct nn_attr {
    char *name;
    nn_attr_type type;
    float f;
    int64_t i;
    char *s;
    int n; /* count of ints/floats */
    int64_t *ints;
    float *floats;
    nn_tensor t;
    struct nn_graph *g;
} nn_attr;

typedef struct nn_node {
    char *name;
    char *op;
    int op_id; /* index into the kernel table, resolved at load */
    int nin, nout;
    int *in;  /* value ids; -1 for an omitted optional input */
    int *out; /* value ids; -1 for an omitted optional output */
    int nattr;
    nn_attr *attrs;
    int folded;      /* computed at load (all inputs constant): its outputs are constants */
    int fused;       /* merged into a later node at load (nn_fuse.c): never run */
    void *prep;      /* kernel data prepared at load (e.g. packed weights); one malloc block */
    int prep_shared; /* prep belongs to an earlier node with the same weights (not freed here) */
} nn_node;

typedef struct nn_value {
    char *name;
    nn_dtype dtype;             /* declared type (NN_UNDEF when the file does not say) */
    int ndim;                   /* declared rank, -1 unknown */
    int64_t dims[NN_MAXDIM];    /* declared dims, -1 for symbolic */
    char *dim_names[NN_MAXDIM]; /* symbolic dim names, or NULL */
    int is_const;               /* an initializer: its tensor is `init` */
    nn_tensor init;
} nn_value;

typedef struct nn_graph {
    nn_node *nodes;
    int nnodes;
    int *inputs, nin; /* value ids (initializers excluded) */
    int *outputs, nout;
    int *captured, ncaptured; /* subgraphs: outer values read inside (liveness) */
    int *last_use;            /* per node: value ids whose last reader in this graph is that node */
    int *last_use_off;        /* nnodes+1 offsets into last_use */
} nn_graph;

/* A value's type and shape as inferred at load (nn_model_infer): every dimension is a known
 * size, a symbol (a named dynamic dimension of the graph inputs, e.g. "batch_size", or a simple
 * expression of them, e.g. "past_len+1", "(num_samples-127)/64+1") or unknown. */
typedef struct nn_shape {
    nn_dtype dtype;             /* NN_UNDEF: unknown */
    int ndim;                   /* -1: unknown rank */
    int64_t dims[NN_MAXDIM];    /* >= 0 known; -1 symbolic (sym[d]) or unknown (sym[d] NULL) */
    const char *sym[NN_MAXDIM]; /* interned in the model (valid until nn_model_free) */
} nn_shape;

typedef struct nn_model {
    nn_value *vals;
    int nvals;
    nn_shape *shapes; /* per value, inferred at load; NULL before nn_model_infer */
    char **syms;      /* the symbols' texts (owned) */
    int nsyms;
    nn_graph main;
    int64_t ir_version, opset;
    char *producer;
    int64_t nparams; /* elements in all initializers */
    void *priv;
} nn_model;

/* ---- loading ---------------------------------------------------------------------------- */
/* Loads an ONNX model file / buffer. *out: caller frees with nn_model_free(). Rejects
 * malformed files, unsupported ops (naming them) and tensors over 2^31 elements. */
#define NN_LOAD_ANY_OPS 1 /* flag: accept ops without a kernel (for inspection only) */
int nn_onnx_load_file(const char *path, int flags, nn_model **out, char **err);
int nn_onnx_load(const void *buf, size_t len, int flags, nn_model **out, char **err);
void nn_model_free(nn_model *m);                        /* NULL is a no-op */
int nn_model_find(const nn_model *m, const char *name); /* value id or -1 */
/* Constant folding (run by the loaders): every node whose inputs are all constants is run
 * once, its outputs become constants, and constants no remaining node reads are freed
 * (e.g. quantised weights dequantised and transposed once instead of every run). */
int nn_model_fold(nn_model *m, char **err);
/* Static shape inference (run by nn_model_fold, before the fusions): fills m->shapes from
 * the graph inputs' declared shapes, the initializers and each op's shape rule, carrying the
 * values of small integer tensors (Shape, Gather, Concat, Unsqueeze, Slice, arithmetic) so
 * that Reshape / Expand / ConstantOfShape / Range targets are known too. Fails with
 * STEP_EINVAL naming the node and the shapes when the model is inconsistent (MatMul inner
 * dims, broadcasting, Concat ranks/dims, a node's input count, a graph output declared
 * with a shape that contradicts the inferred one; an intermediate's value_info is only a hint). */
int nn_model_infer(nn_model *m, char **err);
/* Shape as text, symbols included: "[batch_size, 8, past+1, 36]", "?" unknown. */
const char *nn_shape_text(const nn_shape *s, char *buf, size_t size);
/* Counts of op types used (including subgraphs); fn is called once per distinct op. */
void nn_model_ops(const nn_model *m, void (*fn)(void *arg, const char *op, int count), void *arg);

/* ---- kernels ---------------------------------------------------------------------------- */
int nn_op_lookup(const char *op); /* kernel id or -1 */
const char *nn_op_list(void);     /* space-separated names of every supported op */

/* ---- running ---------------------------------------------------------------------------- */
typedef struct nn_session nn_session;
/* nthreads <= 0: the default (2, or STEPD_NN_THREADS). */
int nn_session_new(const nn_model *m, int nthreads, nn_session **out, char **err);
void nn_session_free(nn_session *s);
/* The tensor that will be fed as input `name`: fill it with nn_tensor_alloc + data before
 * nn_session_run. NULL if the model has no such input. Valid until nn_session_free. */
nn_tensor *nn_session_input(nn_session *s, const char *name);
int nn_session_run(nn_session *s, char **err);
/* Output `name` of the last run (borrowed; valid until the next run). NULL if unknown. */
const nn_tensor *nn_session_output(nn_session *s, const char *name);
/* Takes output `name` out of the session (caller owns *dst afterwards; free it with
 * nn_tensor_free). dst's previous buffer, if it owned one, goes to the session's pool for
 * reuse (so dst must not be a tensor another session's pool still lends). */
int nn_session_take(nn_session *s, const char *name, nn_tensor *dst);
/* Hands t's owned buffer to the session's pool (t is left empty): a caller that took
 * outputs gives their buffers back before the next run instead of freeing them. */
void nn_session_recycle(nn_session *s, nn_tensor *t);
/* Debugging: keep every intermediate value after a run (no reuse); read them with
 * nn_session_value(). */
void nn_session_keep_all(nn_session *s, int on);
const nn_tensor *nn_session_value(nn_session *s, int value_id);
/* Bytes currently held by the session's pool (for tests and benches). */
size_t nn_session_pool_bytes(const nn_session *s);
size_t nn_session_pool_allocs(const nn_session *s); /* buffers allocated since creation */

/* One op run alone on given inputs (tests, and whoever checks a kernel against a reference).
 * outs[] get owned buffers (free with nn_tensor_free). attrs may be NULL. */
int nn_op_run(const char *op, const nn_attr *attrs, int nattr, const nn_tensor *const *ins, int nin,
              nn_tensor *outs, int nout, char **err);

int nn_fail(char **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
