/*
 * router.h — HTTP routing by method and path pattern ("/ai/chat/:id").
 *
 * Patterns are split into segments once, at registration; matching walks the request path
 * without allocating. A static segment beats a parameter at the same depth, so
 * "/users/me" wins over "/users/:id" whatever the registration order.
 */
#ifndef STEPD_CORE_ROUTER_H
#define STEPD_CORE_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 16

typedef struct router router;

typedef struct route_param {
    const char *name; /* borrowed from the router */
    size_t name_len;
    const char *value; /* borrowed from the matched path (still percent-encoded) */
    size_t value_len;
} route_param;

typedef struct route_match {
    void *target;
    const char *pattern; /* borrowed */
    int nparams;
    route_param params[ROUTER_MAX_PARAMS];
} route_match;

router *router_new(void);
void router_free(router *r); /* NULL-safe */

/* Checks a pattern: starts with '/', no empty segments, parameter names [A-Za-z0-9_]+ and
 * unique. Returns 0 or STEP_EINVAL with a reason in err (a static string). */
int router_pattern_check(const char *pattern, const char **err);

/* Adds a route. STEP_EINVAL for a bad method or pattern (reason in *err), STEP_ECONFLICT when
 * a route with the same method and shape exists (its target in *existing if not NULL). */
int router_add(router *r, const char *method, const char *pattern, void *target,
               const char **err, void **existing);

/* Finds the route for (method, path); path excludes the query string. Returns 0 (filled m),
 * STEP_ENOTFOUND (no route: 404) or STEP_EUNSUPPORTED (the path exists for other methods:
 * 405; their names are written to allow, comma-separated, if allow is not NULL). */
int router_match(const router *r, const char *method, size_t method_len, const char *path,
                 size_t path_len, route_match *m, char *allow, size_t allow_size);

#endif
