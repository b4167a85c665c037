/*
 * ocr_fields.c — document type and typed fields from OCR text, with PCRE2.
 *
 * The text is read line by line (ocr_page_layout puts a label and its value on one line, with
 * three spaces marking a column gap). A field is found by a label pattern tolerant of common
 * OCR confusions ("T0ta1", "lnvoice") and then a value parser on the rest of that line, or on
 * the next line for label-above-value layouts. Amounts and dates are read from a copy of the
 * line where digit look-alikes inside numeric tokens are mapped back (O->0, l/I->1, S->5); the
 * copy has the same byte offsets, so every value keeps its position and, through the text map,
 * its page, box and OCR confidence. A field's confidence is that OCR confidence times the
 * pattern's weight (label on the same line 0.95, next line 0.85, positional guess 0.6).
 *
 * Dates come back as ISO 8601. Numeric dates with two readings (03/04/2024) are read
 * month-first when the document is in US dollars and day-first otherwise.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "ai/ocr_internal.h"

#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---- patterns ----------------------------------------------------------------------------- */

#define MONTHS                                                                                     \
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"                \
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
#define TOTAL_W "t[o0]t[a4][l1i|]"

enum {
    RE_DATE,
    RE_AMOUNT,
    RE_INV_NUMBER,
    RE_DATE_LABEL,
    RE_DUE_LABEL,
    RE_SUBTOTAL,
    RE_TAX,
    RE_TOTAL,
    RE_TOTAL_NOT,
    RE_VENDOR_LABEL,
    RE_COMPANY,
    RE_DOCWORD,
    RE_NAME,
    RE_SURNAME,
    RE_GIVEN,
    RE_DOCNUM,
    RE_DOB,
    RE_EXPIRY,
    RE_ITEM_NOT,
    RE_QTY,
    RE_EMAIL,
    RE_URL,
    RE_PHONE,
    RE_COUNT
};

static const char *const patterns[RE_COUNT] = {
    [RE_DATE] = "(?<![\\d])(?:(\\d{4})[-/.](\\d{1,2})[-/.](\\d{1,2})(?!\\d)"
                "|(\\d{1,2})[-/.](\\d{1,2})[-/.](\\d{4}|\\d{2})(?!\\d)"
                "|(\\d{1,2})(?:st|nd|rd|th)?[ -]+(" MONTHS ")\\.?,?[ -]+(\\d{4})"
                "|\\b(" MONTHS ")\\.?[ ]+(\\d{1,2})(?:st|nd|rd|th)?,?[ ]+(\\d{4}))",
    [RE_AMOUNT] = "(?:(USD|EUR|GBP|CHF|CAD|AUD|JPY|INR|[$€£¥₹])[ ]?)?"
                  "(?<![\\d.,])(-?(?:\\d{1,3}(?:[,.']\\d{3})+|\\d+)(?:[.,]\\d{2})?)(?![\\d%]|[.,]\\d)"
                  "(?:[ ]?(USD|EUR|GBP|CHF|CAD|AUD|JPY|INR|€))?",
    [RE_INV_NUMBER] = "\\b(?:[il1|]nv[o0]ice|inv|bill)[ ]*(?:n[o0°º]\\.?|num(?:ber)?\\.?|#|id|"
                      "ref(?:erence)?)?[ ]*[:#.]?[ ]*#?[ ]*([A-Z0-9][A-Z0-9/_.-]*\\d[A-Z0-9/_-]*)\\b",
    [RE_DATE_LABEL] = "\\b(?:[il1|]nv[o0]ice[ ]+date|date[ ]+of[ ]+issue|issue[ ]+date|"
                      "issued(?:[ ]+on)?|billing[ ]+date|date)\\b",
    [RE_DUE_LABEL] = "\\b(?:due[ ]+date|date[ ]+due|payment[ ]+due|due(?:[ ]+(?:by|on))?|"
                     "pay(?:ment)?[ ]+by)\\b",
    [RE_SUBTOTAL] = "\\bsub[ -]?" TOTAL_W "\\b",
    [RE_TAX] = "\\b(?:sales[ ]+tax|tax|vat|gst|hst|iva|mwst)\\b",
    [RE_TOTAL] = "\\b(?:(grand[ ]+)?" TOTAL_W "(?:[ ]+(?:due|amount|payable|to[ ]+pay))?|"
                 "amount[ ]+(?:due|payable)|balance[ ]+due)\\b",
    [RE_TOTAL_NOT] = "\\bsub[ -]?" TOTAL_W "|" TOTAL_W "[ ]+(?:items?|qty|quantity|count|units?|"
                     "tax|vat|savings?|discount)\\b",
    [RE_VENDOR_LABEL] = "\\b(?:from|vendor|seller|supplier|sold[ ]+by|issued[ ]+by|merchant|"
                        "store)[ ]*:[ ]*(\\S.*)",
    [RE_COMPANY] = "\\b(?:inc|llc|ltd|limited|gmbh|corp|corporation|co|company|plc|llp|ag|bv|"
                   "sarl|pty|s\\.a|store|shop|market|cafe|café|restaurant|bakery|pharmacy)\\b",
    [RE_DOCWORD] = "\\b(?:tax[ ]+)?(?:[il1|]nv[o0]ice|receipt|bill|statement|sales[ ]+receipt|"
                   "cash[ ]+receipt|identity[ ]+card|id[ ]+card|passport)\\b",
    [RE_NAME] = "\\b(?:full[ ]+)?name\\b[ ]*[:.]?[ ]*",
    [RE_SURNAME] = "\\b(?:surname|last[ ]+name|family[ ]+name)\\b[ ]*[:.]?[ ]*",
    [RE_GIVEN] = "\\b(?:given[ ]+names?|first[ ]+names?|forenames?)\\b[ ]*[:.]?[ ]*",
    [RE_DOCNUM] = "\\b(?:document|doc|card|id|passport|licen[cs]e|identity|id[ ]+card)[ ]*"
                  "(?:n[o0°º]\\.?|number|num\\.?|#)[ ]*[:.]?[ ]*([A-Z0-9][A-Z0-9-]{3,})",
    [RE_DOB] = "\\b(?:date[ ]+of[ ]+birth|birth[ ]*date|d\\.?[ ]?o\\.?[ ]?b\\b\\.?|born)",
    [RE_EXPIRY] = "\\b(?:date[ ]+of[ ]+expiry|expiry(?:[ ]+date)?|expiration(?:[ ]+date)?|"
                  "expires(?:[ ]+on)?|valid[ ]+(?:until|thru|through|to)|exp\\b\\.?)",
    [RE_ITEM_NOT] = "\\b(?:sub[ -]?" TOTAL_W "|" TOTAL_W "|tax|vat|gst|change|cash|card|visa|"
                    "mastercard|amex|debit|credit|tender(?:ed)?|balance|due|paid|payment|tip|"
                    "discount|rounding|amount|receipt|invoice|tel|phone|date|time)\\b",
    [RE_QTY] = "\\G(?:(\\d{1,3})[ ]*[xX@*][ ]+)?(.*?[[:alpha:]].*?)(?:[ ]+(\\d{1,3})[ ]*[xX@*][ ]*"
               "[$€£]?\\d+[.,]\\d{2})?[ ]*$",
    [RE_EMAIL] = "\\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}\\b",
    [RE_URL] = "\\b(?:https?://|www\\.)[^\\s<>\"']+[^\\s<>\"'.,;:)]",
    [RE_PHONE] = "(?<![\\w])(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{2,4}\\)[ .-]?)?\\d{2,4}[ .-]\\d{3,4}"
                 "(?:[ .-]\\d{2,4})?(?![\\w.,])",
};

static pcre2_code *re[RE_COUNT];
static int re_status;
static char re_error[256];
static pthread_once_t re_once = PTHREAD_ONCE_INIT;

static void re_init(void) {
    for (int i = 0; i < RE_COUNT; i++) {
        int code;
        PCRE2_SIZE off;
        uint32_t flags = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | PCRE2_MATCH_INVALID_UTF |
                         PCRE2_CASELESS;
        re[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED, flags, &code, &off,
                              NULL);
        if (!re[i]) {
            char msg[128];
            pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
            snprintf(re_error, sizeof(re_error), "pattern %d at %zu: %s", i, (size_t)off, msg);
            re_status = STEP_ECONFIG;
            return;
        }
    }
}

static int re_ready(char **err) {
    pthread_once(&re_once, re_init);
    if (re_status < 0)
        return ocr_fail(err, re_status, "ocr field patterns failed to compile: %s", re_error);
    return 0;
}

/* Finds the first match of pattern `id` in s[from, len). Returns 1 and fills ov (pairs). */
typedef struct match {
    size_t ov[2 * 16];
    int n;
} match;

static int re_find(int id, const char *s, size_t len, size_t from, pcre2_match_data *md,
                   match *m) {
    if (from > len)
        return 0;
    int rc = pcre2_match(re[id], (PCRE2_SPTR)s, len, from, 0, md, NULL);
    if (rc <= 0)
        return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t n = pcre2_get_ovector_count(md);
    m->n = (int)(n < 16 ? n : 16);
    for (int i = 0; i < 2 * m->n; i++)
        m->ov[i] = ov[i];
    return 1;
}

static int grp(const match *m, int g) { return g < m->n && m->ov[2 * g] != PCRE2_UNSET; }

/* ---- the document as lines ---------------------------------------------------------------- */

typedef struct line {
    size_t start, len; /* in the document text */
} line;

typedef struct doc {
    const char *text;
    char *fixed; /* same length: digit look-alikes repaired inside numeric tokens */
    size_t len;
    line *lines;
    size_t nlines;
    const ocr_textmap *map;
    pcre2_match_data *md;
    int mdy; /* read ambiguous numeric dates month-first */
} doc;

static int lookalike(char c) {
    return c == 'O' || c == 'o' || c == 'l' || c == 'I' || c == '|' || c == 'S';
}

static char unlook(char c) {
    switch (c) {
    case 'O':
    case 'o':
        return '0';
    case 'l':
    case 'I':
    case '|':
        return '1';
    case 'S':
        return '5';
    default:
        return c;
    }
}

static void fix_digits(doc *d) {
    size_t i = 0;
    while (i < d->len) {
        while (i < d->len && isspace((unsigned char)d->text[i]))
            i++;
        size_t s = i;
        int digits = 0, looks = 0, letters = 0;
        while (i < d->len && !isspace((unsigned char)d->text[i])) {
            char c = d->text[i];
            if (isdigit((unsigned char)c))
                digits++;
            else if (lookalike(c))
                looks++;
            else if (isalpha((unsigned char)c))
                letters++;
            i++;
        }
        if (digits >= 2 && looks >= 1 && looks <= 2 && letters == 0)
            for (size_t k = s; k < i; k++)
                d->fixed[k] = unlook(d->text[k]);
    }
}

static int doc_init(doc *d, const char *text, size_t len, const ocr_textmap *map) {
    memset(d, 0, sizeof(*d));
    d->text = text;
    d->len = len;
    d->map = map;
    d->fixed = malloc(len + 1);
    size_t cap = 16;
    d->lines = malloc(cap * sizeof(line));
    d->md = pcre2_match_data_create(16, NULL);
    if (!d->fixed || !d->lines || !d->md)
        return STEP_ENOMEM;
    memcpy(d->fixed, text, len);
    d->fixed[len] = '\0';
    fix_digits(d);
    size_t s = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '\n' || text[i] == '\f' || text[i] == '\r') {
            size_t a = s, b = i;
            while (a < b && isspace((unsigned char)text[a]))
                a++;
            while (b > a && isspace((unsigned char)text[b - 1]))
                b--;
            if (b > a) {
                if (d->nlines == cap) {
                    cap *= 2;
                    line *nl = realloc(d->lines, cap * sizeof(line));
                    if (!nl)
                        return STEP_ENOMEM;
                    d->lines = nl;
                }
                d->lines[d->nlines++] = (line){a, b - a};
            }
            s = i + 1;
        }
    }
    return 0;
}

static void doc_free(doc *d) {
    free(d->fixed);
    free(d->lines);
    pcre2_match_data_free(d->md);
}

/* Finds pattern `id` inside line li, from byte `from` (absolute). */
static int line_find(doc *d, int id, size_t li, size_t from, int fixed, match *m) {
    const line *l = &d->lines[li];
    size_t end = l->start + l->len;
    if (from < l->start)
        from = l->start;
    /* matching on the whole text with a bounded subject length keeps lookbehinds honest */
    return re_find(id, fixed ? d->fixed : d->text, end, from, d->md, m);
}

/* ---- values ------------------------------------------------------------------------------- */

static int month_of(const char *s) {
    static const char *m[] = {"jan", "feb", "mar", "apr", "may", "jun",
                              "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int i = 0; i < 12; i++)
        if (!strncasecmp(s, m[i], 3))
            return i + 1;
    return 0;
}

static int num(const char *s, const match *m, int g) {
    int v = 0;
    for (size_t i = m->ov[2 * g]; i < m->ov[2 * g + 1] && i < m->ov[2 * g] + 6; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Parses the date match into y-m-d; 0 when the numbers are not a real date. */
static int date_value(const doc *d, const match *m, int *y, int *mo, int *dd) {
    const char *s = d->fixed;
    if (grp(m, 1)) {
        *y = num(s, m, 1), *mo = num(s, m, 2), *dd = num(s, m, 3);
    } else if (grp(m, 4)) {
        int a = num(s, m, 4), b = num(s, m, 5);
        *y = num(s, m, 6);
        if (m->ov[13] - m->ov[12] == 2)
            *y += *y < 70 ? 2000 : 1900;
        int month_first = a <= 12 && (b > 12 || (d->mdy && b <= 12));
        *mo = month_first ? a : b;
        *dd = month_first ? b : a;
    } else if (grp(m, 7)) {
        *dd = num(s, m, 7), *mo = month_of(s + m->ov[16]), *y = num(s, m, 9);
    } else if (grp(m, 10)) {
        *mo = month_of(s + m->ov[20]), *dd = num(s, m, 11), *y = num(s, m, 12);
    } else {
        return 0;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return *y >= 1900 && *y <= 2100 && *mo >= 1 && *mo <= 12 && *dd >= 1 &&
           *dd <= mdays[*mo - 1];
}

/* Parses an amount string ("1,234.56", "1.234,56", "1 234", "-12,5") into a number. */
/* A found value: where it is and how sure we are. */
typedef struct hit {
    size_t start, end;
    double weight;
} hit;

static json_t *field_json(const doc *d, json_t *value, hit h) {
    int page, box[4];
    float conf;
    ocr_textmap_locate(d->map, h.start, h.end, &page, box, &conf);
    double c = round(conf * h.weight * 1000) / 1000;
    json_t *f = json_pack("{s:o, s:s%, s:f}", "value", value, "text", d->text + h.start,
                          h.end - h.start, "confidence", c);
    if (f && page) {
        json_object_set_new(f, "page", json_integer(page));
        json_object_set_new(f, "box", json_pack("[iiii]", box[0], box[1], box[2], box[3]));
    }
    return f;
}

/* Date on line li after `from`, else on the next line. Returns the ISO string or NULL. */
static json_t *date_after(doc *d, size_t li, size_t from, double w, int allow_next) {
    match m;
    for (int k = 0; k < (allow_next ? 2 : 1) && li + k < d->nlines; k++) {
        size_t pos = k ? d->lines[li + k].start : from;
        while (line_find(d, RE_DATE, li + k, pos, 1, &m)) {
            int y, mo, dd;
            if (date_value(d, &m, &y, &mo, &dd)) {
                char iso[16];
                snprintf(iso, sizeof(iso), "%04d-%02d-%02d", y, mo, dd);
                return field_json(d, json_string(iso), (hit){m.ov[0], m.ov[1], k ? w - 0.1 : w});
            }
            pos = m.ov[1];
        }
    }
    return NULL;
}

/* The last amount on line li after `from` (else on the next line when allow_next). */
static json_t *amount_after(doc *d, size_t li, size_t from, double w, int allow_next,
                            double *value, const char **cur) {
    match m, last = {{0}, 0};
    for (int k = 0; k < (allow_next ? 2 : 1) && li + k < d->nlines; k++) {
        size_t pos = k ? d->lines[li + k].start : from;
        int found = 0;
        while (line_find(d, RE_AMOUNT, li + k, pos, 1, &m)) {
            last = m;
            found = 1;
            pos = m.ov[1] > pos ? m.ov[1] : pos + 1;
        }
        if (!found)
            continue;
        double v;
        if (!ocr_amount_parse(d->fixed + last.ov[4], last.ov[5] - last.ov[4], &v))
            continue;
        const char *c = NULL;
        if (grp(&last, 1))
            c = ocr_currency_code(d->fixed + last.ov[2], last.ov[3] - last.ov[2]);
        if (!c && grp(&last, 3))
            c = ocr_currency_code(d->fixed + last.ov[6], last.ov[7] - last.ov[6]);
        if (cur)
            *cur = c;
        if (value)
            *value = v;
        return field_json(d, json_real(round(v * 100) / 100), (hit){last.ov[0], last.ov[1],
                                                                    k ? w - 0.1 : w});
    }
    return NULL;
}

/* ---- invoice ------------------------------------------------------------------------------ */

static json_t *find_inv_number(doc *d) {
    match m;
    for (size_t li = 0; li < d->nlines; li++) {
        size_t pos = d->lines[li].start;
        while (line_find(d, RE_INV_NUMBER, li, pos, 0, &m)) {
            size_t vs = m.ov[2], ve = m.ov[3];
            /* a date is not a number */
            match dm;
            int is_date = re_find(RE_DATE, d->fixed, ve, vs, d->md, &dm) && dm.ov[0] == vs;
            if (!is_date && ve - vs >= 3)
                return field_json(d, json_stringn(d->text + vs, ve - vs), (hit){vs, ve, 0.95});
            pos = m.ov[1];
        }
    }
    return NULL;
}

static int preceded_by_due(const doc *d, size_t li, size_t at) {
    size_t s = d->lines[li].start;
    size_t from = at >= s + 8 ? at - 8 : s;
    for (size_t i = from; i + 3 <= at; i++)
        if (!strncasecmp(d->text + i, "due", 3))
            return 1;
    return 0;
}

static json_t *find_labelled_date(doc *d, int label, int not_due) {
    match m;
    for (size_t li = 0; li < d->nlines; li++) {
        size_t pos = d->lines[li].start;
        while (line_find(d, label, li, pos, 0, &m)) {
            if (!(not_due && preceded_by_due(d, li, m.ov[0]))) {
                json_t *f = date_after(d, li, m.ov[1], 0.95, 1);
                if (f)
                    return f;
            }
            pos = m.ov[1];
        }
    }
    return NULL;
}

static json_t *find_labelled_amount(doc *d, int label, int exclude, double *value,
                                    const char **cur) {
    match m;
    for (size_t li = 0; li < d->nlines; li++) {
        if (exclude >= 0 && line_find(d, exclude, li, 0, 0, &m))
            continue;
        if (line_find(d, label, li, 0, 0, &m)) {
            json_t *f = amount_after(d, li, m.ov[1], 0.95, 1, value, cur);
            if (f)
                return f;
        }
    }
    return NULL;
}

/* Total: among lines labelled as a total (not subtotal / total tax / total items), the largest
 * amount; the first one wins a tie (a repeated page, "Total" then "Total due"). */
static json_t *find_total(doc *d, const char **cur) {
    json_t *best = NULL;
    double bestv = -INFINITY;
    match m;
    for (size_t li = 0; li < d->nlines; li++) {
        if (!line_find(d, RE_TOTAL, li, 0, 0, &m))
            continue;
        size_t lab_end = m.ov[1];
        match x;
        if (line_find(d, RE_TOTAL_NOT, li, 0, 0, &x) && x.ov[0] <= m.ov[0] + 4)
            continue;
        double v;
        const char *c = NULL;
        json_t *f = amount_after(d, li, lab_end, 0.95, 1, &v, &c);
        if (f && v > bestv) {
            json_decref(best);
            best = f;
            bestv = v;
            if (cur)
                *cur = c;
        } else {
            json_decref(f);
        }
    }
    return best;
}

static json_t *find_currency(doc *d, const char *from_total) {
    if (from_total)
        return json_pack("{s:s, s:s, s:f}", "value", from_total, "text", from_total, "confidence",
                         0.9);
    static const char *syms[] = {"€", "£", "$", "¥", "₹", "EUR", "GBP", "USD", "CHF",
                                 "CAD", "AUD", "JPY", "INR"};
    int best = -1, bestn = 0;
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        int n = 0;
        for (const char *p = d->text; (p = strstr(p, syms[i])); p += strlen(syms[i]))
            n++;
        if (n > bestn)
            best = (int)i, bestn = n;
    }
    if (best < 0)
        return NULL;
    const char *code = ocr_currency_code(syms[best], strlen(syms[best]));
    return json_pack("{s:s, s:s, s:f}", "value", code, "text", syms[best], "confidence", 0.7);
}

/* First column of a line, without document-type words: "ACME LTD   INVOICE" -> "ACME LTD". */
static int first_column(const doc *d, size_t li, size_t *s, size_t *e) {
    const line *l = &d->lines[li];
    *s = l->start;
    *e = l->start + l->len;
    const char *gap = NULL;
    for (size_t i = *s; i + 3 <= *e; i++)
        if (!memcmp(d->text + i, "   ", 3)) {
            gap = d->text + i;
            break;
        }
    if (gap)
        *e = (size_t)(gap - d->text);
    size_t letters = 0, digits = 0;
    for (size_t i = *s; i < *e; i++) {
        letters += isalpha((unsigned char)d->text[i]) != 0;
        digits += isdigit((unsigned char)d->text[i]) != 0;
    }
    return letters >= 3 && digits * 3 < letters;
}

static json_t *find_vendor(doc *d) {
    match m;
    for (size_t li = 0; li < d->nlines; li++)
        if (line_find(d, RE_VENDOR_LABEL, li, 0, 0, &m)) {
            size_t s = m.ov[2], e = m.ov[3];
            for (size_t i = s; i + 3 <= e; i++)
                if (!memcmp(d->text + i, "   ", 3)) {
                    e = i;
                    break;
                }
            ocr_trim_span(d->text, &s, &e);
            if (e > s)
                return field_json(d, json_stringn(d->text + s, e - s), (hit){s, e, 0.95});
        }
    /* the first meaningful line near the top, preferring one that looks like a business */
    size_t lim = d->nlines < 8 ? d->nlines : 8;
    long pick = -1;
    size_t ps = 0, pe = 0;
    const char *ff = memchr(d->text, '\f', d->len);
    size_t page1_end = ff ? (size_t)(ff - d->text) : d->len;
    for (size_t li = 0; li < lim; li++) {
        size_t s, e;
        if (d->lines[li].start >= page1_end)
            break;
        if (!first_column(d, li, &s, &e))
            continue;
        /* a line that is only a document word ("INVOICE") is a title, not a vendor */
        if (re_find(RE_DOCWORD, d->text, e, s, d->md, &m) && m.ov[0] == s) {
            size_t r = m.ov[1];
            while (r < e && isspace((unsigned char)d->text[r]))
                r++;
            if (r == e)
                continue;
        }
        int company = re_find(RE_COMPANY, d->text, e, s, d->md, &m);
        if (pick < 0 || company) {
            pick = (long)li, ps = s, pe = e;
            if (company)
                break;
        }
    }
    if (pick < 0)
        return NULL;
    ocr_trim_span(d->text, &ps, &pe);
    if (pe <= ps)
        return NULL;
    return field_json(d, json_stringn(d->text + ps, pe - ps), (hit){ps, pe, 0.8});
}

static int put(json_t *fields, const char *name, json_t *v) {
    return json_object_set_new(fields, name, v ? v : json_null());
}

static void invoice_fields(doc *d, json_t *f) {
    const char *cur = NULL;
    json_t *total = find_total(d, &cur);
    json_t *currency = find_currency(d, cur);
    const char *code = currency ? json_string_value(json_object_get(currency, "value")) : NULL;
    d->mdy = code && !strcmp(code, "USD");
    put(f, "number", find_inv_number(d));
    put(f, "date", find_labelled_date(d, RE_DATE_LABEL, 1));
    put(f, "due_date", find_labelled_date(d, RE_DUE_LABEL, 0));
    put(f, "subtotal", find_labelled_amount(d, RE_SUBTOTAL, -1, NULL, NULL));
    put(f, "tax", find_labelled_amount(d, RE_TAX, RE_SUBTOTAL, NULL, NULL));
    put(f, "total", total);
    put(f, "currency", currency);
    put(f, "vendor", find_vendor(d));
}

/* ---- receipt ------------------------------------------------------------------------------ */

static json_t *find_any_date(doc *d) {
    json_t *f = find_labelled_date(d, RE_DATE_LABEL, 1);
    if (f)
        return f;
    for (size_t li = 0; li < d->nlines; li++)
        if ((f = date_after(d, li, d->lines[li].start, 0.8, 0)))
            return f;
    return NULL;
}

static json_t *find_items(doc *d, size_t first_line) {
    json_t *items = json_array();
    match m, a = {{0}, 0};
    int any = 0;
    for (size_t li = first_line; items && li < d->nlines; li++) {
        if (line_find(d, RE_TOTAL, li, 0, 0, &m) || line_find(d, RE_SUBTOTAL, li, 0, 0, &m)) {
            if (any)
                break;
            continue;
        }
        if (line_find(d, RE_ITEM_NOT, li, 0, 0, &m) || line_find(d, RE_DATE, li, 0, 1, &m))
            continue;
        /* the price is the last amount, with cents, at the end of the line */
        size_t pos = d->lines[li].start, end = d->lines[li].start + d->lines[li].len;
        int found = 0;
        while (line_find(d, RE_AMOUNT, li, pos, 1, &m)) {
            a = m;
            found = 1;
            pos = m.ov[1] > pos ? m.ov[1] : pos + 1;
        }
        if (!found || a.ov[1] != end)
            continue;
        size_t ns = d->lines[li].start, ne = a.ov[0];
        size_t ps = a.ov[4], pe = a.ov[5];
        if (pe - ps < 4 || (d->fixed[pe - 3] != '.' && d->fixed[pe - 3] != ','))
            continue;
        double price;
        if (!ocr_amount_parse(d->fixed + ps, pe - ps, &price))
            continue;
        while (ne > ns && isspace((unsigned char)d->text[ne - 1]))
            ne--;
        if (!re_find(RE_QTY, d->text, ne, ns, d->md, &m))
            continue;
        int qty = 1;
        if (grp(&m, 1))
            qty = atoi(d->text + m.ov[2]);
        else if (grp(&m, 3))
            qty = atoi(d->text + m.ov[6]);
        size_t s = m.ov[4], e = m.ov[5];
        while (e > s && (isspace((unsigned char)d->text[e - 1]) || d->text[e - 1] == '.'))
            e--;
        if (e <= s)
            continue;
        int page, box[4];
        float conf;
        ocr_textmap_locate(d->map, ns, end, &page, box, &conf);
        json_t *it = json_pack("{s:s%, s:i, s:f, s:f}", "name", d->text + s, e - s, "qty",
                               qty > 0 ? qty : 1, "price", round(price * 100) / 100,
                               "confidence", round(conf * 0.85 * 1000) / 1000);
        if (it && page) {
            json_object_set_new(it, "page", json_integer(page));
            json_object_set_new(it, "box", json_pack("[iiii]", box[0], box[1], box[2], box[3]));
        }
        json_array_append_new(items, it);
        any = 1;
    }
    return items;
}

static void receipt_fields(doc *d, json_t *f) {
    const char *cur = NULL;
    json_t *total = find_total(d, &cur);
    json_t *currency = find_currency(d, cur);
    const char *code = currency ? json_string_value(json_object_get(currency, "value")) : NULL;
    d->mdy = code && !strcmp(code, "USD");
    json_t *merchant = find_vendor(d);
    put(f, "merchant", merchant);
    put(f, "date", find_any_date(d));
    put(f, "total", total);
    put(f, "currency", currency);
    json_t *items = find_items(d, 1);
    json_object_set_new(f, "items", items ? items : json_array());
}

/* ---- identity documents ------------------------------------------------------------------- */

/* A run of name words (letters, spaces, - ' .) after `from` on line li. */
static int name_after(const doc *d, size_t li, size_t from, size_t *s, size_t *e) {
    const line *l = &d->lines[li];
    size_t end = l->start + l->len, i = from;
    while (i < end && isspace((unsigned char)d->text[i]))
        i++;
    *s = i;
    while (i < end) {
        unsigned char c = (unsigned char)d->text[i];
        if (i + 3 <= end && !memcmp(d->text + i, "   ", 3))
            break;
        if (!(isalpha(c) || c == ' ' || c == '-' || c == '\'' || c == '.' || c >= 0x80))
            break;
        i++;
    }
    *e = i;
    ocr_trim_span(d->text, s, e);
    return *e > *s && *e - *s >= 2;
}

static json_t *find_name(doc *d) {
    match m;
    size_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
    int sur = 0, giv = 0;
    for (size_t li = 0; li < d->nlines; li++) {
        if (!sur && line_find(d, RE_SURNAME, li, 0, 0, &m))
            sur = name_after(d, li, m.ov[1], &s1, &e1) ||
                  (li + 1 < d->nlines && name_after(d, li + 1, d->lines[li + 1].start, &s1, &e1));
        if (!giv && line_find(d, RE_GIVEN, li, 0, 0, &m))
            giv = name_after(d, li, m.ov[1], &s2, &e2) ||
                  (li + 1 < d->nlines && name_after(d, li + 1, d->lines[li + 1].start, &s2, &e2));
    }
    if (sur && giv) {
        char *full = NULL;
        if (asprintf(&full, "%.*s %.*s", (int)(e2 - s2), d->text + s2, (int)(e1 - s1),
                     d->text + s1) < 0)
            return NULL;
        json_t *f = field_json(d, ocr_name_value(full, strlen(full)),
                               (hit){s2 < s1 ? s2 : s1, e2 > e1 ? e2 : e1, 0.9});
        free(full);
        return f;
    }
    for (size_t li = 0; li < d->nlines; li++) {
        size_t pos = d->lines[li].start;
        while (line_find(d, RE_NAME, li, pos, 0, &m)) {
            /* skip "surname" / "first name" etc. handled above, and "name of ..." */
            size_t s, e;
            if (m.ov[0] > d->lines[li].start && isalpha((unsigned char)d->text[m.ov[0] - 1])) {
                pos = m.ov[1];
                continue;
            }
            if (name_after(d, li, m.ov[1], &s, &e) ||
                (li + 1 < d->nlines && name_after(d, li + 1, d->lines[li + 1].start, &s, &e)))
                return field_json(d, ocr_name_value(d->text + s, e - s), (hit){s, e, 0.95});
            pos = m.ov[1];
        }
    }
    if (sur)
        return field_json(d, ocr_name_value(d->text + s1, e1 - s1), (hit){s1, e1, 0.7});
    return NULL;
}

static json_t *find_docnum(doc *d) {
    match m;
    for (size_t li = 0; li < d->nlines; li++)
        if (line_find(d, RE_DOCNUM, li, 0, 0, &m)) {
            size_t s = m.ov[2], e = m.ov[3];
            int digits = 0;
            for (size_t i = s; i < e; i++)
                digits += isdigit((unsigned char)d->text[i]) != 0;
            if (digits >= 2)
                return field_json(d, ocr_code_value(d->text + s, e - s), (hit){s, e, 0.95});
        }
    return NULL;
}

static void id_fields(doc *d, json_t *f) {
    d->mdy = strstr(d->text, "USA") || strstr(d->text, "United States");
    put(f, "name", find_name(d));
    put(f, "document_number", find_docnum(d));
    put(f, "date_of_birth", find_labelled_date(d, RE_DOB, 0));
    put(f, "date_of_expiry", find_labelled_date(d, RE_EXPIRY, 0));
}

/* ---- entry points ------------------------------------------------------------------------- */

static int is_doc_type(const char *t) {
    return !strcmp(t, "invoice") || !strcmp(t, "receipt") || !strcmp(t, "id") ||
           !strcmp(t, "other");
}

static int blank(const char *t) {
    for (; *t; t++)
        if (!isspace((unsigned char)*t))
            return 0;
    return 1;
}

int ocr_fields_run(const char *text, size_t len, const ocr_textmap *map, const char *type,
                   ai_ocr_classify_fn classify, void *classify_user, json_t *out, char **err) {
    int rc = re_ready(err);
    if (rc < 0)
        return rc;
    json_t *scores = NULL;
    const char *detected = ai_ocr_detect_type(text, &scores);
    const char *by = type ? "given" : "keywords";
    ai_ocr_class c = {.confidence = -1};
    if (!type && classify && !blank(text)) {
        int crc = classify(text, &c, classify_user);
        if (crc == 0 && c.type && is_doc_type(c.type)) {
            detected = c.type;
            by = "llm";
        } else {
            char msg[600];
            if (c.warning)
                snprintf(msg, sizeof(msg), "%s; document type from keywords", c.warning);
            else if (crc < 0)
                snprintf(msg, sizeof(msg), "classifier failed (%s); document type from keywords",
                         step_strerror(crc));
            else
                snprintf(msg, sizeof(msg),
                         "classifier gave no known type; document type from keywords");
            json_t *w = json_object_get(out, "warnings");
            if (!w) {
                w = json_array();
                json_object_set_new(out, "warnings", w);
            }
            json_t *m = json_string(msg); /* NULL if the reason quoted invalid UTF-8 */
            json_array_append_new(w, m ? m : json_string("classifier failed; document type "
                                                         "from keywords"));
        }
        free(c.warning);
    }
    if (!type)
        type = detected;
    doc d;
    rc = doc_init(&d, text, len, map);
    json_t *fields = json_object();
    if (rc == 0 && fields) {
        if (!strcmp(type, "invoice"))
            invoice_fields(&d, fields);
        else if (!strcmp(type, "receipt"))
            receipt_fields(&d, fields);
        else if (!strcmp(type, "id"))
            id_fields(&d, fields);
        json_object_set_new(out, "type", json_string(type));
        json_object_set_new(out, "type_scores", scores);
        json_object_set_new(out, "classifiedBy", json_string(by));
        if (!strcmp(by, "llm") && c.confidence >= 0)
            json_object_set_new(out, "typeConfidence", json_real(c.confidence));
        json_object_set_new(out, "fields", fields);
        scores = fields = NULL;
    } else if (rc == 0) {
        rc = STEP_ENOMEM;
    }
    json_decref(scores);
    json_decref(fields);
    doc_free(&d);
    return rc;
}

int ai_ocr_extract_fields(const char *text, const char *type, json_t **out, char **err) {
    *out = NULL;
    if (!text)
        return ocr_fail(err, STEP_EINVAL, "text is NULL");
    if (type && strcmp(type, "invoice") && strcmp(type, "receipt") && strcmp(type, "id") &&
        strcmp(type, "other"))
        return ocr_fail(err, STEP_EINVAL,
                        "unknown document type '%s' (use invoice, receipt, id or other)", type);
    json_t *o = json_object();
    if (!o)
        return STEP_ENOMEM;
    int rc = ocr_fields_run(text, strlen(text), NULL, type, NULL, NULL, o, err);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---- built-in entities (the fallback when no entities hook is set) ----------------------- */

static void add_entities(doc *d, int id, const char *type, json_t *arr, int fixed) {
    match m;
    size_t pos = 0;
    while (re_find(id, fixed ? d->fixed : d->text, d->len, pos, d->md, &m)) {
        size_t s = m.ov[0], e = m.ov[1];
        if (e <= s) {
            pos = s + 1;
            continue;
        }
        if (id == RE_AMOUNT && !grp(&m, 1) && !grp(&m, 3)) { /* money has a currency */
            pos = e;
            continue;
        }
        json_array_append_new(arr, json_pack("{s:s, s:s%, s:I, s:I}", "type", type, "text",
                                             d->text + s, e - s, "start", (json_int_t)s, "end",
                                             (json_int_t)e));
        pos = e;
    }
}

json_t *ocr_entities_builtin(const char *text, size_t len) {
    if (re_ready(NULL) < 0)
        return json_array();
    doc d;
    json_t *arr = json_array();
    if (doc_init(&d, text, len, NULL) == 0 && arr) {
        add_entities(&d, RE_EMAIL, "email", arr, 0);
        add_entities(&d, RE_URL, "url", arr, 0);
        add_entities(&d, RE_DATE, "date", arr, 1);
        add_entities(&d, RE_PHONE, "phone", arr, 0);
        add_entities(&d, RE_AMOUNT, "money", arr, 1);
    }
    doc_free(&d);
    return arr;
}
