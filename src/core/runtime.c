/*
 * runtime.c — lifecycle of a running project, the event dispatcher and cron.
 *
 * Events: runtime_emit() pushes one durable queue message per subscriber and wakes the
 * dispatcher thread. The dispatcher claims ready messages for each event step that has free
 * concurrency and runs them on the worker pool. A handler that returns non-zero, or runs
 * past its timeout, is retried with exponential backoff and jitter; after its last attempt
 * the message moves to the dead-letter store. Because every message is in the store before
 * emit returns, and leases left by a dead process expire on the next open, a crash loses
 * nothing: unacknowledged messages are delivered again (at least once).
 *
 * Shutdown: SIGTERM/SIGINT stop intake (HTTP accept, cron, claims), wait for in-flight
 * handlers up to shutdownTimeoutMs, and exit 0; unfinished messages stay queued.
 */
#include "core/runtime.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/ctx.h"
#include "core/http.h"
#include "core/log.h"
#include "core/schema.h"
#include "store/stores.h"

struct running_event {
    txn tx; /* the handler run's writes */
    int failed; /* the handler failed: its end is a retry or bury */
    runtime *rt;
    registry *reg;
    step_def *step;
    queue_msg msg;
    int64_t deadline_ms;
    int timed_out;
    running_event *prev, *next;
};

void runtime_new_id(char out[33]) {
    queue_new_id(out);
}

void runtime_job_begin(runtime *rt) {
    atomic_fetch_add(&rt->jobs, 1);
}

void runtime_job_end(runtime *rt) {
    atomic_fetch_sub(&rt->jobs, 1);
}

registry *runtime_registry(runtime *rt) {
    pthread_mutex_lock(&rt->reg_mu);
    registry *r = registry_ref(rt->reg);
    pthread_mutex_unlock(&rt->reg_mu);
    return r;
}

static void dispatcher_kick(runtime *rt) {
    pthread_mutex_lock(&rt->disp_mu);
    rt->disp_kick = 1;
    pthread_cond_signal(&rt->disp_cv);
    pthread_mutex_unlock(&rt->disp_mu);
}

/* After the messages of an emit have committed: the dispatcher may claim them. */
static void emit_done(store_write *w, int rc) {
    runtime *rt = w->arg;
    const topic_subs *subs = w->arg2;
    if (rc) {
        json_t *f = json_pack("{s:s, s:s}", "topic", w->msgs[0].topic, "error", step_strerror(rc));
        log_write(STEP_LOG_ERROR, NULL, w->msgs[0].trace_id, "emit failed", f);
        json_decref(f);
        return;
    }
    for (int i = 0; i < subs->n; i++)
        atomic_store(&subs->steps[i]->dirty, 1);
    dispatcher_kick(rt);
}

int runtime_emit(runtime *rt, registry *reg, const step_def *from, const char *topic,
                 const char *data, const char *trace_id, txn *t) {
    if (from && !step_def_emits(from, topic))
        return STEP_EUNDECLARED;
    const topic_subs *subs = registry_subscribers(reg, topic);
    if (!subs) {
        json_t *f = json_pack("{s:s}", "topic", topic);
        log_write(STEP_LOG_DEBUG, from ? from->name : NULL, trace_id,
                  "event has no subscriber", f);
        json_decref(f);
        return 0;
    }
    char event_id[33];
    runtime_new_id(event_id);
    queue_msg stack_msgs[8];
    char stack_ids[8][33];
    queue_msg *msgs = subs->n <= 8 ? stack_msgs : calloc((size_t)subs->n, sizeof(queue_msg));
    char(*ids)[33] = subs->n <= 8 ? stack_ids : calloc((size_t)subs->n, 33);
    if (!msgs || !ids) {
        if (msgs != stack_msgs)
            free(msgs);
        if (ids != stack_ids)
            free(ids);
        return STEP_ENOMEM;
    }
    int64_t now = queue_now_ms();
    for (int i = 0; i < subs->n; i++) {
        runtime_new_id(ids[i]);
        msgs[i] = (queue_msg){
            .id = ids[i],
            .event_id = event_id,
            .topic = (char *)topic,
            .step = subs->steps[i]->name,
            .data = (char *)data,
            .trace_id = (char *)(trace_id ? trace_id : ""),
            .created_ms = now,
        };
    }
    int rc;
    if (t) { /* the run's registry reference keeps `subs` alive until the run ends */
        store_write *w = store_write_push(msgs, (size_t)subs->n);
        if (w) {
            w->done = emit_done;
            w->arg = rt;
            w->arg2 = (void *)subs;
        }
        rc = w ? txn_write(t, w) : STEP_ENOMEM; /* emit_done logs a failure */
    } else {
        rc = rt->q->ops->push(rt->q, msgs, (size_t)subs->n);
    }
    if (msgs != stack_msgs)
        free(msgs);
    if (ids != stack_ids)
        free(ids);
    if (t || rc) {
        if (rc && !t) {
            json_t *f = json_pack("{s:s, s:s}", "topic", topic, "error", step_strerror(rc));
            log_write(STEP_LOG_ERROR, from ? from->name : NULL, trace_id, "emit failed", f);
            json_decref(f);
        }
        return rc;
    }
    for (int i = 0; i < subs->n; i++)
        atomic_store(&subs->steps[i]->dirty, 1);
    dispatcher_kick(rt);
    return 0;
}

/* ---- event handlers ------------------------------------------------------------------- */

static int64_t backoff_delay(const step_def *s, int attempt) {
    double base = (double)s->backoff_ms * pow(2.0, attempt > 20 ? 20 : attempt - 1);
    if (base > 3600000.0)
        base = 3600000.0;
    double jitter = 0.5 + (double)(rand() % 1000) / 1000.0; /* 0.5x .. 1.5x */
    return (int64_t)(base * jitter);
}

/* The write that records a failed attempt: retry later, or dead-letter after the last one. */
static store_write *failure_write(step_def *s, queue_msg *m, const char *error, int final) {
    int attempt = m->attempt + 1;
    json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:i}", "eventId", m->event_id, "topic", m->topic,
                          "error", error, "attempt", attempt, "maxAttempts", s->max_attempts);
    store_write *w;
    if (final || attempt >= s->max_attempts) {
        w = store_write_end(SW_BURY, m->id, SW_BURY, 0, error);
        log_write(STEP_LOG_ERROR, s->name, m->trace_id, "event moved to the dead-letter queue", f);
    } else {
        int64_t delay = backoff_delay(s, attempt);
        json_object_set_new(f, "retryInMs", json_integer(delay));
        w = store_write_end(SW_RETRY, m->id, SW_RETRY, queue_now_ms() + delay, error);
        log_write(STEP_LOG_WARN, s->name, m->trace_id, "event handler failed, will retry", f);
    }
    json_decref(f);
    return w;
}

/* The write that ends a successful attempt: an ack, which the store turns into a retry (or a
 * bury after the last attempt) if a state write or emit of the run failed. */
static store_write *success_write(step_def *s, queue_msg *m) {
    int attempt = m->attempt + 1;
    return store_write_end(SW_ACK, m->id, attempt >= s->max_attempts ? SW_BURY : SW_RETRY,
                           queue_now_ms() + backoff_delay(s, attempt),
                           "a state write or emit of the handler failed");
}

/* Records a failed attempt at once (the dispatcher, for a handler past its deadline). */
static void event_failed(runtime *rt, step_def *s, queue_msg *m, const char *error, int final) {
    store_write *w = failure_write(s, m, error, final);
    if (!w || store_write_apply(rt->state, rt->q, w))
        log_write(STEP_LOG_ERROR, s->name, m->trace_id, "queue update failed", NULL);
}

static void running_unlink(runtime *rt, running_event *ev) {
    if (ev->prev)
        ev->prev->next = ev->next;
    else if (rt->running == ev)
        rt->running = ev->next;
    if (ev->next)
        ev->next->prev = ev->prev;
    ev->prev = ev->next = NULL;
}

/* The run's writes and its ack/retry/bury are applied: the event is done with. */
static void event_job_end(txn *t, int rc) {
    running_event *ev = t->owner;
    runtime *rt = ev->rt;
    if (rc && !ev->timed_out) {
        json_t *f = json_pack("{s:s, s:s}", "eventId", ev->msg.event_id, "error", step_strerror(rc));
        log_write(STEP_LOG_ERROR, ev->step->name, ev->msg.trace_id,
                  "a write of the handler failed: the event will be delivered again", f);
        json_decref(f);
    }
    int kick = rc || ev->failed; /* a retry is due later: the dispatcher re-reads due times */
    queue_msg_clear(&ev->msg);
    registry_unref(ev->reg);
    free(ev);
    if (kick)
        dispatcher_kick(rt);
    runtime_job_end(rt);
}

/* Claims are store transactions: while a step has work in flight, the dispatcher waits until a
 * quarter of its slots are free (or CLAIM_DELAY_MS passed) and claims them together. */
#define CLAIM_DELAY_MS 20
static int claim_batch(const step_def *s) {
    return s->concurrency / 4 > 1 ? s->concurrency / 4 : 1;
}

static void event_job_run(void *arg) {
    running_event *ev = arg;
    runtime *rt = ev->rt;
    step_def *s = ev->step;
    queue_msg *m = &ev->msg;
    char error[512] = "";
    int final = 0;
    json_error_t je;
    txn_init(&ev->tx, rt, ev, s->name, m->trace_id);
    json_t *input = json_loads(m->data ? m->data : "null", JSON_DECODE_ANY, &je);
    int rc = 0;
    if (!input) {
        snprintf(error, sizeof(error), "event data is not valid JSON: %s", je.text);
        final = 1;
    } else {
        schema_error se;
        if (s->input_schema && schema_validate(s->input_schema, input, &se)) {
            snprintf(error, sizeof(error), "input does not match the step's schema: %s%s%s",
                     se.field, se.field[0] ? " " : "", se.message);
            final = 1;
        } else {
            step_ctx ctx = {.rt = rt, .reg = ev->reg, .step = s, .trace_id = m->trace_id,
                            .event_id = m->event_id, .attempt = m->attempt + 1, .tx = &ev->tx};
            rc = s->on_event(&ctx, input);
            if (rc && s->lang != LANG_C && script_last_error()[0])
                snprintf(error, sizeof(error), "%s", script_last_error()); /* what was thrown */
            else if (rc)
                snprintf(error, sizeof(error), "handler returned %d (%s)", rc,
                         rc < 0 ? step_strerror(rc) : "failure");
        }
        json_decref(input);
    }
    pthread_mutex_lock(&rt->disp_mu);
    int timed_out = ev->timed_out;
    if (!timed_out)
        running_unlink(rt, ev);
    pthread_mutex_unlock(&rt->disp_mu);
    store_write *last = NULL;
    if (!timed_out) {
        ev->failed = error[0] != 0;
        last = error[0] ? failure_write(s, m, error, final) : success_write(s, m);
        if (!last)
            log_write(STEP_LOG_ERROR, s->name, m->trace_id,
                      "out of memory ending the event: it will be delivered again", NULL);
        int left = atomic_fetch_sub(&s->inflight, 1) - 1;
        atomic_store(&s->dirty, 1);
        /* a slot is free: wake the dispatcher when it will claim (see claim_batch) */
        if (s->concurrency - left >= claim_batch(s) || left == 0)
            dispatcher_kick(rt);
    }
    /* the timed-out run's attempt was recorded by the dispatcher; still wait for its writes */
    txn_end(&ev->tx, last, event_job_end);
}

/* Called with disp_mu held: fails handlers past their deadline and frees their slots. The
 * handler thread keeps running (C code cannot be interrupted safely); when it returns, its
 * result is ignored. Returns the earliest remaining deadline or INT64_MAX. */
static int64_t expire_running(runtime *rt, int64_t now) {
    int64_t next = INT64_MAX;
    for (running_event *ev = rt->running, *nx; ev; ev = nx) {
        nx = ev->next;
        if (ev->deadline_ms > now) {
            if (ev->deadline_ms < next)
                next = ev->deadline_ms;
            continue;
        }
        ev->timed_out = 1;
        running_unlink(rt, ev);
        char error[128];
        snprintf(error, sizeof(error), "timed out after %d ms", ev->step->timeout_ms);
        pthread_mutex_unlock(&rt->disp_mu);
        event_failed(rt, ev->step, &ev->msg, error, 0);
        atomic_fetch_sub(&ev->step->inflight, 1);
        atomic_store(&ev->step->dirty, 1);
        pthread_mutex_lock(&rt->disp_mu);
        nx = rt->running; /* the list may have changed while unlocked */
    }
    return next;
}

static void *dispatcher_main(void *arg) {
    runtime *rt = arg;
    pthread_setname_np(pthread_self(), "stepd-dispatch");
    int full = 1;
    while (!atomic_load(&rt->stopping)) {
        int deferred = 0;
        registry *reg = runtime_registry(rt);
        int64_t now = queue_now_ms();
        for (int i = 0; i < reg->nsteps && !atomic_load(&rt->stopping); i++) {
            step_def *s = reg->steps[i];
            if (s->type != STEP_EVENT)
                continue;
            if (full)
                atomic_store(&s->dirty, 1);
            int inflight = atomic_load(&s->inflight);
            int free_slots = s->concurrency - inflight;
            if (free_slots > 0 && free_slots < claim_batch(s) && inflight > 0 &&
                now - s->last_claim_ms < CLAIM_DELAY_MS && atomic_load(&s->dirty)) {
                deferred = 1; /* a few slots: wait a little for more to free up */
                continue;
            }
            if (free_slots <= 0 || !atomic_exchange(&s->dirty, 0))
                continue;
            s->last_claim_ms = now;
            size_t want = free_slots > 64 ? 64 : (size_t)free_slots;
            queue_msg *msgs = NULL;
            size_t n = 0;
            int64_t lease = (int64_t)s->timeout_ms + 60000;
            int rc = rt->q->ops->claim(rt->q, s->name, now, lease, want, &msgs, &n);
            if (rc) {
                log_write(STEP_LOG_ERROR, s->name, NULL, "claim from the queue failed", NULL);
                continue;
            }
            if (n == want)
                atomic_store(&s->dirty, 1); /* there may be more */
            for (size_t j = 0; j < n; j++) {
                if (msgs[j].attempt >= s->max_attempts) {
                    /* its runs so far all died with the process (see queue.h): a handler that
                     * crashes the server on this event must not crash it at every restart */
                    event_failed(rt, s, &msgs[j], msgs[j].last_error ? msgs[j].last_error
                                                                     : QUEUE_LOST_RUN, 1);
                    queue_msg_clear(&msgs[j]);
                    continue;
                }
                running_event *ev = calloc(1, sizeof(*ev));
                if (!ev) {
                    rt->q->ops->release(rt->q, msgs[j].id);
                    queue_msg_clear(&msgs[j]);
                    continue;
                }
                ev->rt = rt;
                ev->reg = registry_ref(reg);
                ev->step = s;
                ev->msg = msgs[j];
                ev->deadline_ms = queue_now_ms() + s->timeout_ms;
                atomic_fetch_add(&s->inflight, 1);
                runtime_job_begin(rt);
                pthread_mutex_lock(&rt->disp_mu);
                ev->next = rt->running;
                if (rt->running)
                    rt->running->prev = ev;
                rt->running = ev;
                pthread_mutex_unlock(&rt->disp_mu);
                if (pool_submit(rt->event_workers, event_job_run, ev)) {
                    pthread_mutex_lock(&rt->disp_mu);
                    running_unlink(rt, ev);
                    pthread_mutex_unlock(&rt->disp_mu);
                    rt->q->ops->release(rt->q, ev->msg.id);
                    atomic_fetch_sub(&s->inflight, 1);
                    queue_msg_clear(&ev->msg);
                    registry_unref(ev->reg);
                    free(ev);
                    runtime_job_end(rt);
                }
            }
            free(msgs); /* the strings now belong to the running events */
        }
        registry_unref(reg);

        /* sleep until kicked, the next delayed message is due, or a handler times out;
         * at most 1 s, so writes by other processes (stepd dlq replay) are noticed */
        int64_t due = 0, wait_ms = deferred ? CLAIM_DELAY_MS : 1000;
        if (rt->q->ops->next_due(rt->q, NULL, &due) == 0) {
            int64_t d = due - queue_now_ms();
            if (d < wait_ms)
                wait_ms = d < 0 ? 0 : d;
        }
        pthread_mutex_lock(&rt->disp_mu);
        int64_t dl = expire_running(rt, queue_now_ms());
        if (dl != INT64_MAX && dl - queue_now_ms() < wait_ms)
            wait_ms = dl - queue_now_ms() < 0 ? 0 : dl - queue_now_ms();
        full = 0;
        if (!rt->disp_kick && !atomic_load(&rt->stopping)) {
            if (wait_ms < 1)
                wait_ms = 1; /* ready-but-no-slot messages must not spin the CPU */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&rt->disp_cv, &rt->disp_mu, &ts) == ETIMEDOUT)
                full = 1;
        }
        rt->disp_kick = 0;
        pthread_mutex_unlock(&rt->disp_mu);
    }
    return NULL;
}

/* ---- cron ----------------------------------------------------------------------------- */

typedef struct cron_job {
    txn tx;
    char trace[33];
    runtime *rt;
    registry *reg;
    step_def *step;
} cron_job;

static void cron_job_end(txn *t, int rc) {
    cron_job *j = t->owner;
    if (rc) {
        json_t *f = json_pack("{s:s}", "error", step_strerror(rc));
        log_write(STEP_LOG_ERROR, j->step->name, j->trace, "a write of the cron handler failed", f);
        json_decref(f);
    }
    runtime *rt = j->rt;
    registry_unref(j->reg);
    free(j);
    runtime_job_end(rt);
}

static void cron_job_run(void *arg) {
    cron_job *j = arg;
    runtime_new_id(j->trace);
    txn_init(&j->tx, j->rt, j, j->step->name, j->trace);
    step_ctx ctx = {.rt = j->rt, .reg = j->reg, .step = j->step, .trace_id = j->trace,
                    .attempt = 1, .tx = &j->tx};
    int rc = j->step->on_cron(&ctx);
    if (rc) {
        json_t *f = json_pack("{s:i}", "rc", rc);
        log_write(STEP_LOG_ERROR, j->step->name, j->trace, "cron handler failed", f);
        json_decref(f);
    }
    txn_end(&j->tx, NULL, cron_job_end);
}

static void cron_arm(cron_timer *ct, const step_def *s);

static void on_cron_timer(uv_timer_t *t) {
    cron_timer *ct = t->data;
    runtime *rt = ct->rt;
    if (atomic_load(&rt->stopping))
        return;
    registry *reg = runtime_registry(rt);
    step_def *s = registry_step(reg, ct->step);
    if (!s || s->type != STEP_CRON) {
        registry_unref(reg);
        return;
    }
    cron_job *j = calloc(1, sizeof(*j));
    if (j) {
        j->rt = rt;
        j->reg = reg;
        j->step = s;
        runtime_job_begin(rt);
        if (pool_submit(rt->workers, cron_job_run, j)) {
            runtime_job_end(rt);
            registry_unref(reg);
            free(j);
        }
    } else {
        registry_unref(reg);
    }
    reg = runtime_registry(rt);
    s = registry_step(reg, ct->step);
    if (s)
        cron_arm(ct, s);
    registry_unref(reg);
}

static void cron_arm(cron_timer *ct, const step_def *s) {
    /* never the same second twice: a timer may fire a little before the wall clock turns */
    time_t now = time(NULL);
    time_t next = cron_next(&s->cron, now > ct->last ? now : ct->last);
    if (next == (time_t)-1)
        return;
    ct->last = next;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = ((int64_t)next - ts.tv_sec) * 1000 - ts.tv_nsec / 1000000;
    uv_update_time(ct->rt->loop); /* the timer counts from now, not from the loop's cached time */
    uv_timer_start(&ct->timer, on_cron_timer, ms > 0 ? (uint64_t)ms : 0, 0);
}

static void cron_free_cb(uv_handle_t *h) {
    cron_timer *ct = h->data;
    free(ct->step);
    free(ct);
}

static void crons_stop(runtime *rt) {
    for (cron_timer *ct = rt->crons, *nx; ct; ct = nx) {
        nx = ct->next;
        uv_timer_stop(&ct->timer);
        uv_close((uv_handle_t *)&ct->timer, cron_free_cb);
    }
    rt->crons = NULL;
}

static void crons_start(runtime *rt, registry *reg) {
    for (int i = 0; i < reg->nsteps; i++) {
        step_def *s = reg->steps[i];
        if (s->type != STEP_CRON)
            continue;
        cron_timer *ct = calloc(1, sizeof(*ct));
        if (!ct || !(ct->step = strdup(s->name))) {
            free(ct);
            continue;
        }
        ct->rt = rt;
        uv_timer_init(rt->loop, &ct->timer);
        ct->timer.data = ct;
        ct->next = rt->crons;
        rt->crons = ct;
        cron_arm(ct, s);
    }
}

/* ---- loading steps ---------------------------------------------------------------------- */

/* Loads every step file, reusing modules in `old` whose hash is unchanged. On success the
 * new module list is returned in *mods (new references). */
static int load_modules(runtime *rt, cmodule **old, int nold, cmodule ***mods, int *nmods,
                        char **errors) {
    char **files = NULL;
    int nfiles = 0;
    cstep_scan(rt->cfg->dir, &files, &nfiles);
    cmodule **out = calloc((size_t)nfiles + 1, sizeof(cmodule *));
    char *all = NULL;
    size_t all_len = 0;
    int n = 0, failed = 0;
    for (int i = 0; out && i < nfiles; i++) {
        uint64_t h = cstep_hash(&rt->copts, files[i]);
        cmodule *m = NULL;
        for (int j = 0; j < nold; j++)
            if (old[j]->hash == h && !strcmp(old[j]->file, files[i]))
                m = cmodule_ref(old[j]);
        char *err = NULL;
        if (!m && cstep_load(&rt->copts, files[i], &m, &err)) {
            failed++;
            size_t el = err ? strlen(err) : 0;
            char *na = realloc(all, all_len + el + 2);
            if (na) {
                all = na;
                memcpy(all + all_len, err ? err : "", el);
                all_len += el;
                if (all_len == 0 || all[all_len - 1] != '\n')
                    all[all_len++] = '\n';
                all[all_len] = '\0';
            }
            free(err);
            continue;
        }
        out[n++] = m;
    }
    cstep_files_free(files, nfiles);
    if (failed || !out) {
        for (int i = 0; i < n; i++)
            cmodule_unref(out[i]);
        free(out);
        *errors = all;
        return STEP_ECOMPILE;
    }
    *mods = out;
    *nmods = n;
    return 0;
}

static void free_modules(cmodule **mods, int n) {
    for (int i = 0; i < n; i++)
        cmodule_unref(mods[i]);
    free(mods);
}

/* Builds a registry from the project's files (compiling what changed). Runs on the loop at
 * start and on a libuv pool thread for dev reloads: it reads rt, never writes it. *script_sig
 * gets the signature of the script sources it was built from. */
static int build_registry(runtime *rt, cmodule **old, int nold, registry **reg, cmodule ***mods,
                          int *nmods, char **errors, uint64_t *script_sig) {
    uint64_t sig = script_signature(rt->cfg->dir);
    int rc = load_modules(rt, old, nold, mods, nmods, errors);
    if (rc)
        return rc;
    script_step *scripts = NULL;
    int nscripts = 0;
    rc = script_host_load(rt->scripts, &scripts, &nscripts, errors);
    if (rc) {
        free_modules(*mods, *nmods);
        *mods = NULL;
        *nmods = 0;
        return rc;
    }
    registry_defaults d = {.max_attempts = rt->cfg->max_attempts,
                           .timeout_ms = rt->cfg->timeout_ms,
                           .concurrency = rt->cfg->concurrency,
                           .backoff_ms = rt->cfg->backoff_ms};
    rc = registry_build(*mods, *nmods, scripts, nscripts, &d, reg, errors);
    script_steps_free(scripts, nscripts);
    if (!rc)
        *script_sig = sig;
    if (rc) {
        free_modules(*mods, *nmods);
        *mods = NULL;
        *nmods = 0;
    }
    return rc;
}

/* dev: a rebuild runs on libuv's thread pool (compiling takes seconds; requests keep being
 * served meanwhile by the current registry), then is swapped in on the loop */
typedef struct reload_job {
    uv_work_t work;
    runtime *rt;
    uint64_t sig, script_sig;
    int rc;
    registry *reg;
    cmodule **mods;
    int nmods;
    char *errors;
} reload_job;

static void reload_build(uv_work_t *w) {
    reload_job *r = w->data;
    runtime *rt = r->rt;
    r->rc = build_registry(rt, rt->mods, rt->nmods, &r->reg, &r->mods, &r->nmods, &r->errors,
                           &r->script_sig);
}

static void reload_done(uv_work_t *w, int status) {
    reload_job *r = w->data;
    runtime *rt = r->rt;
    rt->reloading = 0;
    if (status || atomic_load(&rt->stopping)) { /* cancelled, or the server is stopping */
        if (r->rc == 0) {
            free_modules(r->mods, r->nmods);
            registry_unref(r->reg);
        }
        free(r->errors);
        free(r);
        return;
    }
    if (r->rc) {
        json_t *f = json_pack("{s:s}", "errors", r->errors ? r->errors : "");
        log_write(STEP_LOG_ERROR, NULL, NULL,
                  "reload failed; the previous version keeps running", f);
        json_decref(f);
        if (rt->cfg->pretty && r->errors)
            fprintf(stderr, "%s", r->errors);
        free(r->errors);
        rt->bad_sig = r->sig; /* report each broken version once, not every tick */
        free(r);
        return;
    }
    registry *reg = r->reg;
    pthread_mutex_lock(&rt->reg_mu);
    registry *old = rt->reg;
    rt->reg = reg;
    cmodule **old_mods = rt->mods;
    int old_n = rt->nmods;
    rt->mods = r->mods;
    rt->nmods = r->nmods;
    rt->script_sig = r->script_sig;
    pthread_mutex_unlock(&rt->reg_mu);
    free(r->errors);
    free(r);
    free_modules(old_mods, old_n);
    registry_unref(old);
    crons_stop(rt);
    crons_start(rt, reg);
    http_server_set_registry(rt->http, reg);
    dispatcher_kick(rt);
    json_t *f = json_pack("{s:i}", "steps", reg->nsteps);
    log_write(STEP_LOG_INFO, NULL, NULL, "steps reloaded", f);
    json_decref(f);
}

/* dev: rebuild when a step file changed; on error the running version keeps serving */
static void on_watch_timer(uv_timer_t *t) {
    runtime *rt = t->data;
    if (atomic_load(&rt->stopping) || rt->reloading)
        return;
    char **files = NULL;
    int nfiles = 0;
    cstep_scan(rt->cfg->dir, &files, &nfiles);
    uint64_t script_sig = script_signature(rt->cfg->dir);
    int changed = nfiles != rt->nmods || script_sig != rt->script_sig;
    for (int i = 0; !changed && i < nfiles; i++)
        changed = strcmp(files[i], rt->mods[i]->file) ||
                  cstep_hash(&rt->copts, files[i]) != rt->mods[i]->hash;
    uint64_t sig = 1469598103934665603ULL ^ script_sig;
    for (int i = 0; i < nfiles; i++) {
        uint64_t h = cstep_hash(&rt->copts, files[i]);
        sig = (sig ^ h) * 1099511628211ULL;
        for (const char *c = files[i]; *c; c++)
            sig = (sig ^ (unsigned char)*c) * 1099511628211ULL;
    }
    cstep_files_free(files, nfiles);
    if (!changed || sig == rt->bad_sig)
        return;
    reload_job *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    r->rt = rt;
    r->sig = sig;
    r->work.data = r;
    rt->reloading = 1;
    if (uv_queue_work(rt->loop, &r->work, reload_build, reload_done)) {
        rt->reloading = 0;
        free(r);
    }
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int mkdir_p(const char *dir) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

int runtime_open(runtime *rt, stepd_config *cfg, char **err) {
    memset(rt, 0, sizeof(*rt));
    *err = NULL;
    rt->cfg = cfg;
    rt->dev = cfg->dev;
    /* a client that leaves while its response is being written must not kill the server:
     * writes then fail with EPIPE, which h2o handles */
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&rt->reg_mu, NULL);
    pthread_mutex_init(&rt->disp_mu, NULL);
    pthread_cond_init(&rt->disp_cv, NULL);
    if (cstep_find_include_dir(rt->include_dir, sizeof(rt->include_dir))) {
        *err = strdup("cannot find stepd/step.h: set STEPD_INCLUDE to the directory holding "
                      "stepd/step.h (e.g. the repository's include/)");
        return STEP_ECONFIG;
    }
    rt->copts = (cstep_opts){.project_dir = cfg->dir, .cc = cfg->cc, .cflags = cfg->cflags,
                             .include_dir = rt->include_dir};
    char dotdir[4096];
    snprintf(dotdir, sizeof(dotdir), "%s/.stepd", cfg->dir);
    mkdir_p(dotdir);
    int rc;
    if (!strcmp(cfg->store_adapter, "memory")) {
        rc = memory_store_open(&rt->state, &rt->q);
    } else {
        char *slash = strrchr(cfg->store_path, '/');
        if (slash) {
            *slash = '\0';
            mkdir_p(cfg->store_path);
            *slash = '/';
        }
        sqlite_store_opts so = {.path = cfg->store_path, .fsync = cfg->fsync};
        rc = sqlite_store_open(&so, &rt->state, &rt->q);
        /* state and queue share one database, so its writer orders writes of both */
        rt->async_writes = rc == 0 && rt->q->ops->write_async != NULL;
    }
    if (rc) {
        if (asprintf(err, "%s: cannot open the store: %s", cfg->store_path, step_strerror(rc)) < 0)
            *err = NULL;
        return rc;
    }
    rc = script_host_new(cfg, &rt->scripts, err);
    if (rc)
        return rc;
    rc = build_registry(rt, NULL, 0, &rt->reg, &rt->mods, &rt->nmods, err, &rt->script_sig);
    if (rc)
        return rc;
    /* API handlers share the cores with the loop thread that parses and answers each request;
     * measured on 2 cores: one running API worker serves the most requests, and event
     * handlers keep up with the flow only with both cores */
    rt->workers = pool_new(cfg->workers, "stepd-api", 1);
    rt->event_workers = pool_new(cfg->event_workers, "stepd-event", 0);
    rt->loop = malloc(sizeof(uv_loop_t));
    if (!rt->workers || !rt->event_workers || !rt->loop || uv_loop_init(rt->loop)) {
        free(rt->loop);
        rt->loop = NULL;
        *err = strdup("out of memory starting the runtime");
        return STEP_ENOMEM;
    }
    rc = http_server_start(rt, err);
    if (rc)
        return rc;
    return 0;
}

static void on_drain_timer(uv_timer_t *t) {
    runtime *rt = t->data;
    if (atomic_load(&rt->jobs) == 0 || uv_now(rt->loop) >= rt->drain_deadline) {
        uv_timer_stop(t);
        uv_stop(rt->loop);
    }
}

void runtime_request_stop(runtime *rt) {
    if (atomic_exchange(&rt->stopping, 1))
        return;
    log_write(STEP_LOG_INFO, NULL, NULL, "shutting down: draining in-flight handlers", NULL);
    dispatcher_kick(rt);
    http_server_stop_accepting(rt->http);
    crons_stop(rt);
    uv_timer_stop(&rt->watch_timer);
    rt->drain_deadline = uv_now(rt->loop) + (uint64_t)rt->cfg->shutdown_timeout_ms;
    uv_timer_start(&rt->drain_timer, on_drain_timer, 0, 20);
}

static void on_signal(uv_signal_t *s, int signum) {
    (void)signum;
    runtime_request_stop(s->data);
}

int runtime_run(runtime *rt) {
    if (pthread_create(&rt->dispatcher, NULL, dispatcher_main, rt) == 0)
        rt->dispatcher_started = 1;
    registry *reg = runtime_registry(rt);
    crons_start(rt, reg);
    json_t *f = json_pack("{s:i, s:s, s:i, s:s, s:i}", "steps", reg->nsteps, "host",
                          rt->cfg->host, "port", http_server_port(rt->http), "store",
                          rt->cfg->store_adapter, "workers", rt->cfg->workers);
    log_write(STEP_LOG_INFO, NULL, NULL, "stepd is listening", f);
    json_decref(f);
    registry_unref(reg);
    uv_signal_init(rt->loop, &rt->sigterm);
    uv_signal_init(rt->loop, &rt->sigint);
    rt->sigterm.data = rt->sigint.data = rt;
    uv_signal_start(&rt->sigterm, on_signal, SIGTERM);
    uv_signal_start(&rt->sigint, on_signal, SIGINT);
    uv_timer_init(rt->loop, &rt->drain_timer);
    rt->drain_timer.data = rt;
    uv_timer_init(rt->loop, &rt->watch_timer);
    rt->watch_timer.data = rt;
    if (rt->dev)
        uv_timer_start(&rt->watch_timer, on_watch_timer, 300, 300);
    uv_run(rt->loop, UV_RUN_DEFAULT);
    atomic_store(&rt->stopping, 1);
    dispatcher_kick(rt);
    if (rt->dispatcher_started)
        pthread_join(rt->dispatcher, NULL);
    rt->dispatcher_started = 0;
    int left = atomic_load(&rt->jobs);
    if (left > 0) {
        json_t *lf = json_pack("{s:i}", "handlers", left);
        log_write(STEP_LOG_WARN, NULL, NULL,
                  "shutdown timeout: handlers still running; their events stay queued", lf);
        json_decref(lf);
        rt->exit_code = 0;
        return -left;
    }
    log_write(STEP_LOG_INFO, NULL, NULL, "stopped", NULL);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void runtime_close(runtime *rt) {
    atomic_store(&rt->stopping, 1);
    while (rt->loop && rt->reloading) /* a dev rebuild in flight uses the script host */
        uv_run(rt->loop, UV_RUN_ONCE);
    if (rt->dispatcher_started) {
        atomic_store(&rt->stopping, 1);
        dispatcher_kick(rt);
        pthread_join(rt->dispatcher, NULL);
    }
    if (atomic_load(&rt->jobs) > 0)
        script_host_stop(rt->scripts); /* past the drain timeout: JS/Python calls fail now */
    pool_free(rt->workers); /* runs what is queued */
    pool_free(rt->event_workers);
    rt->workers = rt->event_workers = NULL;
    script_host_free(rt->scripts); /* after the pools: queued jobs may still call a worker */
    rt->scripts = NULL;
    if (rt->loop) {
        crons_stop(rt);
        http_server_free(rt->http);
        rt->http = NULL;
        uv_walk(rt->loop, close_walk, NULL);
        uv_run(rt->loop, UV_RUN_DEFAULT);
        uv_loop_close(rt->loop);
        free(rt->loop);
        rt->loop = NULL;
    }
    registry_unref(rt->reg);
    rt->reg = NULL;
    free_modules(rt->mods, rt->nmods);
    rt->mods = NULL;
    state_close(rt->state);
    queue_close(rt->q);
    pthread_mutex_destroy(&rt->reg_mu);
    pthread_mutex_destroy(&rt->disp_mu);
    pthread_cond_destroy(&rt->disp_cv);
}
