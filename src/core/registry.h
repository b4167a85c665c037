/*
 * registry.h — the loaded steps of a project: one immutable snapshot.
 *
 * A registry holds every step (its config copied out of the loaded module), the HTTP router,
 * the topic → subscribers map and the named middleware. It is never modified after it is
 * built; hot reload builds a new one and swaps it in (runtime.c). Jobs hold a reference to
 * the registry they started with, which keeps its step code loaded until they finish.
 */
#ifndef STEPD_CORE_REGISTRY_H
#define STEPD_CORE_REGISTRY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stepd/step.h>

#include "core/cron.h"
#include "core/router.h"

typedef struct cmodule cmodule; /* a loaded C shared object (src/lang/cstep.h) */

typedef struct script_step script_step; /* a loaded JS/Python step (src/lang/script.h) */

typedef enum step_lang { LANG_C = 0, LANG_JS, LANG_PYTHON } step_lang;

typedef struct step_def {
    char *name;
    char *file; /* path relative to the project */
    char *description;
    step_type type;
    step_lang lang;
    char **flows, **emits, **virtual_emits, **subscribes, **middleware; /* NULL-terminated */
    char *method, *path, *cron_text;
    json_t *body_schema, *input_schema;
    cron_expr cron;
    int max_attempts, timeout_ms, concurrency, backoff_ms; /* resolved with defaults */
    step_api_fn api;
    step_event_fn on_event;
    step_cron_fn on_cron;
    step_middleware_fn *mw; /* resolved middleware chain, same order as `middleware` */
    cmodule *mod;
    atomic_int inflight; /* event handlers of this step running now */
    atomic_int dirty;    /* the dispatcher should try to claim for this step */
    int64_t last_claim_ms; /* dispatcher only: when it last claimed for this step */
} step_def;

typedef struct topic_subs {
    char *topic;
    step_def **steps;
    int n;
} topic_subs;

typedef struct registry {
    atomic_int refs;
    step_def **steps;
    int nsteps;
    topic_subs *topics;
    int ntopics;
    router *routes;
    cmodule **mods;
    int nmods;
} registry;

/* Looks up by name / topic; borrowed results valid while the caller holds a reference. */
step_def *registry_step(const registry *r, const char *name);
const topic_subs *registry_subscribers(const registry *r, const char *topic);
/* 1 if `topic` is in the step's emits (or virtual emits). */
int step_def_emits(const step_def *s, const char *topic);

registry *registry_ref(registry *r);
void registry_unref(registry *r); /* NULL-safe; the last unref frees steps and unloads code */

/* Defaults applied to steps that leave delivery settings at 0. */
typedef struct registry_defaults {
    int max_attempts, timeout_ms, concurrency, backoff_ms;
} registry_defaults;

/* Builds a registry from loaded C modules (takes a reference to each) and script steps
 * (configs as JSON, borrowed; their handlers are the trampolines of src/lang/script.h).
 * Validates every config: type, name, unique names, path, method, duplicate routes, cron,
 * subscribes, schemas, middleware names. Returns 0, or STEP_ECONFIG with every problem listed
 * in *errors (one per line, each starting with the file name; caller frees). Warnings (topics
 * nobody subscribes to) are logged. */
int registry_build(cmodule **mods, int nmods, const script_step *scripts, int nscripts,
                   const registry_defaults *defs, registry **out, char **errors);

#endif
