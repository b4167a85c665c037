/*
 * txn.c — see txn.h.
 */
#include "core/txn.h"

#include <pthread.h>
#include <time.h>

#include "core/log.h"
#include "core/runtime.h"

void txn_init(txn *t, runtime *rt, void *owner, const char *step, const char *trace_id) {
    *t = (txn){.rt = rt, .owner = owner, .step = step, .trace_id = trace_id};
    atomic_init(&t->failed, 0);
}

static void state_write_done(store_write *w, int rc) {
    if (!rc)
        return;
    txn *t = w->arg;
    json_t *f = json_pack("{s:s, s:s?, s:s}", "group", w->group, "key", w->key, "error",
                          step_strerror(rc));
    log_write(STEP_LOG_ERROR, t->step, t->trace_id, "state write failed", f);
    json_decref(f);
}

int txn_write(txn *t, store_write *w) {
    w->failed = &t->failed;
    if (!w->done && (w->op == SW_SET || w->op == SW_DEL || w->op == SW_CLEAR)) {
        w->done = state_write_done;
        w->arg = t;
    }
    t->unsynced++;
    t->writes++;
    runtime *rt = t->rt;
    if (rt->async_writes) {
        int rc = rt->q->ops->write_async(rt->q, w);
        if (rc)
            store_write_finish(w, rc);
        return rc;
    }
    return store_write_apply(rt->state, rt->q, w);
}

/* A mark is what tells the run its writes are done; without one, the run could not end
 * safely (its writes point at it), so wait for memory rather than give up. */
static store_write *mark(void) {
    store_write *w;
    while (!(w = store_write_mark()))
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    return w;
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} waiter;

static void wake(store_write *w, int rc) {
    (void)rc;
    waiter *wt = w->arg;
    pthread_mutex_lock(&wt->mu);
    wt->done = 1;
    pthread_cond_signal(&wt->cv);
    pthread_mutex_unlock(&wt->mu);
}

int txn_sync(txn *t) {
    if (!t->unsynced || !t->rt->async_writes)
        return atomic_load(&t->failed);
    waiter wt = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    store_write *w = mark();
    w->done = wake;
    w->arg = &wt;
    if (txn_write(t, w) == 0) {
        pthread_mutex_lock(&wt.mu);
        while (!wt.done)
            pthread_cond_wait(&wt.cv, &wt.mu);
        pthread_mutex_unlock(&wt.mu);
    }
    pthread_mutex_destroy(&wt.mu);
    pthread_cond_destroy(&wt.cv);
    t->unsynced = 0;
    return atomic_load(&t->failed);
}

static void end_done(store_write *w, int rc) {
    txn *t = w->arg;
    int first = atomic_load(&t->failed);
    t->end(t, first ? first : rc);
}

void txn_end(txn *t, store_write *last, txn_end_fn end) {
    t->end = end;
    if (!last && !t->writes) {
        end(t, 0);
        return;
    }
    if (!last)
        last = mark();
    last->done = end_done;
    last->arg = t;
    txn_write(t, last);
}
