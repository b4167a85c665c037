/*
 * pool.c — see pool.h. One mutex-protected singly linked FIFO; idle workers wait on a
 * condition variable. Job nodes are recycled through a free list to keep the hot path
 * free of malloc once warm.
 *
 * Waking policy: every wake-up of a sleeping thread costs a context switch, and on a machine
 * with few cores, more runnable workers than cores only switch among themselves. So a job
 * wakes an idle worker only while fewer workers than the cores (less `spare_cores`, left to
 * other busy threads) are running or being woken; a busy worker takes the next job itself. Handlers may block (a model call, a slow disk), which
 * would leave queued jobs waiting behind "running" workers that use no CPU: a monitor thread
 * watches the queue while jobs wait and idle workers exist and, when no job was taken for 2 ms,
 * wakes a worker for each waiting job.
 */
#include "core/pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stepd/step.h>
#include <time.h>
#include <unistd.h>

typedef struct job {
    pool_fn fn;
    void *arg;
    struct job *next;
} job;

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* idle workers wait here */
    pthread_cond_t mcv; /* the monitor waits here */
    job *head, *tail, *free_list;
    size_t pending; /* queued + running */
    int closing;
    int nthreads;
    int idle;    /* workers waiting for a job */
    int waking;  /* signalled, not awake yet */
    int running; /* workers inside a job */
    int limit;   /* running workers wanted without the monitor's help */
    int monitor_sleeping, monitor_started;
    uint64_t taken; /* jobs taken so far: the monitor's measure of progress */
    pthread_t *threads;
    pthread_t monitor;
    char name[16]; /* thread name, for top -H, perf and gdb */
};

static _Thread_local pool *current; /* the pool of this worker thread, NULL elsewhere */

/* Called with mu held: wakes one idle worker if one is not already on its way. */
static void wake_one(pool *p) {
    if (p->idle > p->waking) {
        p->waking++;
        pthread_cond_signal(&p->cv);
    }
}

static int may_wake(const pool *p) {
    return p->running + p->waking < p->limit;
}

static void *worker(void *arg) {
    pool *p = arg;
    pthread_setname_np(pthread_self(), p->name);
    current = p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->closing) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
            if (p->waking > 0)
                p->waking--;
        }
        job *j = p->head;
        if (!j)
            break; /* closing and drained */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->taken++;
        p->running++;
        if (p->head && may_wake(p)) /* more work than this worker: a helper, up to the cores */
            wake_one(p);
        pthread_mutex_unlock(&p->mu);
        j->fn(j->arg);
        pthread_mutex_lock(&p->mu);
        p->running--;
        j->next = p->free_list;
        p->free_list = j;
        p->pending--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wakes workers when jobs wait and none was taken for 2 ms: the running workers are blocked in
 * their handlers. Sleeps on mcv while there is nothing to watch. */
static void *monitor(void *arg) {
    pool *p = arg;
    char name[16];
    snprintf(name, sizeof(name), "%.10s-mon", p->name);
    pthread_setname_np(pthread_self(), name);
    pthread_mutex_lock(&p->mu);
    while (!p->closing) {
        if (!p->head || p->idle <= p->waking) {
            p->monitor_sleeping = 1;
            pthread_cond_wait(&p->mcv, &p->mu);
            p->monitor_sleeping = 0;
            continue;
        }
        uint64_t seen = p->taken;
        pthread_mutex_unlock(&p->mu);
        nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
        pthread_mutex_lock(&p->mu);
        /* no job taken in 2 ms: the running workers are blocked; a worker for each waiting job */
        size_t queued = p->pending - (size_t)p->running;
        for (size_t i = 0; p->head && p->taken == seen && i < queued && p->idle > p->waking; i++)
            wake_one(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

pool *pool_new(int threads, const char *name, int spare_cores) {
    if (threads < 1)
        threads = 1;
    pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->threads = calloc((size_t)threads, sizeof(pthread_t));
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->mcv, NULL);
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "stepd-pool");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = (int)(cores > 64 ? 64 : cores) - (spare_cores > 0 ? spare_cores : 0);
    p->limit = want < 1 ? 1 : want;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20); /* handlers get 1 MiB of stack */
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], &attr, worker, p))
            break;
        p->nthreads++;
    }
    if (p->nthreads > 0 && pthread_create(&p->monitor, &attr, monitor, p) == 0)
        p->monitor_started = 1;
    pthread_attr_destroy(&attr);
    if (p->nthreads == 0 || !p->monitor_started) {
        pool_free(p);
        return NULL;
    }
    return p;
}

int pool_submit(pool *p, pool_fn fn, void *arg) {
    pthread_mutex_lock(&p->mu);
    if (p->closing) {
        pthread_mutex_unlock(&p->mu);
        return STEP_ECLOSED;
    }
    job *j = p->free_list;
    if (j)
        p->free_list = j->next;
    else if (!(j = malloc(sizeof(*j)))) {
        pthread_mutex_unlock(&p->mu);
        return STEP_ENOMEM;
    }
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->pending++;
    if (may_wake(p))
        wake_one(p);
    else if (p->idle > p->waking && p->monitor_sleeping)
        pthread_cond_signal(&p->mcv); /* busy workers may be blocked: let the monitor judge */
    pthread_mutex_unlock(&p->mu);
    return 0;
}

size_t pool_pending(pool *p) {
    pthread_mutex_lock(&p->mu);
    size_t n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pool_block_begin(void) {
    pool *p = current;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->running--;
    if (p->head && may_wake(p))
        wake_one(p);
    pthread_mutex_unlock(&p->mu);
}

void pool_block_end(void) {
    pool *p = current;
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->running++;
    pthread_mutex_unlock(&p->mu);
}

int pool_threads(const pool *p) {
    return p->nthreads;
}

void pool_free(pool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_cond_broadcast(&p->mcv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    if (p->monitor_started)
        pthread_join(p->monitor, NULL);
    while (p->free_list) {
        job *j = p->free_list;
        p->free_list = j->next;
        free(j);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->mcv);
    free(p->threads);
    free(p);
}
