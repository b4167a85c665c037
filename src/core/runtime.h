/*
 * runtime.h — one running stepd project: the loop, the worker pool, the stores, the
 * current registry of steps, the event dispatcher, cron timers and the HTTP server.
 *
 * Threads: the libuv loop thread owns sockets, timers and signals; the dispatcher thread
 * claims queued events and hands them to the pool; pool threads run handlers. The current
 * registry is swapped (hot reload) under `reg_mu`; everyone else takes a reference.
 */
#ifndef STEPD_CORE_RUNTIME_H
#define STEPD_CORE_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "core/config.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/txn.h"
#include "lang/cstep.h"
#include "lang/script.h"
#include "store/queue.h"
#include "store/state.h"

typedef struct http_server http_server;
typedef struct runtime runtime;

typedef struct cron_timer {
    uv_timer_t timer;
    runtime *rt;
    char *step;
    time_t last; /* the run time last scheduled */
    struct cron_timer *next;
} cron_timer;

typedef struct running_event running_event;

struct runtime {
    stepd_config *cfg;
    uv_loop_t *loop;
    pool *workers;       /* API and cron handlers */
    pool *event_workers; /* event handlers: a flood of requests never starves the queue */
    state_store *state;
    queue *q;
    int async_writes; /* q->ops->write_async applies state writes too (one store behind both) */
    cstep_opts copts;
    char include_dir[4096];

    pthread_mutex_t reg_mu;
    registry *reg; /* current; take with runtime_registry() */
    cmodule **mods; /* modules of the current registry, by file (dev reload reuses them) */
    int nmods;
    script_host *scripts; /* JS and Python worker pools */
    uint64_t script_sig;  /* dev: signature of the JS/Python sources the registry was built from */

    /* dispatcher */
    pthread_t dispatcher;
    int dispatcher_started;
    pthread_mutex_t disp_mu;
    pthread_cond_t disp_cv;
    int disp_kick;         /* something changed: scan dirty steps */
    running_event *running; /* event handlers in flight (for timeouts) */
    atomic_int stopping;   /* no new claims, no new requests */
    atomic_int jobs;       /* handler jobs queued or running (API, event, cron) */

    /* loop-side */
    http_server *http;
    cron_timer *crons;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer, watch_timer;
    uint64_t drain_deadline;
    int exit_code;
    int dev;
    uint64_t bad_sig; /* dev: signature of the step files whose reload failed */
    int reloading;    /* dev: a rebuild is running on libuv's thread pool */
};

/* Loads config, opens stores, compiles and loads steps, binds the port. On failure returns a
 * negative code with a message (file:line where it applies) in *err (caller frees). */
int runtime_open(runtime *rt, stepd_config *cfg, char **err);
/* Runs until SIGTERM/SIGINT (drains in-flight handlers) or runtime_request_stop(). */
int runtime_run(runtime *rt);
/* Thread-safe: begins a graceful stop. */
void runtime_request_stop(runtime *rt);
void runtime_close(runtime *rt);

/* A new reference to the current registry; release with registry_unref. */
registry *runtime_registry(runtime *rt);

/* Emits an event: one durable queue message per subscriber of `topic`, then wakes the
 * dispatcher. `data` is JSON text. `from` (may be NULL for the CLI/admin API) must declare
 * the topic. With a handler run `t`, the messages are written as part of the run (durable
 * when it ends; see txn.h); without, they are durable when this returns. Returns 0,
 * STEP_EUNDECLARED, or a store error. */
int runtime_emit(runtime *rt, registry *reg, const step_def *from, const char *topic,
                 const char *data, const char *trace_id, txn *t);

/* Job accounting for graceful shutdown. */
void runtime_job_begin(runtime *rt);
void runtime_job_end(runtime *rt);

/* Random 32-hex-char id. */
void runtime_new_id(char out[33]);

#endif
