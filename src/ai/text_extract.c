/*
 * text_extract.c — noun phrases, key phrases and the extractive summary.
 *
 * Noun phrases: over the POS tags, a phrase is a run of adjectives (JJ, JJR, JJS, and VBN/VBG
 * directly before a noun) followed by one or more nouns (NN, NNS, NNP, NNPS, NNP-*); leading
 * determiners and pronouns are not part of it. Key phrases: TextRank (Mihalcea & Tarau 2004)
 * over the content words of the noun phrases — an undirected co-occurrence graph with a
 * window of 2 over the document's candidate words, PageRank with damping 0.85 — and a phrase
 * scores the sum of its words' ranks; the top N distinct phrases (case-folded) are returned.
 * Summary: TextRank over sentences, with the similarity of two sentences the number of
 * content words (nouns, verbs, adjectives, adverbs; not auxiliaries) they share divided by
 * log|S1| + log|S2|; the best sentences within the sentence and character bounds, in document
 * order. Only the first MAX_SUMMARY_SENTENCES sentences enter the quadratic graph.
 */
#include "ai/text_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stepd/step.h>

#define MAX_SUMMARY_SENTENCES 400
#define PAGERANK_ITERS 40

static int is_noun(const char *t) {
    return t && t[0] == 'N' && t[1] == 'N';
}
static int is_adj(const char *t) {
    return t && t[0] == 'J' && t[1] == 'J';
}

typedef struct phrase {
    size_t first, n; /* token range of its first occurrence */
    size_t count;
    double score;
    char *key; /* case-folded text, in the map */
} phrase;

typedef struct phrases {
    phrase *v;
    size_t n, cap;
} phrases;

static void lower_token(tbuf *b, const char *w) {
    utf8_lower(b, w, strlen(w));
}

static int cmp_phrase(const void *a, const void *b) {
    const phrase *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->first < y->first ? -1 : (x->first > y->first);
}

/* Surface text of tokens [a, b): the source bytes when located, else the tokens joined. */
static json_t *surface(const text_doc *d, size_t a, size_t b) {
    if (d->tok_start && d->tok_start[a] != SIZE_MAX && d->tok_start[b - 1] != SIZE_MAX) {
        size_t s = d->tok_start[a], e = d->tok_start[b - 1] + strlen(toks_at(&d->toks, b - 1));
        if (e > s && e - s < 512) {
            /* collapse inner whitespace runs to one space */
            tbuf o = {0};
            int sp = 0;
            for (size_t i = s; i < e; i++) {
                char c = d->src[i];
                if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
                    sp = 1;
                    continue;
                }
                if (sp && o.len)
                    tbuf_putc(&o, ' ');
                sp = 0;
                tbuf_putc(&o, c);
            }
            json_t *j = o.p && !o.oom ? json_stringn(o.p, o.len) : NULL;
            tbuf_free(&o);
            if (j)
                return j;
        }
    }
    tbuf o = {0};
    for (size_t i = a; i < b; i++) {
        if (i > a)
            tbuf_putc(&o, ' ');
        tbuf_puts(&o, toks_at(&d->toks, i));
    }
    json_t *j = o.p && !o.oom ? json_stringn(o.p, o.len) : NULL;
    tbuf_free(&o);
    return j;
}

static int word_ok(const char *w) {
    size_t n = strlen(w);
    if (n < 2)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if ((c | 32) >= 'a' && (c | 32) <= 'z')
            return 1;
        if (c >= 0xC0)
            return 1;
    }
    return 0;
}

/* words that can be part of a key phrase: not URLs, e-mail addresses or handles */
static int phrase_word_ok(const char *w) {
    static const char *const TIME_WORDS[] = {"yesterday", "today", "tomorrow", "tonight"};
    for (size_t i = 0; i < sizeof(TIME_WORDS) / sizeof(TIME_WORDS[0]); i++)
        if (((unsigned char)w[0] | 32) == (unsigned char)TIME_WORDS[i][0] &&
            !strcasecmp(w, TIME_WORDS[i]))
            return 0;
    return word_ok(w) && !strchr(w, '@') && !strstr(w, "://") && strncmp(w, "www.", 4) &&
           w[0] != '#';
}

int text_phrases(const text_doc *d, int top, json_t **noun_phrases, json_t **key_phrases) {
    const text_toks *t = &d->toks;
    tmap pm = {0}; /* phrase key -> index+1 */
    tmap wm = {0}; /* candidate word -> id+1 */
    phrases ps = {0};
    size_t *seq = NULL, nseq = 0; /* candidate word ids in document order */
    size_t *wid = NULL;           /* per token: word id+1 or 0 */
    double *rank = NULL, *next = NULL;
    size_t *deg = NULL;
    size_t *adj_off = NULL, *adj = NULL;
    tbuf key = {0}, low = {0};
    int rc = STEP_ENOMEM;
    *noun_phrases = *key_phrases = NULL;
    wid = calloc(t->ntok ? t->ntok : 1, sizeof(*wid));
    seq = malloc((t->ntok ? t->ntok : 1) * sizeof(*seq));
    if (!wid || !seq)
        goto done;
    for (size_t s = 0; s < t->nsent; s++) {
        size_t a = t->sent[s], b = t->sent[s + 1];
        size_t i = a;
        while (i < b) {
            /* adjectives then nouns */
            size_t st = i;
            while (i < b && phrase_word_ok(toks_at(t, i)) &&
                   (is_adj(d->tags[i]) || ((d->tags[i] && !strncmp(d->tags[i], "VB", 2) &&
                                            (d->tags[i][2] == 'N' || d->tags[i][2] == 'G')) &&
                                           i + 1 < b && is_noun(d->tags[i + 1]))))
                i++;
            size_t ns = i;
            while (i < b && is_noun(d->tags[i]) && phrase_word_ok(toks_at(t, i)))
                i++;
            if (i == ns) {
                i = (i == st) ? i + 1 : i;
                continue;
            }
            key.len = 0;
            for (size_t k = st; k < i; k++) {
                if (k > st)
                    tbuf_putc(&key, ' ');
                lower_token(&key, toks_at(t, k));
                low.len = 0;
                lower_token(&low, toks_at(t, k));
                if (low.oom || !word_ok(low.p))
                    continue;
                tmap_entry *we = tmap_put(&wm, low.p, low.len);
                if (!we)
                    goto done;
                if (!we->val)
                    we->val = (void *)(uintptr_t)wm.count;
                wid[k] = (uintptr_t)we->val;
            }
            if (key.oom)
                goto done;
            tmap_entry *e = tmap_put(&pm, key.p, key.len);
            if (!e)
                goto done;
            if (!e->val) {
                if (ps.n == ps.cap) {
                    size_t cap = ps.cap ? ps.cap * 2 : 64;
                    phrase *v = realloc(ps.v, cap * sizeof(*v));
                    if (!v)
                        goto done;
                    ps.v = v;
                    ps.cap = cap;
                }
                ps.v[ps.n] = (phrase){.first = st, .n = i - st, .count = 0, .key = e->key};
                e->val = (void *)(uintptr_t)(++ps.n);
            }
            ps.v[(uintptr_t)e->val - 1].count++;
        }
    }
    for (size_t i = 0; i < t->ntok; i++)
        if (wid[i])
            seq[nseq++] = wid[i] - 1;
    /* co-occurrence graph (window 2: consecutive candidate words), as adjacency lists */
    size_t nw = wm.count;
    rank = malloc((nw ? nw : 1) * sizeof(double));
    next = malloc((nw ? nw : 1) * sizeof(double));
    deg = calloc(nw ? nw : 1, sizeof(size_t));
    adj_off = calloc(nw + 1, sizeof(size_t));
    adj = malloc((nseq ? 2 * nseq : 1) * sizeof(size_t));
    if (!rank || !next || !deg || !adj_off || !adj)
        goto done;
    for (size_t k = 1; k < nseq; k++)
        if (seq[k] != seq[k - 1])
            deg[seq[k]]++, deg[seq[k - 1]]++;
    for (size_t w = 0; w < nw; w++)
        adj_off[w + 1] = adj_off[w] + deg[w];
    memset(deg, 0, nw * sizeof(size_t));
    for (size_t k = 1; k < nseq; k++)
        if (seq[k] != seq[k - 1]) {
            adj[adj_off[seq[k]] + deg[seq[k]]++] = seq[k - 1];
            adj[adj_off[seq[k - 1]] + deg[seq[k - 1]]++] = seq[k];
        }
    for (size_t w = 0; w < nw; w++)
        rank[w] = 1.0;
    for (int it = 0; it < PAGERANK_ITERS; it++) {
        for (size_t w = 0; w < nw; w++) {
            double s = 0;
            for (size_t k = adj_off[w]; k < adj_off[w + 1]; k++)
                s += rank[adj[k]] / (double)deg[adj[k]];
            next[w] = 0.15 + 0.85 * s;
        }
        double *tmp = rank;
        rank = next;
        next = tmp;
    }
    for (size_t p = 0; p < ps.n; p++) {
        double s = 0;
        for (size_t k = ps.v[p].first; k < ps.v[p].first + ps.v[p].n; k++)
            if (wid[k])
                s += rank[wid[k] - 1];
        ps.v[p].score = s;
    }
    json_t *npj = json_array();
    for (size_t p = 0; npj && p < ps.n; p++)
        json_array_append_new(npj, json_pack("{s:o,s:I}", "text",
                                             surface(d, ps.v[p].first, ps.v[p].first + ps.v[p].n),
                                             "count", (json_int_t)ps.v[p].count));
    if (ps.n)
        qsort(ps.v, ps.n, sizeof(*ps.v), cmp_phrase);
    json_t *kpj = json_array();
    for (size_t p = 0; kpj && p < ps.n && (int)p < top; p++)
        json_array_append_new(kpj, json_pack("{s:o,s:f,s:I}", "text",
                                             surface(d, ps.v[p].first, ps.v[p].first + ps.v[p].n),
                                             "score", ps.v[p].score, "count",
                                             (json_int_t)ps.v[p].count));
    if (!npj || !kpj) {
        json_decref(npj);
        json_decref(kpj);
        goto done;
    }
    *noun_phrases = npj;
    *key_phrases = kpj;
    rc = 0;
done:
    tmap_free(&pm);
    tmap_free(&wm);
    free(ps.v);
    free(seq);
    free(wid);
    free(rank);
    free(next);
    free(deg);
    free(adj_off);
    free(adj);
    tbuf_free(&key);
    tbuf_free(&low);
    return rc;
}

/* ---- summary ------------------------------------------------------------------------------- */

static int is_content(const char *tag, const char *w) {
    if (!tag)
        return 0;
    if (!(is_noun(tag) || is_adj(tag) || !strncmp(tag, "VB", 2) || !strncmp(tag, "RB", 2)))
        return 0;
    static const char *const AUX[] = {
        "is",  "are", "was",  "were", "be",   "been", "being", "am",   "has", "have",
        "had", "do",  "does", "did",  "'s",   "'re",  "'m",    "'ve",  "'d",  "not",
        "n't", "so",  "very", "also", "just", "then", "there", "here", "now"};
    for (size_t i = 0; i < sizeof(AUX) / sizeof(AUX[0]); i++)
        if (AUX[i][0] == w[0] && !strcmp(w, AUX[i])) /* every token: be quick */
            return 0;
    return word_ok(w);
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct ranked {
    size_t idx;
    double score;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static json_t *sentence_text(const text_doc *d, size_t s) {
    size_t a = d->toks.sent[s], b = d->toks.sent[s + 1];
    if (d->sent_start && d->sent_start[s] != SIZE_MAX) {
        size_t st = d->sent_start[s], en = d->sent_end[s];
        if (en > st) {
            tbuf o = {0};
            int sp = 0;
            for (size_t i = st; i < en; i++) {
                char c = d->src[i];
                if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
                    sp = 1;
                    continue;
                }
                if (sp && o.len)
                    tbuf_putc(&o, ' ');
                sp = 0;
                tbuf_putc(&o, c);
            }
            json_t *j = o.p && !o.oom ? json_stringn(o.p, o.len) : NULL;
            tbuf_free(&o);
            if (j)
                return j;
        }
    }
    return surface(d, a, b);
}

int text_summary(const text_doc *d, int nsent, size_t maxchars, json_t **summary,
                 json_t **indices) {
    const text_toks *t = &d->toks;
    size_t ns = t->nsent < MAX_SUMMARY_SENTENCES ? t->nsent : MAX_SUMMARY_SENTENCES;
    tmap wm = {0};
    tbuf low = {0};
    size_t **bag = calloc(ns ? ns : 1, sizeof(*bag));
    size_t *bn = calloc(ns ? ns : 1, sizeof(*bn));
    double *sim = NULL, *rank = malloc((ns ? ns : 1) * sizeof(double)),
           *next = malloc((ns ? ns : 1) * sizeof(double)), *wsum = NULL;
    ranked *order = malloc((ns ? ns : 1) * sizeof(ranked));
    size_t *pick = malloc((ns ? ns : 1) * sizeof(size_t));
    int rc = STEP_ENOMEM;
    *summary = *indices = NULL;
    if (!bag || !bn || !rank || !next || !order || !pick)
        goto done;
    for (size_t s = 0; s < ns; s++) {
        size_t a = t->sent[s], b = t->sent[s + 1];
        bag[s] = malloc((b - a + 1) * sizeof(size_t));
        if (!bag[s])
            goto done;
        for (size_t i = a; i < b; i++) {
            low.len = 0;
            lower_token(&low, toks_at(t, i));
            if (low.oom)
                goto done;
            if (!is_content(d->tags[i], low.p))
                continue;
            tmap_entry *e = tmap_put(&wm, low.p, low.len);
            if (!e)
                goto done;
            if (!e->val)
                e->val = (void *)(uintptr_t)wm.count;
            bag[s][bn[s]++] = (uintptr_t)e->val;
        }
        qsort(bag[s], bn[s], sizeof(size_t), cmp_size);
        size_t u = 0; /* unique */
        for (size_t k = 0; k < bn[s]; k++)
            if (u == 0 || bag[s][u - 1] != bag[s][k])
                bag[s][u++] = bag[s][k];
        bn[s] = u;
    }
    sim = calloc(ns ? ns * ns : 1, sizeof(double));
    wsum = calloc(ns ? ns : 1, sizeof(double));
    if (!sim || !wsum)
        goto done;
    for (size_t x = 0; x < ns; x++)
        for (size_t y = x + 1; y < ns; y++) {
            if (bn[x] < 1 || bn[y] < 1 || bn[x] + bn[y] < 3)
                continue;
            size_t i = 0, j = 0, common = 0;
            while (i < bn[x] && j < bn[y]) {
                if (bag[x][i] == bag[y][j])
                    common++, i++, j++;
                else if (bag[x][i] < bag[y][j])
                    i++;
                else
                    j++;
            }
            if (!common)
                continue;
            double v = (double)common / (log((double)bn[x]) + log((double)bn[y]));
            sim[x * ns + y] = sim[y * ns + x] = v;
            wsum[x] += v;
            wsum[y] += v;
        }
    for (size_t s = 0; s < ns; s++)
        rank[s] = 1.0;
    for (int it = 0; it < PAGERANK_ITERS; it++) {
        for (size_t s = 0; s < ns; s++) {
            double acc = 0;
            for (size_t o = 0; o < ns; o++)
                if (sim[o * ns + s] > 0)
                    acc += sim[o * ns + s] / wsum[o] * rank[o];
            next[s] = 0.15 + 0.85 * acc;
        }
        double *tmp = rank;
        rank = next;
        next = tmp;
    }
    for (size_t s = 0; s < ns; s++)
        order[s] = (ranked){s, rank[s]};
    if (ns)
        qsort(order, ns, sizeof(*order), cmp_ranked);
    size_t npick = 0, chars = 0;
    json_t *texts = json_array(); /* per picked sentence, in pick order */
    if (!texts)
        goto done;
    for (size_t k = 0; k < ns && (int)npick < nsent; k++) {
        json_t *st = sentence_text(d, order[k].idx);
        if (!st)
            continue;
        size_t l = json_string_length(st);
        if (maxchars && chars + l + (npick ? 1 : 0) > maxchars) {
            json_decref(st);
            continue;
        }
        chars += l + (npick ? 1 : 0);
        pick[npick++] = order[k].idx;
        json_decref(st);
    }
    json_decref(texts);
    qsort(pick, npick, sizeof(size_t), cmp_size);
    tbuf out = {0};
    json_t *idx = json_array();
    for (size_t k = 0; k < npick; k++) {
        json_t *st = sentence_text(d, pick[k]);
        if (!st)
            continue;
        if (out.len)
            tbuf_putc(&out, ' ');
        tbuf_put(&out, json_string_value(st), json_string_length(st));
        json_decref(st);
        json_array_append_new(idx, json_integer((json_int_t)pick[k]));
    }
    if (!idx || out.oom) {
        json_decref(idx);
        tbuf_free(&out);
        goto done;
    }
    *summary = json_stringn(out.p ? out.p : "", out.len);
    tbuf_free(&out);
    if (!*summary) {
        json_decref(idx);
        goto done;
    }
    *indices = idx;
    rc = 0;
done:
    for (size_t s = 0; bag && s < ns; s++)
        free(bag[s]);
    free(bag);
    free(bn);
    free(sim);
    free(wsum);
    free(rank);
    free(next);
    free(order);
    free(pick);
    tmap_free(&wm);
    tbuf_free(&low);
    return rc;
}
