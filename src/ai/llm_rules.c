/*
 * llm_rules.c — the assistant's deterministic side: entity extraction (order numbers, emails,
 * money amounts, dates) and keyword intent detection. Used when no model is configured or the
 * model fails, and to complete the parameters a model's tool call left out.
 *
 * Everything works on one lower-cased copy of the message and plain scanning; no regex engine,
 * no locale. Keywords match on word boundaries; a trailing '*' makes a keyword a prefix
 * ("refund*" matches "refunds", "refunded").
 */
#include <stepd/ai/llm.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *lower_dup(const char *s) {
    char *d = strdup(s ? s : "");
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static int is_word(char c) {
    return isalnum((unsigned char)c) || c == '_';
}

/* Counts word-boundary occurrences of keyword kw in lower-cased text. */
static int kw_count(const char *text, const char *kw) {
    char pat[64];
    size_t n = strlen(kw);
    int prefix = n && kw[n - 1] == '*';
    if (prefix)
        n--;
    if (n == 0 || n >= sizeof(pat))
        return 0;
    memcpy(pat, kw, n);
    pat[n] = '\0';
    int count = 0;
    for (const char *p = text; (p = strstr(p, pat)); p++) {
        if (p > text && is_word(p[-1]) && is_word(kw[0]))
            continue;
        if (!prefix && is_word(p[n]) && is_word(kw[n - 1]))
            continue;
        count++;
    }
    return count;
}

static int kw_any(const char *text, const char *const *kws) {
    int n = 0;
    for (; *kws; kws++)
        n += kw_count(text, *kws) > 0;
    return n;
}

static void add_unique(json_t *arr, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return;
    json_array_append_new(arr, json_string(s));
}

/* ---- emails -------------------------------------------------------------------------------- */

static int email_local(char c) {
    return isalnum((unsigned char)c) || strchr("._%+-", c);
}
static int email_domain(char c) {
    return isalnum((unsigned char)c) || c == '.' || c == '-';
}

static void find_emails(const char *msg, json_t *out) {
    for (const char *at = strchr(msg, '@'); at; at = strchr(at + 1, '@')) {
        const char *b = at, *e = at + 1;
        while (b > msg && email_local(b[-1]))
            b--;
        while (*e && email_domain(*e))
            e++;
        while (e > at + 1 && (e[-1] == '.' || e[-1] == '-'))
            e--;
        const char *dot = NULL;
        for (const char *p = at + 1; p < e; p++)
            if (*p == '.')
                dot = p;
        if (b == at || !dot || dot == at + 1 || e - dot < 3)
            continue;
        int alpha_tld = 1;
        for (const char *p = dot + 1; p < e; p++)
            alpha_tld &= isalpha((unsigned char)*p) != 0;
        if (!alpha_tld)
            continue;
        char buf[256];
        size_t n = (size_t)(e - b) < sizeof(buf) - 1 ? (size_t)(e - b) : sizeof(buf) - 1;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)tolower((unsigned char)b[i]);
        buf[n] = '\0';
        add_unique(out, buf);
    }
}

/* ---- order numbers ------------------------------------------------------------------------- */

/* Length of an order-number-like token at p: letters, digits and inner '-', with a digit. */
static size_t order_token(const char *p) {
    size_t n = 0;
    int digit = 0;
    while (isalnum((unsigned char)p[n]) || (p[n] == '-' && isalnum((unsigned char)p[n + 1]))) {
        digit |= isdigit((unsigned char)p[n]) != 0;
        n++;
    }
    return digit && n >= 3 && n <= 40 ? n : 0;
}

static void add_token(json_t *out, const char *p, size_t n) {
    char buf[48];
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)toupper((unsigned char)p[i]);
    buf[n] = '\0';
    add_unique(out, buf);
}

static int inside_email(const char *msg, const char *p) {
    const char *b = p;
    while (b > msg && !isspace((unsigned char)b[-1]))
        b--;
    const char *e = p;
    while (*e && !isspace((unsigned char)*e))
        e++;
    const char *at = memchr(b, '@', (size_t)(e - b));
    return at != NULL;
}

static void find_orders(const char *msg, const char *low, json_t *out) {
    /* "#A123", "order 12345", "order number: ORD-1", "order no. 55501", "order id X9" */
    for (const char *p = low; *p; p++) {
        const char *q = NULL;
        if (*p == '#' && (p == low || !is_word(p[-1]))) {
            q = p + 1;
        } else if (!strncmp(p, "order", 5) && (p == low || !is_word(p[-1])) && !is_word(p[5])) {
            q = p + 5;
            while (*q == ' ' || *q == ':' || *q == '#')
                q++;
            static const char *const fillers[] = {"number", "no.", "no", "id", "num", "nr", NULL};
            for (const char *const *f = fillers; *f; f++) {
                size_t n = strlen(*f);
                if (!strncmp(q, *f, n) && !is_word(q[n])) {
                    q += n;
                    break;
                }
            }
            while (*q == ' ' || *q == ':' || *q == '#' || *q == '.')
                q++;
        }
        if (!q)
            continue;
        size_t n = order_token(q);
        if (n)
            add_token(out, msg + (q - low), n);
    }
    /* stand-alone codes like ORD-12345 or A1234567: 1–4 letters, optional '-', 4+ digits */
    for (const char *p = msg; *p; p++) {
        if (!isupper((unsigned char)*p) || (p > msg && is_word(p[-1])))
            continue;
        const char *q = p;
        while (isupper((unsigned char)*q) && q - p < 5)
            q++;
        size_t letters = (size_t)(q - p);
        if (letters < 1 || letters > 4)
            continue;
        if (*q == '-')
            q++;
        const char *d = q;
        while (isdigit((unsigned char)*q))
            q++;
        if (q - d < 4 || is_word(*q) || inside_email(msg, p))
            continue;
        size_t n = order_token(p);
        if (n)
            add_token(out, p, n);
    }
}

/* ---- amounts ------------------------------------------------------------------------------- */

/* Parses "1,234.50" at p; returns characters used (0 if none). */
static size_t parse_number(const char *p, double *v) {
    char buf[32];
    size_t n = 0, used = 0;
    int digits = 0;
    while (p[used] && n < sizeof(buf) - 1) {
        char c = p[used];
        if (isdigit((unsigned char)c)) {
            buf[n++] = c;
            digits++;
        } else if (c == ',' && digits && isdigit((unsigned char)p[used + 1])) {
            /* thousands separator: skip */
        } else if (c == '.' && digits && isdigit((unsigned char)p[used + 1])) {
            buf[n++] = c;
        } else {
            break;
        }
        used++;
    }
    if (!digits)
        return 0;
    buf[n] = '\0';
    *v = strtod(buf, NULL);
    return used;
}

static void add_amount(json_t *out, double v, const char *cur, const char *text, size_t len) {
    char t[64];
    size_t n = len < sizeof(t) - 1 ? len : sizeof(t) - 1;
    memcpy(t, text, n);
    t[n] = '\0';
    json_array_append_new(out, json_pack("{s:f,s:s,s:s}", "value", v, "currency", cur, "text", t));
}

static void find_amounts(const char *msg, const char *low, json_t *out) {
    static const struct {
        const char *sym;
        const char *code;
    } syms[] = {{"$", "USD"},   {"\xe2\x82\xac", "EUR"}, {"\xc2\xa3", "GBP"},
                {"usd", "USD"}, {"eur", "EUR"},          {"gbp", "GBP"}};
    static const struct {
        const char *word;
        const char *code;
    } words[] = {{"dollars", "USD"}, {"dollar", "USD"}, {"bucks", "USD"},
                 {"usd", "USD"},     {"euros", "EUR"},  {"euro", "EUR"},
                 {"eur", "EUR"},     {"pounds", "GBP"}, {"gbp", "GBP"}};
    for (const char *p = low; *p; p++) {
        /* symbol or code before the number: "$12.50", "€30", "USD 40" */
        for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
            size_t sl = strlen(syms[i].sym);
            if (strncmp(p, syms[i].sym, sl) ||
                (isalpha((unsigned char)*p) && p > low && is_word(p[-1])))
                continue;
            const char *q = p + sl;
            if (isalpha((unsigned char)*p) && *q == ' ')
                q++;
            double v;
            size_t n = parse_number(q, &v);
            if (n && !(isalpha((unsigned char)*p) && is_word(q[n]))) {
                add_amount(out, v, syms[i].code, msg + (p - low), (size_t)(q + n - p));
                p = q + n - 1;
                break;
            }
        }
        /* number then currency word: "50 dollars", "20 EUR" */
        if (isdigit((unsigned char)*p) &&
            (p == low || (!is_word(p[-1]) && p[-1] != '$' && p[-1] != '.' && p[-1] != ','))) {
            if (p > low + 1 && ((unsigned char)p[-1] == 0xac || (unsigned char)p[-1] == 0xa3))
                continue; /* after € or £, handled above */
            double v;
            size_t n = parse_number(p, &v);
            const char *q = p + n;
            while (*q == ' ')
                q++;
            for (size_t i = 0; n && i < sizeof(words) / sizeof(words[0]); i++) {
                size_t wl = strlen(words[i].word);
                if (!strncmp(q, words[i].word, wl) && !is_word(q[wl])) {
                    add_amount(out, v, words[i].code, msg + (p - low), (size_t)(q + wl - p));
                    p = q + wl - 1;
                    break;
                }
            }
            if (n && *p && isdigit((unsigned char)*p))
                p += n - 1;
        }
    }
}

/* ---- dates --------------------------------------------------------------------------------- */

static const char *const months[] = {"january",   "february", "march",    "april",
                                     "may",       "june",     "july",     "august",
                                     "september", "october",  "november", "december"};

static int valid_ymd(int y, int m, int d) {
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100) || y % 400 == 0))
        return 0;
    return 1;
}

static void add_date(json_t *out, const char *text, size_t len, int y, int m, int d) {
    char t[64], iso[16];
    size_t n = len < sizeof(t) - 1 ? len : sizeof(t) - 1;
    memcpy(t, text, n);
    t[n] = '\0';
    json_t *date = json_null();
    if (y && valid_ymd(y, m, d)) {
        snprintf(iso, sizeof(iso), "%04d-%02d-%02d", y, m, d);
        date = json_string(iso);
    }
    json_array_append_new(out, json_pack("{s:s,s:o}", "text", t, "date", date));
}

/* Month name (full or 3-letter) at p; returns its length and sets *m (1..12). */
static size_t month_at(const char *p, int *m) {
    for (int i = 0; i < 12; i++) {
        size_t n = strlen(months[i]);
        if (!strncmp(p, months[i], n) && !is_word(p[n])) {
            *m = i + 1;
            return n;
        }
        if (!strncmp(p, months[i], 3) && !is_word(p[3]) && i != 4) {
            *m = i + 1;
            return 3;
        }
        if (!strncmp(p, months[i], 3) && p[3] == '.') {
            *m = i + 1;
            return 4;
        }
    }
    return 0;
}

static size_t day_at(const char *p, int *d) {
    size_t n = 0;
    int v = 0;
    while (n < 2 && isdigit((unsigned char)p[n]))
        v = v * 10 + (p[n++] - '0');
    if (!n || isdigit((unsigned char)p[n]) || v < 1 || v > 31)
        return 0;
    if (!strncmp(p + n, "st", 2) || !strncmp(p + n, "nd", 2) || !strncmp(p + n, "rd", 2) ||
        !strncmp(p + n, "th", 2))
        n += 2;
    if (is_word(p[n]))
        return 0;
    *d = v;
    return n;
}

static size_t year_at(const char *p, int *y) {
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
        isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) && !is_word(p[4])) {
        *y = atoi(p);
        return 4;
    }
    return 0;
}

static void find_dates(const char *msg, const char *low, json_t *out) {
    time_t now = time(NULL);
    struct tm today;
    gmtime_r(&now, &today);
    for (const char *p = low; *p; p++) {
        if (p > low && is_word(p[-1]))
            continue;
        int y = 0, m = 0, d = 0;
        size_t n;
        /* 2024-01-31: checked left to right so nothing past the NUL is read */
        static const char iso[] = "dddd-dd-dd";
        size_t k = 0;
        while (iso[k] && (iso[k] == 'd' ? isdigit((unsigned char)p[k]) != 0 : p[k] == '-'))
            k++;
        if (!iso[k] && !is_word(p[10])) {
            y = atoi(p);
            m = atoi(p + 5);
            d = atoi(p + 8);
            add_date(out, msg + (p - low), 10, y, m, d);
            p += 9;
            continue;
        }
        /* 31/01/2024 or 01/31/2024 (day first unless that is impossible) */
        int a, b;
        char s1, s2;
        if (isdigit((unsigned char)*p) && sscanf(p, "%2d%c%2d%c%4d", &a, &s1, &b, &s2, &y) == 5 &&
            (s1 == '/' || s1 == '.') && s2 == s1 && y > 1900) {
            const char *e = p;
            while (isdigit((unsigned char)*e) || *e == s1)
                e++;
            if (!is_word(*e)) {
                if (a > 12)
                    add_date(out, msg + (p - low), (size_t)(e - p), y, b, a);
                else
                    add_date(out, msg + (p - low), (size_t)(e - p), y, a, b);
                p = e - 1;
                continue;
            }
        }
        /* "January 5", "Jan 5th, 2025", "5 March 2024", "5th of March" */
        if ((n = month_at(p, &m))) {
            const char *q = p + n;
            while (*q == ' ')
                q++;
            size_t dn = day_at(q, &d);
            if (dn) {
                q += dn;
                const char *r = q;
                while (*r == ',' || *r == ' ')
                    r++;
                size_t yn = year_at(r, &y);
                if (yn)
                    q = r + yn;
                else
                    y = today.tm_year + 1900;
                add_date(out, msg + (p - low), (size_t)(q - p), y, m, d);
                p = q - 1;
                continue;
            }
        }
        if ((n = day_at(p, &d))) {
            const char *q = p + n;
            while (*q == ' ')
                q++;
            if (!strncmp(q, "of ", 3))
                q += 3;
            size_t mn = month_at(q, &m);
            if (mn) {
                q += mn;
                const char *r = q;
                while (*r == ',' || *r == ' ')
                    r++;
                size_t yn = year_at(r, &y);
                if (yn)
                    q = r + yn;
                else
                    y = today.tm_year + 1900;
                add_date(out, msg + (p - low), (size_t)(q - p), y, m, d);
                p = q - 1;
                continue;
            }
        }
        /* today / tomorrow / yesterday, resolved against the current UTC date */
        static const struct {
            const char *w;
            int offset;
        } rel[] = {{"today", 0}, {"tomorrow", 1}, {"yesterday", -1}};
        for (size_t i = 0; i < 3; i++) {
            size_t wl = strlen(rel[i].w);
            if (!strncmp(p, rel[i].w, wl) && !is_word(p[wl])) {
                struct tm t = today;
                t.tm_mday += rel[i].offset;
                t.tm_hour = 12;
                time_t tt = timegm(&t);
                gmtime_r(&tt, &t);
                add_date(out, msg + (p - low), wl, t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
                p += wl - 1;
                break;
            }
        }
        static const char *const wdays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                            "friday", "saturday", "sunday"};
        for (size_t i = 0; i < 7; i++) {
            size_t wl = strlen(wdays[i]);
            if (!strncmp(p, wdays[i], wl) && !is_word(p[wl])) {
                add_date(out, msg + (p - low), wl, 0, 0, 0);
                p += wl - 1;
                break;
            }
        }
    }
}

json_t *stepd_assistant_entities(const char *message) {
    const char *msg = message ? message : "";
    char *low = lower_dup(msg);
    json_t *o = json_pack("{s:[],s:[],s:[],s:[]}", "orderNumbers", "emails", "amounts", "dates");
    if (!low || !o) {
        free(low);
        json_decref(o);
        return NULL;
    }
    find_emails(msg, json_object_get(o, "emails"));
    find_orders(msg, low, json_object_get(o, "orderNumbers"));
    find_amounts(msg, low, json_object_get(o, "amounts"));
    find_dates(msg, low, json_object_get(o, "dates"));
    free(low);
    return o;
}

/* ---- intents ------------------------------------------------------------------------------- */

static const char *const kw_track[] = {"track*",
                                       "where is my",
                                       "where's my",
                                       "wheres my",
                                       "order status",
                                       "status of my",
                                       "status of order",
                                       "ship*",
                                       "deliver*",
                                       "package",
                                       "parcel",
                                       "arriv*",
                                       "hasn't come",
                                       "has not come",
                                       "tracking",
                                       "eta",
                                       NULL};
static const char *const kw_support[] = {
    "refund*",       "return*",    "broke*",     "damag*",       "defective",
    "complain*",     "problem*",   "issue*",     "not working",  "doesn't work",
    "does not work", "wrong item", "wrong size", "cancel*",      "speak to",
    "talk to",       "human",      "agent",      "support",      "charged twice",
    "missing",       "faulty",     "exchange",   "help with my", NULL};
static const char *const kw_search[] = {
    "looking for", "search*",      "find",       "show me",  "do you have",
    "do you sell", "do you carry", "recommend*", "buy",      "shopping for",
    "price of",    "in stock",     "cheap*",     "suggest*", "want to get",
    "i need a",    "i need some",  "any good",   NULL};
static const char *const kw_greet[] = {"hi",           "hello",          "hey",
                                       "good morning", "good afternoon", "good evening",
                                       "greetings",    "howdy",          NULL};
static const char *const kw_thanks[] = {"thank*", "thx", "ty", "cheers", "appreciate it", NULL};
static const char *const kw_bye[] = {"bye", "goodbye", "see you", "that's all", "thats all", NULL};

const char *stepd_assistant_intent(const char *message, json_t *entities, double *confidence) {
    char *low = lower_dup(message);
    if (!low) {
        if (confidence)
            *confidence = 0;
        return "general";
    }
    int has_order = json_array_size(json_object_get(entities, "orderNumbers")) > 0;
    int track = kw_any(low, kw_track) * 2 + has_order;
    int support = kw_any(low, kw_support) * 2;
    int search = kw_any(low, kw_search) * 2;
    /* "order" alone with a number leans to tracking; with support words it stays support */
    if (has_order && kw_count(low, "order*"))
        track++;
    const char *intent = "general";
    int best = 0;
    if (support > best) {
        intent = "support.ticket";
        best = support;
    }
    if (track > best) {
        intent = "order.track";
        best = track;
    }
    if (search > best) {
        intent = "product.search";
        best = search;
    }
    if (best < 2 && !has_order) {
        best = 0;
        intent = "general";
        if (kw_any(low, kw_bye))
            intent = "goodbye";
        else if (kw_any(low, kw_thanks))
            intent = "thanks";
        else if (kw_any(low, kw_greet))
            intent = "greeting";
    }
    if (confidence) {
        if (best)
            *confidence = best >= 4 ? 0.9 : best >= 3 ? 0.8 : 0.65;
        else
            *confidence = strcmp(intent, "general") ? 0.8 : 0.3;
    }
    free(low);
    return intent;
}
