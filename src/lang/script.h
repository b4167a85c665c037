/*
 * script.h — JavaScript and Python steps: discovery, loading into worker pools, and the
 * trampolines that make them ordinary step_defs.
 *
 * Files under steps/ named *.step.js, *.step.mjs, *.step.cjs (node) and *_step.py, *.step.py
 * (python) are loaded by the language's worker pool (src/lang/worker.h), which answers each
 * file's config as JSON. registry_build() turns those configs into step_defs whose handler
 * pointers are script_api / script_event / script_cron: they forward the call to a worker and
 * answer the worker's emit/state/log back-calls through the same step API C steps use, so the
 * router, schemas, queue, retries, dead letters and tracing treat both kinds of step alike.
 *
 * stepd.json: {"languages": {"node": {"command": "node", "processes": 2, "pack": 4},
 *                            "python": {"command": "python3", "processes": 2}}}
 * ("pack": invocations in flight on one worker before the next worker gets any; see worker.h)
 */
#ifndef STEPD_LANG_SCRIPT_H
#define STEPD_LANG_SCRIPT_H

#include <jansson.h>
#include <stdint.h>
#include <stepd/step.h>

#include "core/config.h"
#include "core/registry.h"

typedef struct script_host script_host;

/* One loaded script step, as registry_build() takes it. */
typedef struct script_step {
    char *file;     /* relative to the project */
    step_lang lang; /* LANG_JS or LANG_PYTHON */
    json_t *config; /* the step's config as the worker reported it (owned) */
} script_step;

/* Creates the host (no process starts until a script step exists). Returns 0 or a negative
 * code with a message in *err (caller frees). */
int script_host_new(const stepd_config *cfg, script_host **out, char **err);
void script_host_free(script_host *h); /* NULL-safe; stops every worker */
/* Shutdown past the drain timeout: kills the workers so handler threads still waiting on them
 * return (their events stay queued and are retried), and refuses new calls. NULL-safe. */
void script_host_stop(script_host *h);

/* Finds the project's script steps and (re)loads them into the workers. On success *steps is
 * an array of *n entries (free with script_steps_free). On failure returns STEP_ECOMPILE with
 * one line per problem, "FILE:LINE: message", in *errors (caller frees); the workers keep
 * serving what they had. */
int script_host_load(script_host *h, script_step **steps, int *n, char **errors);
void script_steps_free(script_step *steps, int n);

/* Content signature of every JS/Python source under steps/, middlewares/, middleware/, src/ and
 * lib/ (step files and their helpers), for the dev watcher. */
uint64_t script_signature(const char *project_dir);

/* 1 if `name` is a script step file name, with its language in *lang. */
int script_is_step_file(const char *name, step_lang *lang);

/* The error of the last failed trampoline call on this thread ("" if none): the thrown
 * message, or why the worker failed. Valid until the next call on the thread. */
const char *script_last_error(void);

/* Trampolines: ctx->step says which step; the runtime's host runs it. */
int script_api(step_ctx *ctx, step_request *req, step_response *res);
int script_event(step_ctx *ctx, json_t *input);
int script_cron(step_ctx *ctx);

#endif
