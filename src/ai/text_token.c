/*
 * text_token.c — the tokenizer and sentence splitter, a faithful C port of Pattern's
 * find_tokens() (pattern/text/__init__.py), because sentiment and POS results depend on the
 * exact tokens. The pipeline is the same as Pattern's:
 *   1. contractions get a space before them ("don't" -> "do n't", "it's" -> "it 's"),
 *      curly quotes get spaces around them;
 *   2. whitespace runs split tokens; two or more consecutive newlines end a sentence;
 *   3. leading punctuation is split off each token (except @mentions), then trailing
 *      punctuation, an ellipsis, and a final period unless the token is an abbreviation
 *      ("Mr.", "e.g.", "U.S.", "T.");
 *   4. sentences end after runs of . ! ? ... tokens;
 *   5. each sentence is re-joined and Pattern's fix-ups run on it: "( ! )" -> "(!)",
 *      emoticons split by step 3 are glued back (": )" -> ":)"), emoji get spaces around.
 * URLs, e-mails and numbers survive because only leading/trailing punctuation is split.
 * Input must be valid UTF-8 (text.c sanitises it first).
 */
#include "ai/text_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

#define EOS "END-OF-SENTENCE"
#define TOK_STACK_SPANS 128 /* spans on the stack: texts up to ~500 bytes need no heap for them */

/* Pattern's PUNCTUATION, as a table: the tokenizer asks for every token's first and last byte */
static const uint8_t PUNCT[256] = {
    ['.'] = 1, [','] = 1, [';'] = 1, [':'] = 1, ['!'] = 1, ['?'] = 1, ['('] = 1,
    [')'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1, ['`'] = 1, ['\''] = 1,
    ['"'] = 1, ['@'] = 1, ['#'] = 1, ['$'] = 1, ['^'] = 1, ['&'] = 1, ['*'] = 1,
    ['+'] = 1, ['-'] = 1, ['|'] = 1, ['='] = 1, ['~'] = 1, ['_'] = 1};

static inline int is_punct(char c) {
    return PUNCT[(unsigned char)c];
}

static const char *const REPLACE[] = {"'d", "'m", "'s", "'ll", "'re", "'ve", "n't"};

static int is_replace(const char *t, size_t n) {
    if (n < 2 || n > 3 || (t[0] != '\'' && t[0] != 'n'))
        return 0;
    for (size_t i = 0; i < sizeof(REPLACE) / sizeof(REPLACE[0]); i++)
        if (strlen(REPLACE[i]) == n && !memcmp(REPLACE[i], t, n))
            return 1;
    return 0;
}

static const char *const ABBREVIATIONS[] = {
    "a.",    "adj.", "adv.",  "al.",   "a.m.", "art.", "c.",    "capt.", "cert.", "cf.",
    "col.",  "Col.", "comp.", "conf.", "def.", "Dep.", "Dept.", "Dr.",   "dr.",   "ed.",
    "e.g.",  "esp.", "etc.",  "ex.",   "f.",   "fig.", "gen.",  "id.",   "i.e.",  "int.",
    "l.",    "m.",   "Med.",  "Mil.",  "Mr.",  "n.",   "n.q.",  "orig.", "pl.",   "pred.",
    "pres.", "p.m.", "ref.",  "v.",    "vs.",  "w/"};

static int is_ascii_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* t ends with '.'; Pattern's abbreviation set and RE_ABBR1..3. */
static int is_abbreviation(const char *t, size_t n) {
    for (size_t i = 0; n <= 5 && i < sizeof(ABBREVIATIONS) / sizeof(ABBREVIATIONS[0]); i++)
        if (ABBREVIATIONS[i][0] == t[0] && strlen(ABBREVIATIONS[i]) == n &&
            !memcmp(ABBREVIATIONS[i], t, n))
            return 1; /* (none is longer than 5 bytes) */
    /* ^([A-Za-z]\.)+$ (covers ^[A-Za-z]\.$) */
    if (n % 2 == 0) {
        size_t i = 0;
        while (i < n && is_ascii_alpha(t[i]) && t[i + 1] == '.')
            i += 2;
        if (i == n)
            return 1;
    }
    /* ^[A-Z][bcdfghjklmnpqrstvwxz|]+.$ — the final "." is any one character */
    if (n >= 3 && t[0] >= 'A' && t[0] <= 'Z') {
        size_t i = 1;
        while (i < n - 1 && strchr("bcdfghjklmnpqrstvwxz|", t[i]) && t[i])
            i++;
        /* the last character is one code point: '.' here, since t ends with '.' */
        if (i == n - 1)
            return 1;
    }
    return 0;
}

/* RE_MENTION: ^@[0-9A-z_]+(,|:|.|!|?|$) */
static int is_mention(const char *t, size_t n) {
    if (n < 2 || t[0] != '@')
        return 0;
    size_t k = 1;
    while (k < n && ((t[k] >= '0' && t[k] <= '9') || (t[k] >= 'A' && t[k] <= 'z')))
        k++;
    if (k == 1)
        return 0;
    return k == n || strchr(",:.!?", t[k]) != NULL;
}

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
    int oom;
    int fixed; /* v is the caller's (stack) array: growing moves it to the heap */
} spans;

static void spans_grow_push(spans *s, const char *p, size_t n) {
    if (s->oom)
        return;
    size_t cap = s->cap ? s->cap * 2 : 256;
    span *v = s->fixed ? malloc(cap * sizeof(*v)) : realloc(s->v, cap * sizeof(*v));
    if (!v) {
        s->oom = 1;
        return;
    }
    if (s->fixed && s->n)
        memcpy(v, s->v, s->n * sizeof(*v));
    s->v = v;
    s->cap = cap;
    s->fixed = 0;
    s->v[s->n++] = (span){p, n};
}

static inline void spans_push(spans *s, const char *p, size_t n) {
    if (s->n < s->cap && !s->oom)
        s->v[s->n++] = (span){p, n};
    else
        spans_grow_push(s, p, n);
}

static void spans_free(spans *s) {
    if (!s->fixed)
        free(s->v);
}

/* Step 1: contractions and curly quotes. */
static void normalize(const char *s, size_t n, tbuf *out) {
    /* the bytes a rewrite can start at: ' (contractions), n (n't), 0xE2 (curly quotes) */
    static const uint8_t START[256] = {['\''] = 1, ['n'] = 1, [0xE2] = 1};
    size_t i = 0, run = 0;
    while (i < n) {
        if (!START[(unsigned char)s[i]]) {
            i++;
            run++;
            continue;
        }
        const char *c = s + i;
        size_t left = n - i;
        const char *ins = NULL;
        size_t skip = 0;
        if (c[0] == '\'' && left >= 2) {
            char d = c[1];
            if (d == 'd' || d == 'm' || d == 's')
                ins = " ", skip = 0;
            else if (left >= 3 && ((d == 'l' && c[2] == 'l') || (d == 'r' && c[2] == 'e') ||
                                   (d == 'v' && c[2] == 'e')))
                ins = " ", skip = 0;
        } else if (c[0] == 'n' && left >= 3 && c[1] == '\'' && c[2] == 't') {
            ins = " ";
        } else if (left >= 3 && (unsigned char)c[0] == 0xE2 && (unsigned char)c[1] == 0x80 &&
                   ((unsigned char)c[2] == 0x9C || (unsigned char)c[2] == 0x9D ||
                    (unsigned char)c[2] == 0x98 || (unsigned char)c[2] == 0x99)) {
            /* “ ” ‘ ’ -> " x " */
            tbuf_put(out, s + i - run, run);
            run = 0;
            tbuf_putc(out, ' ');
            tbuf_put(out, c, 3);
            tbuf_putc(out, ' ');
            i += 3;
            continue;
        }
        (void)skip;
        if (ins) {
            tbuf_put(out, s + i - run, run);
            run = 0;
            tbuf_putc(out, ' ');
            /* copy the contraction itself so it is not matched twice ("n't" then "'t") */
            size_t len = c[0] == 'n' ? 3 : (c[1] == 'l' || c[1] == 'r' || c[1] == 'v') ? 3 : 2;
            tbuf_put(out, c, len);
            i += len;
            continue;
        }
        i++;
        run++;
    }
    tbuf_put(out, s + i - run, run);
    if (!out->p)
        tbuf_put(out, "", 0);
}

/* Step 2: split on whitespace; "\n\n" (after "\r\n" -> "\n") inserts an EOS token. */
static int32_t decode_fast(const char *s, size_t n, int *l) {
    if ((unsigned char)s[0] < 0x80) {
        *l = 1;
        return (unsigned char)s[0];
    }
    return utf8_decode((const unsigned char *)s, n, l);
}

/* py_isspace() with the ASCII answer inline */
static inline int is_space_cp(int32_t cp) {
    static const uint8_t ASCII_SPACE[128] = {
        ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
        [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, [' '] = 1};
    if (cp < 0x80)
        return cp >= 0 && ASCII_SPACE[cp];
    return py_isspace((uint32_t)cp);
}

static void split_raw(const char *s, size_t n, spans *raw) {
    size_t i = 0;
    while (i < n) {
        int l;
        int32_t cp = decode_fast(s + i, n - i, &l);
        if (is_space_cp(cp)) {
            int nl = 0; /* consecutive newlines in the current group */
            while (i < n) {
                cp = decode_fast(s + i, n - i, &l);
                if (!is_space_cp(cp))
                    break;
                if (cp == '\r' && i + 1 < n && s[i + 1] == '\n') {
                    i++; /* "\r\n" is one "\n" */
                    cp = '\n';
                }
                if (cp == '\n') {
                    nl++;
                    if (nl == 2)
                        spans_push(raw, EOS, sizeof(EOS) - 1);
                } else {
                    nl = 0;
                }
                i += (size_t)l;
            }
            continue;
        }
        size_t start = i;
        while (i < n) {
            unsigned char c = (unsigned char)s[i];
            if (c > 0x20 && c < 0x80) { /* the common case: printable ASCII */
                i++;
                continue;
            }
            cp = decode_fast(s + i, n - i, &l);
            if (is_space_cp(cp))
                break;
            i += (size_t)l;
        }
        spans_push(raw, s + start, i - start);
    }
}

/* Step 3 for one raw token. */
static void split_punct(const char *t, size_t n, spans *out) {
    if (n == sizeof(EOS) - 1 && !memcmp(t, EOS, n)) {
        spans_push(out, t, n);
        return;
    }
    if (!is_mention(t, n)) {
        while (n > 0 && is_punct(t[0]) && !is_replace(t, n)) {
            spans_push(out, t, 1);
            t++;
            n--;
        }
    }
    span tail[64];
    size_t ntail = 0;
    spans big = {0}; /* only for pathological tokens with more than 64 trailing marks */
    while (n > 0 && is_punct(t[n - 1]) && !is_replace(t, n)) {
        span piece = {0};
        int have = 0;
        if (t[n - 1] != '.') {
            piece = (span){t + n - 1, 1};
            have = 1;
            n--;
        }
        if (have) {
            if (ntail < 64)
                tail[ntail++] = piece;
            else
                spans_push(&big, piece.p, piece.n);
        }
        if (n >= 3 && !memcmp(t + n - 3, "...", 3)) {
            piece = (span){t + n - 3, 3};
            n -= 3;
            while (n > 0 && t[n - 1] == '.')
                n--;
            if (ntail < 64)
                tail[ntail++] = piece;
            else
                spans_push(&big, piece.p, piece.n);
        }
        if (n > 0 && t[n - 1] == '.') {
            if (is_abbreviation(t, n))
                break;
            piece = (span){t + n - 1, 1};
            n--;
            if (ntail < 64)
                tail[ntail++] = piece;
            else
                spans_push(&big, piece.p, piece.n);
        }
    }
    if (n > 0)
        spans_push(out, t, n);
    for (size_t k = big.n; k > 0; k--)
        spans_push(out, big.v[k - 1].p, big.v[k - 1].n);
    for (size_t k = ntail; k > 0; k--)
        spans_push(out, tail[k - 1].p, tail[k - 1].n);
    if (big.oom)
        out->oom = 1;
    spans_free(&big);
}

static int span_is(span s, const char *lit) {
    size_t n = strlen(lit);
    return s.n == n && !memcmp(s.p, lit, n);
}

static int is_terminator(span s) {
    switch (s.p[0]) {
    case '.':
        return s.n == 1 || (s.n == 3 && s.p[1] == '.' && s.p[2] == '.');
    case '!':
    case '?':
        return s.n == 1;
    case 'E':
        return span_is(s, EOS);
    default:
        return 0;
    }
}

/* Emoticons of Pattern's EMOTICONS table (used to glue ": )" back into ":)"). */
static const char *const EMOTICONS[] = {"<3",
                                        "\xE2\x99\xA5",
                                        "\xE2\x9D\xA4",
                                        ">:D",
                                        ":-D",
                                        ":D",
                                        "=-D",
                                        "=D",
                                        "X-D",
                                        "x-D",
                                        "XD",
                                        "xD",
                                        "8-D",
                                        ">:P",
                                        ":-P",
                                        ":P",
                                        ":-p",
                                        ":p",
                                        ":-b",
                                        ":b",
                                        ":c)",
                                        ":o)",
                                        ":^)",
                                        ">:)",
                                        ":-)",
                                        ":)",
                                        "=)",
                                        "=]",
                                        ":]",
                                        ":}",
                                        ":>",
                                        ":3",
                                        "8)",
                                        "8-)",
                                        ">;]",
                                        ";-)",
                                        ";)",
                                        ";-]",
                                        ";]",
                                        ";D",
                                        ";^)",
                                        "*-)",
                                        "*)",
                                        ":-|",
                                        ":|",
                                        ">:o",
                                        ":-O",
                                        ":O",
                                        ":o",
                                        ":-o",
                                        "o_O",
                                        "o.O",
                                        "\xC2\xB0O\xC2\xB0",
                                        "\xC2\xB0o\xC2\xB0",
                                        ">:/",
                                        ":-/",
                                        ":/",
                                        ":\\",
                                        ">:\\",
                                        ":-.",
                                        ":-s",
                                        ":s",
                                        ":S",
                                        ":-S",
                                        ">.>",
                                        ">:[",
                                        ":-(",
                                        ":(",
                                        "=(",
                                        ":-[",
                                        ":[",
                                        ":{",
                                        ":-<",
                                        ":c",
                                        ":-c",
                                        "=/",
                                        ":'(",
                                        ":'''(",
                                        ";'("};

/* Matches emoticon e at s (optional single spaces between its characters, then end or space).
 * Returns the bytes consumed (including the trailing space) or 0. */
static size_t match_emoticon(const char *s, size_t n, const char *e) {
    size_t i = 0, k = 0, el = strlen(e);
    while (k < el) {
        int l;
        utf8_decode((const unsigned char *)e + k, el - k, &l);
        if (k > 0 && i < n && s[i] == ' ')
            i++;
        if (i + (size_t)l > n || memcmp(s + i, e + k, (size_t)l))
            return 0;
        i += (size_t)l;
        k += (size_t)l;
    }
    if (i == n)
        return i;
    if (s[i] == ' ')
        return i + 1;
    return 0;
}

static const char *const EMOJI[] = {
    "\xE2\x9D\xA4\xEF\xB8\x8F", "\xF0\x9F\x92\x9C", "\xF0\x9F\x92\x9A", "\xF0\x9F\x92\x99",
    "\xF0\x9F\x92\x9B",         "\xF0\x9F\x92\x95", "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x84",
    "\xF0\x9F\x98\x83",         "\xF0\x9F\x98\x86", "\xF0\x9F\x98\x85", "\xF0\x9F\x98\x82",
    "\xF0\x9F\x98\x81",         "\xF0\x9F\x98\xBB", "\xF0\x9F\x98\x8D", "\xF0\x9F\x98\x88",
    "\xF0\x9F\x91\x8C",         "\xF0\x9F\x98\x9B", "\xF0\x9F\x98\x9D", "\xF0\x9F\x98\x9C",
    "\xF0\x9F\x98\x8B",         "\xF0\x9F\x98\x87", "\xF0\x9F\x98\x8A", "\xF0\x9F\x98\x8C",
    "\xF0\x9F\x98\x8F",         "\xF0\x9F\x98\x8E", "\xE2\x98\xBA",     "\xF0\x9F\x91\x8D",
    "\xF0\x9F\x98\x89",         "\xF0\x9F\x98\x90", "\xF0\x9F\x98\xB6", "\xF0\x9F\x98\xB3",
    "\xF0\x9F\x98\xAE",         "\xF0\x9F\x98\xAF", "\xF0\x9F\x98\xA7", "\xF0\x9F\x98\xA6",
    "\xF0\x9F\x99\x80",         "\xF0\x9F\x98\x95", "\xF0\x9F\x98\xAC", "\xF0\x9F\x98\x9F",
    "\xF0\x9F\x98\x92",         "\xF0\x9F\x98\x94", "\xF0\x9F\x98\x9E", "\xF0\x9F\x98\xA0",
    "\xF0\x9F\x98\xA9",         "\xF0\x9F\x98\xAB", "\xF0\x9F\x98\xA1", "\xF0\x9F\x91\xBF",
    "\xF0\x9F\x98\xA2",         "\xF0\x9F\x98\xA5", "\xF0\x9F\x98\x93", "\xF0\x9F\x98\xAA",
    "\xF0\x9F\x98\xAD",         "\xF0\x9F\x98\xBF"};

static size_t emoji_at(const char *s, size_t n) {
    if (n == 0 || (unsigned char)s[0] < 0xE2)
        return 0;
    for (size_t k = 0; k < sizeof(EMOJI) / sizeof(EMOJI[0]); k++) {
        size_t l = strlen(EMOJI[k]);
        if (l <= n && !memcmp(s, EMOJI[k], l))
            return l;
    }
    return 0;
}

/* Emoticons by first byte, built once. */
#define NEMO (sizeof(EMOTICONS) / sizeof(EMOTICONS[0]))
static uint8_t emo_by_byte[256][64];
static uint8_t emo_count[256];
static pthread_once_t emo_once = PTHREAD_ONCE_INIT;

/* (c1, c2) bytes that follow each other inside an emoticon or "(!)": a sentence none of whose
 * token boundaries has such a pair cannot change in step 5. */
static uint8_t emo_pair[256][32];

static void pair_set(unsigned char a, unsigned char b) {
    emo_pair[a][b >> 3] |= (uint8_t)(1u << (b & 7));
}

static void emo_index(void) {
    for (size_t k = 0; k < NEMO; k++) {
        unsigned char c = (unsigned char)EMOTICONS[k][0];
        if (emo_count[c] < 64)
            emo_by_byte[c][emo_count[c]++] = (uint8_t)k;
        for (const char *e = EMOTICONS[k]; e[0] && e[1]; e++)
            pair_set((unsigned char)e[0], (unsigned char)e[1]);
    }
    pair_set('(', '!');
    pair_set('!', ')');
}

static int pair_hit(unsigned char a, unsigned char b) {
    return a >= 0x80 || b >= 0x80 || (emo_pair[a][b >> 3] >> (b & 7)) & 1;
}

/* Step 5 for a sentence whose tokens [i, j) (EOS skipped) need no fix-up: copies the tokens
 * straight into t (high: the text has bytes >= 0xE2, which may be emoji). Returns 0 when the
 * sentence needs the full treatment instead. */
static int emit_plain(const spans *toks, size_t i, size_t j, int high, text_toks *t) {
    const span *prev = NULL;
    size_t count = 0;
    for (size_t k = i; k < j; k++) {
        const span *sp = &toks->v[k];
        if (span_is(*sp, EOS))
            continue;
        if (prev && pair_hit((unsigned char)prev->p[prev->n - 1], (unsigned char)sp->p[0]))
            return 0;
        for (size_t q = 0; high && q < sp->n; q++)
            if ((unsigned char)sp->p[q] >= 0xE2)
                return 0; /* maybe an emoji */
        prev = sp;
        count++;
    }
    if (!count)
        return 1;
    if (t->ntok + count > t->captok) {
        size_t cap = t->captok ? t->captok : 256;
        while (cap < t->ntok + count)
            cap *= 2;
        size_t *v = realloc(t->tok, cap * sizeof(*v));
        if (!v) {
            t->oom = 1;
            return 1;
        }
        t->tok = v;
        t->captok = cap;
    }
    if (t->nsent + 2 > t->capsent) {
        size_t cap = t->capsent ? t->capsent * 2 : 64;
        size_t *v = realloc(t->sent, cap * sizeof(*v));
        if (!v) {
            t->oom = 1;
            return 1;
        }
        t->sent = v;
        t->capsent = cap;
    }
    t->sent[t->nsent++] = t->ntok;
    for (size_t k = i; k < j; k++) {
        const span *sp = &toks->v[k];
        if (span_is(*sp, EOS))
            continue;
        t->tok[t->ntok++] = t->buf.len;
        tbuf_put(&t->buf, sp->p, sp->n);
        tbuf_putc(&t->buf, 0);
    }
    t->sent[t->nsent] = t->ntok;
    return 1;
}

/* Step 5 on one joined sentence; appends its final tokens to t. */
static void fix_sentence(const char *s, size_t n, text_toks *t, tbuf *a, tbuf *b) {
    a->len = 0;
    b->len = 0;
    /* RE_SARCASM: "( ?! ?)" -> "(!)"; unchanged runs are copied in bulk, and a pass that
     * changes nothing copies nothing (cur/curlen then still point at its input) */
    const char *cur = s;
    size_t curlen = n;
    if (memchr(s, '(', n)) {
        size_t run = 0;
        for (size_t i = 0; i < n;) {
            if (s[i] == '(') {
                size_t j = i + 1;
                if (j < n && s[j] == ' ')
                    j++;
                if (j < n && s[j] == '!') {
                    j++;
                    if (j < n && s[j] == ' ')
                        j++;
                    if (j < n && s[j] == ')') {
                        tbuf_put(a, s + run, i - run);
                        tbuf_put(a, "(!)", 3);
                        i = run = j + 1;
                        continue;
                    }
                }
            }
            i++;
        }
        if (run) {
            tbuf_put(a, s + run, n - run);
            cur = a->p;
            curlen = a->len;
        }
    }
    /* RE_EMOTICONS: glue emoticons whose characters were split apart */
    {
        size_t run = 0;
        int changed = 0;
        for (size_t i = 0; i < curlen;) {
            unsigned char c = (unsigned char)cur[i];
            if (emo_count[c]) {
                size_t m = 0, k = 0;
                for (size_t q = 0; q < emo_count[c]; q++) {
                    k = emo_by_byte[c][q];
                    if ((m = match_emoticon(cur + i, curlen - i, EMOTICONS[k])) > 0)
                        break;
                }
                if (m) {
                    size_t el = strlen(EMOTICONS[k]);
                    int sp = cur[i + m - 1] == ' ';
                    if (m - (size_t)sp != el) { /* spaces inside: glue */
                        tbuf_put(b, cur + run, i - run);
                        tbuf_put(b, EMOTICONS[k], el);
                        if (sp)
                            tbuf_putc(b, ' ');
                        run = i + m;
                        changed = 1;
                    }
                    i += m;
                    continue;
                }
            }
            i++;
        }
        if (changed) {
            tbuf_put(b, cur + run, curlen - run);
            cur = b->p;
            curlen = b->len;
        }
    }
    /* RE_EMOJI: spaces around emoji */
    tbuf *dst = cur == a->p ? b : a;
    int has_high = 0;
    for (size_t i = 0; i < curlen && !has_high; i++)
        has_high = (unsigned char)cur[i] >= 0xE2;
    if (has_high) {
        dst->len = 0;
        size_t run = 0;
        for (size_t i = 0; i < curlen;) {
            size_t e, g1 = 0;
            if ((unsigned char)cur[i] < 0xE2 && cur[i] != ' ') {
                i++;
                continue;
            }
            if (cur[i] == ' ' && (e = emoji_at(cur + i + 1, curlen - i - 1)) > 0)
                g1 = 1;
            else
                e = emoji_at(cur + i, curlen - i);
            if (e) {
                tbuf_put(dst, cur + run, i - run);
                tbuf_putc(dst, ' ');
                tbuf_put(dst, cur + i + g1, e);
                tbuf_putc(dst, ' ');
                i += g1 + e;
                if (i < curlen && cur[i] == ' ')
                    i++;
                run = i;
                continue;
            }
            i++;
        }
        if (run) {
            tbuf_put(dst, cur + run, curlen - run);
            cur = dst->p;
            curlen = dst->len;
        }
    }
    if (a->oom || b->oom) {
        t->oom = 1;
        return;
    }
    /* .replace("  ", " ") then split on spaces */
    size_t sent_first = t->ntok;
    size_t i = 0;
    while (i < curlen) {
        while (i < curlen && cur[i] == ' ')
            i++;
        size_t st = i;
        while (i < curlen && cur[i] != ' ')
            i++;
        if (i == st)
            break;
        if (t->ntok == t->captok) {
            size_t cap = t->captok ? t->captok * 2 : 256;
            size_t *v = realloc(t->tok, cap * sizeof(*v));
            if (!v) {
                t->oom = 1;
                return;
            }
            t->tok = v;
            t->captok = cap;
        }
        t->tok[t->ntok++] = t->buf.len;
        tbuf_put(&t->buf, cur + st, i - st);
        tbuf_putc(&t->buf, 0);
    }
    if (t->ntok == sent_first)
        return;
    if (t->nsent + 2 > t->capsent) {
        size_t cap = t->capsent ? t->capsent * 2 : 64;
        size_t *v = realloc(t->sent, cap * sizeof(*v));
        if (!v) {
            t->oom = 1;
            return;
        }
        t->sent = v;
        t->capsent = cap;
    }
    t->sent[t->nsent++] = sent_first;
    t->sent[t->nsent] = t->ntok;
}

/* Any byte >= 0xE2 in s? (8 bytes at a time: usually none has the high bit) */
static int has_emoji_bytes(const char *s, size_t n) {
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t v;
        memcpy(&v, s + k, 8);
        if (!(v & 0x8080808080808080ull))
            continue;
        for (size_t q = k; q < k + 8; q++)
            if ((unsigned char)s[q] >= 0xE2)
                return 1;
    }
    for (; k < n; k++)
        if ((unsigned char)s[k] >= 0xE2)
            return 1;
    return 0;
}

int text_tokenize(const char *s, size_t n, text_toks *t) {
    pthread_once(&emo_once, emo_index);
    char join_stack[512], a_stack[512], b_stack[512];
    span raw_stack[TOK_STACK_SPANS], toks_stack[TOK_STACK_SPANS];
    tbuf norm = {0}, a = TBUF_ON(a_stack), b = TBUF_ON(b_stack), join = TBUF_ON(join_stack);
    spans raw = {raw_stack, 0, TOK_STACK_SPANS, 0, 1},
          toks = {toks_stack, 0, TOK_STACK_SPANS, 0, 1};
    /* size the buffers once from the input length (prose: ~1 token per 4-5 bytes) */
    size_t est = n / 4 + 16;
    /* contractions and curly quotes need a rewritten copy; most text has neither */
    int rewrite = memchr(s, '\'', n) || memchr(s, 0xE2, n);
    /* bytes >= 0xE2 (maybe emoji) anywhere? if not, no sentence needs looking for them */
    int high = has_emoji_bytes(s, n);
    if (rewrite)
        tbuf_grow(&norm, n + n / 8 + 64);
    tbuf_grow(&t->buf, n + est + 64);
    if (est > TOK_STACK_SPANS) {
        raw = (spans){malloc(est * sizeof(span)), 0, est, 0, 0};
        toks = (spans){malloc(est * sizeof(span)), 0, est, 0, 0};
        if (!raw.v)
            raw.cap = 0;
        if (!toks.v)
            toks.cap = 0;
    }
    t->tok = malloc(est * sizeof(size_t));
    t->captok = t->tok ? est : 0;
    const char *src = s;
    size_t srclen = n;
    if (rewrite) {
        normalize(s, n, &norm);
        src = norm.p;
        srclen = norm.len;
    }
    if (!norm.oom)
        split_raw(src, srclen, &raw);
    for (size_t k = 0; k < raw.n; k++)
        split_punct(raw.v[k].p, raw.v[k].n, &toks);
    /* Step 4: sentences */
    size_t i = 0, j = 0;
    while (j < toks.n && !t->oom) {
        if (is_terminator(toks.v[j])) {
            while (j < toks.n && is_terminator(toks.v[j]))
                j++;
            if (emit_plain(&toks, i, j, high, t)) {
                i = j;
                j++;
                continue;
            }
            join.len = 0;
            for (size_t k = i; k < j; k++) {
                if (span_is(toks.v[k], EOS))
                    continue;
                if (join.len)
                    tbuf_putc(&join, ' ');
                tbuf_put(&join, toks.v[k].p, toks.v[k].n);
            }
            if (join.len)
                fix_sentence(join.p, join.len, t, &a, &b);
            i = j;
        }
        j++;
    }
    join.len = 0;
    if (i < toks.n && !emit_plain(&toks, i, toks.n, high, t))
        for (size_t k = i; k < toks.n; k++) {
            if (join.len)
                tbuf_putc(&join, ' ');
            tbuf_put(&join, toks.v[k].p, toks.v[k].n);
        }
    if (join.len)
        fix_sentence(join.p, join.len, t, &a, &b);
    int oom = norm.oom || raw.oom || toks.oom || a.oom || b.oom || join.oom || t->oom || t->buf.oom;
    tbuf_free(&norm);
    tbuf_free(&a);
    tbuf_free(&b);
    tbuf_free(&join);
    spans_free(&raw);
    spans_free(&toks);
    if (oom) {
        text_toks_free(t);
        return STEP_ENOMEM;
    }
    return 0;
}

void text_toks_free(text_toks *t) {
    tbuf_free(&t->buf);
    free(t->tok);
    free(t->sent);
    memset(t, 0, sizeof(*t));
}
