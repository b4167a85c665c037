/*
 * text_sentiment.c — polarity and subjectivity exactly as Pattern (and so TextBlob's default
 * analyser) computes them, from Pattern's en-sentiment.xml as shipped by Debian.
 *
 * Loading mirrors Sentiment.load() + pattern.text.en.Sentiment.load(): every <word> element's
 * (polarity, subjectivity, intensity) is averaged per (form, pos), then across the pos tags of a
 * form (the value used for untagged text); every adjective also yields an adverb "-ly" form
 * ("terrible" -> "terribly") with the adjective's scores. Scoring mirrors
 * Sentiment.assessments(): known words (and two/three-word idioms) are assessed, an adverb
 * before a known word scales it by the adverb's intensity ("very good"), a negation before it
 * flips and halves it ("not good"), "!" boosts the previous assessment by 25%, "(!)" marks
 * irony, and emoticons/emoji count as mood words. The result is the plain average over the
 * assessments, computed in the same order as Python so the floats agree bit for bit.
 */
#include "ai/text_internal.h"

#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

typedef struct sent_word {
    double none[3]; /* averaged over pos tags: what untagged text uses */
    int has_rb;
    int is_word; /* 0: only the first word of a multi-word form */
    int is_head; /* first word of a multi-word form */
} sent_word;

typedef struct emo {
    const char *s;
    double p;
} emo;

struct text_sentiment {
    tmap words;     /* form -> sent_word* (also first words of multi-word forms) */
    tmap emoticons; /* lower-cased emoticon/emoji -> polarity slot */
    sent_word *pool;
    double *emo_pol;
    size_t npool;
};

/* Pattern's EMOTICONS then EMOJI, category order, with the category polarity. */
static const emo EMOS[] = {
    {"<3", 1.0},
    {"\xE2\x99\xA5", 1.0},
    {"\xE2\x9D\xA4", 1.0},
    {">:D", 1.0},
    {":-D", 1.0},
    {":D", 1.0},
    {"=-D", 1.0},
    {"=D", 1.0},
    {"X-D", 1.0},
    {"x-D", 1.0},
    {"XD", 1.0},
    {"xD", 1.0},
    {"8-D", 1.0},
    {">:P", 0.75},
    {":-P", 0.75},
    {":P", 0.75},
    {":-p", 0.75},
    {":p", 0.75},
    {":-b", 0.75},
    {":b", 0.75},
    {":c)", 0.75},
    {":o)", 0.75},
    {":^)", 0.75},
    {">:)", 0.5},
    {":-)", 0.5},
    {":)", 0.5},
    {"=)", 0.5},
    {"=]", 0.5},
    {":]", 0.5},
    {":}", 0.5},
    {":>", 0.5},
    {":3", 0.5},
    {"8)", 0.5},
    {"8-)", 0.5},
    {">;]", 0.25},
    {";-)", 0.25},
    {";)", 0.25},
    {";-]", 0.25},
    {";]", 0.25},
    {";D", 0.25},
    {";^)", 0.25},
    {"*-)", 0.25},
    {"*)", 0.25},
    {":-|", 0.0},
    {":|", 0.0},
    {">:o", -0.05},
    {":-O", -0.05},
    {":O", -0.05},
    {":o", -0.05},
    {":-o", -0.05},
    {"o_O", -0.05},
    {"o.O", -0.05},
    {"\xC2\xB0O\xC2\xB0", -0.05},
    {"\xC2\xB0o\xC2\xB0", -0.05},
    {">:/", -0.25},
    {":-/", -0.25},
    {":/", -0.25},
    {":\\", -0.25},
    {">:\\", -0.25},
    {":-.", -0.25},
    {":-s", -0.25},
    {":s", -0.25},
    {":S", -0.25},
    {":-S", -0.25},
    {">.>", -0.25},
    {">:[", -0.75},
    {":-(", -0.75},
    {":(", -0.75},
    {"=(", -0.75},
    {":-[", -0.75},
    {":[", -0.75},
    {":{", -0.75},
    {":-<", -0.75},
    {":c", -0.75},
    {":-c", -0.75},
    {"=/", -0.75},
    {":'(", -1.0},
    {":'''(", -1.0},
    {";'(", -1.0},
    /* EMOJI */
    {"\xE2\x9D\xA4\xEF\xB8\x8F", 1.0},
    {"\xF0\x9F\x92\x9C", 1.0},
    {"\xF0\x9F\x92\x9A", 1.0},
    {"\xF0\x9F\x92\x99", 1.0},
    {"\xF0\x9F\x92\x9B", 1.0},
    {"\xF0\x9F\x92\x95", 1.0},
    {"\xF0\x9F\x98\x80", 1.0},
    {"\xF0\x9F\x98\x84", 1.0},
    {"\xF0\x9F\x98\x83", 1.0},
    {"\xF0\x9F\x98\x86", 1.0},
    {"\xF0\x9F\x98\x85", 1.0},
    {"\xF0\x9F\x98\x82", 1.0},
    {"\xF0\x9F\x98\x81", 1.0},
    {"\xF0\x9F\x98\xBB", 1.0},
    {"\xF0\x9F\x98\x8D", 1.0},
    {"\xF0\x9F\x98\x88", 1.0},
    {"\xF0\x9F\x91\x8C", 1.0},
    {"\xF0\x9F\x98\x9B", 0.75},
    {"\xF0\x9F\x98\x9D", 0.75},
    {"\xF0\x9F\x98\x9C", 0.75},
    {"\xF0\x9F\x98\x8B", 0.75},
    {"\xF0\x9F\x98\x87", 0.75},
    {"\xF0\x9F\x98\x8A", 0.5},
    {"\xF0\x9F\x98\x8C", 0.5},
    {"\xF0\x9F\x98\x8F", 0.5},
    {"\xF0\x9F\x98\x8E", 0.5},
    {"\xE2\x98\xBA", 0.5},
    {"\xF0\x9F\x91\x8D", 0.5},
    {"\xF0\x9F\x98\x89", 0.25},
    {"\xF0\x9F\x98\x90", 0.0},
    {"\xF0\x9F\x98\xB6", 0.0},
    {"\xF0\x9F\x98\xB3", -0.05},
    {"\xF0\x9F\x98\xAE", -0.05},
    {"\xF0\x9F\x98\xAF", -0.05},
    {"\xF0\x9F\x98\xA7", -0.05},
    {"\xF0\x9F\x98\xA6", -0.05},
    {"\xF0\x9F\x99\x80", -0.05},
    {"\xF0\x9F\x98\x95", -0.25},
    {"\xF0\x9F\x98\xAC", -0.25},
    {"\xF0\x9F\x98\x9F", -0.75},
    {"\xF0\x9F\x98\x92", -0.75},
    {"\xF0\x9F\x98\x94", -0.75},
    {"\xF0\x9F\x98\x9E", -0.75},
    {"\xF0\x9F\x98\xA0", -0.75},
    {"\xF0\x9F\x98\xA9", -0.75},
    {"\xF0\x9F\x98\xAB", -0.75},
    {"\xF0\x9F\x98\xA1", -0.75},
    {"\xF0\x9F\x91\xBF", -0.75},
    {"\xF0\x9F\x98\xA2", -1.0},
    {"\xF0\x9F\x98\xA5", -1.0},
    {"\xF0\x9F\x98\x93", -1.0},
    {"\xF0\x9F\x98\xAA", -1.0},
    {"\xF0\x9F\x98\xAD", -1.0},
    {"\xF0\x9F\x98\xBF", -1.0},
};

static const char PUNCT[] = ".,;:!?()[]{}`''\"@#$^&*+-|=~_";

/* ---- loading ------------------------------------------------------------------------------ */

typedef struct pos_acc {
    char pos[8];
    double sum[3];
    size_t n;
} pos_acc;

typedef struct word_acc {
    char *form;
    pos_acc *pos;
    size_t npos;
} word_acc;

/* Returns the decoded value of attribute `name` in the element text [s, e), or NULL. */
static char *xml_attr(const char *s, const char *e, const char *name) {
    size_t nl = strlen(name);
    const char *p = s;
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        const char *an = p;
        while (p < e && *p != '=' && *p != ' ' && *p != '/' && *p != '>')
            p++;
        size_t alen = (size_t)(p - an);
        if (p >= e || *p != '=') {
            if (p == an)
                p++;
            continue;
        }
        p++;
        if (p >= e || (*p != '"' && *p != '\''))
            return NULL;
        char q = *p++;
        const char *v = p;
        while (p < e && *p != q)
            p++;
        if (p >= e)
            return NULL;
        if (alen == nl && !memcmp(an, name, nl)) {
            tbuf b = {0};
            for (const char *c = v; c < p; c++) {
                if (*c == '&') {
                    const char *semi = memchr(c, ';', (size_t)(p - c));
                    if (semi) {
                        size_t el = (size_t)(semi - c - 1);
                        const char *ent = c + 1;
                        char out[8];
                        int ol = 0;
                        if (el == 3 && !memcmp(ent, "amp", 3))
                            out[0] = '&', ol = 1;
                        else if (el == 2 && !memcmp(ent, "lt", 2))
                            out[0] = '<', ol = 1;
                        else if (el == 2 && !memcmp(ent, "gt", 2))
                            out[0] = '>', ol = 1;
                        else if (el == 4 && !memcmp(ent, "quot", 4))
                            out[0] = '"', ol = 1;
                        else if (el == 4 && !memcmp(ent, "apos", 4))
                            out[0] = '\'', ol = 1;
                        else if (el >= 2 && ent[0] == '#') {
                            long cp = ent[1] == 'x' ? strtol(ent + 2, NULL, 16)
                                                    : strtol(ent + 1, NULL, 10);
                            if (cp > 0 && cp <= 0x10FFFF)
                                ol = utf8_encode((uint32_t)cp, out);
                        }
                        if (ol) {
                            tbuf_put(&b, out, (size_t)ol);
                            c = semi;
                            continue;
                        }
                    }
                }
                tbuf_putc(&b, *c);
            }
            if (!b.p)
                tbuf_put(&b, "", 0);
            if (b.oom) {
                tbuf_free(&b);
                return NULL;
            }
            return b.p;
        }
        p++;
    }
    return NULL;
}

static double attr_double(const char *s, const char *e, const char *name, double dflt) {
    char *v = xml_attr(s, e, name);
    if (!v)
        return dflt;
    double d = strtod(v, NULL);
    free(v);
    return d;
}

static void free_accs(word_acc *accs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(accs[i].form);
        free(accs[i].pos);
    }
    free(accs);
}

int text_sentiment_load(const char *path, text_sentiment **out, char **err) {
    size_t len;
    char *xml = text_read_file(path, &len);
    if (!xml) {
        *err = text_errf("cannot read the sentiment lexicon %s (set STEPD_PATTERN_DIR to the "
                         "directory holding en-sentiment.xml; Debian: python3-pattern)",
                         path);
        return STEP_ENOTFOUND;
    }
    text_sentiment *ts = calloc(1, sizeof(*ts));
    tmap order = {0}; /* form -> index+1 into accs */
    word_acc *accs = NULL;
    size_t naccs = 0, capaccs = 0;
    int rc = STEP_ENOMEM;
    if (!ts)
        goto err;
    const char *p = xml, *end = xml + len;
    while ((p = strstr(p, "<")) != NULL && p < end) {
        if (!strncmp(p, "<!--", 4)) {
            const char *c = strstr(p, "-->");
            if (!c)
                break;
            p = c + 3;
            continue;
        }
        if (strncmp(p, "<word", 5) || (p[5] != ' ' && p[5] != '\t' && p[5] != '\n')) {
            p++;
            continue;
        }
        const char *e = strchr(p, '>');
        if (!e) {
            *err = text_errf("%s: unterminated <word> element", path);
            rc = STEP_EPARSE;
            goto err;
        }
        const char *as = p + 5;
        p = e + 1;
        char *form = xml_attr(as, e, "form");
        if (!form || !form[0]) {
            free(form);
            continue;
        }
        char *pos = xml_attr(as, e, "pos");
        double v[3] = {attr_double(as, e, "polarity", 0.0), attr_double(as, e, "subjectivity", 0.0),
                       attr_double(as, e, "intensity", 1.0)};
        tmap_entry *oe = tmap_put(&order, form, strlen(form));
        if (!oe) {
            free(form);
            free(pos);
            goto err;
        }
        if (!oe->val) {
            if (naccs == capaccs) {
                size_t cap = capaccs ? capaccs * 2 : 1024;
                word_acc *na = realloc(accs, cap * sizeof(*na));
                if (!na) {
                    free(form);
                    free(pos);
                    goto err;
                }
                accs = na;
                capaccs = cap;
            }
            accs[naccs] = (word_acc){.form = form};
            oe->val = (void *)(uintptr_t)(++naccs);
        } else {
            free(form);
        }
        word_acc *wa = &accs[(uintptr_t)oe->val - 1];
        const char *pkey = pos ? pos : "\x01"; /* a word without pos attribute: key None */
        size_t k;
        for (k = 0; k < wa->npos; k++)
            if (!strncmp(wa->pos[k].pos, pkey, sizeof(wa->pos[k].pos)))
                break;
        if (k == wa->npos) {
            pos_acc *np = realloc(wa->pos, (wa->npos + 1) * sizeof(*np));
            if (!np) {
                free(pos);
                goto err;
            }
            wa->pos = np;
            memset(&np[k], 0, sizeof(np[k]));
            snprintf(np[k].pos, sizeof(np[k].pos), "%s", pkey);
            wa->npos++;
        }
        free(pos);
        for (int c = 0; c < 3; c++)
            wa->pos[k].sum[c] += v[c];
        wa->pos[k].n++;
    }
    if (naccs == 0) {
        *err = text_errf("%s: no <word> entries: not Pattern's sentiment lexicon", path);
        rc = STEP_EPARSE;
        goto err;
    }
    /* Each adjective also yields an "-ly" adverb: up to 2x the words. */
    ts->pool = calloc(naccs * 3, sizeof(*ts->pool));
    if (!ts->pool)
        goto err;
    for (size_t w = 0; w < naccs; w++) {
        word_acc *wa = &accs[w];
        sent_word *sw = &ts->pool[ts->npool++];
        double tot[3] = {0, 0, 0};
        for (size_t k = 0; k < wa->npos; k++) {
            for (int c = 0; c < 3; c++)
                tot[c] += wa->pos[k].sum[c] / (double)wa->pos[k].n;
            if (!strcmp(wa->pos[k].pos, "RB"))
                sw->has_rb = 1;
        }
        for (int c = 0; c < 3; c++)
            sw->none[c] = tot[c] / (double)wa->npos;
        sw->is_word = 1;
        tmap_entry *e = tmap_put(&ts->words, wa->form, strlen(wa->form));
        if (!e)
            goto err;
        e->val = sw;
    }
    for (size_t w = 0; w < naccs; w++) {
        const char *sp = strchr(accs[w].form, ' ');
        if (!sp)
            continue;
        tmap_entry *e = tmap_put(&ts->words, accs[w].form, (size_t)(sp - accs[w].form));
        if (!e)
            goto err;
        if (!e->val)
            e->val = &ts->pool[ts->npool++]; /* is_word 0 */
        ((sent_word *)e->val)->is_head = 1;
    }
    /* pattern.text.en.Sentiment.load(): "terrible" (JJ) -> "terribly" (RB), same scores */
    for (size_t w = 0; w < naccs; w++) {
        word_acc *wa = &accs[w];
        size_t k;
        for (k = 0; k < wa->npos; k++)
            if (!strcmp(wa->pos[k].pos, "JJ"))
                break;
        if (k == wa->npos)
            continue;
        double jj[3];
        for (int c = 0; c < 3; c++)
            jj[c] = wa->pos[k].sum[c] / (double)wa->pos[k].n;
        tbuf ly = {0};
        size_t fl = strlen(wa->form);
        tbuf_put(&ly, wa->form, fl);
        if (fl && ly.p[ly.len - 1] == 'y')
            ly.p[ly.len - 1] = 'i';
        if (ly.len >= 2 && !memcmp(ly.p + ly.len - 2, "le", 2))
            ly.len -= 2;
        tbuf_put(&ly, "ly", 2);
        if (ly.oom) {
            tbuf_free(&ly);
            goto err;
        }
        tmap_entry *e = tmap_put(&ts->words, ly.p, ly.len);
        tbuf_free(&ly);
        if (!e)
            goto err;
        if (!e->val)
            e->val = &ts->pool[ts->npool++];
        sent_word *sw = e->val;
        memcpy(sw->none, jj, sizeof(jj));
        sw->has_rb = 1;
        sw->is_word = 1;
    }
    ts->emo_pol = calloc(sizeof(EMOS) / sizeof(EMOS[0]), sizeof(double));
    if (!ts->emo_pol)
        goto err;
    for (size_t k = 0; k < sizeof(EMOS) / sizeof(EMOS[0]); k++) {
        tbuf low = {0};
        utf8_lower(&low, EMOS[k].s, strlen(EMOS[k].s));
        if (low.oom) {
            tbuf_free(&low);
            goto err;
        }
        /* Pattern only looks at tokens that are not alphabetic, <= 5 characters and not a
         * substring of its punctuation string. */
        int alpha = 1;
        for (size_t i = 0; i < low.len; i++)
            if (!(((unsigned char)low.p[i] | 32) >= 'a' && ((unsigned char)low.p[i] | 32) <= 'z'))
                alpha = 0;
        int eligible = !alpha && utf8_count(low.p, low.len) <= 5 && !strstr(PUNCT, low.p);
        if (eligible && !tmap_get(&ts->emoticons, low.p, low.len)) {
            tmap_entry *e = tmap_put(&ts->emoticons, low.p, low.len);
            if (!e) {
                tbuf_free(&low);
                goto err;
            }
            ts->emo_pol[k] = EMOS[k].p;
            e->val = &ts->emo_pol[k];
        }
        tbuf_free(&low);
    }
    free_accs(accs, naccs);
    tmap_free(&order);
    free(xml);
    /* most words of a text are not in the lexicon: make those lookups short (a few 100 KiB) */
    if (tmap_reserve_sparse(&ts->words) || tmap_reserve_sparse(&ts->emoticons)) {
        text_sentiment_free(ts);
        *err = text_errf("out of memory loading %s", path);
        return STEP_ENOMEM;
    }
    *out = ts;
    return 0;
err:
    if (rc == STEP_ENOMEM && !*err)
        *err = text_errf("out of memory loading %s", path);
    free_accs(accs, naccs);
    tmap_free(&order);
    free(xml);
    text_sentiment_free(ts);
    return rc;
}

void text_sentiment_free(text_sentiment *s) {
    if (!s)
        return;
    tmap_free(&s->words);
    tmap_free(&s->emoticons);
    free(s->pool);
    free(s->emo_pol);
    free(s);
}

/* ---- scoring ------------------------------------------------------------------------------ */

typedef struct assess {
    double p, s, i;
    int n;
} assess;

#define SENT_STACK_TOKENS 64
#define SENT_STACK_BYTES 1024

/* Doubles the assessments array (*cap entries), moving it off the stack first; NULL (and a
 * freed) when out of memory. */
static assess *assess_grow(assess *a, assess *stack, size_t *cap) {
    assess *nv = a == stack ? malloc(*cap * 2 * sizeof(*nv)) : realloc(a, *cap * 2 * sizeof(*nv));
    if (!nv) {
        if (a != stack)
            free(a);
        return NULL;
    }
    if (a == stack)
        memcpy(nv, stack, *cap * sizeof(*nv));
    *cap *= 2;
    return nv;
}

/* Lower-cases the n bytes at s into out when they are all ASCII (8 at a time); returns 0, with
 * out undefined, when one is not. */
static int ascii_lower(const char *s, size_t n, char *out) {
    const uint64_t high = 0x8080808080808080ull;
    uint64_t seen = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        seen |= v;
        /* per byte (all < 0x80, so no carries): high bit of v + 0x3f set iff >= 'A', of
         * v + 0x25 iff > 'Z'; 0x80 >> 2 is the case bit */
        uint64_t upper = (v + 0x3f3f3f3f3f3f3f3full) & ~(v + 0x2525252525252525ull) & high;
        v |= upper >> 2;
        memcpy(out + i, &v, 8);
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        seen |= c;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return !(seen & high);
}

static double clamp1(double v) {
    return v < -1.0 ? -1.0 : (v > 1.0 ? 1.0 : v);
}

static int is_negation(const char *w) {
    if (w[0] != 'n')
        return 0;
    return !strcmp(w, "no") || !strcmp(w, "not") || !strcmp(w, "n't") || !strcmp(w, "never");
}

/* len(w.strip("'")) in code points */
static size_t len_strip_quote(const char *w) {
    size_t n = strlen(w);
    const char *s = w;
    while (n && *s == '\'')
        s++, n--;
    while (n && s[n - 1] == '\'')
        n--;
    return utf8_count(s, n);
}

/* ASCII letters only: cannot be an emoticon Pattern looks at */
static int all_letters(const char *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(((unsigned char)w[i] | 32) >= 'a' && ((unsigned char)w[i] | 32) <= 'z'))
            return 0;
    return 1;
}

static int ends_with_ly(const char *w) {
    size_t n = strlen(w);
    return n >= 2 && !memcmp(w + n - 2, "ly", 2);
}

int text_sentiment_score(const text_sentiment *ts, const text_toks *t, double *polarity,
                         double *subjectivity, size_t *nassess) {
    size_t nw = t->ntok;
    /* a short text (the common case) needs no allocation: scratch on the stack */
    size_t off_stack[SENT_STACK_TOKENS], wlen_stack[SENT_STACK_TOKENS];
    assess a_stack[SENT_STACK_TOKENS];
    char low_stack[SENT_STACK_BYTES], idiom_stack[256];
    tbuf low = {0};
    size_t *off = nw <= SENT_STACK_TOKENS ? off_stack : malloc(nw * sizeof(*off));
    size_t *wlen = nw <= SENT_STACK_TOKENS ? wlen_stack : malloc(nw * sizeof(*wlen));
    assess *a = a_stack;
    size_t na = 0, capa = SENT_STACK_TOKENS;
    tbuf idiom = TBUF_ON(idiom_stack);
    const char *lowp;
    int rc = STEP_ENOMEM;
    if (!off || !wlen)
        goto done;
    /* Lower-case every token. Tokens are stored back to back, each NUL-terminated, in t's
     * buffer: lower-casing the whole buffer at once keeps every offset as long as no character
     * changes its length (only a few non-ASCII ones do; then token by token). */
    size_t blen = t->buf.len;
    char *dst = !t->buf.p ? NULL : blen < sizeof(low_stack) ? low_stack : malloc(blen + 1);
    int same = 0;
    if (dst && ascii_lower(t->buf.p, blen, dst)) {
        if (dst != low_stack)
            low = (tbuf){dst, blen, blen + 1, 0, 0};
        dst[blen] = 0;
        lowp = dst;
        same = 1;
    } else {
        if (dst != low_stack)
            free(dst);
        if (t->buf.p)
            utf8_lower(&low, t->buf.p, blen);
        same = !low.oom && low.len == blen;
        if (!same) {
            low.len = 0;
            for (size_t k = 0; k < nw; k++) {
                off[k] = low.len;
                const char *w = toks_at(t, k);
                utf8_lower(&low, w, strlen(w));
                wlen[k] = low.len - off[k];
                tbuf_putc(&low, 0);
            }
        }
        if (low.oom)
            goto done;
        lowp = low.p;
    }
    if (same)
        for (size_t k = 0; k < nw; k++) {
            off[k] = t->tok[k];
            wlen[k] = (k + 1 < nw ? t->tok[k + 1] : blen) - off[k] - 1;
        }
#define W(k) (lowp + off[k])
    /* start the lexicon lookups of the first words together: the table is large */
    uint32_t wh[SENT_STACK_TOKENS];
    for (size_t k = 0; k < nw && k < SENT_STACK_TOKENS; k++) {
        wh[k] = tmap_hash(W(k), wlen[k]);
        tmap_prefetch(&ts->words, wh[k]);
    }
    const char *m = NULL; /* preceding modifier */
    const char *n = NULL; /* preceding negation */
    size_t index = 0;
    while (index < nw) {
        const char *w = W(index);
        size_t wl = wlen[index];
        const sent_word *sw = NULL;
        const tmap_entry *e = index < SENT_STACK_TOKENS
                                  ? tmap_get_hashed(&ts->words, w, wl, wh[index])
                                  : tmap_get(&ts->words, w, wl);
        const sent_word *hit = e ? e->val : NULL;
        if (hit && hit->is_head) {
            for (size_t i = 2; i >= 1; i--) {
                if (index + i < nw) {
                    idiom.len = 0;
                    for (size_t k = index; k <= index + i; k++) {
                        if (k > index)
                            tbuf_putc(&idiom, ' ');
                        tbuf_puts(&idiom, W(k));
                    }
                    if (idiom.oom)
                        goto done;
                    if ((e = tmap_get(&ts->words, idiom.p, idiom.len)) != NULL) {
                        w = e->key;
                        sw = e->val;
                        index += i;
                        break;
                    }
                }
            }
        }
        if (!sw && hit && hit->is_word)
            sw = hit;
        if (sw) {
            if (!m) {
                if (na == capa && !(a = assess_grow(a, a_stack, &capa)))
                    goto done;
                a[na++] = (assess){sw->none[0], sw->none[1], sw->none[2], 1};
            } else {
                assess *l = &a[na - 1];
                l->p = clamp1(sw->none[0] * l->i);
                l->s = clamp1(sw->none[1] * l->i);
                l->i = sw->none[2];
            }
            if (n) {
                assess *l = &a[na - 1];
                l->i = 1.0 / (l->i != 0.0 ? l->i : 1.0);
                l->n = -1;
            }
            m = NULL;
            n = NULL;
            if (sw->has_rb)
                m = w;
            if (is_negation(w))
                n = w;
        } else {
            if (is_negation(w))
                n = w;
            else if (n && len_strip_quote(w) > 1)
                n = NULL;
            if (n && m && ends_with_ly(m)) {
                a[na - 1].n = -1;
                n = NULL;
            } else if (m && utf8_count(w, wl) > 2) {
                m = NULL;
            }
            if (wl == 1 && w[0] == '!' && na > 0)
                a[na - 1].p = clamp1(a[na - 1].p * 1.25);
            double emo_p = 0;
            int add = 0;
            if (wl == 3 && !memcmp(w, "(!)", 3)) {
                emo_p = 0.0;
                add = 1;
            } else if (!all_letters(w, wl) && (e = tmap_get(&ts->emoticons, w, wl)) != NULL) {
                emo_p = *(const double *)e->val;
                add = 1;
            }
            if (add) {
                if (na == capa && !(a = assess_grow(a, a_stack, &capa)))
                    goto done;
                a[na++] = (assess){emo_p, 1.0, 1.0, 1};
            }
        }
        index++;
    }
#undef W
    double sp = 0, ss = 0;
    for (size_t k = 0; k < na; k++) {
        sp += a[k].n < 0 ? a[k].p * -0.5 : a[k].p;
        ss += a[k].s;
    }
    *polarity = sp / (double)(na ? na : 1);
    *subjectivity = ss / (double)(na ? na : 1);
    if (nassess)
        *nassess = na;
    rc = 0;
done:
    if (off != off_stack)
        free(off);
    if (wlen != wlen_stack)
        free(wlen);
    if (a != a_stack)
        free(a);
    tbuf_free(&low);
    tbuf_free(&idiom);
    return rc;
}
