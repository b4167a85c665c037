/*
 * text_tagger.c — part-of-speech tagging as pattern.en.parse() does it, from the same Debian
 * data: en-lexicon.txt gives known words their most frequent Penn Treebank tag; unknown words
 * (and the words the model marks "unknown", i.e. ambiguous) are tagged by the averaged
 * perceptron en-model.slp from their suffixes, capitalisation and the neighbouring tags; then
 * en-entities.txt plus URL/e-mail patterns mark proper nouns (NNP-PERS, NNP-ORG, NNP-LOC).
 * When Pattern has a model it skips the Brill morphology/context rules, and so do we.
 */
#include "ai/text_internal.h"

#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

typedef struct entity {
    char **words; /* lower-cased */
    size_t nwords;
    const char *suffix; /* "-PERS", "-ORG", "-LOC" or "" */
} entity;

typedef struct entity_list {
    entity *v;
    size_t n;
} entity_list;

struct text_tagger {
    tmap lexicon;  /* word -> tag (key in tags map) */
    tmap tags;     /* interned tag strings */
    tmap entities; /* first word -> entity_list* */
    slp_model *model;
    entity_list *elists;
    size_t nelists;
};

static const char *intern(text_tagger *tg, const char *s, size_t n) {
    tmap_entry *e = tmap_put(&tg->tags, s, n);
    return e ? e->key : NULL;
}

/* Pattern's _read(): stripped lines, ";;;" comments and blank lines skipped. Calls fn per line
 * (modifiable, NUL-terminated). */
static int each_line(char *buf, size_t len, int (*fn)(text_tagger *, char *), text_tagger *tg) {
    char *p = buf, *end = buf + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *s = p, *e = le;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\f' || *s == '\v'))
            s++;
        while (e > s &&
               (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\f' || e[-1] == '\v'))
            e--;
        *e = 0;
        if (e > s && strncmp(s, ";;;", 3)) {
            int rc = fn(tg, s);
            if (rc)
                return rc;
        }
        p = le + 1;
    }
    return 0;
}

static int lexicon_line(text_tagger *tg, char *s) {
    /* x.split(" ")[:2] when it has more than one field */
    char *sp = strchr(s, ' ');
    if (!sp)
        return 0;
    char *tag = sp + 1;
    char *sp2 = strchr(tag, ' ');
    size_t tl = sp2 ? (size_t)(sp2 - tag) : strlen(tag);
    const char *t = intern(tg, tag, tl);
    tmap_entry *e = t ? tmap_put(&tg->lexicon, s, (size_t)(sp - s)) : NULL;
    if (!e)
        return STEP_ENOMEM;
    e->val = (void *)t;
    return 0;
}

typedef struct ent_tmp {
    char *line; /* lower-cased, words separated by NULs */
    size_t nwords;
} ent_tmp;

static int entity_line(text_tagger *tg, char *s) {
    tbuf low = {0};
    utf8_lower(&low, s, strlen(s));
    if (low.oom) {
        tbuf_free(&low);
        return STEP_ENOMEM;
    }
    char *words[64];
    size_t n = 0;
    char *save = NULL;
    for (char *w = strtok_r(low.p, " \t", &save); w && n < 64; w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    const char *suffix = "";
    if (n && !strcmp(words[n - 1], "pers"))
        suffix = "-PERS", n--;
    else if (n && !strcmp(words[n - 1], "loc"))
        suffix = "-LOC", n--;
    else if (n && !strcmp(words[n - 1], "org"))
        suffix = "-ORG", n--;
    if (n == 0) {
        tbuf_free(&low);
        return 0;
    }
    tmap_entry *e = tmap_put(&tg->entities, words[0], strlen(words[0]));
    if (!e) {
        tbuf_free(&low);
        return STEP_ENOMEM;
    }
    entity_list *el = e->val;
    if (!el) {
        el = calloc(1, sizeof(*el));
        if (!el) {
            tbuf_free(&low);
            return STEP_ENOMEM;
        }
        e->val = el;
    }
    entity *nv = realloc(el->v, (el->n + 1) * sizeof(*nv));
    if (!nv) {
        tbuf_free(&low);
        return STEP_ENOMEM;
    }
    el->v = nv;
    entity *en = &el->v[el->n];
    en->words = calloc(n, sizeof(char *));
    if (!en->words) {
        tbuf_free(&low);
        return STEP_ENOMEM;
    }
    en->nwords = n;
    en->suffix = suffix;
    el->n++;
    for (size_t k = 0; k < n; k++) {
        const char *w = intern(tg, words[k], strlen(words[k]));
        if (!w) {
            tbuf_free(&low);
            return STEP_ENOMEM;
        }
        en->words[k] = (char *)w;
    }
    tbuf_free(&low);
    return 0;
}

static int load_lines(const char *dir, const char *file, int (*fn)(text_tagger *, char *),
                      text_tagger *tg, char **err) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    size_t len;
    char *buf = text_read_file(path, &len);
    if (!buf) {
        *err = text_errf("cannot read %s (set STEPD_PATTERN_DIR to Pattern's English data "
                         "directory; Debian package python3-pattern)",
                         path);
        return STEP_ENOTFOUND;
    }
    int rc = each_line(buf, len, fn, tg);
    free(buf);
    if (rc)
        *err = text_errf("out of memory reading %s", path);
    return rc;
}

int text_tagger_load(const char *dir, text_tagger **out, char **err) {
    text_tagger *tg = calloc(1, sizeof(*tg));
    if (!tg)
        return STEP_ENOMEM;
    int rc = load_lines(dir, "en-lexicon.txt", lexicon_line, tg, err);
    if (!rc)
        rc = load_lines(dir, "en-entities.txt", entity_line, tg, err);
    if (!rc) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/en-model.slp", dir);
        rc = slp_load(path, &tg->model, err);
    }
    static const char *const fixed[] = {"NNP",     "NN",        "NNP-PERS", "NNP-ORG",
                                        "NNP-LOC", "NNPS-PERS", "NNPS-ORG", "NNPS-LOC"};
    for (size_t k = 0; !rc && k < sizeof(fixed) / sizeof(fixed[0]); k++)
        if (!intern(tg, fixed[k], strlen(fixed[k])))
            rc = STEP_ENOMEM;
    if (rc) {
        text_tagger_free(tg);
        return rc;
    }
    *out = tg;
    return 0;
}

void text_tagger_free(text_tagger *tg) {
    if (!tg)
        return;
    for (size_t i = 0; i < tg->entities.cap; i++) {
        entity_list *el = tg->entities.slots[i].val;
        if (!tg->entities.slots[i].key || !el)
            continue;
        for (size_t k = 0; k < el->n; k++)
            free(el->v[k].words);
        free(el->v);
        free(el);
    }
    tmap_free(&tg->entities);
    tmap_free(&tg->lexicon);
    tmap_free(&tg->tags);
    slp_free(tg->model);
    free(tg);
}

/* Python slicing by code points: the last k characters (all of them when shorter). */
static const char *last_chars(const char *s, size_t k) {
    size_t n = strlen(s);
    const char *p = s + n;
    while (k > 0 && p > s) {
        p--;
        while (p > s && ((unsigned char)*p & 0xC0) == 0x80)
            p--;
        k--;
    }
    return p;
}

static int is_word_cp(int32_t cp) {
    return cp == '_' || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
           (cp >= 'A' && cp <= 'Z') || cp >= 0xAA;
}

/* RE_ENTITY1..3 of Pattern on a lower-cased token: http:// URLs, www.* domains, e-mails. */
static int is_url_or_email(const char *w) {
    size_t n = strlen(w);
    if (!strncmp(w, "http://", 7))
        return 1;
    if (!strncmp(w, "www.", 4)) {
        static const char *const tld[] = {".com", ".org", ".net", ".edu", ".de", ".uk"};
        for (size_t k = 0; k < 6; k++) {
            size_t tl = strlen(tld[k]);
            if (n >= 4 + tl && !memcmp(w + n - tl, tld[k], tl))
                return 1;
        }
    }
    const char *at = strchr(w, '@');
    if (!at || at == w)
        return 0;
    for (const char *p = w; p < at;) {
        int l;
        int32_t cp = utf8_decode((const unsigned char *)p, (size_t)(at - p), &l);
        if (!(is_word_cp(cp) || cp == '-' || cp == '.' || cp == '+'))
            return 0;
        p += l;
    }
    /* (\w[\w-]+\.)+[\w-]+$ */
    const char *p = at + 1, *end = w + n;
    int labels = 0;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        const char *le = dot ? dot : end;
        size_t chars = 0;
        for (const char *q = p; q < le;) {
            int l;
            int32_t cp = utf8_decode((const unsigned char *)q, (size_t)(le - q), &l);
            if (!(is_word_cp(cp) || (cp == '-' && (chars > 0 || !dot))))
                return 0;
            chars++;
            q += l;
        }
        if (dot && chars < 2)
            return 0;
        if (!dot)
            return chars >= 1 && labels >= 1;
        labels++;
        p = dot + 1;
    }
    return 0;
}

int text_tagger_tag(const text_tagger *tg, const text_toks *t, size_t first, size_t n,
                    const char **tags) {
    const char *nnp = tmap_get(&tg->tags, "NNP", 3)->key;
    tbuf low = {0};
    /* lexicon (lookups of a sentence's words started together: the table is large) */
    uint32_t lh[64];
    for (size_t i = 0; i < n && i < 64; i++) {
        const char *w = toks_at(t, first + i);
        lh[i] = tmap_hash(w, strlen(w));
        tmap_prefetch(&tg->lexicon, lh[i]);
    }
    for (size_t i = 0; i < n; i++) {
        const char *w = toks_at(t, first + i);
        const tmap_entry *e = i < 64 ? tmap_get_hashed(&tg->lexicon, w, strlen(w), lh[i])
                                     : tmap_get(&tg->lexicon, w, strlen(w));
        tags[i] = e ? e->val : NULL;
        if (!e && i == 0) {
            low.len = 0;
            utf8_lower(&low, w, strlen(w));
            if (low.oom)
                goto oom;
            e = tmap_get(&tg->lexicon, low.p, low.len);
            tags[i] = e && ((const char *)e->val)[0] ? e->val : NULL;
        }
    }
    /* perceptron for unknown and ambiguous words */
    tbuf fb = {0};
    for (size_t i = 0; i < n; i++) {
        const char *w = toks_at(t, first + i);
        if (tags[i] && !slp_is_unknown(tg->model, w))
            continue;
        const char *pw = i > 0 ? toks_at(t, first + i - 1) : "";
        const char *pt = i > 0 && tags[i - 1] ? tags[i - 1] : "";
        const char *nw = i + 1 < n ? toks_at(t, first + i + 1) : "";
        const char *nt = i + 1 < n && tags[i + 1] ? tags[i + 1] : "";
        size_t off[9];
        fb.len = 0;
        int l;
        utf8_decode((const unsigned char *)w, strlen(w), &l);
        off[0] = fb.len, tbuf_put(&fb, "b b", 4);
        off[1] = fb.len, tbuf_put(&fb, "h ", 2), tbuf_put(&fb, w, w[0] ? (size_t)l : 0),
        tbuf_putc(&fb, 0);
        off[2] = fb.len, tbuf_put(&fb, "w ", 2), tbuf_puts(&fb, last_chars(w, 6)),
        tbuf_putc(&fb, 0);
        off[3] = fb.len, tbuf_put(&fb, "x ", 2), tbuf_puts(&fb, last_chars(w, 3)),
        tbuf_putc(&fb, 0);
        off[4] = fb.len, tbuf_put(&fb, "-x ", 3), tbuf_puts(&fb, last_chars(pw, 3)),
        tbuf_putc(&fb, 0);
        off[5] = fb.len, tbuf_put(&fb, "+x ", 3), tbuf_puts(&fb, last_chars(nw, 3)),
        tbuf_putc(&fb, 0);
        off[6] = fb.len, tbuf_put(&fb, "-t ", 3), tbuf_puts(&fb, pt), tbuf_putc(&fb, 0);
        off[7] = fb.len, tbuf_put(&fb, "-+ ", 3), tbuf_puts(&fb, pt), tbuf_puts(&fb, nt),
        tbuf_putc(&fb, 0);
        off[8] = fb.len, tbuf_put(&fb, "+t ", 3), tbuf_puts(&fb, nt), tbuf_putc(&fb, 0);
        if (fb.oom) {
            tbuf_free(&fb);
            goto oom;
        }
        const char *feats[9];
        for (int k = 0; k < 9; k++)
            feats[k] = fb.p + off[k];
        const char *c = slp_classify(tg->model, feats, 9);
        const tmap_entry *ce = tmap_get(&tg->tags, c, strlen(c));
        tags[i] = ce ? ce->key : c;
    }
    tbuf_free(&fb);
    /* named entities */
    char **lw = calloc(n ? n : 1, sizeof(char *));
    tbuf lb = {0};
    size_t *lo = calloc(n ? n : 1, sizeof(size_t));
    if (!lw || !lo) {
        free(lw);
        free(lo);
        goto oom;
    }
    for (size_t i = 0; i < n; i++) {
        const char *w = toks_at(t, first + i);
        lo[i] = lb.len;
        utf8_lower(&lb, w, strlen(w));
        tbuf_putc(&lb, 0);
    }
    if (lb.oom) {
        free(lw);
        free(lo);
        tbuf_free(&lb);
        goto oom;
    }
    for (size_t i = 0; i < n; i++)
        lw[i] = lb.p + lo[i];
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = lw[i];
        if (is_url_or_email(w))
            tags[i] = nnp;
        const tmap_entry *e = tmap_get(&tg->entities, w, strlen(w));
        if (!e)
            continue;
        const entity_list *el = e->val;
        for (size_t k = 0; k < el->n; k++) {
            const entity *en = &el->v[k];
            size_t j;
            int ok = 1;
            for (j = 0; j < en->nwords; j++)
                if (i + j >= n || strcmp(lw[i + j], en->words[j])) {
                    ok = 0;
                    break;
                }
            if (!ok)
                continue;
            j = en->nwords - 1;
            for (size_t q = i; q <= i + j; q++) {
                const char *cur = !strncmp(tags[q], "NNP", 3) ? tags[q] : "NNP";
                char tagbuf[64];
                snprintf(tagbuf, sizeof(tagbuf), "%s%s", cur, en->suffix);
                /* interned at load for the common cases; else intern lazily is not allowed
                 * (immutable after load), so fall back to the base tag */
                const tmap_entry *te = tmap_get(&tg->tags, tagbuf, strlen(tagbuf));
                tags[q] = te ? te->key : cur;
            }
            i += j;
            break;
        }
    }
    free(lw);
    free(lo);
    tbuf_free(&lb);
    tbuf_free(&low);
    return rc;
oom:
    tbuf_free(&low);
    return STEP_ENOMEM;
}
