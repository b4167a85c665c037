/* test_nn.c — the neural engine (src/nn): protobuf/ONNX loading and its errors, kernels
 * against onnxruntime-node on random tensors, the session's memory reuse, and the real
 * Moonshine encoder/decoder against onnxruntime on the same input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stepd/ai/speech.h>
#include <stepd/step.h>

#include "nn/moonshine.h"
#include "nn/nn.h"
#include "nn/nn_internal.h"
#include "nn/nn_pb.h"
#include "support/nn_ref.h"

static const char *model_dir(void) {
    static char p[1024];
    const char *d = getenv("STEPD_NN_MODEL_DIR");
    if (d)
        return d;
    const char *r = getenv("STEPD_ROOT");
    snprintf(p, sizeof p, "%s/build-data/nn/moonshine-tiny", r ? r : ".");
    return p;
}

static int have_model(const char *file, char *path, size_t n) {
    snprintf(path, n, "%s/%s", model_dir(), file);
    if (access(path, R_OK) == 0)
        return 1;
    print_message("model %s not installed (run packages/nn.data.sh)\n", path);
    return 0;
}

/* ---- protobuf and loader ------------------------------------------------------------------- */
static void test_pb_reader_bounds(void **state) {
    (void)state;
    /* field 1 varint 150, field 2 bytes "hi", then a length running past the end */
    const uint8_t ok[] = {0x08, 0x96, 0x01, 0x12, 0x02, 'h', 'i'};
    nn_pb pb = nn_pb_init(ok, sizeof ok);
    nn_pb_field f;
    assert_int_equal(nn_pb_next(&pb, &f), 1);
    assert_int_equal(f.num, 1);
    assert_int_equal(f.v, 150);
    assert_int_equal(nn_pb_next(&pb, &f), 1);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.data, "hi", 2);
    assert_int_equal(nn_pb_next(&pb, &f), 0);
    assert_false(pb.bad);
    const uint8_t bad[] = {0x12, 0x05, 'h', 'i'};
    pb = nn_pb_init(bad, sizeof bad);
    assert_int_equal(nn_pb_next(&pb, &f), 0);
    assert_true(pb.bad);
    const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pb = nn_pb_init(long_varint, sizeof long_varint);
    assert_int_equal(nn_pb_next(&pb, &f), 0);
    assert_true(pb.bad);
}

static nn_attr attr_int(const char *name, int64_t v) {
    return (nn_attr){.name = (char *)name, .type = NN_ATTR_INT, .i = v};
}

static nn_attr attr_ints(const char *name, int64_t *v, int n) {
    return (nn_attr){.name = (char *)name, .type = NN_ATTR_INTS, .ints = v, .n = n};
}

static void t_init(nn_tensor *t, nn_dtype dt, int nd, const int64_t *dims) {
    memset(t, 0, sizeof *t);
    assert_int_equal(nn_tensor_alloc(t, dt, nd, dims), 0);
}

static void test_load_one_op_model(void **state) {
    (void)state;
    nn_tensor a, w;
    int64_t da[] = {2, 3}, dw[] = {3, 4};
    t_init(&a, NN_F32, 2, da);
    t_init(&w, NN_F32, 2, dw);
    uint64_t seed = 1;
    nn_ref_fill(&w, &seed, -1, 1);
    const nn_tensor *ins[] = {&a, &w};
    int init[] = {0, 1};
    nn_dtype ot[] = {NN_F32};
    nn_buf b;
    nn_ref_op_model(&b, "MatMul", NULL, 0, ins, init, 2, ot, 1);
    nn_model *m = NULL;
    char *err = NULL;
    assert_int_equal(nn_onnx_load(b.p, b.n, 0, &m, &err), 0);
    assert_null(err);
    assert_int_equal(m->main.nin, 1);
    assert_int_equal(m->main.nout, 1);
    assert_int_equal(m->nparams, 12);
    assert_int_equal(m->opset, 14);
    assert_string_equal(m->vals[m->main.inputs[0]].name, "in0");
    assert_int_equal(m->vals[m->main.inputs[0]].ndim, 2);
    /* run it: [2,3] x [3,4] */
    nn_session *s = NULL;
    assert_int_equal(nn_session_new(m, 1, &s, &err), 0);
    nn_tensor *in = nn_session_input(s, "in0");
    assert_non_null(in);
    assert_int_equal(nn_tensor_alloc(in, NN_F32, 2, da), 0);
    nn_ref_fill(in, &seed, -1, 1);
    assert_int_equal(nn_session_run(s, &err), 0);
    const nn_tensor *o = nn_session_output(s, "out0");
    assert_non_null(o);
    assert_int_equal(o->ndim, 2);
    assert_int_equal(o->dims[1], 4);
    const float *x = in->data, *y = w.data, *z = o->data;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            float e = 0;
            for (int k = 0; k < 3; k++)
                e += x[i * 3 + k] * y[k * 4 + j];
            assert_float_equal(z[i * 4 + j], e, 1e-5);
        }
    /* wrong input shape: a clear error naming the input */
    assert_int_equal(nn_tensor_alloc(in, NN_F32, 2, (int64_t[]){2, 5}), 0);
    assert_int_not_equal(nn_session_run(s, &err), 0);
    assert_non_null(err);
    assert_non_null(strstr(err, "in0"));
    free(err);
    nn_session_free(s);
    nn_model_free(m);
    nn_buf_free(&b);
    nn_tensor_free(&a);
    nn_tensor_free(&w);
}

/* The session pool's size classes on every small size: each buffer is a valid 64-byte
 * aligned allocation (ASan checks aligned_alloc's size rule; found by fuzz_nn), outputs are
 * right, and a session that has seen the largest size allocates nothing for the smaller. */
static void test_pool_size_classes(void **state) {
    (void)state;
    nn_tensor a;
    t_init(&a, NN_F32, 1, (int64_t[]){1});
    const nn_tensor *ins[] = {&a};
    nn_dtype ot[] = {NN_F32};
    nn_buf b;
    nn_ref_op_model(&b, "Neg", NULL, 0, ins, NULL, 1, ot, 1);
    nn_model *m = NULL;
    char *err = NULL;
    assert_int_equal(nn_onnx_load(b.p, b.n, 0, &m, &err), 0);
    m->vals[m->main.inputs[0]].dims[0] = -1; /* declared [1]: make the length symbolic */
    nn_session *s = NULL;
    assert_int_equal(nn_session_new(m, 1, &s, &err), 0);
    nn_tensor *in = nn_session_input(s, "in0");
    uint64_t seed = 4;
    for (int pass = 0; pass < 2; pass++) {
        size_t before = nn_session_pool_allocs(s);
        for (int64_t n = pass ? 700 : 1; pass ? n >= 1 : n <= 700; n += pass ? -1 : 1) {
            assert_int_equal(nn_tensor_alloc(in, NN_F32, 1, (int64_t[]){n}), 0);
            nn_ref_fill(in, &seed, -1, 1);
            assert_int_equal(nn_session_run(s, &err), 0);
            const nn_tensor *o = nn_session_output(s, "out0");
            assert_int_equal(o->dims[0], n);
            assert_true(((uintptr_t)o->data & 63) == 0);
            assert_float_equal(((float *)o->data)[n - 1], -((float *)in->data)[n - 1], 0);
        }
        if (pass) /* downwards, after 700 floats were seen: every size fits a pooled buffer */
            assert_int_equal(nn_session_pool_allocs(s), before);
    }
    nn_session_free(s);
    nn_model_free(m);
    nn_buf_free(&b);
    nn_tensor_free(&a);
}

static void test_bad_models_fail_cleanly(void **state) {
    (void)state;
    nn_tensor a;
    int64_t da[] = {2, 3};
    t_init(&a, NN_F32, 2, da);
    const nn_tensor *ins[] = {&a};
    nn_dtype ot[] = {NN_F32};
    nn_buf b;
    nn_model *m = NULL;
    char *err = NULL;
    /* an op without a kernel is named in the error */
    nn_ref_op_model(&b, "FancyOp", NULL, 0, ins, NULL, 1, ot, 1);
    assert_int_equal(nn_onnx_load(b.p, b.n, 0, &m, &err), STEP_EUNSUPPORTED);
    assert_non_null(strstr(err, "FancyOp"));
    free(err);
    err = NULL;
    /* ... but inspection still works */
    assert_int_equal(nn_onnx_load(b.p, b.n, NN_LOAD_ANY_OPS, &m, &err), 0);
    nn_model_free(m);
    nn_buf_free(&b);
    /* every truncation of a valid model fails without crashing (or loads a prefix) */
    nn_ref_op_model(&b, "Neg", NULL, 0, ins, NULL, 1, ot, 1);
    for (size_t n = 0; n < b.n; n++) {
        err = NULL;
        m = NULL;
        if (nn_onnx_load(b.p, n, 0, &m, &err) == 0)
            nn_model_free(m);
        else
            assert_non_null(err);
        free(err);
    }
    nn_buf_free(&b);
    /* an initializer whose dims do not match its data (127 x 3 claimed, 2 x 3 stored) */
    nn_ref_op_model(&b, "Neg", NULL, 0, ins, (int[]){1}, 1, ot, 1);
    for (size_t i = 0; i + 3 < b.n; i++)
        if (b.p[i] == 0x08 && b.p[i + 1] == 0x02 && b.p[i + 2] == 0x08 && b.p[i + 3] == 0x03) {
            b.p[i + 1] = 0x7f; /* dims field 1 = 2 -> 127 */
            break;
        }
    err = NULL;
    assert_int_not_equal(nn_onnx_load(b.p, b.n, 0, &m, &err), 0);
    assert_non_null(err);
    free(err);
    nn_buf_free(&b);
    /* a node without outputs (found by fuzz_nn): an error at run time, not a crash */
    nn_ref_op_model(&b, "Softmax", NULL, 0, ins, NULL, 1, ot, 0);
    err = NULL;
    assert_int_equal(nn_onnx_load(b.p, b.n, 0, &m, &err), 0);
    nn_session *s = NULL;
    assert_int_equal(nn_session_new(m, 1, &s, &err), 0);
    assert_int_equal(nn_tensor_alloc(nn_session_input(s, "in0"), NN_F32, 2, da), 0);
    memset(nn_session_input(s, "in0")->data, 0, 24);
    assert_int_equal(nn_session_run(s, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "Softmax"));
    free(err);
    nn_session_free(s);
    nn_model_free(m);
    nn_buf_free(&b);
    /* an empty op type (found by fuzz_nn: listing it as unsupported never ended) */
    nn_ref_op_model(&b, "", NULL, 0, ins, NULL, 1, ot, 1);
    err = NULL;
    assert_int_equal(nn_onnx_load(b.p, b.n, 0, &m, &err), STEP_EPARSE);
    assert_non_null(strstr(err, "malformed node"));
    free(err);
    nn_buf_free(&b);
    /* garbage */
    err = NULL;
    assert_int_not_equal(nn_onnx_load("\xff\xff\xff", 3, 0, &m, &err), 0);
    assert_non_null(strstr(err, "not an ONNX model"));
    free(err);
    err = NULL;
    assert_int_equal(nn_onnx_load_file("/nonexistent/model.onnx", 0, &m, &err), STEP_ENOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/model.onnx"));
    free(err);
    nn_tensor_free(&a);
}

/* ---- kernels against onnxruntime ------------------------------------------------------------ */
typedef struct op_case {
    const char *op;
    nn_attr attrs[4];
    int nattr;
    int nin, nout;
    nn_tensor *ins[5];
    double tol;
} op_case;

static int ref_ok(void) {
    const char *why = nn_ref_unavailable();
    if (why) {
        print_message("reference unavailable: %s\n", why);
        return 0;
    }
    return 1;
}

static void run_case(op_case *c) {
    nn_dtype ot[4];
    nn_tensor mine[4] = {0}, ref[4] = {0};
    char *err = NULL;
    int rc = nn_op_run(c->op, c->attrs, c->nattr, (const nn_tensor *const *)c->ins, c->nin, mine,
                       c->nout, &err);
    if (rc != 0)
        fail_msg("%s: %s", c->op, err ? err : "failed");
    for (int i = 0; i < c->nout; i++)
        ot[i] = mine[i].dtype;
    nn_buf b;
    nn_ref_op_model(&b, c->op, c->attrs, c->nattr, (const nn_tensor *const *)c->ins, NULL, c->nin,
                    ot, c->nout);
    char path[] = "/tmp/stepd-nn-op-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(nn_ref_write_file(path, &b), 0);
    const char *names[5] = {"in0", "in1", "in2", "in3", "in4"};
    assert_int_equal(
        nn_ref_run(path, names, (const nn_tensor *const *)c->ins, c->nin, ref, c->nout, 1, NULL),
        0);
    unlink(path);
    for (int i = 0; i < c->nout; i++) {
        double d = nn_ref_maxdiff(&mine[i], &ref[i]);
        if (d < 0 || d > c->tol) {
            char x[128], y[128];
            fail_msg("%s output %d: max diff %g (tol %g), %s %s vs onnxruntime %s %s", c->op, i, d,
                     c->tol, nn_dtype_name(mine[i].dtype),
                     nn_shape_str(mine[i].ndim, mine[i].dims, x, sizeof x),
                     nn_dtype_name(ref[i].dtype),
                     nn_shape_str(ref[i].ndim, ref[i].dims, y, sizeof y));
        }
        nn_tensor_free(&mine[i]);
        nn_tensor_free(&ref[i]);
    }
    nn_buf_free(&b);
    free(err);
}

static nn_tensor *rnd(nn_dtype dt, int nd, const int64_t *dims, double lo, double hi,
                      uint64_t *seed) {
    nn_tensor *t = calloc(1, sizeof *t);
    assert_int_equal(nn_tensor_alloc(t, dt, nd, dims), 0);
    nn_ref_fill(t, seed, lo, hi);
    return t;
}

static nn_tensor *ivec(int n, const int64_t *v) {
    nn_tensor *t = calloc(1, sizeof *t);
    int64_t d = n;
    assert_int_equal(nn_tensor_alloc(t, NN_I64, 1, &d), 0);
    memcpy(t->data, v, (size_t)n * 8);
    return t;
}

static nn_tensor *iscalar(nn_dtype dt, int64_t v) {
    nn_tensor *t = calloc(1, sizeof *t);
    assert_int_equal(nn_tensor_alloc(t, dt, 0, NULL), 0);
    if (dt == NN_I64)
        *(int64_t *)t->data = v;
    else if (dt == NN_F32)
        *(float *)t->data = (float)v;
    else
        *(uint8_t *)t->data = (uint8_t)v;
    return t;
}

static void free_case(op_case *c) {
    for (int i = 0; i < c->nin; i++)
        if (c->ins[i]) {
            nn_tensor_free(c->ins[i]);
            free(c->ins[i]);
        }
}

#define D(...)                                                                                     \
    (int64_t[]) {                                                                                  \
        __VA_ARGS__                                                                                \
    }
#define CASE(...)                                                                                  \
    do {                                                                                           \
        op_case c_ = {__VA_ARGS__};                                                                \
        run_case(&c_);                                                                             \
        free_case(&c_);                                                                            \
    } while (0)

static void test_ops_match_onnxruntime(void **state) {
    (void)state;
    if (!ref_ok())
        skip();
    uint64_t s = 42;
    int64_t perm[] = {2, 0, 1}, axes_last[] = {-1}, pads[] = {1, 1}, strides[] = {3};
    /* element-wise with broadcasting */
    CASE("Add", .nin = 2, .nout = 1, .tol = 1e-6,
         .ins = {rnd(NN_F32, 3, D(2, 3, 4), -2, 2, &s), rnd(NN_F32, 1, D(4), -2, 2, &s)});
    CASE("Sub", .nin = 2, .nout = 1, .tol = 1e-6,
         .ins = {rnd(NN_F32, 2, D(3, 1), -2, 2, &s), rnd(NN_F32, 2, D(1, 4), -2, 2, &s)});
    CASE("Mul", .nin = 2, .nout = 1, .tol = 1e-6,
         .ins = {rnd(NN_F32, 3, D(2, 3, 4), -2, 2, &s), rnd(NN_F32, 3, D(2, 1, 4), -2, 2, &s)});
    CASE("Div", .nin = 2, .nout = 1, .tol = 1e-5,
         .ins = {rnd(NN_F32, 2, D(3, 4), -2, 2, &s), rnd(NN_F32, 2, D(3, 4), 0.5, 2, &s)});
    CASE("Pow", .nin = 2, .nout = 1, .tol = 1e-5,
         .ins = {rnd(NN_F32, 2, D(3, 4), 0.1, 2, &s), iscalar(NN_F32, 2)});
    CASE("Add", .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_I64, 1, D(5), -9, 9, &s), rnd(NN_I64, 0, NULL, -9, 9, &s)});
    CASE("Equal", .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_I64, 2, D(2, 5), 0, 3, &s), rnd(NN_I64, 1, D(5), 0, 3, &s)});
    CASE("Greater", .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 2, D(2, 5), -1, 1, &s), rnd(NN_F32, 2, D(2, 1), -1, 1, &s)});
    CASE("Where", .nin = 3, .nout = 1, .tol = 0,
         .ins = {rnd(NN_BOOL, 2, D(3, 1), 0, 1, &s), rnd(NN_F32, 2, D(3, 4), -1, 1, &s),
                 rnd(NN_F32, 0, NULL, -1, 1, &s)});
    /* unary */
    const char *un[] = {"Neg", "Sin", "Cos", "Erf", "Tanh", "Sigmoid"};
    for (size_t i = 0; i < sizeof un / sizeof un[0]; i++)
        CASE(un[i], .nin = 1, .nout = 1, .tol = 2e-6, .ins = {rnd(NN_F32, 2, D(4, 33), -4, 4, &s)});
    CASE("Sqrt", .nin = 1, .nout = 1, .tol = 1e-6, .ins = {rnd(NN_F32, 1, D(40), 0, 9, &s)});
    CASE("Cast", .attrs = {attr_int("to", NN_I64)}, .nattr = 1, .nin = 1, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 1, D(20), -50, 50, &s)});
    CASE("Cast", .attrs = {attr_int("to", NN_F32)}, .nattr = 1, .nin = 1, .nout = 1, .tol = 0,
         .ins = {rnd(NN_I32, 1, D(20), -5e6, 5e6, &s)});
    /* reductions, normalisation */
    CASE("Softmax", .attrs = {attr_int("axis", -1)}, .nattr = 1, .nin = 1, .nout = 1, .tol = 1e-6,
         .ins = {rnd(NN_F32, 3, D(2, 3, 17), -6, 6, &s)});
    CASE("ReduceMean", .attrs = {attr_ints("axes", axes_last, 1)}, .nattr = 1, .nin = 1, .nout = 1,
         .tol = 1e-6, .ins = {rnd(NN_F32, 3, D(2, 3, 288), -3, 3, &s)});
    CASE("InstanceNormalization", .nin = 3, .nout = 1, .tol = 1e-4,
         .ins = {rnd(NN_F32, 3, D(1, 3, 100), -3, 5, &s), rnd(NN_F32, 1, D(3), 0.5, 2, &s),
                 rnd(NN_F32, 1, D(3), -1, 1, &s)});
    /* matrix products and quantisation */
    CASE("MatMul", .nin = 2, .nout = 1, .tol = 1e-4,
         .ins = {rnd(NN_F32, 4, D(2, 1, 13, 37), -1, 1, &s),
                 rnd(NN_F32, 3, D(2, 37, 21), -1, 1, &s)});
    CASE("MatMul", .nin = 2, .nout = 1, .tol = 1e-4,
         .ins = {rnd(NN_F32, 3, D(1, 1, 288), -1, 1, &s), rnd(NN_F32, 2, D(288, 70), -1, 1, &s)});
    CASE("MatMulInteger", .nin = 4, .nout = 1, .tol = 0,
         .ins = {rnd(NN_U8, 3, D(1, 9, 70), 0, 256, &s), rnd(NN_U8, 2, D(70, 35), 0, 256, &s),
                 iscalar(NN_U8, 117), iscalar(NN_U8, 130)});
    CASE("MatMulInteger", .nin = 4, .nout = 1, .tol = 0,
         .ins = {rnd(NN_U8, 2, D(1, 288), 0, 256, &s), rnd(NN_U8, 2, D(288, 40), 0, 256, &s),
                 iscalar(NN_U8, 3), rnd(NN_U8, 1, D(40), 0, 256, &s)});
    CASE("DynamicQuantizeLinear", .nin = 1, .nout = 3, .tol = 0,
         .ins = {rnd(NN_F32, 2, D(7, 29), -3, 5, &s)});
    CASE("DequantizeLinear", .nin = 3, .nout = 1, .tol = 1e-6,
         .ins = {rnd(NN_U8, 2, D(4, 9), 0, 256, &s), iscalar(NN_F32, 0), iscalar(NN_U8, 128)});
    /* convolution */
    CASE("Conv", .attrs = {attr_ints("pads", pads, 2), attr_ints("strides", strides, 1)},
         .nattr = 2, .nin = 3, .nout = 1, .tol = 1e-4,
         .ins = {rnd(NN_F32, 3, D(1, 2, 50), -1, 1, &s), rnd(NN_F32, 3, D(3, 2, 5), -1, 1, &s),
                 rnd(NN_F32, 1, D(3), -1, 1, &s)});
    /* shapes and indexing */
    CASE("Transpose", .attrs = {attr_ints("perm", perm, 3)}, .nattr = 1, .nin = 1, .nout = 1,
         .tol = 0, .ins = {rnd(NN_F32, 3, D(2, 3, 4), -1, 1, &s)});
    CASE("Gather", .attrs = {attr_int("axis", 0)}, .nattr = 1, .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 2, D(5, 4), -1, 1, &s), rnd(NN_I64, 2, D(2, 3), -5, 5, &s)});
    CASE("Gather", .attrs = {attr_int("axis", 1)}, .nattr = 1, .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 2, D(5, 4), -1, 1, &s), iscalar(NN_I64, -1)});
    CASE("Slice", .nin = 5, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 2, D(4, 9), -1, 1, &s), ivec(1, D(1)), ivec(1, D(-1)), ivec(1, D(1)),
                 ivec(1, D(2))});
    CASE("Slice", .nin = 4, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 3, D(1, 8, 5), -1, 1, &s), ivec(2, D(0, 2)), ivec(2, D(INT64_MAX, 4)),
                 ivec(2, D(0, 2))});
    CASE("Concat", .attrs = {attr_int("axis", 1)}, .nattr = 1, .nin = 3, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 3, D(1, 2, 3), -1, 1, &s), rnd(NN_F32, 3, D(1, 0, 3), -1, 1, &s),
                 rnd(NN_F32, 3, D(1, 4, 3), -1, 1, &s)});
    CASE("Unsqueeze", .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 2, D(2, 3), -1, 1, &s), ivec(2, D(0, 3))});
    CASE("Reshape", .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 3, D(2, 3, 4), -1, 1, &s), ivec(2, D(4, -1))});
    CASE("Reshape", .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 3, D(2, 3, 4), -1, 1, &s), ivec(3, D(0, 0, -1))});
    CASE("Expand", .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 2, D(3, 1), -1, 1, &s), ivec(3, D(2, 3, 4))});
    CASE("Range", .nin = 3, .nout = 1, .tol = 0,
         .ins = {iscalar(NN_I64, 2), iscalar(NN_I64, 17), iscalar(NN_I64, 3)});
    CASE("Trilu", .attrs = {attr_int("upper", 0)}, .nattr = 1, .nin = 2, .nout = 1, .tol = 0,
         .ins = {rnd(NN_F32, 3, D(2, 4, 5), -1, 1, &s), iscalar(NN_I64, 1)});
    CASE("Trilu", .nin = 1, .nout = 1, .tol = 0, .ins = {rnd(NN_F32, 2, D(5, 5), -1, 1, &s)});
    CASE("ConstantOfShape", .nin = 1, .nout = 1, .tol = 0, .ins = {ivec(3, D(1, 8, 0))});
    CASE("Shape", .nin = 1, .nout = 1, .tol = 0, .ins = {rnd(NN_F32, 3, D(1, 7, 2), -1, 1, &s)});
}

/* ---- the real model ---------------------------------------------------------------------------
 */
static void speechlike(nn_tensor *t, int64_t n) {
    assert_int_equal(nn_tensor_alloc(t, NN_F32, 2, (int64_t[]){1, n}), 0);
    float *x = t->data;
    uint64_t s = 7;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double noise = ((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.02;
        double env = 0.5 + 0.5 * sin(2 * M_PI * 3.0 * (double)i / 16000);
        x[i] = (float)(env * (0.3 * sin(2 * M_PI * 220 * (double)i / 16000) +
                              0.2 * sin(2 * M_PI * 660 * (double)i / 16000 + 0.3)) +
                       noise);
    }
}

static void test_encoder_matches_onnxruntime(void **state) {
    (void)state;
    char path[1100];
    if (!have_model("encoder_model.onnx", path, sizeof path) || !ref_ok())
        skip();
    nn_model *m = NULL;
    char *err = NULL;
    if (nn_onnx_load_file(path, 0, &m, &err) != 0)
        fail_msg("%s", err);
    nn_session *s = NULL;
    assert_int_equal(nn_session_new(m, 2, &s, &err), 0);
    nn_tensor *in = nn_session_input(s, "input_values");
    assert_non_null(in);
    speechlike(in, 32000);
    if (nn_session_run(s, &err) != 0)
        fail_msg("%s", err);
    const nn_tensor *out = nn_session_output(s, "last_hidden_state");
    assert_int_equal(out->ndim, 3);
    assert_int_equal(out->dims[2], 288);
    /* a second run of the same shape allocates nothing */
    size_t allocs = nn_session_pool_allocs(s);
    assert_int_equal(nn_session_run(s, &err), 0);
    assert_int_equal(nn_session_pool_allocs(s), allocs);
    nn_tensor ref = {0};
    const char *names[] = {"input_values"};
    const nn_tensor *ins[] = {in};
    assert_int_equal(nn_ref_run(path, names, ins, 1, &ref, 1, 2, NULL), 0);
    double d = nn_ref_maxdiff(out, &ref), mx = 0;
    for (int64_t i = 0; i < nn_tensor_numel(&ref); i++)
        mx = fmax(mx, fabs(((float *)ref.data)[i]));
    double sum = 0;
    int64_t nbig = 0, n = nn_tensor_numel(&ref);
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(((float *)ref.data)[i] - ((float *)out->data)[i]);
        sum += e;
        nbig += e > 0.01;
    }
    print_message(
        "encoder: %lld frames, max |diff| %g, mean %g, %lld of %lld over 0.01 (max |value| %g), "
        "pool %zu bytes\n",
        (long long)out->dims[1], d, sum / (double)n, (long long)nbig, (long long)n, mx,
        nn_session_pool_bytes(s));
    /* Both engines agree bit for bit on every quantised activation until float summation
     * order flips one uint8 step on a near tie (layer 1 on this input); from there the
     * difference stays at quantisation-noise level, far below the values' scale. */
    assert_true(d >= 0);
    assert_true(sum / (double)n < 0.03);
    assert_true(d < 0.1 * mx);
    nn_tensor_free(&ref);
    nn_session_free(s);
    nn_model_free(m);
}

/* Renders text with flite, writes it as a WAV (for the reference) and returns float samples. */
static float *speak(const char *text, const char *voice, const char *wav, size_t *n) {
    stepd_speech_synth_opts o = {.voice = voice};
    stepd_speech_audio a = {0};
    char *err = NULL;
    if (stepd_speech_synthesize(text, &o, &a, &err) != 0)
        fail_msg("flite: %s", err);
    assert_int_equal(a.sample_rate, 16000);
    assert_int_equal(stepd_speech_wav_write(&a, wav, &err), 0);
    float *x = malloc(a.n_samples * sizeof *x);
    for (size_t i = 0; i < a.n_samples; i++)
        x[i] = (float)a.samples[i] / 32768.0f;
    *n = a.n_samples;
    stepd_speech_audio_free(&a);
    return x;
}

static void test_moonshine_tokens_match_onnxruntime(void **state) {
    (void)state;
    char path[1100];
    if (!have_model("decoder_model_merged.onnx", path, sizeof path) || !ref_ok())
        skip();
    nn_moonshine *m = NULL;
    nn_moonshine_run *r = NULL;
    char *err = NULL;
    if (nn_moonshine_load(model_dir(), &m, &err) != 0)
        fail_msg("%s", err);
    assert_int_equal(nn_moonshine_run_new(m, 2, &r, &err), 0);
    static const char *texts[] = {
        "The quick brown fox jumps over the lazy dog. It was a sunny day in the park.",
        "Please send the invoice to accounting before Friday.",
        "My flight number is four two seven and it leaves at noon.",
    };
    static const char *voices[] = {"slt", "awb", "rms"};
    char wavs[3][64], cmd[4096];
    int off = snprintf(cmd, sizeof cmd, "node '%s/tests/nn/moonshine_ref.js' '%s'",
                       getenv("STEPD_ROOT") ? getenv("STEPD_ROOT") : ".", model_dir());
    nn_moonshine_result res[3];
    for (int i = 0; i < 3; i++) {
        snprintf(wavs[i], sizeof wavs[i], "/tmp/stepd-nn-%d-%d.wav", (int)getpid(), i);
        size_t n;
        float *x = speak(texts[i], voices[i], wavs[i], &n);
        if (nn_moonshine_transcribe(r, x, n, &res[i], &err) != 0)
            fail_msg("%s", err);
        free(x);
        print_message("%s: \"%s\" (%d tokens, encode %.0f ms, decode %.0f ms)\n", voices[i],
                      res[i].text, res[i].n_tokens, res[i].encode_ms, res[i].decode_ms);
        assert_false(res[i].hit_max_len);
        off += snprintf(cmd + off, sizeof cmd - (size_t)off, " '%s'", wavs[i]);
    }
    assert_non_null(strstr(res[0].text, "brown fox"));
    /* onnxruntime, driven the same way, produces the same tokens. Float summation order
     * differs between the engines, and a dynamically quantised model can turn that into a
     * different token at a near tie (here: where to stop), so allow one edit per utterance. */
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char line[65536];
    int exact = 0;
    for (int i = 0; i < 3; i++) {
        assert_non_null(fgets(line, sizeof line, p));
        char *t = strstr(line, "\"tokens\":[");
        assert_non_null(t);
        t += 10;
        int ref[512], nr = 0;
        while (*t && *t != ']' && nr < 512) {
            ref[nr++] = (int)strtol(t, &t, 10);
            if (*t == ',')
                t++;
        }
        /* edit distance between the two token sequences */
        int na = res[i].n_tokens, d[513], prev[513];
        for (int b = 0; b <= nr; b++)
            prev[b] = b;
        for (int a = 1; a <= na; a++) {
            d[0] = a;
            for (int b = 1; b <= nr; b++) {
                int sub = prev[b - 1] + (res[i].tokens[a - 1] != ref[b - 1]);
                d[b] = sub < prev[b] + 1 ? sub : prev[b] + 1;
                d[b] = d[b] < d[b - 1] + 1 ? d[b] : d[b - 1] + 1;
            }
            memcpy(prev, d, sizeof(int) * (size_t)(nr + 1));
        }
        print_message("%s: %d tokens, onnxruntime %d, edit distance %d\n", voices[i], na, nr,
                      prev[nr]);
        exact += prev[nr] == 0;
        assert_true(prev[nr] <= 1);
        nn_moonshine_result_free(&res[i]);
        unlink(wavs[i]);
    }
    assert_true(exact >= 2);
    while (fgets(line, sizeof line, p))
        ;
    assert_int_equal(pclose(p), 0);
    /* detokenize: SentencePiece pieces, byte pieces, trimmed */
    int ids[] = {450, 4996, 17354};
    char *s = nn_moonshine_detokenize(m, ids, 3);
    assert_string_equal(s, "The quick brown");
    free(s);
    nn_moonshine_run_free(r);
    nn_moonshine_free(m);
}

/* The memory plan end to end: after the warm-up (one transcription, sometimes topped up by a
 * few buffers in the second), transcribing audio of the same length or shorter allocates no
 * buffer in either session — the encoder's intermediates come from its pool, and the
 * decoder's KV cache cycles through buffers exchanged with the pool (nn_session_take) — and
 * gives the same tokens. */
static void test_moonshine_warm_runs_allocate_nothing(void **state) {
    (void)state;
    char path[1100];
    if (!have_model("decoder_model_merged.onnx", path, sizeof path))
        skip();
    nn_moonshine *m = NULL;
    nn_moonshine_run *r = NULL;
    char *err = NULL;
    if (nn_moonshine_load(model_dir(), &m, &err) != 0)
        fail_msg("%s", err);
    assert_int_equal(nn_moonshine_run_new(m, 2, &r, &err), 0);
    char wav[64];
    snprintf(wav, sizeof wav, "/tmp/stepd-nn-alloc-%d.wav", (int)getpid());
    size_t n;
    float *x = speak("Please call me back tomorrow morning.", "slt", wav, &n);
    remove(wav);
    /* Warm-up: the pool gives each request the smallest free buffer that fits, so the second
     * run, starting with every buffer free, may take a slightly different path and need a
     * buffer more; once a run allocates nothing, every identical run after it starts from the
     * same pool and allocates nothing either. */
    nn_moonshine_result a, b, c;
    assert_int_equal(nn_moonshine_transcribe(r, x, n, &a, &err), 0);
    size_t first = nn_moonshine_run_allocs(r), warm = first;
    int runs = 1, settled = 0;
    while (!settled && runs < 4) {
        assert_int_equal(nn_moonshine_transcribe(r, x, n, &b, &err), 0);
        runs++;
        size_t now = nn_moonshine_run_allocs(r);
        settled = now == warm;
        warm = now;
        if (!settled)
            nn_moonshine_result_free(&b);
    }
    assert_true(settled); /* a run allocated nothing: from here on none will */
    size_t again = nn_moonshine_run_allocs(r);
    assert_int_equal(nn_moonshine_transcribe(r, x, n * 2 / 3, &c, &err), 0);
    size_t shorter = nn_moonshine_run_allocs(r) - again;
    print_message("\"%s\": %zu buffers allocated by the first run, %zu more by the warm-up, "
                  "none by run %d; %zu by a shorter run (\"%s\")\n",
                  a.text, first, warm - first, runs, shorter, c.text);
    assert_true(first > 0);
    assert_true(warm - first <= first / 10); /* the warm-up tops up, it does not start again */
    assert_int_equal(shorter, 0);
    assert_int_equal(a.n_tokens, b.n_tokens);
    assert_memory_equal(a.tokens, b.tokens, (size_t)a.n_tokens * sizeof *a.tokens);
    nn_moonshine_result_free(&a);
    nn_moonshine_result_free(&b);
    nn_moonshine_result_free(&c);
    free(x);
    nn_moonshine_run_free(r);
    nn_moonshine_free(m);
}

static void test_moonshine_missing_model_names_installer(void **state) {
    (void)state;
    nn_moonshine *m = NULL;
    char *err = NULL;
    assert_int_equal(nn_moonshine_load("/nonexistent/moonshine", &m, &err), STEP_ENOTFOUND);
    assert_null(m);
    assert_non_null(strstr(err, "packages/nn.data.sh"));
    free(err);
    /* the long-audio cut lands in the quiet gap, not mid-word */
    size_t n = 16000 * 40;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (i >= 16000 * 20 && i < 16000 * 21) ? 0.0f : 0.5f * (float)sin((double)i * 0.3);
    size_t cut = nn_moonshine_cut_point(x, n, 16000 * 25);
    assert_true(cut >= 16000 * 20 && cut <= 16000 * 21);
    assert_int_equal(nn_moonshine_cut_point(x, 1000, 16000 * 25), 1000);
    free(x);
}

/* The integer and kept-quantised matrix products against a plain double-precision loop,
 * on shapes with ragged edges (not multiples of the vector blocks), 1 and 2 threads. */
static void test_gemm_kernels(void **state) {
    (void)state;
    uint64_t seed = 9;
    int64_t shapes[][3] = {{1, 77, 50}, {5, 33, 290}, {19, 288, 70}, {2, 1, 1}};
    for (size_t si = 0; si < 4; si++) {
        int64_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        nn_tensor a = {0}, q = {0}, fa = {0};
        assert_int_equal(nn_tensor_alloc(&a, NN_U8, 2, (int64_t[]){M, K}), 0);
        assert_int_equal(nn_tensor_alloc(&q, NN_U8, 2, (int64_t[]){K, N}), 0);
        assert_int_equal(nn_tensor_alloc(&fa, NN_F32, 2, (int64_t[]){M, K}), 0);
        nn_ref_fill(&a, &seed, 0, 256);
        nn_ref_fill(&q, &seed, 0, 256);
        nn_ref_fill(&fa, &seed, -1, 1);
        int32_t zb = 131, *c = malloc((size_t)(M * N) * 4), *sc = malloc((size_t)(M * K) * 4 + 8);
        float *fc = malloc((size_t)(M * N) * 4);
        nn_qpacked *P = nn_qpack(q.data, 0, K, N, &zb, 0);
        nn_dqmat dq = {K, N, q.data, 0, 0.0173f, 131, -1};
        for (int threads = 1; threads <= 2; threads++) {
            nn_qgemm_packed(M, a.data, 7, P, c, sc, threads);
            nn_sgemm_dq(M, fa.data, &dq, fc, threads);
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    int64_t e = 0;
                    double f = 0;
                    for (int64_t k = 0; k < K; k++) {
                        int32_t qv = ((uint8_t *)q.data)[k * N + j];
                        e += (int64_t)(((uint8_t *)a.data)[i * K + k] - 7) * (qv - 131);
                        f += (double)((float *)fa.data)[i * K + k] * ((float)(qv - 131) * 0.0173f);
                    }
                    assert_int_equal(c[i * N + j], e);
                    assert_float_equal(fc[i * N + j], f, 1e-4);
                }
        }
        free(P);
        free(c);
        free(sc);
        free(fc);
        nn_tensor_free(&a);
        nn_tensor_free(&q);
        nn_tensor_free(&fa);
    }
}

/* Float products on ragged shapes: one row, 4-row blocks, 16+ rows (the panel path), column
 * counts off the 16/32 blocks (Moonshine's head size 36), accumulate or overwrite. */
static void test_sgemm_ragged(void **state) {
    (void)state;
    uint64_t seed = 3;
    int64_t shapes[][3] = {{1, 36, 36},   {1, 892, 36}, {4, 70, 20}, {7, 9, 3},
                           {37, 130, 36}, {16, 5, 49},  {1, 33, 16}, {2, 1, 1}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        int64_t M = shapes[si][0], K = shapes[si][1], N = shapes[si][2];
        nn_tensor a = {0}, b = {0}, c = {0};
        assert_int_equal(nn_tensor_alloc(&a, NN_F32, 2, (int64_t[]){M, K}), 0);
        assert_int_equal(nn_tensor_alloc(&b, NN_F32, 2, (int64_t[]){K, N}), 0);
        assert_int_equal(nn_tensor_alloc(&c, NN_F32, 2, (int64_t[]){M, N}), 0);
        nn_ref_fill(&a, &seed, -1, 1);
        nn_ref_fill(&b, &seed, -1, 1);
        const float *A = a.data, *B = b.data;
        float *C = c.data;
        for (int acc = 0; acc <= 1; acc++)
            for (int threads = 1; threads <= 2; threads++) {
                for (int64_t i = 0; i < M * N; i++)
                    C[i] = 0.5f;
                nn_sgemm(M, N, K, A, K, B, N, C, N, acc, threads);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double e = acc ? 0.5 : 0;
                        for (int64_t k = 0; k < K; k++)
                            e += (double)A[i * K + k] * B[k * N + j];
                        assert_float_equal(C[i * N + j], e, 1e-4 * (1 + sqrt((double)K)));
                    }
            }
        nn_tensor_free(&a);
        nn_tensor_free(&b);
        nn_tensor_free(&c);
    }
}

/* The fused attention-score kernel (nn_fuse.c) gives what Transpose -> Mul -> MatMul give,
 * on ragged shapes, with batch broadcasting, one query row (a decoder step), a non-scalar
 * scale (the unfused fallback); and the Moonshine decoder's attention gets fused at load. */
static void count_fused(const nn_graph *g, int *fused, int *nt, int *att) {
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        const nn_kernel *kn = nn_kernel_get(n->op_id);
        *fused += n->fused;
        *nt += kn && !strcmp(kn->op, NN_OP_MATMUL_NT);
        *att += kn && !strcmp(kn->op, NN_OP_ATTENTION);
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g)
                count_fused(n->attrs[a].g, fused, nt, att);
    }
}

static const nn_kernel *internal_kernel(const char *name) {
    for (int i = 0; nn_kernel_get(i); i++)
        if (!strcmp(nn_kernel_get(i)->op, name))
            return nn_kernel_get(i);
    return NULL;
}

static void test_fused_attention_scores(void **state) {
    (void)state;
    const nn_kernel *nt = internal_kernel(NN_OP_MATMUL_NT), *att = internal_kernel(NN_OP_ATTENTION);
    assert_non_null(nt);
    assert_non_null(att);
    assert_int_equal(nn_op_lookup(NN_OP_MATMUL_NT), -1); /* no model file can name them */
    assert_int_equal(nn_op_lookup(NN_OP_ATTENTION), -1);
    /* A [b.., M, K], X [b.., N, K] */
    int64_t cases[][7] = {
        /* rank, a batch, x batch, M, K, N, scale elements */
        {4, 8, 8, 1, 36, 901, 1}, {4, 8, 8, 37, 36, 70, 1}, {3, 1, 3, 5, 17, 16, 1},
        {3, 2, 2, 4, 9, 130, 1},  {3, 2, 2, 3, 5, 6, 6},
    };
    uint64_t seed = 5;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int r = (int)cases[c][0];
        int64_t ad[4] = {1, cases[c][1], cases[c][3], cases[c][4]};
        int64_t xd[4] = {1, cases[c][2], cases[c][5], cases[c][4]};
        nn_tensor a = {0}, x = {0}, sc = {0}, t = {0}, u = {0}, want = {0}, got = {0};
        assert_int_equal(nn_tensor_alloc(&a, NN_F32, r, ad + 4 - r), 0);
        assert_int_equal(nn_tensor_alloc(&x, NN_F32, r, xd + 4 - r), 0);
        assert_int_equal(nn_tensor_alloc(&sc, NN_F32, 1, (int64_t[]){cases[c][6]}), 0);
        nn_ref_fill(&a, &seed, -1, 1);
        nn_ref_fill(&x, &seed, -1, 1);
        nn_ref_fill(&sc, &seed, 0.2, 0.6);
        int64_t perm[4] = {0, 1, 2, 3};
        perm[r - 2] = r - 1;
        perm[r - 1] = r - 2;
        nn_attr pa = {.name = "perm", .type = NN_ATTR_INTS, .n = r, .ints = perm};
        char *err = NULL;
        assert_int_equal(nn_op_run("Transpose", &pa, 1, (const nn_tensor *[]){&x}, 1, &t, 1, &err),
                         0);
        assert_int_equal(nn_op_run("Mul", NULL, 0, (const nn_tensor *[]){&t, &sc}, 2, &u, 1, &err),
                         0);
        assert_int_equal(
            nn_op_run("MatMul", NULL, 0, (const nn_tensor *[]){&a, &u}, 2, &want, 1, &err), 0);
        nn_fused_nt f = {&pa, 1, 0};
        nn_kctx k = {NN_OP_MATMUL_NT, "fused", NULL, 0, NULL, 2, &err, &f};
        nn_tensor *outs[1] = {&got};
        assert_int_equal(nt->fn(&k, (const nn_tensor *[]){&a, &x, &sc}, 3, outs, 1), 0);
        assert_int_equal(got.ndim, want.ndim);
        for (int d = 0; d < got.ndim; d++)
            assert_int_equal(got.dims[d], want.dims[d]);
        double md = nn_ref_maxdiff(&got, &want);
        assert_true(md >= 0 && md < 1e-5);
        /* the whole attention: Softmax(scores) x V, V [b.., N, 20] */
        nn_tensor v = {0}, p = {0}, o = {0}, go = {0};
        int64_t vd[4] = {1, cases[c][2], cases[c][5], 20};
        assert_int_equal(nn_tensor_alloc(&v, NN_F32, r, vd + 4 - r), 0);
        nn_ref_fill(&v, &seed, -1, 1);
        assert_int_equal(
            nn_op_run("Softmax", NULL, 0, (const nn_tensor *[]){&want}, 1, &p, 1, &err), 0);
        int vr = nn_op_run("MatMul", NULL, 0, (const nn_tensor *[]){&p, &v}, 2, &o, 1, &err);
        if (vr != 0) { /* a batch that does not broadcast against V: no reference */
            free(err);
            err = NULL;
        }
        nn_attr axis = {.name = "axis", .type = NN_ATTR_INT, .i = -1};
        nn_fused_attn fa = {f, &axis, 1};
        nn_kctx ka = {NN_OP_ATTENTION, "fused", NULL, 0, NULL, 2, &err, &fa};
        nn_tensor *aouts[1] = {&go};
        int ar = att->fn(&ka, (const nn_tensor *[]){&a, &x, &sc, &v}, 4, aouts, 1);
        assert_int_equal(ar, vr);
        if (vr == 0) {
            md = nn_ref_maxdiff(&go, &o);
            assert_true(md >= 0 && md < 1e-5);
        }
        free(err);
        err = NULL;
        nn_tensor *all[] = {&a, &x, &sc, &t, &u, &want, &got, &v, &p, &o, &go};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            nn_tensor_free(all[i]);
    }
    char path[1100];
    if (!have_model("decoder_model_merged.onnx", path, sizeof path))
        return;
    nn_model *m = NULL;
    char *err = NULL;
    if (nn_onnx_load_file(path, 0, &m, &err) != 0)
        fail_msg("%s", err);
    int fused = 0, n_nt = 0, n_att = 0;
    count_fused(&m->main, &fused, &n_nt, &n_att);
    print_message("decoder: %d attention-score products fused, %d of them into whole attention "
                  "(%d nodes no longer run)\n",
                  n_nt, n_att, fused);
    /* 6 layers x (self attention in both branches, cross attention in the cached one; the
     * first step's cross attention transposes K another way). Self attention adds a mask
     * between scores and Softmax, so only the cached cross attention becomes whole. */
    assert_true(n_nt >= 18);
    assert_true(n_att >= 6);
    assert_int_equal(fused, 2 * n_nt + 2 * n_att);
    nn_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pb_reader_bounds),
        cmocka_unit_test(test_load_one_op_model),
        cmocka_unit_test(test_pool_size_classes),
        cmocka_unit_test(test_bad_models_fail_cleanly),
        cmocka_unit_test(test_ops_match_onnxruntime),
        cmocka_unit_test(test_gemm_kernels),
        cmocka_unit_test(test_sgemm_ragged),
        cmocka_unit_test(test_fused_attention_scores),
        cmocka_unit_test(test_encoder_matches_onnxruntime),
        cmocka_unit_test(test_moonshine_tokens_match_onnxruntime),
        cmocka_unit_test(test_moonshine_warm_runs_allocate_nothing),
        cmocka_unit_test(test_moonshine_missing_model_names_installer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
