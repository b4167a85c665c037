/*
 * text_lang.c — language identification: Cavnar & Trenkle's rank-order ("out-of-place")
 * n-gram method over the language fingerprints Debian ships in libexttextcat-data
 * (fpdb.conf + one *.lm file per language: the 400 most frequent n-grams, most frequent first).
 *
 * A text becomes a profile the way libexttextcat builds one: runs of spaces and digits become
 * one "_", every word is framed by "_", and every n-gram of 1 to 5 characters (UTF-8 aware) that
 * has underscores only at its borders is counted; the 400 most frequent, most frequent first
 * (ties in text order), are the profile. A language's distance is the sum over the profile's
 * n-grams of |rank in the profile - rank in the language's fingerprint|, or 400 when the
 * fingerprint lacks the n-gram. Every language within 3% of the best is a candidate; more than 5
 * candidates means "undecided".
 *
 * Why not call libexttextcat: it compares the profile with each language by walking two sorted
 * string arrays (strcmp per step), allocates a hash table and a heap per call and keeps scratch
 * state in the handle, so calls had to be serialised by a mutex (docs/text.md has the numbers:
 * ~10x faster here). Here the fingerprints are a hash table from n-gram (its 64-bit hash) to a
 * posting list of (language, rank), one for the major languages (small: stays in cache) and
 * one for all; a text is scored against every language at once by looking up its <= 400
 * n-grams, in scratch memory on the caller's stack (a heap block only for long texts). The
 * loaded classifier is immutable: no lock.
 *
 * As before: the ~40 widely used languages first (English first: short texts then do not come
 * out as Scots or Afrikaans), all fingerprints when that is undecided; among candidates a widely
 * used language wins over a close regional one; confidence = 1 / number of candidates, scaled
 * down for texts under 60 letters; under 3 letters gives "und". Only the first 4 KiB are used.
 */
#include "ai/text_internal.h"

#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

#define LANG_SAMPLE 4096
#define LANG_NGRAMS 400     /* profile length, and ranks read per fingerprint */
#define LANG_OUTOFPLACE 400 /* distance of an n-gram the fingerprint lacks */
#define LANG_MAXCHARS 5     /* characters per n-gram */
#define LANG_MAXBYTES 20    /* longer fingerprint lines are skipped (as exttextcat does) */
#define LANG_MAXLANGS 512
#define LANG_MAXCAND 5

typedef struct lang_posting {
    uint16_t lang; /* index into text_lang.langs */
    uint16_t rank; /* rank in that language's fingerprint, 0 = most frequent */
} lang_posting;

typedef struct lang_info {
    char name[64]; /* as in fpdb.conf: "en--utf8", "zh-CN-utf8" */
    int order;     /* line order in fpdb.conf: breaks ties between equal distances */
    int major;     /* in MAJOR */
} lang_info;

/* N-grams are identified by a 64-bit hash (FNV-1a, then a finaliser so that every bit depends
 * on every byte): the low bits pick the slot, the high 32 are kept to tell n-grams apart. A
 * text's n-gram would have to agree with a different fingerprint n-gram on about 48 bits to be
 * taken for it. */
static inline uint64_t lang_hash_byte(uint64_t h, unsigned char c) {
    return (h ^ c) * 0x100000001b3ull;
}
#define LANG_HASH_SEED 0xcbf29ce484222325ull
static inline uint64_t lang_mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

typedef struct lang_slot {
    uint32_t check; /* high half of the n-gram's hash */
    uint32_t span;  /* its postings: post[span >> 12] .. + (span & 0xFFF); 0 = empty slot */
} lang_slot;

/* The fingerprints of languages [0, nlangs) as an open-addressing table from n-gram to its
 * postings: 8-byte slots, one cache line per lookup, no string compare. */
typedef struct lang_table {
    lang_slot *slots;
    size_t mask, nlangs;
    lang_posting *post; /* sorted by language within an n-gram */
} lang_table;

struct text_lang {
    lang_info *langs; /* the major languages first, in MAJOR's order, then the rest */
    size_t nlangs, nmajor;
    /* the major languages' table is used for every text and is small enough to stay in cache
     * (~10k n-grams); the table of all languages only when the major ones are undecided */
    lang_table major, all;
};

/* The postings of the fingerprint n-gram with hash h (lang_mix'ed) as a lang_slot span, or 0. */
static uint32_t lang_find(const lang_table *t, uint64_t h) {
    uint32_t check = (uint32_t)(h >> 32);
    for (size_t j = h & t->mask;; j = (j + 1) & t->mask) {
        const lang_slot *sl = &t->slots[j];
        if (!sl->span || sl->check == check)
            return sl->span;
    }
}

/* Fills t with the n-grams of the loading map m that languages [0, nl) have; the postings of
 * n-gram i are post[first[i]] .. post[first[i + 1] - 1], sorted by language. */
static int lang_index(lang_table *t, size_t nl, const tmap *m, const uint32_t *first,
                      const lang_posting *post) {
    size_t n = 0, np = 0, cap = 64;
    for (size_t g = 0; g < m->count; g++)
        if (post[first[g]].lang < nl) {
            n++;
            for (uint32_t k = first[g]; k < first[g + 1] && post[k].lang < nl; k++)
                np++;
        }
    while (cap < 2 * n)
        cap *= 2;
    t->slots = calloc(cap, sizeof(*t->slots));
    t->post = malloc((np ? np : 1) * sizeof(*t->post));
    if (!t->slots || !t->post)
        return STEP_ENOMEM;
    t->mask = cap - 1;
    t->nlangs = nl;
    uint32_t at = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const tmap_entry *e = &m->slots[i];
        if (!e->key)
            continue;
        size_t g = (uintptr_t)e->val - 1;
        uint32_t k = first[g], start = at;
        for (; k < first[g + 1] && post[k].lang < nl; k++)
            t->post[at++] = post[k];
        if (at == start)
            continue;
        uint64_t h = LANG_HASH_SEED;
        for (size_t b = 0; b < e->klen; b++)
            h = lang_hash_byte(h, (unsigned char)e->key[b]);
        h = lang_mix(h);
        size_t j = h & t->mask;
        while (t->slots[j].span)
            j = (j + 1) & t->mask;
        t->slots[j] = (lang_slot){(uint32_t)(h >> 32), start << 12 | (at - start)};
    }
    return 0;
}

static void lang_table_free(lang_table *t) {
    free(t->slots);
    free(t->post);
}

static const char *const MAJOR[] = {"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "nb",
                                    "fi", "pl", "cs", "sk", "hu", "ro", "tr", "ru", "uk", "el",
                                    "ar", "he", "hi", "ja", "zh", "ko", "id", "ca", "et", "lv",
                                    "lt", "sl", "hr", "bg", "eu", "ga", "is", "vi"};
#define NMAJOR (sizeof(MAJOR) / sizeof(MAJOR[0]))

/* index in MAJOR of the language named "xx-..." or -1 */
static int major_index(const char *name) {
    size_t n = strcspn(name, "-");
    for (size_t i = 0; i < NMAJOR; i++)
        if (strlen(MAJOR[i]) == n && !strncmp(MAJOR[i], name, n))
            return (int)i;
    return -1;
}

/* ---- loading ---------------------------------------------------------------------------------
 */

typedef struct lang_triple {
    uint32_t gram;
    uint16_t lang, rank;
} lang_triple;

typedef struct lang_loader {
    tmap grams; /* n-gram -> (void *)(index + 1) */
    lang_triple *t;
    size_t n, cap;
} lang_loader;

/* Reads one fingerprint: its first LANG_NGRAMS usable lines, an n-gram each (up to the first
 * space or tab, surrounding white space trimmed), rank = line number among the usable lines. */
static int load_fingerprint(tmap *grams, lang_loader *ld, const char *path, uint16_t lang) {
    FILE *f = fopen(path, "r");
    if (!f)
        return STEP_ENOTFOUND;
    char line[1024];
    int rank = 0, rc = 0;
    while (rank < LANG_NGRAMS && fgets(line, sizeof(line), f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '\v' || *p == '\f')
            p++;
        size_t n = strcspn(p, " \t\r\n\v\f");
        if (n > LANG_MAXBYTES)
            continue;
        int r = rank++;
        if (n == 0)
            continue; /* holds a rank but can never match */
        tmap_entry *e = tmap_put(grams, p, n);
        if (!e) {
            rc = STEP_ENOMEM;
            break;
        }
        if (!e->val)
            e->val = (void *)(uintptr_t)grams->count;
        if (ld->n == ld->cap) {
            size_t cap = ld->cap ? ld->cap * 2 : 16384;
            lang_triple *t = realloc(ld->t, cap * sizeof(*t));
            if (!t) {
                rc = STEP_ENOMEM;
                break;
            }
            ld->t = t;
            ld->cap = cap;
        }
        ld->t[ld->n++] = (lang_triple){(uint32_t)(uintptr_t)e->val - 1, lang, (uint16_t)r};
    }
    fclose(f);
    return rc;
}

static int lang_cmp(const void *a, const void *b) {
    const lang_info *x = a, *y = b;
    int mx = x->major >= 0 ? x->major : (int)NMAJOR, my = y->major >= 0 ? y->major : (int)NMAJOR;
    if (mx != my)
        return mx - my;
    return x->order - y->order;
}

int text_lang_load(const char *dir, text_lang **out, char **err) {
    char conf[4096];
    snprintf(conf, sizeof(conf), "%s/fpdb.conf", dir);
    FILE *in = fopen(conf, "r");
    if (!in) {
        *err = text_errf("cannot load language fingerprints from %s (set STEPD_TEXTCAT_DIR; "
                         "Debian package libexttextcat-data)",
                         conf);
        return STEP_ENOTFOUND;
    }
    text_lang *l = calloc(1, sizeof(*l));
    char(*files)[256] = calloc(LANG_MAXLANGS, sizeof(*files));
    lang_loader ld = {0};
    int rc = l && files ? 0 : STEP_ENOMEM;
    if (!rc)
        l->langs = calloc(LANG_MAXLANGS, sizeof(*l->langs));
    if (!rc && !l->langs)
        rc = STEP_ENOMEM;
    char line[1024];
    while (!rc && l->nlangs < LANG_MAXLANGS && fgets(line, sizeof(line), in)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        lang_info *li = &l->langs[l->nlangs];
        if (sscanf(line, "%255s %63s", files[l->nlangs], li->name) != 2)
            continue;
        li->order = (int)l->nlangs;
        li->major = major_index(li->name);
        l->nlangs++;
    }
    fclose(in);
    if (!rc && l->nlangs == 0) {
        *err = text_errf("no language fingerprints listed in %s", conf);
        rc = STEP_ENOTFOUND;
    }
    if (!rc) {
        /* files[] follows fpdb.conf's order; langs[] is re-ordered below, so remember the file
         * through the order field */
        qsort(l->langs, l->nlangs, sizeof(*l->langs), lang_cmp);
        for (size_t i = 0; i < l->nlangs && !rc; i++) {
            if (l->langs[i].major >= 0)
                l->nmajor = i + 1;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, files[l->langs[i].order]);
            rc = load_fingerprint(&ld.grams, &ld, path, (uint16_t)i);
            if (rc == STEP_ENOTFOUND)
                *err = text_errf("cannot read language fingerprint %s (listed in %s)", path, conf);
        }
    }
    if (!rc) {
        /* counting sort of the (n-gram, language, rank) triples by n-gram; languages were read
         * in index order, so each posting list comes out sorted by language */
        size_t ng = ld.grams.count;
        uint32_t *first = calloc(ng + 2, sizeof(*first));
        lang_posting *post = malloc((ld.n ? ld.n : 1) * sizeof(*post));
        if (!first || !post)
            rc = STEP_ENOMEM;
        for (size_t i = 0; !rc && i < ld.n; i++)
            first[ld.t[i].gram + 2]++;
        for (size_t i = 0; !rc && i < ng; i++)
            first[i + 2] += first[i + 1];
        /* first[g + 1] is where n-gram g's next posting goes; when all are placed, first[g]
         * is where its postings start */
        for (size_t i = 0; !rc && i < ld.n; i++)
            post[first[ld.t[i].gram + 1]++] = (lang_posting){ld.t[i].lang, ld.t[i].rank};
        if (!l->nmajor)
            l->nmajor = l->nlangs;
        if (!rc)
            rc = lang_index(&l->major, l->nmajor, &ld.grams, first, post);
        if (!rc && l->nmajor < l->nlangs)
            rc = lang_index(&l->all, l->nlangs, &ld.grams, first, post);
        free(first);
        free(post);
    }
    free(ld.t);
    tmap_free(&ld.grams);
    free(files);
    if (rc) {
        if (rc == STEP_ENOMEM && !*err)
            *err = text_errf("out of memory loading language fingerprints from %s", dir);
        text_lang_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void text_lang_free(text_lang *l) {
    if (!l)
        return;
    lang_table_free(&l->major);
    lang_table_free(&l->all);
    free(l->langs);
    free(l);
}

/* ---- the profile of a text ---------------------------------------------------------------------
 */

typedef struct lang_gram {
    uint64_t hash;  /* lang_mix'ed */
    uint32_t count; /* 0 = empty slot */
    uint32_t seq;   /* order of first appearance */
} lang_gram;

/* libexttextcat's clean-up: runs of ASCII white space and digits become one '_', and the text
 * is framed by '_'. Returns the length written to out (n + 2 bytes at most). */
static size_t lang_prepare(const char *s, size_t n, char *out) {
    size_t w = 0;
    int gap = 1;
    out[w++] = '_';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= '0' && c <= '9')) {
            if (!gap)
                out[w++] = '_';
            gap = 1;
        } else {
            out[w++] = (char)c;
            gap = 0;
        }
    }
    if (!gap)
        out[w++] = '_';
    return w;
}

/* Bytes of the character at p: a byte and the continuation bytes after it. On valid UTF-8 that
 * is the character; on anything else it is the same cut lang_max_grams() counts with, which
 * keeps its bound (and the scratch sized by it) right. */
static inline size_t utf8_step(const char *p, size_t left) {
    size_t k = 1;
    while (k < left && ((unsigned char)p[k] & 0xC0) == 0x80)
        k++;
    return k;
}

/* Scratch for one call: on the stack for the usual short text (about 30 KiB), on the heap for
 * long ones. */
#define LANG_STACK_SLOTS 2048
#define LANG_STACK_BUF 512
#define LANG_MAXCOUNT 1024

typedef struct lang_scratch {
    lang_gram *slots;
    size_t mask;
    uint16_t *by_seq; /* slot of the n-gram first seen seq-th */
    size_t ndistinct;
} lang_scratch;

static void lang_count(lang_scratch *sc, const char *buf, size_t len) {
    for (size_t p = 0; p < len;) {
        size_t step = utf8_step(buf + p, len - p), q = p;
        uint64_t h = LANG_HASH_SEED;
        for (int chars = 0; chars < LANG_MAXCHARS && q < len; chars++) {
            size_t k = utf8_step(buf + q, len - q);
            for (size_t b = 0; b < k; b++)
                h = lang_hash_byte(h, (unsigned char)buf[q + b]);
            uint64_t m = lang_mix(h);
            for (size_t j = m & sc->mask;; j = (j + 1) & sc->mask) {
                lang_gram *g = &sc->slots[j];
                if (!g->count) {
                    *g = (lang_gram){m, 1, (uint32_t)sc->ndistinct};
                    sc->by_seq[sc->ndistinct++] = (uint16_t)j;
                    break;
                }
                if (g->hash == m) {
                    g->count++;
                    break;
                }
            }
            /* underscores only at the borders: an n-gram stops after one (the first character
             * may be one) */
            if (chars > 0 && buf[q] == '_')
                break;
            q += k;
        }
        p += step;
    }
}

/* ---- classification --------------------------------------------------------------------------
 */

typedef struct lang_cand {
    int score, order;
    uint16_t lang;
} lang_cand;

/* Scores languages [0, nl) against the profile (span[r]: the postings of the n-gram ranked r in
 * the text, 0 if no fingerprint has it); fills cand with those within
 * 3% of the best, best first. Returns their number, or -1 when more than LANG_MAXCAND. */
static int lang_rank(const text_lang *l, const lang_table *t, const uint32_t *span, size_t np,
                     int full, lang_cand cand[LANG_MAXCAND]) {
    int gain[LANG_MAXLANGS] = {0};
    size_t nl = t->nlangs;
    for (size_t r = 0; r < np; r++) {
        const lang_posting *po = t->post + (span[r] >> 12), *end = po + (span[r] & 0xFFF);
        for (; po < end; po++) {
            int d = (int)po->rank - (int)r;
            gain[po->lang] += LANG_OUTOFPLACE - (d < 0 ? -d : d);
        }
    }
    int best = 0;
    for (size_t i = 1; i < nl; i++)
        if (gain[i] > gain[best])
            best = (int)i;
    int base = (int)np * LANG_OUTOFPLACE;
    int threshold = (int)((double)(base - gain[best]) * 1.03);
    int n = 0;
    for (size_t i = 0; i < nl; i++) {
        int score = base - gain[i];
        if (score >= threshold)
            continue;
        if (n == LANG_MAXCAND)
            return -1;
        int order = full ? l->langs[i].order : (int)i;
        int at = n++;
        while (at > 0 && (cand[at - 1].score > score ||
                          (cand[at - 1].score == score && cand[at - 1].order > order))) {
            cand[at] = cand[at - 1];
            at--;
        }
        cand[at] = (lang_cand){score, order, (uint16_t)i};
    }
    return n;
}

/* Upper bound of the n-grams lang_count() will see in buf: at each character, up to
 * LANG_MAXCHARS characters but not past the next '_'. */
static size_t lang_max_grams(const char *buf, size_t len) {
    size_t total = 0, to_edge = 0; /* characters from the next one up to its next '_' */
    for (size_t p = len; p-- > 0;) {
        if (((unsigned char)buf[p] & 0xC0) == 0x80)
            continue;
        total += to_edge + 1 < LANG_MAXCHARS ? to_edge + 1 : LANG_MAXCHARS;
        to_edge = buf[p] == '_' ? 1 : to_edge + 1;
    }
    return total;
}

void text_lang_identify(const text_lang *l, const char *s, size_t n, char code[16],
                        double *confidence) {
    strcpy(code, "und");
    *confidence = 0.0;
    size_t letters = 0;
    for (size_t i = 0; i < n && i < LANG_SAMPLE; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c | 32) >= 'a' && (c | 32) <= 'z')
            letters++;
        else if (c >= 0xC0)
            letters++;
    }
    if (!l || letters < 3)
        return;
    size_t len = n < LANG_SAMPLE ? n : LANG_SAMPLE;
    while (len < n && len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--; /* do not cut a character in half */
    const char *nul = memchr(s, 0, len);
    if (nul)
        len = (size_t)(nul - s); /* the profile ends at a NUL, as exttextcat's does */

    /* scratch on the stack for the usual short text, on the heap for long ones */
    char stack_buf[LANG_STACK_BUF];
    lang_gram stack_slots[LANG_STACK_SLOTS];
    uint16_t stack_seq[LANG_STACK_SLOTS / 2];
    char *buf = len + 2 <= sizeof(stack_buf) ? stack_buf : malloc(len + 2);
    if (!buf)
        return;
    size_t blen = lang_prepare(s, len, buf);
    size_t maxgrams = lang_max_grams(buf, blen), nslots = 64;
    while (nslots < 2 * maxgrams)
        nslots *= 2;
    lang_scratch sc = {stack_slots, nslots - 1, stack_seq, 0};
    void *big = NULL;
    if (nslots > LANG_STACK_SLOTS) {
        big = malloc(nslots * sizeof(lang_gram) + maxgrams * sizeof(uint16_t));
        if (!big) {
            if (buf != stack_buf)
                free(buf);
            return;
        }
        sc.slots = big;
        sc.by_seq = (uint16_t *)(sc.slots + nslots);
    }
    memset(sc.slots, 0, nslots * sizeof(lang_gram));
    lang_count(&sc, buf, blen);

    /* the profile: most frequent first, ties in order of appearance (a counting sort) */
    unsigned maxcount = 0;
    for (size_t i = 0; i < sc.ndistinct; i++)
        if (sc.slots[sc.by_seq[i]].count > maxcount)
            maxcount = sc.slots[sc.by_seq[i]].count;
    uint16_t hist[LANG_MAXCOUNT + 2] = {0};
    if (maxcount > LANG_MAXCOUNT)
        maxcount = LANG_MAXCOUNT; /* counts above are ranked as equal: only in texts of KiBs */
    for (size_t i = 0; i < sc.ndistinct; i++) {
        unsigned c = sc.slots[sc.by_seq[i]].count;
        hist[maxcount - (c < maxcount ? c : maxcount) + 1]++;
    }
    for (unsigned c = 1; c <= maxcount + 1; c++)
        hist[c] += hist[c - 1];
    uint16_t profile[LANG_NGRAMS];
    size_t np = sc.ndistinct < LANG_NGRAMS ? sc.ndistinct : LANG_NGRAMS;
    for (size_t i = 0; i < sc.ndistinct; i++) {
        unsigned c = sc.slots[sc.by_seq[i]].count;
        size_t at = hist[maxcount - (c < maxcount ? c : maxcount)]++;
        if (at < np)
            profile[at] = sc.by_seq[i];
    }

    /* the table lookups miss the cache: start all the loads, then use them */
    uint32_t span[LANG_NGRAMS] = {0}; /* (only [0, np) is used) */
    uint64_t hash[LANG_NGRAMS];
    for (size_t r = 0; r < np; r++) {
        hash[r] = sc.slots[profile[r]].hash;
        __builtin_prefetch(&l->major.slots[hash[r] & l->major.mask]);
    }
    for (size_t r = 0; r < np; r++)
        span[r] = lang_find(&l->major, hash[r]);
    lang_cand cand[LANG_MAXCAND];
    int k = lang_rank(l, &l->major, span, np, 0, cand);
    if (k <= 0 && l->all.slots) {
        for (size_t r = 0; r < np; r++)
            __builtin_prefetch(&l->all.slots[hash[r] & l->all.mask]);
        for (size_t r = 0; r < np; r++)
            span[r] = lang_find(&l->all, hash[r]);
        k = lang_rank(l, &l->all, span, np, 1, cand);
    }
    free(big);
    if (buf != stack_buf)
        free(buf);
    if (k <= 0)
        return;
    /* Candidates are within 3% of each other: prefer a widely used language over a close
     * regional one ("ru" over "rue", "en" over "sco"), as short texts often tie. */
    const char *best = l->langs[cand[0].lang].name;
    for (int c = 0; c < k; c++)
        if (l->langs[cand[c].lang].major >= 0) {
            best = l->langs[cand[c].lang].name;
            break;
        }
    /* names are "en--utf8", "zh-CN-utf8", "az-cyrillic-utf8": the code is the first part */
    size_t cl = strcspn(best, "-");
    if (cl == 0 || cl >= 16)
        return;
    memcpy(code, best, cl);
    code[cl] = 0;
    double len_factor = letters >= 60 ? 1.0 : 0.4 + 0.6 * (double)letters / 60.0;
    *confidence = len_factor / (double)k;
}
