/*
 * nn_ref.c — see nn_ref.h. The ONNX writer emits only the fields the loader and
 * onnxruntime need (ir_version 8, opset 14). The onnxruntime bridge writes raw tensors and a
 * JSON manifest into a temporary directory and runs `node tests/nn/ort_run.js`.
 */
#include "support/nn_ref.h"
#include "nn/nn_pb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nn_buf_free(nn_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void put(nn_buf *b, const void *p, size_t n) {
    if (!n)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void varint(nn_buf *b, uint64_t v) {
    uint8_t t[10];
    int n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    put(b, t, (size_t)n);
}

static void key(nn_buf *b, int num, int wire) {
    varint(b, (uint64_t)(num << 3 | wire));
}
static void fint(nn_buf *b, int num, uint64_t v) {
    key(b, num, 0);
    varint(b, v);
}
static void fbytes(nn_buf *b, int num, const void *p, size_t n) {
    key(b, num, 2);
    varint(b, n);
    put(b, p, n);
}
static void fstr(nn_buf *b, int num, const char *s) {
    fbytes(b, num, s, strlen(s));
}
static void fmsg(nn_buf *b, int num, nn_buf *m) {
    fbytes(b, num, m->p, m->n);
    nn_buf_free(m);
}

static void tensor_proto(nn_buf *b, const nn_tensor *t, const char *name) {
    for (int i = 0; i < t->ndim; i++)
        fint(b, 1, (uint64_t)t->dims[i]);
    fint(b, 2, (uint64_t)t->dtype);
    if (name)
        fstr(b, 8, name);
    fbytes(b, 9, t->data, (size_t)nn_tensor_numel(t) * nn_dtype_size(t->dtype));
}

static void value_info(nn_buf *b, int num, const char *name, nn_dtype dt, const nn_tensor *shape) {
    nn_buf vi = {0}, tp = {0}, tt = {0}, sh = {0};
    fstr(&vi, 1, name);
    fint(&tt, 1, (uint64_t)dt);
    if (shape) {
        for (int i = 0; i < shape->ndim; i++) {
            nn_buf d = {0};
            fint(&d, 1, (uint64_t)shape->dims[i]);
            fmsg(&sh, 1, &d);
        }
        key(&tt, 2, 2);
        varint(&tt, sh.n);
        put(&tt, sh.p, sh.n);
        nn_buf_free(&sh);
    }
    fmsg(&tp, 1, &tt);
    fmsg(&vi, 2, &tp);
    fmsg(b, num, &vi);
}

static void attr_proto(nn_buf *b, const nn_attr *a) {
    fstr(b, 1, a->name);
    switch (a->type) {
    case NN_ATTR_FLOAT:
        key(b, 2, 5);
        put(b, &a->f, 4);
        break;
    case NN_ATTR_INT:
        fint(b, 3, (uint64_t)a->i);
        break;
    case NN_ATTR_STRING:
        fstr(b, 4, a->s);
        break;
    case NN_ATTR_TENSOR: {
        nn_buf t = {0};
        tensor_proto(&t, &a->t, NULL);
        fmsg(b, 5, &t);
        break;
    }
    case NN_ATTR_INTS:
        for (int i = 0; i < a->n; i++)
            fint(b, 8, (uint64_t)a->ints[i]);
        break;
    case NN_ATTR_FLOATS:
        fbytes(b, 7, a->floats, (size_t)a->n * 4);
        break;
    default:
        break;
    }
    fint(b, 20, (uint64_t)a->type);
}

int nn_ref_op_model(nn_buf *out, const char *op, const nn_attr *attrs, int nattr,
                    const nn_tensor *const *ins, const int *init, int nin,
                    const nn_dtype *out_types, int nout) {
    char nm[32];
    nn_buf g = {0}, node = {0};
    for (int i = 0; i < nin; i++) {
        snprintf(nm, sizeof nm, "in%d", i);
        fstr(&node, 1, ins[i] ? nm : "");
    }
    for (int i = 0; i < nout; i++) {
        snprintf(nm, sizeof nm, "out%d", i);
        fstr(&node, 2, nm);
    }
    fstr(&node, 3, "n0");
    fstr(&node, 4, op);
    for (int i = 0; i < nattr; i++) {
        nn_buf a = {0};
        attr_proto(&a, &attrs[i]);
        fmsg(&node, 5, &a);
    }
    fmsg(&g, 1, &node);
    fstr(&g, 2, "g");
    for (int i = 0; i < nin; i++) {
        if (!ins[i] || !init || !init[i])
            continue;
        nn_buf t = {0};
        snprintf(nm, sizeof nm, "in%d", i);
        tensor_proto(&t, ins[i], nm);
        fmsg(&g, 5, &t);
    }
    for (int i = 0; i < nin; i++) {
        if (!ins[i] || (init && init[i]))
            continue;
        snprintf(nm, sizeof nm, "in%d", i);
        value_info(&g, 11, nm, ins[i]->dtype, ins[i]);
    }
    for (int i = 0; i < nout; i++) {
        snprintf(nm, sizeof nm, "out%d", i);
        value_info(&g, 12, nm, out_types[i], NULL);
    }
    memset(out, 0, sizeof *out);
    fint(out, 1, 8);
    fstr(out, 2, "stepd-tests");
    fmsg(out, 7, &g);
    nn_buf os = {0};
    fstr(&os, 1, "");
    fint(&os, 2, 14);
    fmsg(out, 8, &os);
    return 0;
}

static nn_dtype type_named(const char *s) {
    static const struct {
        const char *n;
        nn_dtype t;
    } T[] = {{"float32", NN_F32}, {"int64", NN_I64}, {"int32", NN_I32},
             {"uint8", NN_U8},    {"int8", NN_I8},   {"bool", NN_BOOL}};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (!strcmp(T[i].n, s))
            return T[i].t;
    return NN_UNDEF;
}

/* "batch,7,?" -> a TensorShapeProto in sh; dims into d (-1 symbolic) */
static int shape_proto(nn_buf *sh, const char *spec, int64_t *d, int *nd) {
    *nd = 0;
    if (!strcmp(spec, "-"))
        return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*nd >= NN_MAXDIM)
            return -1;
        nn_buf dm = {0};
        if (*t >= '0' && *t <= '9') {
            d[*nd] = strtoll(t, NULL, 10);
            fint(&dm, 1, (uint64_t)d[*nd]);
        } else {
            d[*nd] = -1;
            if (strcmp(t, "?"))
                fstr(&dm, 2, t);
        }
        (*nd)++;
        fmsg(sh, 1, &dm);
    }
    return 0;
}

int nn_ref_graph_model(nn_buf *out, const char *spec) {
    nn_buf g = {0}, nodes = {0}, inits = {0}, ins = {0}, outs = {0};
    char *text = strdup(spec);
    int nnode = 0, rc = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !rc;
         line = strtok_r(NULL, "\n", &save)) {
        char *w[64];
        int nw = 0;
        for (char *s2 = NULL, *t = strtok_r(line, " ", &s2); t && nw < 64;
             t = strtok_r(NULL, " ", &s2))
            w[nw++] = t;
        if (!nw)
            continue;
        if ((!strcmp(w[0], "in") || !strcmp(w[0], "init")) && nw >= 4) {
            nn_dtype t = type_named(w[2]);
            int64_t d[NN_MAXDIM];
            int nd;
            nn_buf sh = {0};
            if (!t || shape_proto(&sh, w[3], d, &nd) < 0) {
                nn_buf_free(&sh);
                rc = -1;
                break;
            }
            if (!strcmp(w[0], "in")) {
                nn_buf vi = {0}, tp = {0}, tt = {0};
                fstr(&vi, 1, w[1]);
                fint(&tt, 1, (uint64_t)t);
                fmsg(&tt, 2, &sh);
                fmsg(&tp, 1, &tt);
                fmsg(&vi, 2, &tp);
                fmsg(&ins, 11, &vi);
                continue;
            }
            nn_buf_free(&sh);
            nn_tensor x = {0};
            if (nn_tensor_alloc(&x, t, nd, d) < 0) {
                rc = -1;
                break;
            }
            int64_t n = nn_tensor_numel(&x);
            memset(x.data, 0, (size_t)n * nn_dtype_size(t));
            for (int i = 0; i < n && nw > 5 + i; i++) {
                long long v = strtoll(w[5 + i], NULL, 10);
                if (t == NN_F32)
                    ((float *)x.data)[i] = strtof(w[5 + i], NULL);
                else if (t == NN_I64)
                    ((int64_t *)x.data)[i] = v;
                else if (t == NN_I32)
                    ((int32_t *)x.data)[i] = (int32_t)v;
                else
                    ((uint8_t *)x.data)[i] = (uint8_t)v;
            }
            nn_buf tb = {0};
            tensor_proto(&tb, &x, w[1]);
            fmsg(&inits, 5, &tb);
            nn_tensor_free(&x);
        } else if (!strcmp(w[0], "node") && nw >= 4) {
            nn_buf nb = {0};
            int k = 2;
            for (; k < nw && strcmp(w[k], "->"); k++) {
                char buf[256];
                snprintf(buf, sizeof buf, "%s", w[k]);
                for (char *s3 = NULL, *t = strtok_r(buf, ",", &s3); t; t = strtok_r(NULL, ",", &s3))
                    fstr(&nb, 1, strcmp(t, "_") ? t : "");
            }
            if (k + 1 >= nw) {
                nn_buf_free(&nb);
                rc = -1;
                break;
            }
            char buf[256];
            snprintf(buf, sizeof buf, "%s", w[k + 1]);
            for (char *s3 = NULL, *t = strtok_r(buf, ",", &s3); t; t = strtok_r(NULL, ",", &s3))
                fstr(&nb, 2, t);
            snprintf(buf, sizeof buf, "n%d", nnode++);
            fstr(&nb, 3, buf);
            fstr(&nb, 4, w[1]);
            for (int a = k + 2; a < nw; a++) {
                char *eq = strchr(w[a], '=');
                if (!eq) {
                    rc = -1;
                    break;
                }
                *eq = 0;
                nn_attr at = {.name = w[a]};
                int64_t ints[NN_MAXDIM * 2];
                if (!strncmp(eq + 1, "s:", 2)) {
                    at.type = NN_ATTR_STRING;
                    at.s = eq + 3;
                } else if (strchr(eq + 1, ',')) {
                    at.type = NN_ATTR_INTS;
                    at.ints = ints;
                    for (char *s3 = NULL, *t = strtok_r(eq + 1, ",", &s3); t && at.n < 16;
                         t = strtok_r(NULL, ",", &s3))
                        ints[at.n++] = strtoll(t, NULL, 10);
                } else {
                    at.type = NN_ATTR_INT;
                    at.i = strtoll(eq + 1, NULL, 10);
                }
                nn_buf ab = {0};
                attr_proto(&ab, &at);
                fmsg(&nb, 5, &ab);
            }
            fmsg(&nodes, 1, &nb);
        } else if (!strcmp(w[0], "out") && nw >= 2) {
            nn_dtype t = nw > 2 ? type_named(w[2]) : NN_F32;
            nn_tensor shape = {0};
            int nd = 0;
            if (nw > 3) { /* declared dims (known sizes only) */
                nn_buf sh = {0};
                if (shape_proto(&sh, w[3], shape.dims, &nd) < 0)
                    rc = -1;
                nn_buf_free(&sh);
                shape.ndim = nd;
            }
            value_info(&outs, 12, w[1], t ? t : NN_F32, nw > 3 ? &shape : NULL);
        } else
            rc = -1;
    }
    free(text);
    put(&g, nodes.p, nodes.n);
    fstr(&g, 2, "g");
    put(&g, inits.p, inits.n);
    put(&g, ins.p, ins.n);
    put(&g, outs.p, outs.n);
    nn_buf_free(&nodes);
    nn_buf_free(&inits);
    nn_buf_free(&ins);
    nn_buf_free(&outs);
    memset(out, 0, sizeof *out);
    fint(out, 1, 8);
    fstr(out, 2, "stepd-tests");
    fmsg(out, 7, &g);
    nn_buf os = {0};
    fstr(&os, 1, "");
    fint(&os, 2, 14);
    fmsg(out, 8, &os);
    return rc;
}

int nn_ref_write_file(const char *path, const nn_buf *b) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(b->p, 1, b->n, f);
    return fclose(f) == 0 && w == b->n ? 0 : -1;
}

static const char *root(void) {
    const char *r = getenv("STEPD_ROOT");
    return r ? r : ".";
}

const char *nn_ref_unavailable(void) {
    static char why[256];
    if (system("node --version >/dev/null 2>&1") != 0)
        return "node is not installed";
    char p[1024];
    snprintf(p, sizeof p, "%s/build-data/nn/ort/node_modules/onnxruntime-node/package.json",
             root());
    if (access(p, R_OK) != 0) {
        snprintf(why, sizeof why, "onnxruntime-node is not installed (run packages/nn.data.sh)");
        return why;
    }
    return NULL;
}

static int write_raw(const char *path, const nn_tensor *t) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = (size_t)nn_tensor_numel(t) * nn_dtype_size(t->dtype);
    size_t w = n ? fwrite(t->data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static nn_dtype dtype_of(const char *s) {
    static const struct {
        const char *n;
        nn_dtype t;
    } m[] = {{"float32", NN_F32}, {"uint8", NN_U8},  {"int8", NN_I8},    {"int32", NN_I32},
             {"int64", NN_I64},   {"bool", NN_BOOL}, {"float16", NN_F16}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(m[i].n, s))
            return m[i].t;
    return NN_UNDEF;
}

/* Minimal reader for the manifest ort_run.js writes (no JSON library in the test support). */
static int read_outputs(const char *dir, nn_tensor *outs, int nout) {
    char p[1100];
    snprintf(p, sizeof p, "%s/outputs.json", dir);
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    static char js[1 << 20];
    size_t n = fread(js, 1, sizeof js - 1, f);
    fclose(f);
    js[n] = 0;
    const char *s = js;
    for (int i = 0; i < nout; i++) {
        const char *d = strstr(s, "\"dtype\":\"");
        if (!d)
            return -1;
        d += 9;
        char dt[16] = {0};
        for (int k = 0; k < 15 && d[k] != '"'; k++)
            dt[k] = d[k];
        const char *dm = strstr(d, "\"dims\":[");
        if (!dm)
            return -1;
        dm += 8;
        int64_t dims[NN_MAXDIM];
        int nd = 0;
        while (*dm && *dm != ']' && nd < NN_MAXDIM) {
            dims[nd++] = strtoll(dm, (char **)&dm, 10);
            if (*dm == ',')
                dm++;
        }
        if (nn_tensor_alloc(&outs[i], dtype_of(dt), nd, dims) < 0)
            return -1;
        snprintf(p, sizeof p, "%s/out_%d.bin", dir, i);
        FILE *g = fopen(p, "rb");
        if (!g)
            return -1;
        size_t want = (size_t)nn_tensor_numel(&outs[i]) * nn_dtype_size(outs[i].dtype);
        size_t got = want ? fread(outs[i].data, 1, want, g) : 0;
        fclose(g);
        if (got != want)
            return -1;
        s = dm;
    }
    return 0;
}

int nn_ref_run(const char *model, const char *const *names, const nn_tensor *const *ins, int nin,
               nn_tensor *outs, int nout, int threads, double *ms) {
    char dir[] = "/tmp/stepd-nn-ref-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char p[1100];
    snprintf(p, sizeof p, "%s/inputs.json", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fputc('[', f);
    for (int i = 0; i < nin; i++) {
        fprintf(f, "%s{\"name\":\"%s\",\"dtype\":\"%s\",\"dims\":[", i ? "," : "", names[i],
                nn_dtype_name(ins[i]->dtype));
        for (int d = 0; d < ins[i]->ndim; d++)
            fprintf(f, "%s%lld", d ? "," : "", (long long)ins[i]->dims[d]);
        fprintf(f, "],\"file\":\"in_%d.bin\"}", i);
        char q[1100];
        snprintf(q, sizeof q, "%s/in_%d.bin", dir, i);
        if (write_raw(q, ins[i]) < 0) {
            fclose(f);
            return -1;
        }
    }
    fputs("]\n", f);
    fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "node '%s/tests/nn/ort_run.js' '%s' '%s' --threads %d > '%s/ms.txt'",
             root(), model, dir, threads, dir);
    int rc = system(cmd) == 0 ? read_outputs(dir, outs, nout) : -1;
    if (rc == 0 && ms) {
        snprintf(p, sizeof p, "%s/ms.txt", dir);
        FILE *m = fopen(p, "r");
        *ms = -1;
        if (m) {
            if (fscanf(m, "{\"ms\":%lf", ms) != 1)
                *ms = -1;
            fclose(m);
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 0;
    return rc;
}

void nn_ref_fill(nn_tensor *t, uint64_t *seed, double lo, double hi) {
    int64_t n = nn_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(*seed >> 11) / 9007199254740992.0;
        double v = lo + u * (hi - lo);
        switch (t->dtype) {
        case NN_F32:
            ((float *)t->data)[i] = (float)v;
            break;
        case NN_I64:
            ((int64_t *)t->data)[i] = (int64_t)v;
            break;
        case NN_I32:
            ((int32_t *)t->data)[i] = (int32_t)v;
            break;
        case NN_U8:
            ((uint8_t *)t->data)[i] = (uint8_t)v;
            break;
        case NN_I8:
            ((int8_t *)t->data)[i] = (int8_t)v;
            break;
        case NN_BOOL:
            ((uint8_t *)t->data)[i] = v >= (lo + hi) / 2;
            break;
        default:
            break;
        }
    }
}

double nn_ref_maxdiff(const nn_tensor *a, const nn_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return -1;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return -1;
    int64_t n = nn_tensor_numel(a);
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d;
        if (a->dtype == NN_F32) {
            float x = ((const float *)a->data)[i], y = ((const float *)b->data)[i];
            if (x != x || y != y) {
                d = (x != x) == (y != y) ? 0 : 1e30;
            } else
                d = x > y ? x - y : y - x;
        } else {
            size_t es = nn_dtype_size(a->dtype);
            d = memcmp((const char *)a->data + (size_t)i * es,
                       (const char *)b->data + (size_t)i * es, es)
                    ? 1e30
                    : 0;
        }
        if (d > m)
            m = d;
    }
    return m;
}

int nn_ref_expose(const uint8_t *model, size_t n, const char *const *names, const nn_dtype *types,
                  int k, nn_buf *out) {
    nn_pb pb = nn_pb_init(model, n);
    nn_pb_field f;
    memset(out, 0, sizeof *out);
    while (nn_pb_next(&pb, &f)) {
        if (f.num == 7 && f.wire == 2) {
            nn_buf g = {0};
            put(&g, f.data, f.len);
            for (int i = 0; i < k; i++)
                value_info(&g, 12, names[i], types[i], NULL);
            fmsg(out, 7, &g);
        } else if (f.wire == 2) {
            fbytes(out, (int)f.num, f.data, f.len);
        } else if (f.wire == 0) {
            fint(out, (int)f.num, f.v);
        } else {
            key(out, (int)f.num, f.wire);
            put(out, &f.v, f.wire == 1 ? 8 : 4);
        }
    }
    return pb.bad ? -1 : 0;
}
