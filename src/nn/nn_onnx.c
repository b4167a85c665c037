/*
 * nn_onnx.c — ONNX loader: reads the protobuf of a ModelProto (nn_pb.c) into the engine's
 * format-independent nn_model. One value table serves the main graph and its subgraphs
 * (ONNX names are unique across scopes); nodes must come in topological order, every input
 * must be defined before it is read, and every op must have a kernel unless NN_LOAD_ANY_OPS.
 * Initializers are copied into aligned buffers, so the file buffer can go once loaded.
 * Liveness (which values each node reads last) is computed here for the session's pool.
 *
 * Field numbers (onnx.proto3): ModelProto ir_version 1, producer_name 2, graph 7,
 * opset_import 8 {domain 1, version 2}; GraphProto node 1, initializer 5, input 11, output 12,
 * value_info 13; NodeProto input 1, output 2, name 3, op_type 4, attribute 5, domain 7;
 * AttributeProto name 1, f 2, i 3, s 4, t 5, g 6, floats 7, ints 8, type 20; TensorProto
 * dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9,
 * data_location 14; ValueInfoProto name 1, type 2 {tensor_type 1 {elem_type 1, shape 2
 * {dim 1 {dim_value 1, dim_param 2}}}}.
 */
#include "nn/nn.h"
#include "nn/nn_pb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stepd/step.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VALUES (1 << 20)
#define MAX_DEPTH 8

typedef struct loader {
    nn_model *m;
    int cap;               /* of m->vals */
    int *owner;            /* per value: graph serial that defines it */
    unsigned char *hidden; /* per value: defined in a finished subgraph (out of scope) */
    int *hash;             /* open addressing: value id + 1, 0 empty */
    int hcap;
    int flags;
    int graphs;        /* serial numbers for graphs */
    char *unsupported; /* space-separated list of ops without kernels */
    char **err;
} loader;

static char *dupn(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

static uint32_t hash_str(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int find(const loader *L, const char *name) {
    if (!L->hcap)
        return -1;
    for (uint32_t i = hash_str(name) & (uint32_t)(L->hcap - 1);;
         i = (i + 1) & (uint32_t)(L->hcap - 1)) {
        int id = L->hash[i] - 1;
        if (id < 0)
            return -1;
        if (!strcmp(L->m->vals[id].name, name))
            return id;
    }
}

static int rehash(loader *L, int hcap) {
    int *h = calloc((size_t)hcap, sizeof *h);
    if (!h)
        return STEP_ENOMEM;
    for (int id = 0; id < L->m->nvals; id++) {
        if (L->hidden[id])
            continue;
        uint32_t i = hash_str(L->m->vals[id].name) & (uint32_t)(hcap - 1);
        while (h[i])
            i = (i + 1) & (uint32_t)(hcap - 1);
        h[i] = id + 1;
    }
    free(L->hash);
    L->hash = h;
    L->hcap = hcap;
    return 0;
}

/* Defines a new value `name` owned by graph `g`; takes ownership of name. */
static int define(loader *L, char *name, int g, int *id_out) {
    nn_model *m = L->m;
    if (!name)
        return STEP_ENOMEM;
    if (find(L, name) >= 0) {
        int rc = nn_fail(L->err, STEP_EPARSE, "value '%s' is defined twice", name);
        free(name);
        return rc;
    }
    if (m->nvals >= MAX_VALUES) {
        free(name);
        return nn_fail(L->err, STEP_EPARSE, "more than %d values", MAX_VALUES);
    }
    if (m->nvals == L->cap) {
        int cap = L->cap ? L->cap * 2 : 256;
        nn_value *v = realloc(m->vals, (size_t)cap * sizeof *v);
        int *o = v ? realloc(L->owner, (size_t)cap * sizeof *o) : NULL;
        if (v)
            m->vals = v;
        if (o)
            L->owner = o;
        unsigned char *h = o ? realloc(L->hidden, (size_t)cap) : NULL;
        if (!v || !o || !h) {
            free(name);
            return STEP_ENOMEM;
        }
        L->hidden = h;
        L->cap = cap;
    }
    int id = m->nvals++;
    nn_value *v = &m->vals[id];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->ndim = -1;
    L->owner[id] = g;
    L->hidden[id] = 0;
    if (m->nvals * 2 > L->hcap) {
        int rc = rehash(L, L->hcap ? L->hcap * 2 : 1024);
        if (rc < 0)
            return rc;
    } else {
        uint32_t i = hash_str(name) & (uint32_t)(L->hcap - 1);
        while (L->hash[i])
            i = (i + 1) & (uint32_t)(L->hcap - 1);
        L->hash[i] = id + 1;
    }
    *id_out = id;
    return 0;
}

/* ---- tensors ---------------------------------------------------------------------------- */
typedef struct dims_acc {
    int64_t *dims;
    int n, bad;
} dims_acc;

static void add_dim(void *arg, uint64_t v) {
    dims_acc *a = arg;
    if (a->n >= NN_MAXDIM) {
        a->bad = 1;
        return;
    }
    a->dims[a->n++] = (int64_t)v;
}

typedef struct int_acc {
    nn_tensor *t;
    int64_t i, n;
} int_acc;

static void put_int(void *arg, uint64_t v) {
    int_acc *a = arg;
    if (a->i >= a->n) {
        a->i++;
        return;
    }
    switch (a->t->dtype) {
    case NN_I64:
        ((int64_t *)a->t->data)[a->i] = (int64_t)v;
        break;
    case NN_I32:
        ((int32_t *)a->t->data)[a->i] = (int32_t)v;
        break;
    case NN_F16:
        ((uint16_t *)a->t->data)[a->i] = (uint16_t)v;
        break;
    default:
        ((uint8_t *)a->t->data)[a->i] = (uint8_t)v;
        break;
    }
    a->i++;
}

/* Parses a TensorProto into t (owned buffer); *name_out gets its name (malloc'ed, may be
 * NULL when absent). */
static int parse_tensor(loader *L, const uint8_t *data, size_t len, nn_tensor *t, char **name_out) {
    nn_pb pb = nn_pb_init(data, len);
    nn_pb_field f;
    int64_t dims[NN_MAXDIM];
    dims_acc da = {dims, 0, 0};
    int dtype = 0;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    nn_pb_field floats = {0}, ints32 = {0}, ints64 = {0};
    int has_f = 0, has_i32 = 0, has_i64 = 0, external = 0;
    char *name = NULL;
    while (nn_pb_next(&pb, &f)) {
        switch (f.num) {
        case 1:
            if (nn_pb_varints(&f, add_dim, &da) < 0)
                da.bad = 1;
            break;
        case 2:
            dtype = (int)f.v;
            break;
        case 4:
            floats = f;
            has_f++;
            break;
        case 5:
            ints32 = f;
            has_i32++;
            break;
        case 7:
            ints64 = f;
            has_i64++;
            break;
        case 8:
            if (f.wire == 2) {
                free(name);
                name = dupn(f.data, f.len);
            }
            break;
        case 9:
            raw = f.data;
            raw_len = f.len;
            break;
        case 14:
            external = f.v == 1;
            break;
        }
    }
    if (name_out)
        *name_out = name;
    else
        free(name);
    const char *nm = name ? name : "?";
    if (pb.bad || da.bad)
        return nn_fail(L->err, STEP_EPARSE, "tensor '%s': malformed (or more than %d dims)", nm,
                       NN_MAXDIM);
    if (external)
        return nn_fail(L->err, STEP_EUNSUPPORTED, "tensor '%s': external data is not supported",
                       nm);
    for (int i = 0; i < da.n; i++)
        if (dims[i] < 0)
            return nn_fail(L->err, STEP_EPARSE, "tensor '%s': negative dimension", nm);
    if (!nn_dtype_size((nn_dtype)dtype))
        return nn_fail(L->err, STEP_EUNSUPPORTED, "tensor '%s': element type %d is not supported",
                       nm, dtype);
    int rc = nn_tensor_alloc(t, (nn_dtype)dtype, da.n, dims);
    if (rc == STEP_EINVAL)
        return nn_fail(L->err, STEP_EPARSE, "tensor '%s': too many elements", nm);
    if (rc < 0)
        return rc;
    int64_t n = nn_tensor_numel(t);
    size_t es = nn_dtype_size(t->dtype);
    if (raw) {
        if (raw_len != (size_t)n * es)
            return nn_fail(L->err, STEP_EPARSE, "tensor '%s': %zu data bytes for %lld elements", nm,
                           raw_len, (long long)n);
        if (raw_len)
            memcpy(t->data, raw, raw_len);
        return 0;
    }
    if (has_f > 1 || has_i32 > 1 || has_i64 > 1)
        return nn_fail(L->err, STEP_EUNSUPPORTED, "tensor '%s': unpacked repeated data", nm);
    if (t->dtype == NN_F32 && has_f) {
        if (floats.wire != 2 || floats.len != (size_t)n * 4)
            return nn_fail(L->err, STEP_EPARSE, "tensor '%s': float_data has wrong length", nm);
        memcpy(t->data, floats.data, floats.len);
        return 0;
    }
    const nn_pb_field *src = t->dtype == NN_I64   ? (has_i64 ? &ints64 : NULL)
                             : t->dtype == NN_F32 ? NULL
                                                  : (has_i32 ? &ints32 : NULL);
    if (!src) {
        if (n == 0)
            return 0;
        return nn_fail(L->err, STEP_EPARSE, "tensor '%s': no data", nm);
    }
    int_acc ia = {t, 0, n};
    if (nn_pb_varints(src, put_int, &ia) < 0 || ia.i != n)
        return nn_fail(L->err, STEP_EPARSE, "tensor '%s': data has wrong length", nm);
    return 0;
}

/* ---- value info --------------------------------------------------------------------------- */
static int parse_value_info(loader *L, const uint8_t *data, size_t len, nn_value *v) {
    nn_pb pb = nn_pb_init(data, len), tp, tt, sh, dm;
    nn_pb_field f, g, h, k, d;
    while (nn_pb_next(&pb, &f)) {
        if (f.num != 2 || f.wire != 2)
            continue;
        tp = nn_pb_init(f.data, f.len);
        while (nn_pb_next(&tp, &g)) {
            if (g.num != 1 || g.wire != 2)
                continue;
            tt = nn_pb_init(g.data, g.len);
            while (nn_pb_next(&tt, &h)) {
                if (h.num == 1 && h.wire == 0)
                    v->dtype = (nn_dtype)h.v;
                if (h.num != 2 || h.wire != 2)
                    continue;
                v->ndim = 0;
                sh = nn_pb_init(h.data, h.len);
                while (nn_pb_next(&sh, &k)) {
                    if (k.num != 1 || k.wire != 2)
                        continue;
                    if (v->ndim >= NN_MAXDIM)
                        return nn_fail(L->err, STEP_EPARSE, "value '%s': more than %d dims",
                                       v->name, NN_MAXDIM);
                    int i = v->ndim++;
                    v->dims[i] = -1;
                    dm = nn_pb_init(k.data, k.len);
                    while (nn_pb_next(&dm, &d)) {
                        if (d.num == 1 && d.wire == 0)
                            v->dims[i] = (int64_t)d.v;
                        else if (d.num == 2 && d.wire == 2 && !v->dim_names[i])
                            v->dim_names[i] = dupn(d.data, d.len);
                    }
                    if (dm.bad)
                        return nn_fail(L->err, STEP_EPARSE, "value '%s': malformed shape", v->name);
                }
                if (sh.bad)
                    return nn_fail(L->err, STEP_EPARSE, "value '%s': malformed shape", v->name);
            }
            if (tt.bad)
                return nn_fail(L->err, STEP_EPARSE, "value '%s': malformed type", v->name);
        }
        if (tp.bad)
            return nn_fail(L->err, STEP_EPARSE, "value '%s': malformed type", v->name);
    }
    if (pb.bad)
        return nn_fail(L->err, STEP_EPARSE, "value '%s': malformed", v->name);
    return 0;
}

static char *value_info_name(const uint8_t *data, size_t len) {
    nn_pb pb = nn_pb_init(data, len);
    nn_pb_field f;
    while (nn_pb_next(&pb, &f))
        if (f.num == 1 && f.wire == 2)
            return dupn(f.data, f.len);
    return NULL;
}

/* ---- graphs ------------------------------------------------------------------------------ */
static int parse_graph(loader *L, const uint8_t *data, size_t len, nn_graph *g, int depth);

static int push_int(int **arr, int *n, int v) {
    if ((*n & (*n - 1)) == 0 || *n == 0) {
        int *a = realloc(*arr, (size_t)(*n ? *n * 2 : 4) * sizeof *a);
        if (!a)
            return STEP_ENOMEM;
        *arr = a;
    }
    (*arr)[(*n)++] = v;
    return 0;
}

static void note_unsupported(loader *L, const char *op) {
    size_t n = L->unsupported ? strlen(L->unsupported) : 0;
    if (L->unsupported) {
        /* already listed? */
        const char *p = L->unsupported;
        size_t ol = strlen(op);
        while ((p = strstr(p, op))) {
            if ((p == L->unsupported || p[-1] == ' ') && (p[ol] == ' ' || !p[ol]))
                return;
            p += ol;
        }
    }
    char *s = realloc(L->unsupported, n + strlen(op) + 2);
    if (!s)
        return;
    if (n)
        s[n++] = ' ';
    strcpy(s + n, op);
    L->unsupported = s;
}

static int parse_attr(loader *L, const uint8_t *data, size_t len, nn_attr *a, int depth) {
    nn_pb pb = nn_pb_init(data, len);
    nn_pb_field f;
    const uint8_t *tdata = NULL, *gdata = NULL;
    size_t tlen = 0, glen = 0;
    int has_type = 0;
    while (nn_pb_next(&pb, &f)) {
        switch (f.num) {
        case 1:
            if (f.wire == 2 && !a->name)
                a->name = dupn(f.data, f.len);
            break;
        case 2:
            a->f = (union {
                       uint32_t u;
                       float f;
                   }){.u = (uint32_t)f.v}
                       .f;
            break;
        case 3:
            a->i = (int64_t)f.v;
            break;
        case 4:
            if (f.wire == 2) {
                free(a->s);
                a->s = dupn(f.data, f.len);
            }
            break;
        case 5:
            tdata = f.data;
            tlen = f.len;
            break;
        case 6:
            gdata = f.data;
            glen = f.len;
            break;
        case 20:
            a->type = (nn_attr_type)f.v;
            has_type = 1;
            break;
        }
    }
    if (pb.bad || !a->name)
        return nn_fail(L->err, STEP_EPARSE, "malformed attribute");
    if (!has_type)
        return nn_fail(L->err, STEP_EPARSE, "attribute '%s' has no type", a->name);
    switch (a->type) {
    case NN_ATTR_FLOAT:
    case NN_ATTR_INT:
    case NN_ATTR_STRING:
        return 0;
    case NN_ATTR_TENSOR:
        if (!tdata)
            return nn_fail(L->err, STEP_EPARSE, "attribute '%s': no tensor", a->name);
        return parse_tensor(L, tdata, tlen, &a->t, NULL);
    case NN_ATTR_GRAPH:
        if (!gdata)
            return nn_fail(L->err, STEP_EPARSE, "attribute '%s': no graph", a->name);
        if (depth >= MAX_DEPTH)
            return nn_fail(L->err, STEP_EPARSE, "subgraphs nested deeper than %d", MAX_DEPTH);
        a->g = calloc(1, sizeof *a->g);
        if (!a->g)
            return STEP_ENOMEM;
        int first = L->m->nvals, rc = parse_graph(L, gdata, glen, a->g, depth + 1);
        if (rc < 0)
            return rc;
        /* the subgraph's own names go out of scope (a sibling branch may reuse them) */
        for (int id = first; id < L->m->nvals; id++)
            L->hidden[id] = 1;
        return rehash(L, L->hcap);
    case NN_ATTR_INTS:
    case NN_ATTR_FLOATS: {
        /* repeated fields come packed or one per field: count, then fill */
        int want = a->type == NN_ATTR_INTS ? 8 : 7;
        long n = 0;
        for (int pass = 0; pass < 2; pass++) {
            nn_pb q = nn_pb_init(data, len);
            long i = 0;
            while (nn_pb_next(&q, &f)) {
                if ((int)f.num != want)
                    continue;
                if (want == 8) {
                    long c = nn_pb_varints(&f, NULL, NULL);
                    if (c < 0 || n + c > (1 << 20))
                        return nn_fail(L->err, STEP_EPARSE, "attribute '%s': malformed ints",
                                       a->name);
                    if (pass) {
                        nn_tensor tmp = {.dtype = NN_I64, .data = a->ints + i};
                        int_acc ia = {&tmp, 0, c};
                        nn_pb_varints(&f, put_int, &ia);
                    } else
                        n += c;
                    i += c;
                } else {
                    long c = f.wire == 5                     ? 1
                             : f.wire == 2 && f.len % 4 == 0 ? (long)(f.len / 4)
                                                             : -1;
                    if (c < 0 || n + c > (1 << 20))
                        return nn_fail(L->err, STEP_EPARSE, "attribute '%s': malformed floats",
                                       a->name);
                    if (pass) {
                        if (f.wire == 5) {
                            uint32_t u = (uint32_t)f.v;
                            memcpy(a->floats + i, &u, 4);
                        } else
                            memcpy(a->floats + i, f.data, f.len);
                    } else
                        n += c;
                    i += c;
                }
            }
            if (!pass) {
                if (want == 8 && !(a->ints = calloc((size_t)n + 1, sizeof *a->ints)))
                    return STEP_ENOMEM;
                if (want == 7 && !(a->floats = calloc((size_t)n + 1, sizeof *a->floats)))
                    return STEP_ENOMEM;
                a->n = (int)n;
            }
        }
        return 0;
    }
    default:
        return 0; /* strings, tensors, graphs lists: not used by any kernel */
    }
}

static int parse_node(loader *L, const uint8_t *data, size_t len, nn_node *n, int gser, int depth,
                      nn_graph *g) {
    nn_pb pb = nn_pb_init(data, len);
    nn_pb_field f;
    int nattr = 0;
    /* first pass: name, op, counts */
    while (nn_pb_next(&pb, &f)) {
        if (f.wire != 2)
            continue;
        if (f.num == 1)
            n->nin++;
        else if (f.num == 2)
            n->nout++;
        else if (f.num == 3 && !n->name)
            n->name = dupn(f.data, f.len);
        else if (f.num == 4 && !n->op)
            n->op = dupn(f.data, f.len);
        else if (f.num == 5)
            nattr++;
        else if (f.num == 7 && f.len && !(f.len == 7 && !memcmp(f.data, "ai.onnx", 7)))
            return nn_fail(L->err, STEP_EUNSUPPORTED,
                           "node '%s': op domain '%.*s' is not supported", n->name ? n->name : "?",
                           (int)f.len, (const char *)f.data);
    }
    if (pb.bad || !n->op || !*n->op) /* an empty op type looped in note_unsupported (fuzz_nn) */
        return nn_fail(L->err, STEP_EPARSE, "malformed node '%s'", n->name ? n->name : "?");
    if (!n->name)
        n->name = strdup("");
    n->in = calloc((size_t)n->nin + 1, sizeof *n->in);
    n->out = calloc((size_t)n->nout + 1, sizeof *n->out);
    n->attrs = calloc((size_t)nattr + 1, sizeof *n->attrs);
    if (!n->name || !n->in || !n->out || !n->attrs)
        return STEP_ENOMEM;
    n->op_id = nn_op_lookup(n->op);
    if (n->op_id < 0) {
        if (!(L->flags & NN_LOAD_ANY_OPS))
            note_unsupported(L, n->op);
    }
    /* inputs (must be defined), then attributes (subgraphs may read outer values), then
     * outputs (new values) */
    pb = nn_pb_init(data, len);
    int ii = 0, oi = 0;
    while (nn_pb_next(&pb, &f)) {
        if (f.wire != 2)
            continue;
        if (f.num == 1) {
            if (!f.len) {
                n->in[ii++] = -1;
                continue;
            }
            char *nm = dupn(f.data, f.len);
            if (!nm)
                return STEP_ENOMEM;
            int id = find(L, nm);
            if (id < 0) {
                int rc =
                    nn_fail(L->err, STEP_EPARSE, "node '%s' (%s) reads '%s' before it is defined",
                            n->name, n->op, nm);
                free(nm);
                return rc;
            }
            free(nm);
            n->in[ii++] = id;
            if (L->owner[id] != gser && !L->m->vals[id].is_const &&
                push_int(&g->captured, &g->ncaptured, id) < 0)
                return STEP_ENOMEM;
        } else if (f.num == 5) {
            int rc = parse_attr(L, f.data, f.len, &n->attrs[n->nattr++], depth);
            if (rc < 0)
                return rc;
            nn_attr *a = &n->attrs[n->nattr - 1];
            if (a->g)
                for (int k = 0; k < a->g->ncaptured; k++) {
                    int id = a->g->captured[k];
                    if (L->owner[id] != gser && push_int(&g->captured, &g->ncaptured, id) < 0)
                        return STEP_ENOMEM;
                }
        }
    }
    pb = nn_pb_init(data, len);
    while (nn_pb_next(&pb, &f)) {
        if (f.wire != 2 || f.num != 2)
            continue;
        if (!f.len) {
            n->out[oi++] = -1;
            continue;
        }
        int id, rc = define(L, dupn(f.data, f.len), gser, &id);
        if (rc < 0)
            return rc;
        n->out[oi++] = id;
    }
    return 0;
}

/* Fills g->last_use: for each node, the values of this graph (not outputs, not constants)
 * that no later node of this graph reads, including outputs nobody reads. */
static int plan_graph(loader *L, nn_graph *g, int gser) {
    nn_model *m = L->m;
    int *last = malloc((size_t)m->nvals * sizeof *last);
    if (!last)
        return STEP_ENOMEM;
    for (int i = 0; i < m->nvals; i++)
        last[i] = -1;
    for (int k = 0; k < g->nnodes; k++) {
        nn_node *n = &g->nodes[k];
        for (int j = 0; j < n->nout; j++)
            if (n->out[j] >= 0)
                last[n->out[j]] = k;
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0)
                last[n->in[j]] = k;
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g)
                for (int c = 0; c < n->attrs[a].g->ncaptured; c++)
                    last[n->attrs[a].g->captured[c]] = k;
    }
    for (int i = 0; i < g->nout; i++)
        last[g->outputs[i]] = -1;
    for (int i = 0; i < m->nvals; i++)
        if (L->owner[i] != gser || m->vals[i].is_const)
            last[i] = -1;
    for (int i = 0; i < g->nin; i++) /* inputs belong to the caller */
        last[g->inputs[i]] = -1;
    g->last_use_off = calloc((size_t)g->nnodes + 2, sizeof *g->last_use_off);
    int cnt = 0;
    for (int i = 0; i < m->nvals; i++)
        cnt += last[i] >= 0;
    g->last_use = malloc((size_t)cnt * sizeof *g->last_use + 1);
    if (!g->last_use_off || !g->last_use) {
        free(last);
        return STEP_ENOMEM;
    }
    for (int i = 0; i < m->nvals; i++)
        if (last[i] >= 0)
            g->last_use_off[last[i] + 1]++;
    for (int k = 0; k < g->nnodes; k++)
        g->last_use_off[k + 1] += g->last_use_off[k];
    int *fill = calloc((size_t)g->nnodes + 1, sizeof *fill);
    if (!fill) {
        free(last);
        return STEP_ENOMEM;
    }
    for (int i = 0; i < m->nvals; i++)
        if (last[i] >= 0)
            g->last_use[g->last_use_off[last[i]] + fill[last[i]]++] = i;
    free(fill);
    free(last);
    return 0;
}

static int parse_graph(loader *L, const uint8_t *data, size_t len, nn_graph *g, int depth) {
    int gser = L->graphs++;
    nn_pb pb = nn_pb_init(data, len);
    nn_pb_field f;
    int nnodes = 0, rc;
    /* initializers first: nodes anywhere may read them */
    while (nn_pb_next(&pb, &f)) {
        if (f.wire != 2)
            continue;
        if (f.num == 1)
            nnodes++;
        else if (f.num == 5) {
            nn_tensor t = {0};
            char *name = NULL;
            rc = parse_tensor(L, f.data, f.len, &t, &name);
            if (rc < 0 || !name) {
                nn_tensor_free(&t);
                free(name);
                return rc < 0 ? rc : nn_fail(L->err, STEP_EPARSE, "initializer without a name");
            }
            int id;
            if ((rc = define(L, name, gser, &id)) < 0) {
                nn_tensor_free(&t);
                return rc;
            }
            nn_value *v = &L->m->vals[id];
            v->is_const = 1;
            v->init = t;
            v->dtype = t.dtype;
            v->ndim = t.ndim;
            memcpy(v->dims, t.dims, sizeof v->dims);
            L->m->nparams += nn_tensor_numel(&t);
        }
    }
    if (pb.bad)
        return nn_fail(L->err, STEP_EPARSE, "malformed graph");
    if (nnodes > 1000000)
        return nn_fail(L->err, STEP_EPARSE, "too many nodes");
    g->nodes = calloc((size_t)nnodes + 1, sizeof *g->nodes);
    if (!g->nodes)
        return STEP_ENOMEM;
    /* inputs */
    pb = nn_pb_init(data, len);
    while (nn_pb_next(&pb, &f)) {
        if (f.wire != 2 || f.num != 11)
            continue;
        char *name = value_info_name(f.data, f.len);
        if (!name)
            return nn_fail(L->err, STEP_EPARSE, "graph input without a name");
        int id = find(L, name);
        if (id >= 0 && L->m->vals[id].is_const) {
            free(name); /* an input with a default (initializer): not a real input */
            continue;
        }
        if ((rc = define(L, name, gser, &id)) < 0)
            return rc;
        if ((rc = parse_value_info(L, f.data, f.len, &L->m->vals[id])) < 0)
            return rc;
        if ((rc = push_int(&g->inputs, &g->nin, id)) < 0)
            return rc;
    }
    /* nodes in order */
    pb = nn_pb_init(data, len);
    while (nn_pb_next(&pb, &f)) {
        if (f.wire != 2 || f.num != 1)
            continue;
        if ((rc = parse_node(L, f.data, f.len, &g->nodes[g->nnodes++], gser, depth, g)) < 0)
            return rc;
    }
    /* outputs and value_info (types of intermediate values) */
    pb = nn_pb_init(data, len);
    while (nn_pb_next(&pb, &f)) {
        if (f.wire != 2 || (f.num != 12 && f.num != 13))
            continue;
        char *name = value_info_name(f.data, f.len);
        if (!name)
            return nn_fail(L->err, STEP_EPARSE, "graph output without a name");
        int id = find(L, name);
        if (id < 0) {
            if (f.num == 13) {
                free(name);
                continue;
            }
            rc = nn_fail(L->err, STEP_EPARSE, "graph output '%s' is never computed", name);
            free(name);
            return rc;
        }
        free(name);
        if (!L->m->vals[id].is_const &&
            (rc = parse_value_info(L, f.data, f.len, &L->m->vals[id])) < 0)
            return rc;
        if (f.num == 12) {
            if ((rc = push_int(&g->outputs, &g->nout, id)) < 0)
                return rc;
            if (L->owner[id] != gser && !L->m->vals[id].is_const &&
                (rc = push_int(&g->captured, &g->ncaptured, id)) < 0)
                return rc;
        }
    }
    return plan_graph(L, g, gser);
}

static void free_graph(nn_graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        for (int a = 0; a < n->nattr; a++) {
            nn_attr *at = &n->attrs[a];
            free(at->name);
            free(at->s);
            free(at->ints);
            free(at->floats);
            nn_tensor_free(&at->t);
            if (at->g) {
                free_graph(at->g);
                free(at->g);
            }
        }
        free(n->attrs);
        if (!n->prep_shared)
            free(n->prep);
        free(n->name);
        free(n->op);
        free(n->in);
        free(n->out);
    }
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->captured);
    free(g->last_use);
    free(g->last_use_off);
}

void nn_model_free(nn_model *m) {
    if (!m)
        return;
    free_graph(&m->main);
    for (int i = 0; i < m->nvals; i++) {
        free(m->vals[i].name);
        for (int d = 0; d < NN_MAXDIM; d++)
            free(m->vals[i].dim_names[d]);
        nn_tensor_free(&m->vals[i].init);
    }
    free(m->vals);
    free(m->shapes);
    for (int i = 0; i < m->nsyms; i++)
        free(m->syms[i]);
    free(m->syms);
    free(m->producer);
    free(m->priv);
    free(m);
}

int nn_model_find(const nn_model *m, const char *name) {
    for (int i = 0; i < m->nvals; i++)
        if (!strcmp(m->vals[i].name, name))
            return i;
    return -1;
}

int nn_onnx_load(const void *buf, size_t len, int flags, nn_model **out, char **err) {
    *out = NULL;
    nn_model *m = calloc(1, sizeof *m);
    if (!m)
        return STEP_ENOMEM;
    loader L = {.m = m, .flags = flags, .err = err};
    nn_pb pb = nn_pb_init(buf, len);
    nn_pb_field f;
    const uint8_t *graph = NULL;
    size_t glen = 0;
    int rc = 0;
    while (nn_pb_next(&pb, &f)) {
        if (f.num == 1 && f.wire == 0)
            m->ir_version = (int64_t)f.v;
        else if (f.num == 2 && f.wire == 2 && !m->producer)
            m->producer = dupn(f.data, f.len);
        else if (f.num == 7 && f.wire == 2) {
            graph = f.data;
            glen = f.len;
        } else if (f.num == 8 && f.wire == 2) {
            nn_pb op = nn_pb_init(f.data, f.len);
            nn_pb_field g;
            int main_domain = 1;
            int64_t ver = 0;
            while (nn_pb_next(&op, &g)) {
                if (g.num == 1 && g.wire == 2 && g.len &&
                    !(g.len == 7 && !memcmp(g.data, "ai.onnx", 7)))
                    main_domain = 0;
                if (g.num == 2 && g.wire == 0)
                    ver = (int64_t)g.v;
            }
            if (main_domain)
                m->opset = ver;
        }
    }
    if (pb.bad || !graph) {
        rc = nn_fail(err, STEP_EPARSE, "not an ONNX model (%s)",
                     pb.bad ? "malformed protobuf" : "no graph");
        goto fail;
    }
    if ((rc = parse_graph(&L, graph, glen, &m->main, 0)) < 0)
        goto fail;
    if (L.unsupported) {
        rc = nn_fail(err, STEP_EUNSUPPORTED, "unsupported op(s): %s (supported: %s)", L.unsupported,
                     nn_op_list());
        goto fail;
    }
    free(L.owner);
    free(L.hidden);
    free(L.hash);
    L.owner = NULL;
    L.hidden = NULL;
    L.hash = NULL;
    if ((rc = nn_model_fold(m, err)) < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    if (rc == STEP_ENOMEM)
        nn_fail(err, rc, "out of memory loading the model");
    free(L.owner);
    free(L.hidden);
    free(L.hash);
    free(L.unsupported);
    nn_model_free(m);
    return rc;
}

int nn_onnx_load_file(const char *path, int flags, nn_model **out, char **err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nn_fail(err, errno == ENOENT ? STEP_ENOTFOUND : STEP_EIO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nn_fail(err, STEP_EINVAL, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    /* mapped read-only: the weights are copied out once and the mapping goes */
    void *buf = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (len && buf == MAP_FAILED)
        return nn_fail(err, STEP_EIO, "%s: %s", path, strerror(errno));
    char *e = NULL;
    int rc = nn_onnx_load(len ? buf : "", len, flags, out, &e);
    if (len)
        munmap(buf, len);
    if (rc < 0) {
        nn_fail(err, rc, "%s: %s", path, e ? e : step_strerror(rc));
        free(e);
    }
    return rc;
}

typedef struct op_count {
    const char *op;
    int n;
} op_count;

static void count_ops(const nn_graph *g, op_count *c, int *nc, int cap) {
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        int k = 0;
        while (k < *nc && strcmp(c[k].op, n->op))
            k++;
        if (k == *nc && *nc < cap)
            c[(*nc)++] = (op_count){n->op, 0};
        if (k < *nc)
            c[k].n++;
        for (int a = 0; a < n->nattr; a++)
            if (n->attrs[a].g)
                count_ops(n->attrs[a].g, c, nc, cap);
    }
}

static int cmp_op(const void *a, const void *b) {
    return strcmp(((const op_count *)a)->op, ((const op_count *)b)->op);
}

void nn_model_ops(const nn_model *m, void (*fn)(void *arg, const char *op, int count), void *arg) {
    op_count c[512];
    int nc = 0;
    count_ops(&m->main, c, &nc, 512);
    qsort(c, (size_t)nc, sizeof *c, cmp_op);
    for (int i = 0; i < nc; i++)
        fn(arg, c[i].op, c[i].n);
}
