/*
 * pool.c — see pool.h. One mutex-protected singly linked FIFO; idle workers wait on a
 * condition variable. Job nodes are recycled through a free list to keep the hot path
 * free of malloc once warm.
 */
#include "core/pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stepd/step.h>

typedef struct job {
    pool_fn fn;
    void *arg;
    struct job *next;
} job;

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail, *free_list;
    size_t pending; /* queued + running */
    int closing;
    int nthreads;
    pthread_t *threads;
    char name[16]; /* thread name, for top -H, perf and gdb */
};

static void *worker(void *arg) {
    pool *p = arg;
    pthread_setname_np(pthread_self(), p->name);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->closing)
            pthread_cond_wait(&p->cv, &p->mu);
        job *j = p->head;
        if (!j)
            break; /* closing and drained */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->fn(j->arg);
        pthread_mutex_lock(&p->mu);
        j->next = p->free_list;
        p->free_list = j;
        p->pending--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

pool *pool_new(int threads, const char *name) {
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
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "stepd-pool");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20); /* handlers get 1 MiB of stack */
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], &attr, worker, p))
            break;
        p->nthreads++;
    }
    pthread_attr_destroy(&attr);
    if (p->nthreads == 0) {
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
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

size_t pool_pending(pool *p) {
    pthread_mutex_lock(&p->mu);
    size_t n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
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
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    while (p->free_list) {
        job *j = p->free_list;
        p->free_list = j->next;
        free(j);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}
