/*
 * registry.c — see registry.h. Building a registry copies each step's config out of its
 * module (so validation and lookups never chase pointers into code that may be unloaded),
 * checks it, and collects every problem before failing, so one start-up shows all of them.
 */
#include "core/registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/schema.h"
#include "lang/cstep.h"

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

int registry_build(cmodule **mods, int nmods, const registry_defaults *defs, registry **out,
                   char **errors) {
    errbuf e = {0};
    *out = NULL;
    *errors = NULL;
    registry *r = calloc(1, sizeof(*r));
    if (!r)
        return STEP_ENOMEM;
    atomic_init(&r->refs, 1);
    r->routes = router_new();
    r->mods = calloc((size_t)nmods + 1, sizeof(cmodule *));
    r->steps = calloc((size_t)nmods + 1, sizeof(step_def *));
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
        if (!s)
            continue;
        step_def *dup = registry_step(r, s->name);
        if (dup) {
            add_err(&e, "%s: step name \"%s\" is already used by %s", s->file, s->name, dup->file);
            step_def_free(s);
            continue;
        }
        r->steps[r->nsteps++] = s;
        if (s->type == STEP_API) {
            const char *err = NULL;
            void *existing = NULL;
            int rc = router_add(r->routes, s->method, s->path, s, &err, &existing);
            if (rc == STEP_ECONFLICT)
                add_err(&e, "%s: duplicate route %s %s: also served by %s", s->file, s->method,
                        s->path, ((step_def *)existing)->file);
            else if (rc)
                add_err(&e, "%s: bad route %s %s: %s", s->file, s->method, s->path,
                        err ? err : "out of memory");
        }
        for (int j = 0; s->type == STEP_EVENT && s->subscribes[j]; j++)
            if (add_topic(r, s->subscribes[j], s))
                add_err(&e, "%s: out of memory", s->file);
    }
    if (e.count) {
        *errors = e.text;
        registry_unref(r);
        return STEP_ECONFIG;
    }
    /* warnings: topics nobody subscribes to */
    for (int i = 0; i < r->nsteps; i++) {
        step_def *s = r->steps[i];
        for (int j = 0; s->emits && s->emits[j]; j++)
            if (!registry_subscribers(r, s->emits[j])) {
                json_t *f = json_pack("{s:s, s:s}", "topic", s->emits[j], "file", s->file);
                log_write(STEP_LOG_WARN, s->name, NULL, "topic has no subscriber", f);
                json_decref(f);
            }
    }
    (void)type_name;
    *out = r;
    return 0;
}
