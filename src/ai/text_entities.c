/*
 * text_entities.c — named entities with byte offsets, from patterns, POS tags and gazetteers.
 *
 * Sources, all from Debian: Pattern's en-entities.txt (via the tagger: NNP-PERS/-ORG/-LOC),
 * iso-codes (country names -> GPE, currency names and codes -> MONEY), tzdata's zone1970.tab
 * (city names -> GPE). Cues written here: personal titles (Mr., Dr., President -> PERSON),
 * organisation suffixes (Inc., Ltd., University, Bank -> ORG), month and weekday names,
 * currency symbols, am/pm.
 *
 * What it finds: EMAIL, URL (http/https/ftp/www), PHONE (7-15 digits with separators or a
 * leading +), MONEY ($5, 5 dollars, EUR 20, 3 million euros), PERCENT (5%, 5 percent), DATE
 * (January 5, 2024 / 5 Jan 2024 / 2024-01-05 / 05/01/2024 / weekdays / today, yesterday,
 * tomorrow), TIME (10:30, 10:30 pm, 7am, noon, midnight), CARDINAL (other numbers), PERSON,
 * ORG, GPE (runs of proper nouns classified by the cues above; two or three capitalised
 * words with no other cue are taken for a person's name).
 * What it cannot: lower-case names, single unknown capitalised words (too ambiguous to
 * guess), nested entities, relative dates ("next week"), names not in any list and not in a
 * recognisable context, languages other than English.
 */
#include "ai/text_internal.h"

#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

#define DEFAULT_ISO_DIR "/usr/share/iso-codes/json"
#define DEFAULT_ZONEINFO "/usr/share/zoneinfo"

enum {
    G_GPE = 1,
    G_CURRENCY = 2,
    C_MONTH = 4,
    C_WEEKDAY = 8,
    C_TITLE = 16,
    C_ORG_SUFFIX = 32,
    C_ORG_HEAD = 64,
    C_MAGNITUDE = 128,
    C_NUMWORD = 256,
    C_LOC_SUFFIX = 512,
    C_PERSON_BEFORE = 1024,
    C_PERSON_AFTER = 2048,
};

struct text_gazetteer {
    tmap names; /* lower-cased name -> (uintptr_t) G_* */
};

static int gaz_add(text_gazetteer *g, const char *name, size_t n, uintptr_t kind) {
    tbuf low = {0};
    utf8_lower(&low, name, n);
    if (low.oom) {
        tbuf_free(&low);
        return STEP_ENOMEM;
    }
    tmap_entry *e = tmap_put(&g->names, low.p, low.len);
    tbuf_free(&low);
    if (!e)
        return STEP_ENOMEM;
    e->val = (void *)((uintptr_t)e->val | kind);
    return 0;
}

static void load_iso(text_gazetteer *g, const char *dir, const char *file, const char *key,
                     uintptr_t kind) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    json_t *root = json_load_file(path, 0, NULL);
    json_t *arr = json_object_get(root, key), *it;
    size_t i;
    json_array_foreach(arr, i, it) {
        static const char *const fields[] = {"name", "common_name", "alpha_3"};
        for (size_t f = 0; f < 3; f++) {
            const char *v = json_string_value(json_object_get(it, fields[f]));
            if (!v)
                continue;
            if (f == 2 && kind == G_GPE)
                continue; /* "USA" etc. are picked up as acronyms; "AND" would be noise */
            char buf[256];
            snprintf(buf, sizeof(buf), "%s", v);
            char *comma = strstr(buf, ", "); /* "Korea, Republic of" -> "Korea" */
            if (comma)
                *comma = 0;
            gaz_add(g, buf, strlen(buf), kind);
        }
    }
    json_decref(root);
}

static void load_zones(text_gazetteer *g, const char *dir) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/zone1970.tab", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        char *tz = strchr(line, '\t');
        tz = tz ? strchr(tz + 1, '\t') : NULL;
        if (!tz)
            continue;
        tz++;
        tz[strcspn(tz, "\t\n")] = 0;
        char *city = strrchr(tz, '/');
        if (!city)
            continue;
        city++;
        for (char *c = city; *c; c++)
            if (*c == '_')
                *c = ' ';
        gaz_add(g, city, strlen(city), G_GPE);
    }
    fclose(f);
}

static int load_cues(text_gazetteer *g);

int text_gazetteer_load(const char *iso_dir, const char *zoneinfo_dir, text_gazetteer **out) {
    text_gazetteer *g = calloc(1, sizeof(*g));
    if (!g)
        return STEP_ENOMEM;
    /* optional data: a missing file just means fewer GPE/MONEY hits */
    load_iso(g, iso_dir ? iso_dir : DEFAULT_ISO_DIR, "iso_3166-1.json", "3166-1", G_GPE);
    load_iso(g, iso_dir ? iso_dir : DEFAULT_ISO_DIR, "iso_4217.json", "4217", G_CURRENCY);
    load_zones(g, zoneinfo_dir ? zoneinfo_dir : DEFAULT_ZONEINFO);
    static const char *const extra_gpe[] = {
        "america", "europe",  "asia",          "africa",        "england", "scotland",
        "wales",   "britain", "great britain", "united states", "u.s.",    "u.k.",
        "usa",     "uk",      "washington",    "california",    "texas",   "florida"};
    for (size_t i = 0; i < sizeof(extra_gpe) / sizeof(extra_gpe[0]); i++)
        if (gaz_add(g, extra_gpe[i], strlen(extra_gpe[i]), G_GPE)) {
            text_gazetteer_free(g);
            return STEP_ENOMEM;
        }
    static const char *const cur[] = {"dollar", "dollars", "euro",   "euros",  "pound", "pounds",
                                      "yen",    "cents",   "cent",   "pence",  "usd",   "eur",
                                      "gbp",    "bucks",   "rupees", "francs", "yuan"};
    for (size_t i = 0; i < sizeof(cur) / sizeof(cur[0]); i++)
        if (gaz_add(g, cur[i], strlen(cur[i]), G_CURRENCY)) {
            text_gazetteer_free(g);
            return STEP_ENOMEM;
        }
    if (load_cues(g)) {
        text_gazetteer_free(g);
        return STEP_ENOMEM;
    }
    *out = g;
    return 0;
}

void text_gazetteer_free(text_gazetteer *g) {
    if (!g)
        return;
    tmap_free(&g->names);
    free(g);
}

static uintptr_t gaz_kind(const text_gazetteer *g, const char *s, size_t n) {
    tbuf low = {0};
    utf8_lower(&low, s, n);
    const tmap_entry *e = low.oom ? NULL : tmap_get(&g->names, low.p, low.len);
    tbuf_free(&low);
    return e ? (uintptr_t)e->val : 0;
}

/* ---- token predicates ------------------------------------------------------------------------ */

static int ieq(const char *a, const char *b) {
    return !strcasecmp(a, b);
}

static const char *const MONTHS[] = {
    "january", "february", "march",    "april", "may",  "june", "july", "august", "september",
    "october", "november", "december", "jan",   "jan.", "feb",  "feb.", "mar.",   "apr",
    "apr.",    "jun.",     "jul.",     "aug",   "aug.", "sep",  "sep.", "sept",   "sept.",
    "oct",     "oct.",     "nov",      "nov.",  "dec",  "dec."};
static const char *const WEEKDAYS[] = {"monday",    "tuesday",  "wednesday", "thursday",
                                       "friday",    "saturday", "sunday",    "today",
                                       "yesterday", "tomorrow", "tonight"};
static const char *const TITLES[] = {
    "mr",       "mr.",   "mrs",      "mrs.",    "ms",        "ms.",     "dr",       "dr.",
    "prof",     "prof.", "sir",      "madam",   "president", "senator", "governor", "mayor",
    "judge",    "gen.",  "general",  "captain", "capt.",     "king",    "queen",    "prince",
    "princess", "pope",  "minister", "lord",    "lady",      "rev.",    "st.",      "ceo"};
static const char *const ORG_SUFFIX[] = {
    "inc",        "inc.",         "corp",        "corp.",    "ltd",        "ltd.",    "llc",
    "co.",        "company",      "corporation", "group",    "university", "bank",    "institute",
    "foundation", "association",  "agency",      "ministry", "department", "party",   "airlines",
    "motors",     "technologies", "systems",     "labs",     "college",    "school",  "council",
    "committee",  "commission",   "society",     "club",     "times",      "news",    "press",
    "gmbh",       "plc",          "s.a.",        "ag",       "holdings",   "partners"};
static const char *const ORG_HEAD[] = {
    "university", "bank",   "ministry", "department", "institute", "college",    "school",
    "museum",     "church", "house",    "office",     "board",     "federation", "league"};
static const char *const LOC_SUFFIX[] = {
    "tower",     "bridge",   "street",    "st.",    "avenue", "ave.",   "road",      "park",
    "river",     "mountain", "mountains", "lake",   "ocean",  "sea",    "island",    "islands",
    "airport",   "station",  "square",    "valley", "hill",   "hills",  "beach",     "bay",
    "canyon",    "desert",   "forest",    "falls",  "palace", "castle", "cathedral", "stadium",
    "boulevard", "coast",    "peninsula", "gulf",   "strait"};
/* a lone capitalised word right after these is taken for a person ("met John") */
static const char *const PERSON_BEFORE[] = {"met",    "told",    "asked",   "thanked", "mr",
                                            "mrs",    "called",  "dear",    "hi",      "hello",
                                            "thanks", "married", "visited", "said"};
/* ... or right before these ("John said") */
static const char *const PERSON_AFTER[] = {"said",   "says",     "told",    "asked",     "wrote",
                                           "thinks", "believes", "replied", "explained", "added"};
static const char *const MAGNITUDE[] = {"thousand", "million", "billion", "trillion",
                                        "k",        "m",       "bn"};

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* digits with , . separators (and nothing else) */
static int is_number(const char *w) {
    int d = 0;
    if (*w == '-' || *w == '+')
        w++;
    for (; *w; w++) {
        if (is_digit(*w))
            d++;
        else if (*w != ',' && *w != '.')
            return 0;
    }
    return d > 0;
}

static int starts_currency(const char *w, size_t *skip) {
    static const char *const sym[] = {"$",        "\xE2\x82\xAC", "\xC2\xA3",
                                      "\xC2\xA5", "\xE2\x82\xB9", "US$"};
    for (size_t i = 0; i < sizeof(sym) / sizeof(sym[0]); i++) {
        size_t l = strlen(sym[i]);
        if (!strncmp(w, sym[i], l)) {
            *skip = l;
            return 1;
        }
    }
    return 0;
}

static int is_time(const char *w) {
    /* h:mm, hh:mm, hh:mm:ss, optionally glued am/pm */
    size_t n = strlen(w), i = 0;
    while (i < n && is_digit(w[i]))
        i++;
    if (i == 0 || i > 2)
        return 0;
    if (i < n && w[i] == ':') {
        size_t j = i + 1, k = j;
        while (k < n && is_digit(w[k]))
            k++;
        if (k - j != 2)
            return 0;
        if (k < n && w[k] == ':') {
            size_t q = k + 1;
            while (q < n && is_digit(w[q]))
                q++;
            if (q - k - 1 != 2)
                return 0;
            k = q;
        }
        return k == n || ieq(w + k, "am") || ieq(w + k, "pm");
    }
    return ieq(w + i, "am") || ieq(w + i, "pm");
}

static int is_ampm(const char *w) {
    return ieq(w, "am") || ieq(w, "pm") || ieq(w, "a.m.") || ieq(w, "p.m.");
}

static int is_iso_date(const char *w) {
    /* yyyy-mm-dd, dd/mm/yyyy, mm/dd/yy, dd.mm.yyyy */
    size_t n = strlen(w);
    if (n == 10 && is_digit(w[0]) && is_digit(w[3]) && w[4] == '-' && w[7] == '-' &&
        is_digit(w[5]) && is_digit(w[8]) && is_digit(w[9]))
        return 1;
    int parts = 0, digits = 0;
    char sep = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && is_digit(w[i])) {
            digits++;
            continue;
        }
        if (digits < 1 || digits > 4)
            return 0;
        parts++;
        digits = 0;
        if (i == n)
            break;
        if (w[i] != '/' && w[i] != '.' && w[i] != '-')
            return 0;
        if (sep && w[i] != sep)
            return 0;
        sep = w[i];
    }
    return parts == 3 && sep != '.';
}

static int is_email(const char *w) {
    const char *at = strchr(w, '@');
    return at && at > w && strchr(at, '.') && at[1] && at[1] != '.' && w[strlen(w) - 1] != '.';
}

static int is_url(const char *w) {
    return !strncasecmp(w, "http://", 7) || !strncasecmp(w, "https://", 8) ||
           !strncasecmp(w, "ftp://", 6) || (!strncasecmp(w, "www.", 4) && strlen(w) > 6);
}

static int is_year(const char *w) {
    return strlen(w) == 4 && is_digit(w[0]) && is_digit(w[1]) && is_digit(w[2]) && is_digit(w[3]) &&
           (w[0] == '1' || w[0] == '2');
}

static int is_day(const char *w) {
    size_t n = strlen(w), i = 0;
    while (i < n && is_digit(w[i]))
        i++;
    if (i == 0 || i > 2)
        return 0;
    return i == n || ieq(w + i, "st") || ieq(w + i, "nd") || ieq(w + i, "rd") || ieq(w + i, "th");
}

static const char *const NUMWORDS[] = {
    "one",       "two",      "three",    "four",    "five",     "six",      "seven",   "eight",
    "nine",      "ten",      "eleven",   "twelve",  "thirteen", "fourteen", "fifteen", "sixteen",
    "seventeen", "eighteen", "nineteen", "twenty",  "thirty",   "forty",    "fifty",   "sixty",
    "seventy",   "eighty",   "ninety",   "hundred", "thousand", "million",  "billion", "dozen"};

static int load_cues(text_gazetteer *g) {
    static const struct {
        const char *const *list;
        size_t n;
        uintptr_t bit;
    } L[] = {
#define CUE(arr, bit) {arr, sizeof(arr) / sizeof(arr[0]), bit}
        CUE(MONTHS, C_MONTH),
        CUE(WEEKDAYS, C_WEEKDAY),
        CUE(TITLES, C_TITLE),
        CUE(ORG_SUFFIX, C_ORG_SUFFIX),
        CUE(ORG_HEAD, C_ORG_HEAD),
        CUE(MAGNITUDE, C_MAGNITUDE),
        CUE(NUMWORDS, C_NUMWORD),
        CUE(LOC_SUFFIX, C_LOC_SUFFIX),
        CUE(PERSON_BEFORE, C_PERSON_BEFORE),
        CUE(PERSON_AFTER, C_PERSON_AFTER),
#undef CUE
    };
    for (size_t l = 0; l < sizeof(L) / sizeof(L[0]); l++)
        for (size_t i = 0; i < L[l].n; i++)
            if (gaz_add(g, L[l].list[i], strlen(L[l].list[i]), L[l].bit))
                return -1;
    return 0;
}

static int is_proper(const char *tag) {
    return tag && !strncmp(tag, "NNP", 3);
}

static int is_capitalized(const char *w) {
    unsigned char c = (unsigned char)w[0];
    return (c >= 'A' && c <= 'Z') || c >= 0xC0;
}

static int is_acronym(const char *w) {
    size_t n = strlen(w), up = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] >= 'A' && w[i] <= 'Z')
            up++;
        else if (w[i] != '&' && w[i] != '.')
            return 0;
    }
    return up >= 2 && up <= 6;
}

/* ---- the scan ---------------------------------------------------------------------------------
 */

typedef struct ent {
    size_t start, end;
    const char *type;
} ent;

typedef struct ents {
    ent *v;
    size_t n, cap;
    int oom;
} ents;

static void add(ents *e, const text_doc *d, size_t a, size_t b, const char *type) {
    /* tokens [a, b] inclusive */
    if (e->oom || d->tok_start[a] == SIZE_MAX || d->tok_start[b] == SIZE_MAX)
        return;
    size_t s = d->tok_start[a], en = d->tok_start[b] + strlen(toks_at(&d->toks, b));
    if (en <= s)
        return;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 32;
        ent *v = realloc(e->v, cap * sizeof(*v));
        if (!v) {
            e->oom = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = (ent){s, en, type};
}

/* PHONE: scanned in the source, since tokens split "+1 (555) 123-4567" apart. */
static void scan_phones(const text_doc *d, ents *e, unsigned char *used_src_unused) {
    (void)used_src_unused;
    const char *s = d->src;
    size_t n = d->srclen;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(is_digit(c) || c == '+' || c == '('))
            continue;
        if (i > 0 && (is_digit(s[i - 1]) || ((s[i - 1] | 32) >= 'a' && (s[i - 1] | 32) <= 'z') ||
                      s[i - 1] == '-' || s[i - 1] == '.' || s[i - 1] == '/' || s[i - 1] == ':'))
            continue;
        size_t j = i, digits = 0, seps = 0, last_digit = i;
        int plus = c == '+';
        if (plus)
            j++;
        while (j < n) {
            char x = s[j];
            if (is_digit(x)) {
                digits++;
                last_digit = j;
            } else if (x == ' ' || x == '-' || x == '.' || x == '(' || x == ')') {
                if (j + 1 < n && x == ' ' && !(is_digit(s[j + 1]) || s[j + 1] == '('))
                    break;
                seps++;
            } else {
                break;
            }
            j++;
        }
        size_t end = last_digit + 1;
        if (digits < 7 || digits > 15 || (!plus && seps == 0 && digits < 10))
            continue;
        if (end < n && (is_digit(s[end]) || ((s[end] | 32) >= 'a' && (s[end] | 32) <= 'z')))
            continue;
        /* not a date like 2024-01-05 or a decimal */
        int dashes = 0, dots = 0;
        for (size_t k = i; k < end; k++)
            dashes += s[k] == '-', dots += s[k] == '.';
        if (digits == 8 && dashes == 2 && !plus)
            continue;
        if (dots == 1 && dashes == 0 && !plus)
            continue;
        if (e->n == e->cap) {
            size_t cap = e->cap ? e->cap * 2 : 32;
            ent *v = realloc(e->v, cap * sizeof(*v));
            if (!v) {
                e->oom = 1;
                return;
            }
            e->v = v;
            e->cap = cap;
        }
        e->v[e->n++] = (ent){i, end, "PHONE"};
        i = end;
    }
}

static int cmp_ent(const void *a, const void *b) {
    const ent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Classifies proper-noun run [a, b] (inclusive); returns NULL to skip it. */
static const char *classify_run(const text_gazetteer *g, const text_doc *d, size_t a, size_t b,
                                size_t sent_first, const uint16_t *kind) {
    const char *w0 = toks_at(&d->toks, a), *wl = toks_at(&d->toks, b);
    for (size_t i = a; i <= b; i++) {
        const char *t = d->tags[i];
        if (strstr(t, "-PERS"))
            return "PERSON";
        if (strstr(t, "-ORG"))
            return "ORG";
        if (strstr(t, "-LOC"))
            return "GPE";
    }
    if (a > sent_first && (kind[a - 1] & C_TITLE))
        return "PERSON";
    if ((kind[b] & C_ORG_SUFFIX) || (kind[a] & C_ORG_HEAD))
        return "ORG";
    /* the whole run, or (for one word runs) the word, in the place gazetteer */
    size_t s = d->tok_start[a], e = d->tok_start[b] + strlen(wl);
    if (s != SIZE_MAX && d->tok_start[b] != SIZE_MAX && e - s < 128) {
        uintptr_t k = gaz_kind(g, d->src + s, e - s);
        if (k & G_GPE)
            return "GPE";
        if (k & G_CURRENCY)
            return NULL;
    }
    if (a == b && is_acronym(w0))
        return "ORG";
    if (b > a && (kind[b] & C_LOC_SUFFIX))
        return "LOC";
    if (a == b && a > sent_first && b + 1 < d->toks.ntok && is_capitalized(w0) &&
        ((kind[a - 1] & C_PERSON_BEFORE) || (kind[b + 1] & C_PERSON_AFTER)))
        return "PERSON";
    if (a == b && a == sent_first && b + 1 < d->toks.ntok && (kind[b + 1] & C_PERSON_AFTER))
        return "PERSON";
    if (b > a && b - a <= 2) {
        for (size_t i = a; i <= b; i++)
            if (!is_capitalized(toks_at(&d->toks, i)) || is_acronym(toks_at(&d->toks, i)))
                return "ORG";
        return "PERSON";
    }
    if (b - a > 2)
        return "ORG";
    return NULL;
}

int text_entities(const text_gazetteer *g, const text_doc *d, json_t **out) {
    ents e = {0};
    size_t n = d->toks.ntok;
    unsigned char *used = calloc(n ? n : 1, 1);
    uint16_t *kind = calloc(n ? n : 1, sizeof(*kind));
    if (!used || !kind) {
        free(used);
        free(kind);
        return STEP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const char *w = toks_at(&d->toks, i);
        kind[i] = (uint16_t)gaz_kind(g, w, strlen(w));
    }
    scan_phones(d, &e, NULL);
    /* tokens inside a phone number are taken */
    for (size_t k = 0, i = 0; k < e.n && i < n; i++) {
        while (k < e.n && d->tok_start[i] != SIZE_MAX && d->tok_start[i] >= e.v[k].end)
            k++;
        if (k < e.n && d->tok_start[i] != SIZE_MAX && d->tok_start[i] >= e.v[k].start)
            used[i] = 1;
    }
    for (size_t s = 0; s < d->toks.nsent; s++) {
        size_t first = d->toks.sent[s], last = d->toks.sent[s + 1];
        for (size_t i = first; i < last; i++) {
            if (used[i])
                continue;
            const char *w = toks_at(&d->toks, i);
            const char *nx = i + 1 < last ? toks_at(&d->toks, i + 1) : "";
            size_t j = i; /* last token of the entity */
            const char *type = NULL;
            size_t skip = 0;
            if (is_email(w)) {
                type = "EMAIL";
            } else if (is_url(w)) {
                type = "URL";
            } else if (starts_currency(w, &skip) &&
                       (w[skip] == 0 ? is_number(nx) : is_number(w + skip))) {
                type = "MONEY";
                if (w[skip] == 0)
                    j++;
                if (j + 1 < last && (kind[j + 1] & C_MAGNITUDE))
                    j++;
            } else if ((kind[i] & G_CURRENCY) && is_number(nx) && strlen(w) == 3) {
                type = "MONEY"; /* EUR 20 */
                j++;
            } else if (is_number(w) || (strlen(w) > 1 && w[strlen(w) - 1] == '%')) {
                size_t k = i;
                if (w[strlen(w) - 1] == '%') {
                    type = "PERCENT";
                } else if (ieq(nx, "%") || ieq(nx, "percent") ||
                           (ieq(nx, "per") && k + 2 < last &&
                            ieq(toks_at(&d->toks, k + 2), "cent"))) {
                    type = "PERCENT";
                    j = ieq(nx, "per") ? k + 2 : k + 1;
                } else {
                    size_t m = k;
                    if (m + 1 < last && (kind[m + 1] & C_MAGNITUDE))
                        m++;
                    if (m + 1 < last && (kind[m + 1] & G_CURRENCY)) {
                        type = "MONEY";
                        j = m + 1;
                    }
                }
            }
            if (!type && is_time(w)) {
                type = "TIME";
                if (is_ampm(nx))
                    j++;
            } else if (!type && is_number(w) && strlen(w) <= 2 && is_ampm(nx)) {
                type = "TIME";
                j++;
            } else if (!type && (ieq(w, "noon") || ieq(w, "midnight"))) {
                type = "TIME";
            }
            if (!type && is_iso_date(w)) {
                type = "DATE";
            } else if (!type && (kind[i] & C_MONTH) && (is_capitalized(w)) &&
                       (is_day(nx) || is_year(nx) ||
                        (i > first && is_day(toks_at(&d->toks, i - 1))) || ieq(w, "january") ||
                        strlen(w) > 5)) {
                type = "DATE";
                size_t a = i;
                if (i > first && is_day(toks_at(&d->toks, i - 1)) && !used[i - 1] &&
                    (i - 1 == first || !is_number(toks_at(&d->toks, i - 2))))
                    a = i - 1;
                if (is_day(nx))
                    j++;
                if (j + 2 < last && !strcmp(toks_at(&d->toks, j + 1), ",") &&
                    is_year(toks_at(&d->toks, j + 2)))
                    j += 2;
                else if (j + 1 < last && is_year(toks_at(&d->toks, j + 1)))
                    j++;
                if (a < i) {
                    /* the day before the month was already passed over: rewind */
                    for (size_t q = 0; q < e.n; q++)
                        if (e.v[q].start == d->tok_start[a] && !strcmp(e.v[q].type, "CARDINAL")) {
                            e.v[q] = e.v[--e.n];
                            break;
                        }
                    i = a;
                }
            } else if (!type && (kind[i] & C_WEEKDAY)) {
                type = "DATE";
            } else if (!type && is_year(w) && i > first &&
                       (ieq(toks_at(&d->toks, i - 1), "in") ||
                        ieq(toks_at(&d->toks, i - 1), "since"))) {
                type = "DATE";
            }
            if (!type && (is_number(w) ||
                          (d->tags[i] && !strcmp(d->tags[i], "CD") && (kind[i] & C_NUMWORD))))
                type = "CARDINAL";
            if (type) {
                for (size_t q = i; q <= j && q < last; q++)
                    used[q] = 1;
                add(&e, d, i, j < last ? j : last - 1, type);
                i = j;
                continue;
            }
            /* runs of proper nouns, "Bank of America", "Procter & Gamble" */
            if (is_proper(d->tags[i]) && is_capitalized(w) &&
                !(kind[i] & (C_TITLE | C_MONTH | C_WEEKDAY))) {
                size_t b = i;
                while (b + 1 < last) {
                    const char *t1 = d->tags[b + 1];
                    const char *w1 = toks_at(&d->toks, b + 1);
                    if (is_proper(t1) && is_capitalized(w1) && !used[b + 1]) {
                        b++;
                        continue;
                    }
                    if ((ieq(w1, "of") || !strcmp(w1, "&")) && b + 2 < last &&
                        is_proper(d->tags[b + 2]) && is_capitalized(toks_at(&d->toks, b + 2))) {
                        b += 2;
                        continue;
                    }
                    break;
                }
                const char *ty = classify_run(g, d, i, b, first, kind);
                if (ty) {
                    for (size_t q = i; q <= b; q++)
                        used[q] = 1;
                    add(&e, d, i, b, ty);
                }
                i = b;
            }
        }
    }
    free(used);
    free(kind);
    if (e.oom) {
        free(e.v);
        return STEP_ENOMEM;
    }
    if (e.n)
        qsort(e.v, e.n, sizeof(*e.v), cmp_ent);
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < e.n; k++)
        json_array_append_new(arr,
                              json_pack("{s:s%,s:s,s:I,s:I}", "text", d->src + e.v[k].start,
                                        e.v[k].end - e.v[k].start, "type", e.v[k].type, "start",
                                        (json_int_t)e.v[k].start, "end", (json_int_t)e.v[k].end));
    free(e.v);
    if (!arr)
        return STEP_ENOMEM;
    *out = arr;
    return 0;
}
