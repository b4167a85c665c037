/*
 * router.c — see router.h. Routes are kept in a flat array; each route holds its segments
 * (literal or parameter). Matching checks every route and keeps the most specific match:
 * the score compares static-vs-parameter segment by segment from the left.
 */
#include "core/router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stepd/step.h>

typedef struct segment {
    char *text; /* literal text, or the parameter name */
    size_t len;
    int is_param;
} segment;

typedef struct route {
    char method[16];
    char *pattern;
    segment *segs;
    int nsegs;
    void *target;
} route;

struct router {
    route *routes;
    size_t n, cap;
};

router *router_new(void) {
    return calloc(1, sizeof(router));
}

static void route_clear(route *rt) {
    for (int i = 0; i < rt->nsegs; i++)
        free(rt->segs[i].text);
    free(rt->segs);
    free(rt->pattern);
}

void router_free(router *r) {
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        route_clear(&r->routes[i]);
    free(r->routes);
    free(r);
}

static int valid_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int router_pattern_check(const char *p, const char **err) {
    const char *e = NULL;
    if (!p || p[0] != '/')
        e = "path must start with '/'";
    else if (strlen(p) > 1024)
        e = "path is longer than 1024 characters";
    for (const char *s = p; !e && *s;) {
        s++; /* skip '/' */
        const char *end = strchr(s, '/');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == 0 && (end || s == p + 1)) {
            if (end || s != p + 1)
                e = "path has an empty segment ('//')";
            break;
        }
        if (len == 0)
            break;
        for (size_t i = 0; i < len && !e; i++)
            if (s[i] == '?' || s[i] == '#' || s[i] == ' ' || (unsigned char)s[i] < 0x20)
                e = "path contains '?', '#', a space or a control character";
        if (!e && s[0] == ':') {
            if (len == 1)
                e = "path parameter without a name (':')";
            for (size_t i = 1; i < len && !e; i++)
                if (!valid_name_char(s[i]))
                    e = "path parameter names may use letters, digits and '_' only";
            /* unique names */
            for (const char *t = p; !e && t < s - 1;) {
                t++;
                const char *te = strchr(t, '/');
                size_t tl = te ? (size_t)(te - t) : strlen(t);
                if (tl == len && !memcmp(t, s, len))
                    e = "path parameter name used twice";
                t += tl;
            }
        }
        s += len;
    }
    if (err)
        *err = e;
    return e ? STEP_EINVAL : 0;
}

static int split(const char *pattern, segment **out, int *n) {
    int cap = 0, cnt = 0;
    segment *segs = NULL;
    for (const char *s = pattern; *s;) {
        s++;
        const char *end = strchr(s, '/');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == 0)
            break; /* trailing slash */
        if (cnt == cap) {
            cap = cap ? cap * 2 : 4;
            segment *ns = realloc(segs, (size_t)cap * sizeof(*segs));
            if (!ns)
                goto nomem;
            segs = ns;
        }
        segment *sg = &segs[cnt];
        sg->is_param = s[0] == ':';
        sg->text = strndup(s + sg->is_param, len - (size_t)sg->is_param);
        sg->len = len - (size_t)sg->is_param;
        if (!sg->text)
            goto nomem;
        cnt++;
        s += len;
    }
    *out = segs;
    *n = cnt;
    return 0;
nomem:
    for (int i = 0; i < cnt; i++)
        free(segs[i].text);
    free(segs);
    return STEP_ENOMEM;
}

static int same_shape(const route *a, const segment *segs, int n) {
    if (a->nsegs != n)
        return 0;
    for (int i = 0; i < n; i++) {
        if (a->segs[i].is_param != segs[i].is_param)
            return 0;
        if (!segs[i].is_param &&
            (a->segs[i].len != segs[i].len || memcmp(a->segs[i].text, segs[i].text, segs[i].len)))
            return 0;
    }
    return 1;
}

int router_add(router *r, const char *method, const char *pattern, void *target,
               const char **err, void **existing) {
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                          "OPTIONS"};
    int ok = 0;
    for (size_t i = 0; method && i < sizeof(methods) / sizeof(methods[0]); i++)
        if (!strcasecmp(method, methods[i]))
            ok = 1;
    if (!ok) {
        if (err)
            *err = "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";
        return STEP_EINVAL;
    }
    int rc = router_pattern_check(pattern, err);
    if (rc)
        return rc;
    route rt = {0};
    for (size_t i = 0; i < sizeof(rt.method) - 1 && method[i]; i++)
        rt.method[i] = (char)(method[i] >= 'a' && method[i] <= 'z' ? method[i] - 32 : method[i]);
    if ((rc = split(pattern, &rt.segs, &rt.nsegs)))
        return rc;
    for (size_t i = 0; i < r->n; i++) {
        if (!strcmp(r->routes[i].method, rt.method) && same_shape(&r->routes[i], rt.segs, rt.nsegs)) {
            if (err)
                *err = "another step already serves this method and path";
            if (existing)
                *existing = r->routes[i].target;
            route_clear(&rt);
            return STEP_ECONFLICT;
        }
    }
    rt.pattern = strdup(pattern);
    rt.target = target;
    route *nr = r->routes;
    if (rt.pattern && r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        if ((nr = realloc(r->routes, cap * sizeof(route))))
            r->cap = cap;
    }
    if (!rt.pattern || !nr) {
        route_clear(&rt);
        return STEP_ENOMEM;
    }
    r->routes = nr;
    r->routes[r->n++] = rt;
    return 0;
}

/* Matches path segments against rt; fills params; returns a specificity score
 * (higher = more static segments on the left) or -1. */
static int64_t route_try(const route *rt, const char *path, size_t plen, route_match *m) {
    const char *s = path, *end = path + plen;
    int64_t score = 0;
    int np = 0;
    for (int i = 0; i < rt->nsegs; i++) {
        if (s >= end || *s != '/')
            return -1;
        s++;
        const char *e = memchr(s, '/', (size_t)(end - s));
        if (!e)
            e = end;
        size_t len = (size_t)(e - s);
        if (len == 0)
            return -1;
        const segment *sg = &rt->segs[i];
        if (sg->is_param) {
            if (np >= ROUTER_MAX_PARAMS)
                return -1;
            if (m) {
                m->params[np].name = sg->text;
                m->params[np].name_len = sg->len;
                m->params[np].value = s;
                m->params[np].value_len = len;
            }
            np++;
        } else {
            if (len != sg->len || memcmp(s, sg->text, len))
                return -1;
            if (i < 62)
                score |= (int64_t)1 << (62 - i);
        }
        s = e;
    }
    if (s < end && !(s + 1 == end && *s == '/')) /* allow one trailing slash */
        return -1;
    if (rt->nsegs == 0 && s < end && plen != 1)
        return -1;
    if (m)
        m->nparams = np;
    return score;
}

int router_match(const router *r, const char *method, size_t method_len, const char *path,
                 size_t path_len, route_match *m, char *allow, size_t allow_size) {
    const route *best = NULL;
    int64_t best_score = -1;
    int other_methods = 0;
    if (allow && allow_size)
        allow[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        const route *rt = &r->routes[i];
        int64_t sc = route_try(rt, path, path_len, NULL);
        if (sc < 0)
            continue;
        int same = strlen(rt->method) == method_len && !memcmp(rt->method, method, method_len);
        int head_get = method_len == 4 && !memcmp(method, "HEAD", 4) && !strcmp(rt->method, "GET");
        if (!same && !head_get) {
            if (allow && allow_size && !strstr(allow, rt->method)) {
                size_t used = strlen(allow);
                snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", rt->method);
            }
            other_methods = 1;
            continue;
        }
        if (sc > best_score) {
            best_score = sc;
            best = rt;
        }
    }
    if (!best)
        return other_methods ? STEP_EUNSUPPORTED : STEP_ENOTFOUND;
    route_try(best, path, path_len, m);
    m->target = best->target;
    m->pattern = best->pattern;
    return 0;
}
