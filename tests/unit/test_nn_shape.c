/* test_nn_shape.c — shape inference at load (src/nn/nn_shape.c): shapes of hand-built graphs
 * with symbolic dimensions (always run), inconsistent models rejected at load with the node
 * and the shapes named, and the inferred shapes of the real Moonshine encoder/decoder
 * (checked against an actual run) when the model is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stepd/step.h>

#include "nn/nn.h"
#include "support/nn_ref.h"

static nn_model *load_spec(const char *spec, char **err) {
    nn_buf b;
    assert_int_equal(nn_ref_graph_model(&b, spec), 0);
    nn_model *m = NULL;
    int rc = nn_onnx_load(b.p, b.n, 0, &m, err);
    nn_buf_free(&b);
    return rc == 0 ? m : NULL;
}

static const char *shape_of(const nn_model *m, const char *name) {
    static char buf[256];
    int id = nn_model_find(m, name);
    if (id < 0)
        fail_msg("no value '%s'", name);
    return nn_shape_text(&m->shapes[id], buf, sizeof buf);
}

static void expect(const char *spec, const char *value, const char *shape) {
    char *err = NULL;
    nn_model *m = load_spec(spec, &err);
    if (!m)
        fail_msg("load failed: %s\n%s", err, spec);
    const char *got = shape_of(m, value);
    if (strcmp(got, shape))
        fail_msg("'%s': inferred %s, expected %s", value, got, shape);
    nn_model_free(m);
}

static nn_dtype type_of(const char *spec, const char *value) {
    char *err = NULL;
    nn_model *m = load_spec(spec, &err);
    if (!m)
        fail_msg("load failed: %s", err);
    nn_dtype t = m->shapes[nn_model_find(m, value)].dtype;
    nn_model_free(m);
    return t;
}

#define X "in x float32 batch,seq,288\n"

static void test_shapes_of_small_graphs(void **state) {
    (void)state;
    /* products, broadcasting, reductions */
    expect(X "init w float32 288,64\nnode MatMul x,w -> y\nout y\n", "y", "[batch, seq, 64]");
    expect(X "in k float32 batch,8,36,kv\nin q float32 batch,8,seq,36\n"
             "node MatMul q,k -> y\nout y\n",
           "y", "[batch, 8, seq, kv]");
    expect(X "init b float32 288\nnode Add x,b -> y\nout y\n", "y", "[batch, seq, 288]");
    expect(X "in m float32 1,seq,1\nnode Mul m,x -> y\nout y\n", "y", "[batch, seq, 288]");
    expect(X "node ReduceMean x -> y axes=-1,\nout y\n", "y", "[batch, seq, 1]");
    expect(X "node ReduceMean x -> y axes=1, keepdims=0\nout y\n", "y", "[batch, 288]");
    expect(X "node Transpose x -> y perm=1,0,2\nout y\n", "y", "[seq, batch, 288]");
    expect(X "node Softmax x -> y\nout y\n", "y", "[batch, seq, 288]");
    assert_int_equal(type_of(X "node Greater x,x -> y\nout y bool\n", "y"), NN_BOOL);
    assert_int_equal(type_of(X "node Cast x -> y to=7\nout y int64\n", "y"), NN_I64);
    /* a shape subgraph: Shape -> Gather -> Unsqueeze -> Concat -> Reshape splits the heads */
    const char *heads = X "init i0 int64 - = 0\ninit i1 int64 - = 1\ninit ax int64 1 = 0\n"
                          "init tail int64 2 = 8 36\n"
                          "node Shape x -> s\nnode Gather s,i0 -> b\nnode Gather s,i1 -> t\n"
                          "node Unsqueeze b,ax -> bu\nnode Unsqueeze t,ax -> tu\n"
                          "node Concat bu,tu,tail -> shp axis=0\nnode Reshape x,shp -> y\n"
                          "node Transpose y -> z perm=0,2,1,3\nout z\n";
    expect(heads, "shp", "[4]");
    expect(heads, "y", "[batch, seq, 8, 36]");
    expect(heads, "z", "[batch, 8, seq, 36]");
    /* Reshape with 0 and -1: the element count leaves seq*288 */
    expect(X "init t int64 2 = 0 -1\nnode Reshape x,t -> y\nout y\n", "y", "[batch, seq*288]");
    expect(X "init t int64 3 = 0 0 -1\nnode Reshape x,t -> y\nout y\n", "y", "[batch, seq, 288]");
    expect("in x float32 2,3,4\ninit t int64 2 = -1 6\nnode Reshape x,t -> y\nout y\n", "y",
           "[4, 6]");
    /* the KV cache grows by one along the sequence */
    expect("in past float32 batch,8,past,36\nin new float32 batch,8,1,36\n"
           "node Concat past,new -> y axis=2\nout y\n",
           "y", "[batch, 8, past+1, 36]");
    expect("in a float32 batch,8,p,36\nin b float32 batch,8,q,36\n"
           "node Concat a,b -> y axis=-2\nout y\n",
           "y", "[batch, 8, p+q, 36]");
    /* convolutions: the output length as an expression of the input's */
    const char *conv = "in x float32 batch,1,n\ninit w float32 4,1,127\n"
                       "node Conv x,w -> y strides=64, kernel_shape=127,\n"
                       "init w2 float32 4,4,7\nnode Conv y,w2 -> z strides=3, pads=3,3\n"
                       "out z\n";
    expect(conv, "y", "[batch, 4, (n-127)/64+1]");
    expect(conv, "z", "[batch, 4, (n-127)/64/3+1]"); /* pads 6 - kernel 7 + 1 */
    expect("in x float32 1,3,32\ninit w float32 8,3,3\nnode Conv x,w -> y strides=2, pads=1,1\n"
           "out y\n",
           "y", "[1, 8, 16]");
    /* Slice, Range, ConstantOfShape, Expand from computed shapes */
    expect("in x float32 10\ninit st int64 1 = 9\ninit en int64 1 = 0\ninit sp int64 1 = -4\n"
           "init ax int64 1 = 0\nnode Slice x,st,en,ax,sp -> y\nout y\n",
           "y", "[3]"); /* 9, 5, 1 */
    expect("in x float32 10\ninit st int64 1 = 1\ninit en int64 1 = 100\ninit sp int64 1 = "
           "9223372036854775807\ninit ax int64 1 = 0\nnode Slice x,st,en,ax,sp -> y\nout y\n",
           "y", "[1]");
    expect(X "init st int64 1 = 0\ninit en int64 1 = 144\ninit ax int64 1 = 2\n"
             "node Slice x,st,en,ax -> y\nout y\n",
           "y", "[batch, seq, 144]");
    expect(X "init st int64 1 = 1\ninit en int64 1 = 9223372036854775807\ninit ax int64 1 = 1\n"
             "node Slice x,st,en,ax -> y\nout y\n",
           "y", "[batch, seq-1, 288]");
    expect(X "init st int64 1 = -2\ninit en int64 1 = 1000\nnode Shape x -> s\n"
             "node Slice s,st,en -> y\nnode ConstantOfShape y -> z\nout z\n",
           "z", "[seq, 288]");
    expect(X "init i1 int64 - = 1\ninit zero int64 - = 0\ninit one int64 - = 1\n"
             "node Shape x -> s\nnode Gather s,i1 -> t\nnode Range zero,t,one -> r\nout r int64\n",
           "r", "[seq]");
    expect(X "init w float32 1,288\nnode Shape x -> s\nnode Expand w,s -> y\nout y\n", "y",
           "[batch, seq, 288]");
    /* arithmetic on shape values: seq + 1 */
    expect(X "init i1 int64 1 = 1\ninit one int64 1 = 1\ninit ax int64 1 = 0\n"
             "node Shape x -> s\nnode Gather s,i1 -> t\nnode Add t,one -> t1\n"
             "node ConstantOfShape t1 -> z\nout z\n",
           "z", "[seq+1]");
    /* quantisation */
    expect(X "node DynamicQuantizeLinear x -> q,sc,zp\nout q uint8\nout sc\nout zp uint8\n", "q",
           "[batch, seq, 288]");
    expect(X "node DynamicQuantizeLinear x -> q,sc,zp\nout q uint8\nout sc\nout zp uint8\n", "sc",
           "[]");
    assert_int_equal(type_of(X "init w uint8 288,4\nnode DynamicQuantizeLinear x -> q,sc,zp\n"
                               "node MatMulInteger q,w,zp -> y\nout y int32\n",
                             "y"),
                     NN_I32);
    /* symbols that may be equal at run time are not errors; unnamed dims stay unknown */
    expect("in a float32 batch,k\ninit w float32 3,4\nnode MatMul a,w -> y\nout y\n", "y",
           "[batch, 4]");
    expect("in a float32 ?,3\ninit w float32 3,4\nnode MatMul a,w -> y\nout y\n", "y", "[?, 4]");
    expect("in a float32 ?,3\nin b float32 n,3\nnode Add a,b -> y\nout y\n", "y", "[?, 3]");
}

static void expect_error(const char *spec, const char *const *words) {
    char *err = NULL;
    nn_model *m = load_spec(spec, &err);
    if (m)
        fail_msg("loaded, expected an error:\n%s", spec);
    assert_non_null(err);
    for (; *words; words++)
        if (!strstr(err, *words))
            fail_msg("error '%s' does not name '%s'", err, *words);
    print_message("  rejected: %s\n", err);
    free(err);
}

static void test_inconsistent_models_fail_at_load(void **state) {
    (void)state;
    expect_error("in a float32 batch,3\nin b float32 4,5\nnode MatMul a,b -> y\nout y\n",
                 (const char *[]){"n0", "MatMul", "inner", "[batch, 3]", "[4, 5]", NULL});
    expect_error("in a float32 2,3\nin b float32 2,3,4\nnode Concat a,b -> y axis=0\nout y\n",
                 (const char *[]){"n0", "Concat", "ranks", "[2, 3]", "[2, 3, 4]", NULL});
    expect_error("in a float32 2,3\nin b float32 4,3\nnode Concat a,b -> y axis=1\nout y\n",
                 (const char *[]){"n0", "Concat", "[2, 3]", "[4, 3]", NULL});
    expect_error("in a float32 2,3\nin b float32 3,4\nin c float32 3,4\n"
                 "node MatMul a,b,c -> y\nout y\n",
                 (const char *[]){"n0", "MatMul", "takes 2 inputs, given 3", NULL});
    expect_error("in a float32 2,3\nnode Where a -> y\nout y\n",
                 (const char *[]){"n0", "Where", "takes 3 inputs, given 1", NULL});
    expect_error("in a float32 seq,3\nin b float32 seq,4\nnode Add a,b -> y\nout y\n",
                 (const char *[]){"n0", "Add", "broadcast", "[seq, 3]", "[seq, 4]", NULL});
    expect_error("in a float32 2,3\ninit t int64 2 = 4 2\nnode Reshape a,t -> y\nout y\n",
                 (const char *[]){"n0", "Reshape", "element counts", "[2, 3]", NULL});
    expect_error("in a float32 2,3\nnode Transpose a -> y perm=0,2\nout y\n",
                 (const char *[]){"n0", "Transpose", "perm", NULL});
    /* an omitted input between the others is skipped in the message */
    expect_error("in a float32 2,3\nin b float32 2,3,4\nnode Concat a,_,b -> y axis=0\nout y\n",
                 (const char *[]){"ranks", "'a' [2, 3], 'b' [2, 3, 4]", NULL});
    /* a declared output shape the graph contradicts */
    expect_error("in a float32 2,3\ninit w float32 3,4\nnode MatMul a,w -> y\nout y float32 2,5\n",
                 (const char *[]){"n0", "'y'", "declared [2, 5]", "is [2, 4]", NULL});
    /* the error is found deep in a graph: the second MatMul, after a reshape */
    expect_error(X "init w float32 288,64\ninit w2 float32 32,8\nnode MatMul x,w -> y\n"
                   "node MatMul y,w2 -> z\nout z\n",
                 (const char *[]){"n1", "[batch, seq, 64]", "[32, 8]", NULL});
    /* a consistent graph with the same ops loads */
    char *err = NULL;
    nn_model *m = load_spec(X "init w float32 288,64\ninit w2 float32 64,8\n"
                              "node MatMul x,w -> y\nnode MatMul y,w2 -> z\nout z\n",
                            &err);
    assert_non_null(m);
    nn_model_free(m);
}

/* ---- Moonshine -------------------------------------------------------------------------- */
static int have_model(const char *file, char *path, size_t n) {
    const char *d = getenv("STEPD_NN_MODEL_DIR"), *r = getenv("STEPD_ROOT");
    if (d)
        snprintf(path, n, "%s/%s", d, file);
    else
        snprintf(path, n, "%s/build-data/nn/moonshine-tiny/%s", r ? r : ".", file);
    if (access(path, R_OK) == 0)
        return 1;
    print_message("model %s not installed (run packages/nn.data.sh)\n", path);
    return 0;
}

static void test_moonshine_shapes(void **state) {
    (void)state;
    char path[1100];
    if (!have_model("encoder_model.onnx", path, sizeof path))
        skip();
    nn_model *m = NULL;
    char *err = NULL;
    if (nn_onnx_load_file(path, 0, &m, &err) != 0)
        fail_msg("%s", err);
    const char *enc = "[batch_size, (((num_samples-127)/64-6)/3-2)/2+1, 288]";
    assert_string_equal(shape_of(m, "last_hidden_state"), enc);
    /* the expression is the length a run gives: 1 s of audio -> 40 frames */
    nn_session *s = NULL;
    assert_int_equal(nn_session_new(m, 2, &s, &err), 0);
    nn_tensor *in = nn_session_input(s, "input_values");
    for (int64_t n = 16000; n <= 16000 + 200; n += 100) {
        assert_int_equal(nn_tensor_alloc(in, NN_F32, 2, (int64_t[]){1, n}), 0);
        memset(in->data, 0, (size_t)n * 4);
        assert_int_equal(nn_session_run(s, &err), 0);
        int64_t t = ((((n - 127) / 64 + 1 - 7) / 3 + 1) - 3) / 2 + 1;
        assert_int_equal(nn_session_output(s, "last_hidden_state")->dims[1], t);
    }
    nn_session_free(s);
    nn_model_free(m);
    if (!have_model("decoder_model_merged.onnx", path, sizeof path))
        skip();
    if (nn_onnx_load_file(path, 0, &m, &err) != 0)
        fail_msg("%s", err);
    assert_string_equal(shape_of(m, "logits"), "[batch_size, decoder_sequence_length, 32768]");
    const nn_shape *k = &m->shapes[nn_model_find(m, "present.0.decoder.key")];
    assert_int_equal(k->ndim, 4);
    assert_int_equal(k->dims[1], 8);
    assert_int_equal(k->dims[3], 36);
    /* inferred from the input encoder_hidden_states (the file declares a separate name) */
    assert_string_equal(shape_of(m, "present.0.encoder.value"),
                        "[batch_size, 8, encoder_sequence_length, 36]");
    int unknown_rank = 0;
    for (int i = 0; i < m->nvals; i++)
        unknown_rank += m->shapes[i].ndim < 0;
    print_message("decoder: %d values, %d of unknown rank\n", m->nvals, unknown_rank);
    assert_int_equal(unknown_rank, 0);
    nn_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_of_small_graphs),
        cmocka_unit_test(test_inconsistent_models_fail_at_load),
        cmocka_unit_test(test_moonshine_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
