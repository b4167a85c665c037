/*
 * registry.c — see registry.h. Building a registry copies each step's config out of its
 * module (so validation and lookups never chase pointers into code that may be unloaded),
 * checks it, and collects every problem before failing, so one start-up shows all of them.
 */
#include "core/registry.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/schema.h"
#include "lang/cstep.h"
#include "lang/script.h"

static char **dup_list(const char *const *l) {
    int n = 0;
    while (l && l[n])
        n++;
    char **out = calloc((size_t)n + 1, sizeof(char *));
    if (!out)
        return NULL;
    for (int i = 0; i < n; i++)
        if (!(out[i] = strdup(l[i]))) {
            for (int j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return NULL;
        }
    return out;
}

static void free_list(char **l) {
    for (int i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

static int list_has(char *const *l, const char *s) {
    for (int i = 0; l && l[i]; i++)
        if (!strcmp(l[i], s))
            return 1;
    return 0;
}

static void step_def_free(step_def *s) {
    if (!s)
        return;
    free(s->name);
    free(s->file);
    free(s->description);
    free_list(s->flows);
    free_list(s->emits);
    free_list(s->virtual_emits);
    free_list(s->subscribes);
    free_list(s->middleware);
    free(s->method);
    free(s->path);
    free(s->cron_text);
    json_decref(s->body_schema);
    json_decref(s->input_schema);
    free(s->mw);
    free(s);
}

step_def *registry_step(const registry *r, const char *name) {
    for (int i = 0; i < r->nsteps; i++)
        if (!strcmp(r->steps[i]->name, name))
            return r->steps[i];
    return NULL;
}

const topic_subs *registry_subscribers(const registry *r, const char *topic) {
    for (int i = 0; i < r->ntopics; i++)
        if (!strcmp(r->topics[i].topic, topic))
            return &r->topics[i];
    return NULL;
}

int step_def_emits(const step_def *s, const char *topic) {
    return list_has(s->emits, topic) || list_has(s->virtual_emits, topic);
}

registry *registry_ref(registry *r) {
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void registry_unref(registry *r) {
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    for (int i = 0; i < r->nsteps; i++)
        step_def_free(r->steps[i]);
    free(r->steps);
    for (int i = 0; i < r->ntopics; i++) {
        free(r->topics[i].topic);
        free(r->topics[i].steps);
    }
    free(r->topics);
    router_free(r->routes);
    for (int i = 0; i < r->nmods; i++)
        cmodule_unref(r->mods[i]);
    free(r->mods);
    free(r);
}

typedef struct errbuf {
    char *text;
    size_t len;
    int count;
} errbuf;

__attribute__((format(printf, 2, 3))) static void add_err(errbuf *e, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n >= (int)sizeof(line))
        n = sizeof(line) - 1;
    char *nt = realloc(e->text, e->len + (size_t)n + 2);
    if (!nt)
        return;
    e->text = nt;
    memcpy(e->text + e->len, line, (size_t)n);
    e->len += (size_t)n;
    e->text[e->len++] = '\n';
    e->text[e->len] = '\0';
    e->count++;
}

static const char *type_name(step_type t) {
    switch (t) {
    case STEP_API: return "api";
    case STEP_EVENT: return "event";
    case STEP_CRON: return "cron";
    case STEP_NOOP: return "noop";
    default: return "?";
    }
}

static json_t *load_schema(const char *text, const char *file, const char *what, errbuf *e) {
    if (!text)
        return NULL;
    schema_error se;
    json_t *s = schema_load(text, &se);
    if (!s)
        add_err(e, "%s: %s: %s%s%s", file, what, se.field, se.field[0] ? ": " : "", se.message);
    return s;
}

static step_middleware_fn find_mw(cmodule **mods, int nmods, cmodule *own, const char *name) {
    char sym[256];
    snprintf(sym, sizeof(sym), "stepd_mw_%s", name);
    void *f = cmodule_sym(own, sym);
    for (int i = 0; !f && i < nmods; i++)
        f = cmodule_sym(mods[i], sym);
    step_middleware_fn fn;
    *(void **)&fn = f;
    return fn;
}

static int valid_list(const char *const *l) {
    for (int i = 0; l && l[i]; i++)
        if (!l[i][0])
            return 0;
    return 1;
}

static step_def *make_step(cmodule *m, cmodule **mods, int nmods, const registry_defaults *d,
                           errbuf *e) {
    const step_config *c = m->config;
    const char *f = m->file;
    int before = e->count;
    step_def *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->file = strdup(f);
    s->type = c->type;
    s->lang = LANG_C;
    s->name = strdup(c->name ? c->name : "");
    s->description = c->description ? strdup(c->description) : NULL;
    s->flows = dup_list(c->flows);
    s->emits = dup_list(c->emits);
    s->virtual_emits = dup_list(c->virtual_emits);
    s->subscribes = dup_list(c->subscribes);
    s->middleware = dup_list(c->middleware);
    s->mod = m;
    s->max_attempts = c->max_attempts > 0 ? c->max_attempts : d->max_attempts;
    s->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : d->timeout_ms;
    s->concurrency = c->concurrency > 0 ? c->concurrency : d->concurrency;
    s->backoff_ms = c->backoff_ms > 0 ? c->backoff_ms : d->backoff_ms;
    if (!c->name || !c->name[0])
        add_err(e, "%s: the step has no name (set .name)", f);
    if (!valid_list(c->emits) || !valid_list(c->subscribes) || !valid_list(c->flows))
        add_err(e, "%s: empty topic or flow name in emits/subscribes/flows", f);
    switch (c->type) {
    case STEP_API: {
        const char *err = NULL;
        if (!c->method || !c->path)
            add_err(e, "%s: api step needs .method and .path", f);
        else if (router_pattern_check(c->path, &err))
            add_err(e, "%s: bad path \"%s\": %s", f, c->path, err);
        if (!c->api)
            add_err(e, "%s: api step needs a handler (.api = your_function)", f);
        s->method = c->method ? strdup(c->method) : NULL;
        s->path = c->path ? strdup(c->path) : NULL;
        s->api = c->api;
        s->body_schema = load_schema(c->body_schema, f, "body_schema", e);
        int nmw = 0;
        while (c->middleware && c->middleware[nmw])
            nmw++;
        s->mw = calloc((size_t)nmw + 1, sizeof(step_middleware_fn));
        for (int i = 0; s->mw && i < nmw; i++) {
            s->mw[i] = find_mw(mods, nmods, m, c->middleware[i]);
            if (!s->mw[i])
                add_err(e,
                        "%s: middleware \"%s\" not found (define STEP_MIDDLEWARE(%s) in a "
                        "*.middleware.c or *.step.c file)",
                        f, c->middleware[i], c->middleware[i]);
        }
        break;
    }
    case STEP_EVENT:
        if (!c->subscribes || !c->subscribes[0])
            add_err(e, "%s: event step subscribes to nothing (set .subscribes)", f);
        if (!c->on_event)
            add_err(e, "%s: event step needs a handler (.on_event = your_function)", f);
        s->on_event = c->on_event;
        s->input_schema = load_schema(c->input_schema, f, "input_schema", e);
        break;
    case STEP_CRON: {
        const char *err = NULL;
        if (cron_parse(c->cron, &s->cron, &err))
            add_err(e, "%s: bad cron expression \"%s\": %s", f, c->cron ? c->cron : "", err);
        if (!c->on_cron)
            add_err(e, "%s: cron step needs a handler (.on_cron = your_function)", f);
        s->cron_text = c->cron ? strdup(c->cron) : NULL;
        s->on_cron = c->on_cron;
        break;
    }
    case STEP_NOOP:
        break;
    default:
        add_err(e, "%s: unknown step type %d (use STEP_API, STEP_EVENT, STEP_CRON or STEP_NOOP)",
                f, (int)c->type);
    }
    if (e->count > before || !s->name || !s->file) {
        step_def_free(s);
        return NULL;
    }
    return s;
}

/* ---- script steps (JS, Python): the config arrives as the JSON the worker reported ---- */

/* A list of strings from a JSON array (or a lone string). Entries may be objects with a
 * "topic" (Motia's {topic, label, conditional} emits). Returns NULL and sets *bad on a
 * malformed entry. */
static char **json_list(json_t *v, int *bad) {
    if (!v || json_is_null(v))
        return calloc(1, sizeof(char *));
    json_t *arr = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
    if (!json_is_array(arr)) {
        json_decref(arr);
        *bad = 1;
        return NULL;
    }
    size_t n = json_array_size(arr);
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++) {
        json_t *e = json_array_get(arr, i);
        const char *t = json_is_string(e) ? json_string_value(e)
                                          : json_string_value(json_object_get(e, "topic"));
        if (!t || !*t) {
            *bad = 1;
            break;
        }
        if (!(out[i] = strdup(t)))
            break;
    }
    json_decref(arr);
    if (*bad) {
        free_list(out);
        return NULL;
    }
    return out;
}

static char *json_str(json_t *c, const char *key) {
    const char *v = json_string_value(json_object_get(c, key));
    return v ? strdup(v) : NULL;
}

static json_t *json_schema_of(json_t *c, const char *key, const char *f, errbuf *e) {
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        add_err(e, "%s: %s must be a JSON Schema object (or a Zod schema)", f, key);
        return NULL;
    }
    char *text = json_dumps(v, JSON_COMPACT);
    json_t *s = text ? load_schema(text, f, key, e) : NULL;
    free(text);
    return s;
}

static int json_setting(json_t *c, const char *key, int def) {
    json_t *v = json_object_get(c, key);
    return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < INT32_MAX
               ? (int)json_integer_value(v)
               : def;
}

static step_def *make_script_step(const script_step *ss, const registry_defaults *d, errbuf *e) {
    json_t *c = ss->config;
    const char *f = ss->file;
    int before = e->count, bad = 0;
    step_def *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    const char *type = json_string_value(json_object_get(c, "type"));
    s->file = strdup(f);
    s->lang = ss->lang;
    s->name = json_str(c, "name");
    s->description = json_str(c, "description");
    s->flows = json_list(json_object_get(c, "flows"), &bad);
    s->emits = json_list(json_object_get(c, "emits"), &bad);
    s->virtual_emits = json_list(json_object_get(c, "virtualEmits"), &bad);
    s->subscribes = json_list(json_object_get(c, "subscribes"), &bad);
    /* middleware runs in the worker; its names are kept for the flow view only */
    s->middleware = json_list(json_object_get(c, "middleware"), &bad);
    s->mw = calloc(1, sizeof(step_middleware_fn));
    s->max_attempts = json_setting(c, "maxAttempts", d->max_attempts);
    s->timeout_ms = json_setting(c, "timeoutMs", d->timeout_ms);
    s->concurrency = json_setting(c, "concurrency", d->concurrency);
    s->backoff_ms = json_setting(c, "backoffMs", d->backoff_ms);
    if (!s->name || !s->name[0])
        add_err(e, "%s: the step has no name (set config.name)", f);
    if (bad)
        add_err(e, "%s: flows/emits/virtualEmits/subscribes must be lists of non-empty names", f);
    if (!type) {
        add_err(e, "%s: config.type is missing (use 'api', 'event', 'cron' or 'noop')", f);
    } else if (!strcmp(type, "api")) {
        s->type = STEP_API;
        s->method = json_str(c, "method");
        s->path = json_str(c, "path");
        const char *err = NULL;
        if (!s->method || !s->path)
            add_err(e, "%s: api step needs config.method and config.path", f);
        else if (router_pattern_check(s->path, &err))
            add_err(e, "%s: bad path \"%s\": %s", f, s->path, err);
        for (char *m = s->method; m && *m; m++)
            *m = (char)((*m >= 'a' && *m <= 'z') ? *m - 32 : *m);
        s->api = script_api;
        s->body_schema = json_schema_of(c, "bodySchema", f, e);
    } else if (!strcmp(type, "event")) {
        s->type = STEP_EVENT;
        if (!s->subscribes || !s->subscribes[0])
            add_err(e, "%s: event step subscribes to nothing (set config.subscribes)", f);
        s->on_event = script_event;
        s->input_schema = json_schema_of(c, "input", f, e);
    } else if (!strcmp(type, "cron")) {
        s->type = STEP_CRON;
        s->cron_text = json_str(c, "cron");
        const char *err = NULL;
        if (cron_parse(s->cron_text, &s->cron, &err))
            add_err(e, "%s: bad cron expression \"%s\": %s", f, s->cron_text ? s->cron_text : "",
                    err);
        s->on_cron = script_cron;
    } else if (!strcmp(type, "noop")) {
        s->type = STEP_NOOP;
    } else {
        add_err(e, "%s: unknown step type '%s' (use 'api', 'event', 'cron' or 'noop')", f, type);
    }
    if (e->count > before || !s->name || !s->file || !s->mw) {
        step_def_free(s);
        return NULL;
    }
    return s;
}

static int add_topic(registry *r, const char *topic, step_def *s) {
    topic_subs *t = NULL;
    for (int i = 0; i < r->ntopics; i++)
        if (!strcmp(r->topics[i].topic, topic))
            t = &r->topics[i];
    if (!t) {
        topic_subs *nt = realloc(r->topics, ((size_t)r->ntopics + 1) * sizeof(topic_subs));
        if (!nt)
            return -1;
        r->topics = nt;
        t = &r->topics[r->ntopics++];
        memset(t, 0, sizeof(*t));
        if (!(t->topic = strdup(topic)))
            return -1;
    }
    step_def **ns = realloc(t->steps, ((size_t)t->n + 1) * sizeof(step_def *));
    if (!ns)
        return -1;
    t->steps = ns;
    t->steps[t->n++] = s;
    return 0;
}

static int registry_add(registry *r, step_def *s, errbuf *e) {
    step_def *dup = registry_step(r, s->name);
    if (dup) {
        add_err(e, "%s: step name \"%s\" is already used by %s", s->file, s->name, dup->file);
        step_def_free(s);
        return -1;
    }
    r->steps[r->nsteps++] = s;
    if (s->type == STEP_API) {
        const char *err = NULL;
        void *existing = NULL;
        int rc = router_add(r->routes, s->method, s->path, s, &err, &existing);
        if (rc == STEP_ECONFLICT)
            add_err(e, "%s: duplicate route %s %s: also served by %s", s->file, s->method,
                    s->path, ((step_def *)existing)->file);
        else if (rc)
            add_err(e, "%s: bad route %s %s: %s", s->file, s->method, s->path,
                    err ? err : "out of memory");
    }
    for (int j = 0; s->type == STEP_EVENT && s->subscribes[j]; j++)
        if (add_topic(r, s->subscribes[j], s))
            add_err(e, "%s: out of memory", s->file);
    return 0;
}

static int noop_subscribes(const registry *r, const char *topic) {
    for (int i = 0; i < r->nsteps; i++)
        if (r->steps[i]->type == STEP_NOOP && list_has(r->steps[i]->subscribes, topic))
            return 1;
    return 0;
}

int registry_build(cmodule **mods, int nmods, const script_step *scripts, int nscripts,
                   const registry_defaults *defs, registry **out, char **errors) {
    errbuf e = {0};
    *out = NULL;
    *errors = NULL;
    registry *r = calloc(1, sizeof(*r));
    if (!r)
        return STEP_ENOMEM;
    atomic_init(&r->refs, 1);
    r->routes = router_new();
    r->mods = calloc((size_t)nmods + 1, sizeof(cmodule *));
    r->steps = calloc((size_t)nmods + (size_t)nscripts + 1, sizeof(step_def *));
    if (!r->routes || !r->mods || !r->steps) {
        registry_unref(r);
        return STEP_ENOMEM;
    }
    for (int i = 0; i < nmods; i++)
        r->mods[r->nmods++] = cmodule_ref(mods[i]);
    for (int i = 0; i < nmods; i++) {
        if (!mods[i]->config)
            continue; /* middleware-only file */
        step_def *s = make_step(mods[i], mods, nmods, defs, &e);
        if (s)
            registry_add(r, s, &e);
    }
    for (int i = 0; i < nscripts; i++) {
        step_def *s = make_script_step(&scripts[i], defs, &e);
        if (s)
            registry_add(r, s, &e);
    }
    if (e.count) {
        *errors = e.text;
        registry_unref(r);
        return STEP_ECONFIG;
    }
    /* warnings: topics nobody subscribes to (a noop step's subscribes count: it is the flow
     * diagram's way of saying "handled outside stepd") */
    for (int i = 0; i < r->nsteps; i++) {
        step_def *s = r->steps[i];
        for (int j = 0; s->emits && s->emits[j]; j++)
            if (!registry_subscribers(r, s->emits[j]) && !noop_subscribes(r, s->emits[j])) {
                json_t *f = json_pack("{s:s, s:s}", "topic", s->emits[j], "file", s->file);
                log_write(STEP_LOG_WARN, s->name, NULL, "topic has no subscriber", f);
                json_decref(f);
            }
    }
    (void)type_name;
    *out = r;
    return 0;
}
