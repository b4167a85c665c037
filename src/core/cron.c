/*
 * cron.c — see cron.h. Each field becomes a bit set; cron_next() walks forward skipping
 * whole months, days and hours that cannot match, so it needs at most a few thousand steps
 * even for rare schedules ("0 0 29 2 *").
 */
#include "core/cron.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stepd/step.h>

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int parse_num(const char **p, int field, int *out) {
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        *out = (int)v;
        *p = s;
        return 0;
    }
    if (field == 3 || field == 4) {
        const char *const *names = field == 3 ? months : days;
        int n = field == 3 ? 12 : 7;
        for (int i = 0; i < n; i++)
            if (!strncasecmp(s, names[i], 3) && !isalpha((unsigned char)s[3])) {
                *out = field == 3 ? i + 1 : i;
                *p = s + 3;
                return 0;
            }
    }
    return -1;
}

static int parse_field(const char *s, size_t len, int field, uint64_t *bits, int *star) {
    /* fields: 0 minute, 1 hour, 2 day of month, 3 month, 4 day of week, 5 second */
    static const int lo[] = {0, 0, 1, 1, 0, 0}, hi[] = {59, 23, 31, 12, 7, 59};
    char buf[128];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    *star = buf[0] == '*' && (buf[1] == '\0' || buf[1] == '/');
    for (char *save = NULL, *part = strtok_r(buf, ",", &save); part;
         part = strtok_r(NULL, ",", &save)) {
        const char *p = part;
        int a, b, step = 1;
        if (*p == '*') {
            a = lo[field];
            b = hi[field] == 7 ? 6 : hi[field];
            p++;
        } else {
            if (parse_num(&p, field, &a))
                return -1;
            b = a;
            if (*p == '-') {
                p++;
                if (parse_num(&p, field, &b))
                    return -1;
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            step = atoi(p);
            while (isdigit((unsigned char)*p))
                p++;
            if (step <= 0 || step > hi[field])
                return -1;
            if (part[0] != '*' && !strchr(part, '-'))
                b = hi[field] == 7 ? 6 : hi[field]; /* "5/15" = 5-59/15 */
        }
        if (*p != '\0' || a < lo[field] || b > hi[field] || a > b)
            return -1;
        for (int v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << (field == 4 && v == 7 ? 0 : v);
    }
    return 0;
}

int cron_parse(const char *text, cron_expr *out, const char **err) {
    static const struct {
        const char *name, *expr;
    } macros[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                  {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                  {"@hourly", "0 * * * *"}};
    static const char *const names[] = {
        "minute field (0-59)", "hour field (0-23)", "day-of-month field (1-31)",
        "month field (1-12 or jan-dec)", "day-of-week field (0-7 or sun-sat)"};
    const char *e = NULL;
    memset(out, 0, sizeof(*out));
    if (!text) {
        e = "cron expression is missing";
        goto fail;
    }
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '@') {
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
            if (!strcmp(text, macros[i].name))
                return cron_parse(macros[i].expr, out, err);
        e = "unknown @macro (use @yearly, @monthly, @weekly, @daily or @hourly)";
        goto fail;
    }
    /* count the fields: 6 means a leading seconds field */
    int nf = 0;
    for (const char *c = text; *c;) {
        while (isspace((unsigned char)*c))
            c++;
        if (!*c)
            break;
        nf++;
        while (*c && !isspace((unsigned char)*c))
            c++;
    }
    const char *p = text;
    out->second = 1; /* second 0 */
    if (nf == 6) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        int star;
        if (parse_field(start, (size_t)(p - start), 5, &out->second, &star)) {
            e = "second field (0-59)";
            goto fail;
        }
    }
    for (int f = 0; f < 5; f++) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (p == start) {
            e = "cron expression needs 5 fields: minute hour day-of-month month day-of-week "
                "(or 6, with seconds first)";
            goto fail;
        }
        uint64_t bits;
        int star;
        if (parse_field(start, (size_t)(p - start), f, &bits, &star)) {
            e = names[f];
            goto fail;
        }
        switch (f) {
        case 0: out->minute = bits; break;
        case 1: out->hour = (uint32_t)bits; break;
        case 2: out->dom = (uint32_t)bits; out->dom_star = (uint8_t)star; break;
        case 3: out->month = (uint16_t)bits; break;
        case 4: out->dow = (uint8_t)bits; out->dow_star = (uint8_t)star; break;
        }
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p) {
        e = "cron expression has more than 6 fields";
        goto fail;
    }
    return 0;
fail:
    if (err)
        *err = e;
    return STEP_EINVAL;
}

static int day_matches(const cron_expr *e, const struct tm *tm) {
    int dom = (e->dom >> tm->tm_mday) & 1, dow = (e->dow >> tm->tm_wday) & 1;
    if (e->dom_star || e->dow_star)
        return dom && dow;
    return dom || dow;
}

time_t cron_next(const cron_expr *e, time_t after) {
    struct tm tm;
    time_t t = after + 1;
    localtime_r(&t, &tm);
    for (int guard = 0; guard < 200000; guard++) {
        if (tm.tm_year > 1900 + 10000)
            break;
        if (!((e->month >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = 0;
        } else if (!day_matches(e, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = 0;
        } else if (!((e->hour >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = 0;
            tm.tm_sec = 0;
        } else if (!((e->minute >> tm.tm_min) & 1)) {
            tm.tm_min++;
            tm.tm_sec = 0;
        } else if (tm.tm_sec > 59 || !((e->second >> tm.tm_sec) & 1)) {
            tm.tm_sec++;
        } else {
            time_t r = mktime(&tm);
            if (r > after)
                return r;
            tm.tm_sec++;
        }
        tm.tm_isdst = -1;
        time_t norm = mktime(&tm); /* normalises overflowed fields */
        localtime_r(&norm, &tm);
        if (norm - after > (time_t)5 * 366 * 86400)
            break;
    }
    return (time_t)-1;
}
