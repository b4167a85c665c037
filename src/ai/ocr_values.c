/*
 * ocr_values.c — small pieces of the field extractor that work on plain strings: amounts in
 * either decimal convention, currency symbols and codes, OCR debris around names, look-alike
 * letters in document numbers, and the keyword scores behind document type detection.
 */
#include "ai/ocr_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* ---- amounts and currencies --------------------------------------------------------------- */

int ocr_amount_parse(const char *s, size_t n, double *out) {
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return 0;
    /* the last separator followed by 1-2 digits at the end is the decimal point */
    ssize_t dec = -1;
    for (size_t i = n; i-- > 0;)
        if (s[i] == '.' || s[i] == ',') {
            if (n - i - 1 <= 2 && n - i - 1 >= 1)
                dec = (ssize_t)i;
            break;
        }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((ssize_t)i == dec)
            buf[k++] = '.';
        else if (isdigit((unsigned char)s[i]) || (s[i] == '-' && k == 0))
            buf[k++] = s[i];
    }
    buf[k] = '\0';
    if (k == 0 || (k == 1 && buf[0] == '-'))
        return 0;
    *out = strtod(buf, NULL);
    return isfinite(*out);
}

const char *ocr_currency_code(const char *s, size_t n) {
    static const struct {
        const char *sym, *code;
    } map[] = {{"$", "USD"}, {"€", "EUR"}, {"£", "GBP"}, {"¥", "JPY"}, {"₹", "INR"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (n == strlen(map[i].sym) && !memcmp(s, map[i].sym, n))
            return map[i].code;
    static const char *codes[] = {"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "INR"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (n == 3 && !strncasecmp(s, codes[i], 3))
            return codes[i];
    return NULL;
}


/* ---- names and codes ---------------------------------------------------------------------- */

static int edge_junk(const char *s, size_t n, int at_end) {
    if (n == 0)
        return 0;
    unsigned char c = (unsigned char)(at_end ? s[n - 1] : s[0]);
    if (c < 0x80)
        return (ispunct(c) && c != '&' && c != ')' && c != '(') || isspace(c) ? 1 : 0;
    /* UTF-8 general punctuation (curly quotes, dashes): E2 80 xx */
    if (!at_end && n >= 3 && (unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x80)
        return 3;
    if (at_end && n >= 3 && (unsigned char)s[n - 3] == 0xE2 && (unsigned char)s[n - 2] == 0x80)
        return 3;
    return 0;
}

/* Trims OCR debris around a name-like span: quotes, dashes, dots, and a trailing one- or
 * two-letter lowercase fragment ("Fresh Foods Market oo"). */
void ocr_trim_span(const char *t, size_t *s, size_t *e) {
    int k;
    while (*e > *s && (k = edge_junk(t + *s, *e - *s, 0)))
        *s += (size_t)k;
    while (*e > *s && (k = edge_junk(t + *s, *e - *s, 1)))
        *e -= (size_t)k;
    size_t sp = *e;
    while (sp > *s && t[sp - 1] != ' ')
        sp--;
    if (sp > *s && *e - sp <= 2) {
        int lower = 1;
        for (size_t i = sp; i < *e; i++)
            lower &= islower((unsigned char)t[i]) != 0;
        size_t words = 1;
        for (size_t i = *s; i < sp; i++)
            words += t[i] == ' ' && i > *s && t[i - 1] != ' ';
        if (lower && words >= 3) {
            *e = sp;
            while (*e > *s && t[*e - 1] == ' ')
                (*e)--;
        }
    }
}

/* A person's name: punctuation between letters becomes a space ("Elena.Brown"). */
json_t *ocr_name_value(const char *t, size_t n) {
    char *v = strndup(t, n);
    if (!v)
        return NULL;
    for (size_t i = 1; i + 1 < n; i++)
        if ((v[i] == '.' || v[i] == '_' || v[i] == ',') && isalpha((unsigned char)v[i - 1]) &&
            isalpha((unsigned char)v[i + 1]))
            v[i] = ' ';
    /* a stray dot or comma after a whole word ("Elena. Brown") goes; an initial's ("J. Smith")
     * stays */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((v[i] == '.' || v[i] == ',') && i >= 2 && isalpha((unsigned char)v[i - 1]) &&
            isalpha((unsigned char)v[i - 2]) && (i + 1 == n || v[i + 1] == ' '))
            continue;
        v[k++] = v[i];
    }
    v[k] = '\0';
    json_t *j = json_string(v);
    free(v);
    return j;
}

/* A document number: in an upper-case code a lower-case l is an I ("Al1005481" -> "AI1005481"). */
json_t *ocr_code_value(const char *t, size_t n) {
    char *v = strndup(t, n);
    if (!v)
        return NULL;
    int other_lower = 0;
    for (size_t i = 0; i < n; i++)
        other_lower |= islower((unsigned char)v[i]) && v[i] != 'l';
    for (size_t i = 0; i < n && !other_lower; i++)
        if (v[i] == 'l')
            v[i] = 'I';
    json_t *j = json_string(v);
    free(v);
    return j;
}

/* ---- document type ------------------------------------------------------------------------ */

typedef struct kw {
    const char *word;
    double w;
} kw;

static double score(const char *text, const kw *k) {
    double s = 0;
    for (; k->word; k++) {
        size_t n = strlen(k->word);
        int hits = 0;
        for (const char *p = text; (p = strcasestr(p, k->word)) && hits < 3; p += n)
            hits++;
        s += k->w * (hits > 2 ? 2 : hits);
    }
    return s;
}

const char *ai_ocr_detect_type(const char *text, json_t **scores) {
    static const kw invoice[] = {{"invoice", 3},  {"bill to", 2}, {"due date", 2},
                                 {"amount due", 2}, {"payment terms", 1}, {"subtotal", 0.5},
                                 {"remit", 1},    {"po number", 1}, {"vat", 0.5},
                                 {"balance due", 2}, {NULL, 0}};
    static const kw receipt[] = {{"receipt", 3}, {"cash", 1},     {"change", 1.5},
                                 {"thank you", 1}, {"visa", 1},   {"mastercard", 1},
                                 {"tender", 1},  {"cashier", 1.5}, {"store", 1},
                                 {"qty", 0.5},   {"subtotal", 0.5}, {"card", 0.5},
                                 {NULL, 0}};
    static const kw id[] = {{"passport", 3},     {"identity", 3},   {"id card", 3},
                            {"date of birth", 2}, {"dob", 1.5},      {"nationality", 2},
                            {"sex", 0.5},        {"expiry", 1.5},   {"surname", 2},
                            {"given name", 2},   {"<<", 2},         {"driver", 1.5},
                            {"licence", 1},      {"license", 1},    {"place of birth", 2},
                            {NULL, 0}};
    text = text ? text : "";
    double si = score(text, invoice), sr = score(text, receipt), sd = score(text, id);
    if (scores)
        *scores = json_pack("{s:f, s:f, s:f}", "invoice", si, "receipt", sr, "id", sd);
    double best = si > sr ? si : sr;
    best = best > sd ? best : sd;
    if (best < 2)
        return "other";
    return best == si ? "invoice" : best == sr ? "receipt" : "id";
}
