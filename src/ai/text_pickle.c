/*
 * text_pickle.c — loads Pattern's part-of-speech model, en-model.slp: a gzipped Python pickle
 * (protocol 1/2) of pattern.vector.SLP, an averaged perceptron. A small pickle interpreter
 * (only the opcodes a pickled object of dicts, tuples, sets, strings and ints uses; anything
 * else is refused) builds a tree in an arena; we then pull out the classes, their training
 * frequencies and each (class, feature) weight, and precompute the averaged weight
 * ((i - j) * w0 + w1) / i exactly as SLP.classify() does, so classification here and in
 * Python sums the same doubles in the same order. Nothing is executed: GLOBAL/REDUCE only
 * record names.
 */
#include "ai/text_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <stepd/step.h>

enum { P_NONE, P_INT, P_FLOAT, P_STR, P_TUPLE, P_LIST, P_DICT, P_SET, P_GLOBAL, P_OBJ, P_MARK };

typedef struct pobj pobj;
struct pobj {
    int type;
    long long i;
    double f;
    const char *s; /* P_STR, P_GLOBAL: NUL-terminated, in the arena */
    size_t n;      /* string length */
    pobj **v;      /* items (P_DICT: key, value, key, value ...) */
    size_t nv, capv;
    pobj *state; /* P_OBJ after BUILD */
    size_t ai;   /* 1 + index of v in vm.allocs, 0 when v is not malloc'ed */
};

typedef struct arena {
    char **blocks;
    size_t nblocks, used, cap;
} arena;

static void *arena_alloc(arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!a->nblocks || a->used + n > a->cap) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        char **b = realloc(a->blocks, (a->nblocks + 1) * sizeof(*b));
        if (!b)
            return NULL;
        a->blocks = b;
        if (!(b[a->nblocks] = calloc(1, cap)))
            return NULL;
        a->nblocks++;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->blocks[a->nblocks - 1] + a->used;
    a->used += n;
    return p;
}

static void arena_free(arena *a) {
    for (size_t i = 0; i < a->nblocks; i++)
        free(a->blocks[i]);
    free(a->blocks);
}

typedef struct vm {
    arena ar;
    pobj **stack;
    size_t sp, capstack;
    pobj **memo;
    size_t capmemo;
    pobj *items_heap; /* item arrays are malloc'ed: tracked for freeing */
    void **allocs;
    size_t nallocs, capallocs;
} vm;

static pobj *newobj(vm *m, int type) {
    pobj *o = arena_alloc(&m->ar, sizeof(*o));
    if (o)
        o->type = type;
    return o;
}

static int track(vm *m, void *p) {
    if (m->nallocs == m->capallocs) {
        size_t cap = m->capallocs ? m->capallocs * 2 : 1024;
        void **v = realloc(m->allocs, cap * sizeof(*v));
        if (!v)
            return -1;
        m->allocs = v;
        m->capallocs = cap;
    }
    m->allocs[m->nallocs++] = p;
    return 0;
}

static int additem(vm *m, pobj *c, pobj *it) {
    if (c->nv == c->capv) {
        size_t cap = c->capv ? c->capv * 2 : 4;
        int fresh = c->v == NULL;
        pobj **v = realloc(c->v, cap * sizeof(*v));
        if (!v)
            return -1;
        if (!fresh) {
            m->allocs[c->ai - 1] = v;
        } else if (track(m, v) != 0) {
            free(v);
            return -1;
        } else {
            c->ai = m->nallocs;
        }
        c->v = v;
        c->capv = cap;
    }
    c->v[c->nv++] = it;
    return 0;
}

static int push(vm *m, pobj *o) {
    if (!o)
        return -1;
    if (m->sp == m->capstack) {
        size_t cap = m->capstack ? m->capstack * 2 : 256;
        pobj **s = realloc(m->stack, cap * sizeof(*s));
        if (!s)
            return -1;
        m->stack = s;
        m->capstack = cap;
    }
    m->stack[m->sp++] = o;
    return 0;
}

static pobj *pop(vm *m) {
    return m->sp ? m->stack[--m->sp] : NULL;
}

static long find_mark(vm *m) {
    for (size_t k = m->sp; k > 0; k--)
        if (m->stack[k - 1]->type == P_MARK)
            return (long)k - 1;
    return -1;
}

static pobj *newstr(vm *m, const unsigned char *s, size_t n, int type) {
    pobj *o = newobj(m, type);
    char *c = o ? arena_alloc(&m->ar, n + 1) : NULL;
    if (!c)
        return NULL;
    memcpy(c, s, n);
    c[n] = 0;
    o->s = c;
    o->n = n;
    return o;
}

static int memo_put(vm *m, size_t idx, pobj *o) {
    if (!o)
        return -1;
    if (idx >= m->capmemo) {
        size_t cap = m->capmemo ? m->capmemo : 1024;
        while (cap <= idx)
            cap *= 2;
        pobj **v = realloc(m->memo, cap * sizeof(*v));
        if (!v)
            return -1;
        memset(v + m->capmemo, 0, (cap - m->capmemo) * sizeof(*v));
        m->memo = v;
        m->capmemo = cap;
    }
    m->memo[idx] = o;
    return 0;
}

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Runs the pickle; returns the top object or NULL with *err set. */
static pobj *run(vm *m, const unsigned char *d, size_t n, char **err) {
    size_t i = 0;
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (i + (k) > n)                                                                           \
            goto trunc;                                                                            \
    } while (0)
    while (i < n) {
        unsigned char op = d[i++];
        switch (op) {
        case 0x80: /* PROTO */
            NEED(1);
            i++;
            break;
        case '(':
            if (push(m, newobj(m, P_MARK)))
                goto oom;
            break;
        case 'N':
            if (push(m, newobj(m, P_NONE)))
                goto oom;
            break;
        case 0x88:   /* NEWTRUE */
        case 0x89: { /* NEWFALSE */
            pobj *o = newobj(m, P_INT);
            if (!o)
                goto oom;
            o->i = op == 0x88;
            if (push(m, o))
                goto oom;
            break;
        }
        case 'J':
        case 'K':
        case 'M': {
            size_t k = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            NEED(k);
            pobj *o = newobj(m, P_INT);
            if (!o)
                goto oom;
            if (op == 'J')
                o->i = (int32_t)rd32(d + i);
            else if (op == 'K')
                o->i = d[i];
            else
                o->i = d[i] | (d[i + 1] << 8);
            i += k;
            if (push(m, o))
                goto oom;
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            NEED(8);
            uint64_t u = 0;
            for (int k = 0; k < 8; k++)
                u = (u << 8) | d[i + k];
            i += 8;
            pobj *o = newobj(m, P_FLOAT);
            if (!o)
                goto oom;
            memcpy(&o->f, &u, 8);
            if (push(m, o))
                goto oom;
            break;
        }
        case 'U':
        case 'X':
        case 'T':
        case 0x8c: { /* SHORT_BINSTRING, BINUNICODE, BINSTRING, SHORT_BINUNICODE */
            size_t len;
            if (op == 'U' || op == 0x8c) {
                NEED(1);
                len = d[i++];
            } else {
                NEED(4);
                len = rd32(d + i);
                i += 4;
            }
            NEED(len);
            if (push(m, newstr(m, d + i, len, P_STR)))
                goto oom;
            i += len;
            break;
        }
        case 'c': { /* GLOBAL module\nname\n */
            const unsigned char *a = memchr(d + i, '\n', n - i);
            if (!a)
                goto trunc;
            const unsigned char *b = memchr(a + 1, '\n', n - (size_t)(a + 1 - d));
            if (!b)
                goto trunc;
            pobj *o = newstr(m, d + i, (size_t)(b - (d + i)), P_GLOBAL);
            if (!o)
                goto oom;
            ((char *)o->s)[a - (d + i)] = ' ';
            i = (size_t)(b + 1 - d);
            if (push(m, o))
                goto oom;
            break;
        }
        case 'q':
        case 'r': {
            size_t k = op == 'q' ? 1 : 4;
            NEED(k);
            size_t idx = op == 'q' ? d[i] : rd32(d + i);
            i += k;
            if (!m->sp || memo_put(m, idx, m->stack[m->sp - 1]))
                goto bad;
            break;
        }
        case 'h':
        case 'j': {
            size_t k = op == 'h' ? 1 : 4;
            NEED(k);
            size_t idx = op == 'h' ? d[i] : rd32(d + i);
            i += k;
            if (idx >= m->capmemo || !m->memo[idx])
                goto bad;
            if (push(m, m->memo[idx]))
                goto oom;
            break;
        }
        case '}':
        case ']':
        case ')': {
            if (push(m, newobj(m, op == '}' ? P_DICT : op == ']' ? P_LIST : P_TUPLE)))
                goto oom;
            break;
        }
        case 't':
        case 0x85:
        case 0x86:
        case 0x87: {
            pobj *t = newobj(m, P_TUPLE);
            if (!t)
                goto oom;
            size_t from;
            if (op == 't') {
                long mk = find_mark(m);
                if (mk < 0)
                    goto bad;
                from = (size_t)mk + 1;
            } else {
                size_t k = (size_t)(op - 0x84);
                if (m->sp < k)
                    goto bad;
                from = m->sp - k;
            }
            for (size_t k = from; k < m->sp; k++)
                if (additem(m, t, m->stack[k]))
                    goto oom;
            m->sp = op == 't' ? from - 1 : from;
            if (push(m, t))
                goto oom;
            break;
        }
        case 'u':
        case 'e': { /* SETITEMS, APPENDS */
            long mk = find_mark(m);
            if (mk < 1)
                goto bad;
            pobj *c = m->stack[mk - 1];
            if (c->type != P_DICT && c->type != P_LIST)
                goto bad;
            if (op == 'u' && ((m->sp - (size_t)mk - 1) & 1))
                goto bad;
            for (size_t k = (size_t)mk + 1; k < m->sp; k++)
                if (additem(m, c, m->stack[k]))
                    goto oom;
            m->sp = (size_t)mk;
            break;
        }
        case 's':
        case 'a': { /* SETITEM, APPEND */
            size_t k = op == 's' ? 2 : 1;
            if (m->sp < k + 1)
                goto bad;
            pobj *c = m->stack[m->sp - k - 1];
            if (c->type != P_DICT && c->type != P_LIST)
                goto bad;
            for (size_t q = m->sp - k; q < m->sp; q++)
                if (additem(m, c, m->stack[q]))
                    goto oom;
            m->sp -= k;
            break;
        }
        case 'R': { /* REDUCE: callable args -> object; never calls anything */
            pobj *args = pop(m), *fn = pop(m);
            if (!args || !fn || fn->type != P_GLOBAL || args->type != P_TUPLE)
                goto bad;
            pobj *o;
            if (!strcmp(fn->s, "collections defaultdict") || !strcmp(fn->s, "__builtin__ dict") ||
                !strcmp(fn->s, "builtins dict")) {
                o = newobj(m, P_DICT);
            } else if (!strcmp(fn->s, "__builtin__ set") || !strcmp(fn->s, "builtins set")) {
                o = newobj(m, P_SET);
                if (o && args->nv == 1 && args->v[0]->type == P_LIST) {
                    o->v = args->v[0]->v; /* shared, owned by the list */
                    o->nv = args->v[0]->nv;
                    o->capv = o->nv;
                    o->ai = args->v[0]->ai;
                }
            } else {
                o = newobj(m, P_OBJ);
                if (o)
                    o->s = fn->s;
            }
            if (push(m, o))
                goto oom;
            break;
        }
        case 'b': { /* BUILD */
            pobj *st = pop(m);
            if (!st || !m->sp)
                goto bad;
            m->stack[m->sp - 1]->state = st;
            break;
        }
        case '.':
            return pop(m);
        default:
            *err = text_errf("unsupported pickle opcode 0x%02x at byte %zu", op, i - 1);
            return NULL;
        }
    }
trunc:
    *err = text_errf("truncated pickle");
    return NULL;
bad:
    *err = text_errf("malformed pickle near byte %zu", i);
    return NULL;
oom:
    *err = text_errf("out of memory");
    return NULL;
#undef NEED
}

static pobj *dict_get(const pobj *d, const char *key) {
    if (!d || d->type != P_DICT)
        return NULL;
    for (size_t k = 0; k + 1 < d->nv; k += 2)
        if (d->v[k]->type == P_STR && !strcmp(d->v[k]->s, key))
            return d->v[k + 1];
    return NULL;
}

/* ---- the model ------------------------------------------------------------------------------ */

typedef struct slp_weight {
    uint32_t cls;
    double w;
} slp_weight;

struct slp_model {
    size_t ncls;
    char **cls;
    long long *freq;
    tmap feats;    /* feature -> slp_fw* */
    tmap unknown;  /* model_unknown words */
    void **chunks; /* slp_fw allocations */
    size_t nchunks;
};

typedef struct slp_fw {
    size_t n;
    slp_weight w[];
} slp_fw;

static int num(const pobj *o, double *out) {
    if (o->type == P_INT)
        *out = (double)o->i;
    else if (o->type == P_FLOAT)
        *out = o->f;
    else
        return -1;
    return 0;
}

static int build_model(slp_model *sm, const pobj *top, char **err) {
    const pobj *st = top && top->type == P_OBJ ? top->state : NULL;
    const pobj *weight = dict_get(st, "_weight"), *classes = dict_get(st, "_classes");
    const pobj *iter = dict_get(st, "_iteration"), *data = dict_get(st, "_data");
    if (!weight || !classes || !iter || iter->type != P_INT) {
        *err = text_errf("not a pattern.vector.SLP model");
        return STEP_EPARSE;
    }
    double it = (double)(iter->i ? iter->i : 1);
    sm->ncls = weight->nv / 2;
    sm->cls = calloc(sm->ncls + 1, sizeof(char *));
    sm->freq = calloc(sm->ncls + 1, sizeof(long long));
    if (!sm->cls || !sm->freq)
        return STEP_ENOMEM;
    /* count features per name first, so each gets one allocation */
    tmap counts = {0};
    for (size_t c = 0; c < sm->ncls; c++) {
        const pobj *name = weight->v[2 * c], *fw = weight->v[2 * c + 1];
        if (name->type != P_STR || fw->type != P_DICT)
            goto bad;
        sm->cls[c] = strdup(name->s);
        if (!sm->cls[c])
            goto oom;
        const pobj *f = dict_get(classes, name->s);
        sm->freq[c] = f && f->type == P_INT ? f->i : 0;
        for (size_t k = 0; k + 1 < fw->nv; k += 2) {
            if (fw->v[k]->type != P_STR)
                goto bad;
            tmap_entry *e = tmap_put(&counts, fw->v[k]->s, fw->v[k]->n);
            if (!e)
                goto oom;
            e->val = (void *)((uintptr_t)e->val + 1);
        }
    }
    sm->chunks = calloc(counts.count + 1, sizeof(void *));
    if (!sm->chunks)
        goto oom;
    for (size_t c = 0; c < sm->ncls; c++) {
        const pobj *fw = weight->v[2 * c + 1];
        for (size_t k = 0; k + 1 < fw->nv; k += 2) {
            const pobj *key = fw->v[k], *t = fw->v[k + 1];
            double w0, w1, j;
            if (t->type != P_TUPLE || t->nv != 3 || num(t->v[0], &w0) || num(t->v[1], &w1) ||
                num(t->v[2], &j))
                goto bad;
            tmap_entry *e = tmap_put(&sm->feats, key->s, key->n);
            if (!e)
                goto oom;
            slp_fw *f = e->val;
            if (!f) {
                size_t cnt = (uintptr_t)tmap_get(&counts, key->s, key->n)->val;
                f = malloc(sizeof(*f) + cnt * sizeof(slp_weight));
                if (!f)
                    goto oom;
                f->n = 0;
                sm->chunks[sm->nchunks++] = f;
                e->val = f;
            }
            f->w[f->n++] = (slp_weight){(uint32_t)c, ((it - j) * w0 + w1) / it};
        }
    }
    tmap_free(&counts);
    const pobj *unk = dict_get(data, "model_unknown");
    if (unk && (unk->type == P_SET || unk->type == P_LIST))
        for (size_t k = 0; k < unk->nv; k++)
            if (unk->v[k]->type == P_STR && !tmap_put(&sm->unknown, unk->v[k]->s, unk->v[k]->n))
                return STEP_ENOMEM;
    return 0;
bad:
    tmap_free(&counts);
    *err = text_errf("unexpected structure in the SLP model");
    return STEP_EPARSE;
oom:
    tmap_free(&counts);
    return STEP_ENOMEM;
}

int slp_load(const char *path, slp_model **out, char **err) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        *err =
            text_errf("cannot open the tagger model %s (python3-pattern; STEPD_PATTERN_DIR)", path);
        return STEP_ENOTFOUND;
    }
    tbuf b = {0};
    char tmp[65536];
    int r;
    while ((r = gzread(gz, tmp, sizeof(tmp))) > 0)
        tbuf_put(&b, tmp, (size_t)r);
    gzclose(gz);
    if (r < 0 || b.oom || !b.p) {
        tbuf_free(&b);
        *err = text_errf("cannot read the tagger model %s (corrupt gzip?)", path);
        return STEP_EIO;
    }
    vm m = {0};
    char *perr = NULL;
    pobj *top = run(&m, (const unsigned char *)b.p, b.len, &perr);
    slp_model *sm = calloc(1, sizeof(*sm));
    int rc = 0;
    if (!top) {
        *err = text_errf("%s: %s", path, perr ? perr : "bad pickle");
        rc = STEP_EPARSE;
    } else if (!sm) {
        rc = STEP_ENOMEM;
    } else {
        char *berr = NULL;
        rc = build_model(sm, top, &berr);
        if (rc) {
            *err = text_errf("%s: %s", path, berr ? berr : "out of memory");
            free(berr);
        }
    }
    free(perr);
    for (size_t k = 0; k < m.nallocs; k++)
        free(m.allocs[k]);
    free(m.allocs);
    free(m.stack);
    free(m.memo);
    arena_free(&m.ar);
    tbuf_free(&b);
    if (rc) {
        slp_free(sm);
        return rc;
    }
    *out = sm;
    return 0;
}

void slp_free(slp_model *m) {
    if (!m)
        return;
    for (size_t c = 0; c < m->ncls; c++)
        free(m->cls[c]);
    free(m->cls);
    free(m->freq);
    for (size_t k = 0; k < m->nchunks; k++)
        free(m->chunks[k]);
    free(m->chunks);
    tmap_free(&m->feats);
    tmap_free(&m->unknown);
    free(m);
}

int slp_is_unknown(const slp_model *m, const char *word) {
    return tmap_get(&m->unknown, word, strlen(word)) != NULL;
}

const char *slp_classify(const slp_model *m, const char *const *features, size_t nfeat) {
    double p[128];
    size_t nc = m->ncls < 128 ? m->ncls : 128;
    for (size_t c = 0; c < nc; c++)
        p[c] = 0.0;
    /* the feature table is large: start all lookups' loads first, then use them */
    uint32_t h[16];
    size_t len[16];
    for (size_t k = 0; k < nfeat && k < 16; k++) {
        len[k] = strlen(features[k]);
        h[k] = tmap_hash(features[k], len[k]);
        tmap_prefetch(&m->feats, h[k]);
    }
    for (size_t k = 0; k < nfeat; k++) {
        const tmap_entry *e = k < 16 ? tmap_get_hashed(&m->feats, features[k], len[k], h[k])
                                     : tmap_get(&m->feats, features[k], strlen(features[k]));
        if (!e)
            continue;
        const slp_fw *f = e->val;
        for (size_t q = 0; q < f->n; q++)
            if (f->w[q].cls < nc)
                p[f->w[q].cls] += f->w[q].w;
    }
    if (nc == 0)
        return "NN";
    /* softmax as pattern.vector.softmax(), then the max; ties go to the rarest class */
    double mx = p[0];
    for (size_t c = 1; c < nc; c++)
        if (p[c] > mx)
            mx = p[c];
    double s = 0.0;
    for (size_t c = 0; c < nc; c++) {
        p[c] = exp(p[c] - mx);
        s += p[c];
    }
    double best = -1.0;
    for (size_t c = 0; c < nc; c++) {
        p[c] /= s;
        if (p[c] > best)
            best = p[c];
    }
    size_t pick = SIZE_MAX;
    for (size_t c = 0; c < nc; c++) {
        if (p[c] != best)
            continue;
        if (pick == SIZE_MAX || m->freq[c] < m->freq[pick] ||
            (m->freq[c] == m->freq[pick] && strcmp(m->cls[c], m->cls[pick]) < 0))
            pick = c;
    }
    return m->cls[pick];
}
