/*
 * nn_cli.c — `stepd nn ...`: tools for whoever adds a model to the neural engine (src/nn).
 *   stepd nn info MODEL.onnx   inputs and outputs (types, shapes inferred at load), op
 *                              types with counts and whether the engine has a kernel for
 *                              each, node and parameter counts, as JSON.
 */
#include "ai/ai_cli.h"
#include "ai/speech_asr_moonshine.h"
#include "nn/moonshine.h"
#include "nn/nn.h"

#include <stepd/ai/speech.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: stepd nn info MODEL.onnx [--shapes]\n"
               "       stepd nn moonshine AUDIO [--model-dir DIR] [--threads N]\n"
               "       stepd nn transcribe AUDIO... [--model-dir DIR]\n"
               "  info: the model's inputs, outputs (shapes inferred at load: numbers, symbols\n"
               "        such as \"batch_size\" or \"past+1\", null when unknown), op types (with\n"
               "        counts and engine support), node and parameter counts as JSON;\n"
               "        --shapes adds \"values\": the inferred type and shape of every value.\n"
               "  moonshine: runs the Moonshine model on an audio file: {text, tokens, seconds,\n"
               "        encodeMs, decodeMs, realTimeFactor}. Model: build-data/nn/moonshine-tiny\n"
               "        or $STEPD_NN_MODEL_DIR (install: packages/nn.data.sh).\n"
               "  transcribe: speech transcription (segments at silences, words) with the\n"
               "        Moonshine recogniser; same JSON as `stepd ai transcribe` (several files:\n"
               "        one compact object a line, with \"file\").\n");
}

typedef struct pcm_buf {
    float *x;
    size_t n, cap;
} pcm_buf;

static int on_pcm(void *user, const int16_t *s, size_t n, int rate) {
    (void)rate;
    pcm_buf *b = user;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->n + n)
            cap *= 2;
        float *x = realloc(b->x, cap * sizeof *x);
        if (!x)
            return 1;
        b->x = x;
        b->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        b->x[b->n + i] = (float)s[i] / 32768.0f;
    b->n += n;
    return 0;
}

static int cmd_moonshine(int argc, char **argv) {
    const char *file = NULL, *dir = NULL;
    int threads = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--model-dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    char *err = NULL;
    pcm_buf b = {0};
    nn_moonshine *m = NULL;
    nn_moonshine_run *r = NULL;
    json_t *toks = json_array(), *o = NULL;
    double enc = 0, dec = 0;
    char *text = NULL;
    int rc = stepd_speech_decode_file(file, on_pcm, &b, NULL, &err);
    if (rc == 0)
        rc = nn_moonshine_load(dir, &m, &err);
    if (rc == 0)
        rc = nn_moonshine_run_new(m, threads, &r, &err);
    size_t max = (size_t)NN_MOONSHINE_RATE * 25;
    for (size_t off = 0; rc == 0 && off < b.n;) {
        size_t len = nn_moonshine_cut_point(b.x + off, b.n - off, max);
        nn_moonshine_result res;
        rc = nn_moonshine_transcribe(r, b.x + off, len, &res, &err);
        if (rc < 0)
            break;
        for (int i = 0; i < res.n_tokens; i++)
            json_array_append_new(toks, json_integer(res.tokens[i]));
        enc += res.encode_ms;
        dec += res.decode_ms;
        size_t tl = text ? strlen(text) : 0;
        char *t = realloc(text, tl + strlen(res.text) + 2);
        if (t) {
            if (tl && *res.text)
                t[tl++] = ' ';
            strcpy(t + tl, res.text);
            text = t;
        }
        nn_moonshine_result_free(&res);
        off += len;
    }
    if (rc < 0) {
        fprintf(stderr, "stepd nn moonshine: %s\n", err ? err : "failed");
    } else {
        double sec = (double)b.n / NN_MOONSHINE_RATE;
        o = json_pack("{s:s,s:O,s:f,s:f,s:f,s:f}", "text", text ? text : "", "tokens", toks,
                      "seconds", sec, "encodeMs", enc, "decodeMs", dec, "realTimeFactor",
                      sec > 0 ? (enc + dec) / 1000.0 / sec : 0.0);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s ? s : "{}");
        free(s);
    }
    json_decref(o);
    json_decref(toks);
    free(text);
    free(err);
    free(b.x);
    nn_moonshine_run_free(r);
    nn_moonshine_free(m);
    return rc < 0 ? 1 : 0;
}

/* A value's shape as inferred at load (symbols as strings, unknown dims as null), or as
 * declared when inference did not run. */
static json_t *value_json(const nn_model *m, int id) {
    const nn_value *v = &m->vals[id];
    const nn_shape *s = m->shapes ? &m->shapes[id] : NULL;
    nn_dtype t = s && s->dtype ? s->dtype : v->dtype;
    int ndim = s ? s->ndim : v->ndim;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(v->name));
    json_object_set_new(o, "type", json_string(t ? nn_dtype_name(t) : "unknown"));
    if (ndim >= 0) {
        json_t *shape = json_array();
        for (int d = 0; d < ndim; d++) {
            const char *sym = s ? s->sym[d] : v->dim_names[d];
            int64_t n = s ? s->dims[d] : v->dims[d];
            json_array_append_new(shape, n >= 0 ? json_integer(n)
                                         : sym  ? json_string(sym)
                                                : json_null());
        }
        json_object_set_new(o, "shape", shape);
    } else
        json_object_set_new(o, "shape", json_null());
    if (v->is_const)
        json_object_set_new(o, "constant", json_true());
    return o;
}

typedef struct ops_acc {
    json_t *ops, *missing;
    int nodes;
} ops_acc;

static void add_op(void *arg, const char *op, int count) {
    ops_acc *a = arg;
    json_t *o = json_object();
    json_object_set_new(o, "count", json_integer(count));
    int ok = nn_op_lookup(op) >= 0;
    json_object_set_new(o, "supported", json_boolean(ok));
    json_object_set_new(a->ops, op, o);
    if (!ok)
        json_array_append_new(a->missing, json_string(op));
    a->nodes += count;
}

static int cmd_info(const char *path, int all_shapes) {
    nn_model *m = NULL;
    char *err = NULL;
    if (nn_onnx_load_file(path, NN_LOAD_ANY_OPS, &m, &err) < 0) {
        fprintf(stderr, "stepd nn info: %s\n", err ? err : "cannot load the model");
        free(err);
        return 1;
    }
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "format", json_string("onnx"));
    json_object_set_new(o, "ir_version", json_integer(m->ir_version));
    json_object_set_new(o, "opset", json_integer(m->opset));
    if (m->producer)
        json_object_set_new(o, "producer", json_string(m->producer));
    json_t *ins = json_array(), *outs = json_array();
    for (int i = 0; i < m->main.nin; i++)
        json_array_append_new(ins, value_json(m, m->main.inputs[i]));
    for (int i = 0; i < m->main.nout; i++)
        json_array_append_new(outs, value_json(m, m->main.outputs[i]));
    json_object_set_new(o, "inputs", ins);
    json_object_set_new(o, "outputs", outs);
    ops_acc a = {json_object(), json_array(), 0};
    nn_model_ops(m, add_op, &a);
    json_object_set_new(o, "ops", a.ops);
    json_object_set_new(o, "unsupported_ops", a.missing);
    json_object_set_new(o, "nodes", json_integer(a.nodes));
    json_object_set_new(o, "parameters", json_integer(m->nparams));
    if (all_shapes) {
        json_t *vals = json_array();
        for (int i = 0; i < m->nvals; i++)
            json_array_append_new(vals, value_json(m, i));
        json_object_set_new(o, "values", vals);
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(s ? s : "{}");
    free(s);
    json_decref(o);
    nn_model_free(m);
    return 0;
}

static int cmd_transcribe(int argc, char **argv) {
    const char *dir = NULL;
    const char *files[256];
    int nf = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--model-dir") && i + 1 < argc)
            dir = argv[++i];
        else if (argv[i][0] != '-' && nf < 256)
            files[nf++] = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!nf) {
        usage(stderr);
        return 2;
    }
    char *err = NULL;
    stepd_speech_recognizer *rec = NULL;
    int rc = stepd_speech_recognizer_open(&stepd_speech_moonshine, dir, &rec, &err);
    for (int f = 0; f < nf && rc == 0; f++) {
        stepd_speech_transcript t = {0};
        rc = stepd_speech_transcribe_file(rec, files[f], &t, &err);
        if (rc == 0) {
            json_t *j = stepd_speech_transcript_json(&t);
            json_object_set_new(j, "engine", json_string("moonshine"));
            if (nf > 1)
                json_object_set_new(j, "file", json_string(files[f]));
            /* several files: one compact JSON object per line */
            char *s = json_dumps(j, nf > 1 ? JSON_COMPACT | JSON_PRESERVE_ORDER
                                           : JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(s ? s : "{}");
            free(s);
            json_decref(j);
        }
        stepd_speech_transcript_free(&t);
    }
    if (rc != 0)
        fprintf(stderr, "stepd nn transcribe: %s\n", err ? err : "failed");
    stepd_speech_recognizer_close(rec);
    free(err);
    return rc == 0 ? 0 : 1;
}

int ai_cli_nn(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "info")) {
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return 0;
        }
        const char *file = NULL;
        int all = 0;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--shapes"))
                all = 1;
            else if (argv[i][0] != '-' && !file)
                file = argv[i];
            else {
                usage(stderr);
                return 2;
            }
        }
        if (!file) {
            usage(stderr);
            return 2;
        }
        return cmd_info(file, all);
    }
    if (!strcmp(argv[1], "moonshine"))
        return cmd_moonshine(argc, argv);
    if (!strcmp(argv[1], "transcribe"))
        return cmd_transcribe(argc, argv);
    fprintf(stderr, "stepd nn: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
