/*
 * recommend_text.c — the TF-IDF analyzer, built to give the same terms as scikit-learn's
 * default `build_analyzer()` on the same (decoded) text:
 *   1. decode UTF-8 (invalid sequences become U+FFFD, a separator: errors='replace');
 *   2. lowercase like Python's str.lower(): full mapping (U+0130 -> "i" U+0307) and the
 *      Final_Sigma rule, simple mapping otherwise (ICU's case data);
 *   3. tokens are maximal runs of >= 2 word characters, which is what (?u)\b\w\w+\b finds;
 *      a word character is Python's: a letter (Lu Ll Lt Lm Lo), anything with a numeric
 *      value, or "_" — combining marks are not;
 *   4. drop stop words, then emit n-grams (words joined by one space) for n in [min, max].
 * The English stop word list is generated at build time from the installed scikit-learn
 * (mk/recommend.mk), never committed; without it stop_words is reported as unsupported.
 */
#include "ai/recommend_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>

#if defined(__has_include)
#if __has_include("recommend_stop_words.h")
#include "recommend_stop_words.h" /* generated: RECOMMEND_STOP_WORDS[], _COUNT */
#endif
#endif
#ifndef RECOMMEND_STOP_WORDS_COUNT
#define RECOMMEND_STOP_WORDS_COUNT 0
static const char *const RECOMMEND_STOP_WORDS[] = {""};
#endif

int ai_recommend_have_stop_words(void) {
    return RECOMMEND_STOP_WORDS_COUNT > 0;
}

/* The generated list is sorted by byte order, so a binary search finds a word. */
int ai_recommend_is_stop_word(const char *s, size_t len) {
    size_t lo = 0, hi = RECOMMEND_STOP_WORDS_COUNT;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *w = RECOMMEND_STOP_WORDS[mid];
        size_t wl = strlen(w);
        int c = memcmp(w, s, wl < len ? wl : len);
        if (c == 0)
            c = (wl > len) - (wl < len);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Decodes one code point at s[*i] (n bytes total), advancing *i. Invalid or truncated
 * sequences yield U+FFFD and consume one byte. */
static UChar32 utf8_next(const unsigned char *s, size_t n, size_t *i) {
    unsigned c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return (UChar32)c;
    }
    size_t need;
    UChar32 cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    if (*i + need >= n) {
        (*i)++;
        return 0xFFFD;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned b = s[*i + k];
        if ((b & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return 0xFFFD;
    }
    *i += need + 1;
    return cp;
}

static int is_word(UChar32 c) {
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    int8_t t = u_charType(c);
    if (t >= U_UPPERCASE_LETTER && t <= U_OTHER_LETTER)
        return 1;
    return u_getNumericValue(c) != U_NO_NUMERIC_VALUE;
}

/* Python's handle_capital_sigma: U+03A3 lowers to final sigma when preceded by a cased letter
 * (skipping case-ignorables) and not followed by one. `at` is the byte offset of the sigma. */
static UChar32 lower_sigma(const unsigned char *s, size_t n, size_t at, size_t after) {
    /* look back: decode backwards by scanning from the start of each previous sequence */
    size_t j = at;
    int cased_before = 0;
    while (j > 0) {
        size_t start = j - 1;
        while (start > 0 && (s[start] & 0xC0) == 0x80 && j - start < 4)
            start--;
        size_t k = start;
        UChar32 c = utf8_next(s, n, &k);
        if (k != j) { /* not a clean sequence ending at j: treat the byte alone */
            start = j - 1;
            c = 0xFFFD;
        }
        j = start;
        if (u_hasBinaryProperty(c, UCHAR_CASE_IGNORABLE))
            continue;
        cased_before = u_hasBinaryProperty(c, UCHAR_CASED);
        break;
    }
    if (!cased_before)
        return 0x3C3;
    size_t k = after;
    while (k < n) {
        UChar32 c = utf8_next(s, n, &k);
        if (u_hasBinaryProperty(c, UCHAR_CASE_IGNORABLE))
            continue;
        return u_hasBinaryProperty(c, UCHAR_CASED) ? 0x3C3 : 0x3C2;
    }
    return 0x3C2;
}

static size_t utf8_put(char *out, UChar32 c) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static int push_token(ai_recommend_tokbuf *b, size_t off, size_t len) {
    if (b->ntok == b->tok_cap) {
        size_t cap = b->tok_cap ? b->tok_cap * 2 : 256;
        uint32_t *t = realloc(b->tok, cap * 2 * sizeof(*t));
        if (!t)
            return STEP_ENOMEM;
        b->tok = t;
        b->tok_cap = cap;
    }
    b->tok[2 * b->ntok] = (uint32_t)off;
    b->tok[2 * b->ntok + 1] = (uint32_t)len;
    b->ntok++;
    return 0;
}

/* Lowercases the word characters of text into b->low and records the tokens (runs of >= 2
 * word characters). Separators are not copied: a token is an (offset, length) pair. */
typedef struct tok_state {
    ai_recommend_tokbuf *b;
    size_t out, run_start, run_chars;
} tok_state;

static int tok_feed(tok_state *st, UChar32 c, int word) {
    if (word) {
        if (!st->run_chars)
            st->run_start = st->out;
        st->out += utf8_put(st->b->low + st->out, c);
        st->run_chars++;
        return 0;
    }
    int rc = 0;
    if (st->run_chars >= 2)
        rc = push_token(st->b, st->run_start, st->out - st->run_start);
    st->run_chars = 0;
    return rc;
}

static int tokenize(ai_recommend_tokbuf *b, const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    /* Lowercasing grows a word character by at most half (2-byte U+023A -> 3-byte U+2C65). */
    size_t need = len * 2 + 8;
    if (need > b->low_cap) {
        char *low = realloc(b->low, need);
        if (!low)
            return STEP_ENOMEM;
        b->low = low;
        b->low_cap = need;
    }
    b->ntok = 0;
    tok_state st = {b, 0, 0, 0};
    size_t i = 0;
    while (i < len) {
        int rc;
        if (s[i] < 0x80) { /* ASCII: inline, the common case */
            unsigned char c = s[i++];
            if (c >= 'A' && c <= 'Z')
                c += 32;
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
                if (!st.run_chars)
                    st.run_start = st.out;
                b->low[st.out++] = (char)c;
                st.run_chars++;
                continue;
            }
            if (!st.run_chars)
                continue;
            rc = tok_feed(&st, -1, 0);
        } else {
            size_t at = i;
            UChar32 c = utf8_next(s, len, &i);
            if (c == 0x130) { /* full lowercase mapping: "i" + COMBINING DOT ABOVE (a mark) */
                rc = tok_feed(&st, 'i', 1);
                if (!rc)
                    rc = tok_feed(&st, 0x307, 0);
                if (rc)
                    return rc;
                continue;
            }
            c = c == 0x3A3 ? lower_sigma(s, len, at, i) : u_tolower(c);
            rc = tok_feed(&st, c, is_word(c));
        }
        if (rc)
            return rc;
    }
    return tok_feed(&st, -1, 0);
}

int ai_recommend_analyze(const ai_recommend_analyzer *a, ai_recommend_tokbuf *b, const char *text,
                         size_t len, ai_recommend_term_fn emit, void *ud) {
    if (len > UINT32_MAX / 2 - 8)
        return STEP_EINVAL;
    int rc = tokenize(b, text, len);
    if (rc)
        return rc;
    if (a->stop_words) {
        size_t w = 0;
        for (size_t t = 0; t < b->ntok; t++) {
            if (ai_recommend_is_stop_word(b->low + b->tok[2 * t], b->tok[2 * t + 1]))
                continue;
            b->tok[2 * w] = b->tok[2 * t];
            b->tok[2 * w + 1] = b->tok[2 * t + 1];
            w++;
        }
        b->ntok = w;
    }
    for (int n = a->ngram_min; n <= a->ngram_max; n++) {
        if ((size_t)n > b->ntok)
            break;
        for (size_t t = 0; t + (size_t)n <= b->ntok; t++) {
            if (n == 1) {
                rc = emit(ud, b->low + b->tok[2 * t], b->tok[2 * t + 1]);
            } else {
                size_t gl = (size_t)n - 1;
                for (int g = 0; g < n; g++)
                    gl += b->tok[2 * (t + (size_t)g) + 1];
                if (gl + 1 > b->gram_cap) {
                    size_t cap = gl * 2 + 64;
                    char *gram = realloc(b->gram, cap);
                    if (!gram)
                        return STEP_ENOMEM;
                    b->gram = gram;
                    b->gram_cap = cap;
                }
                size_t o = 0;
                for (int g = 0; g < n; g++) {
                    if (g)
                        b->gram[o++] = ' ';
                    memcpy(b->gram + o, b->low + b->tok[2 * (t + (size_t)g)],
                           b->tok[2 * (t + (size_t)g) + 1]);
                    o += b->tok[2 * (t + (size_t)g) + 1];
                }
                rc = emit(ud, b->gram, o);
            }
            if (rc)
                return rc;
        }
    }
    return 0;
}

void ai_recommend_tokbuf_free(ai_recommend_tokbuf *b) {
    free(b->low);
    free(b->tok);
    free(b->gram);
    memset(b, 0, sizeof(*b));
}
