/*
 * pool.h — a fixed pool of worker threads running blocking jobs (handlers, AI calls).
 * The libuv loop never runs handlers; it submits them here. Jobs run in FIFO order.
 */
#ifndef STEPD_CORE_POOL_H
#define STEPD_CORE_POOL_H

#include <stddef.h>

typedef struct pool pool;
typedef void (*pool_fn)(void *arg);

/* Starts `threads` workers. NULL on failure. */
/* name: of the threads (15 chars max). spare_cores: cores left to other threads when counting
 * how many workers may run before the pool's monitor has to add more (see pool.c). */
pool *pool_new(int threads, const char *name, int spare_cores);
/* Queues fn(arg). Returns 0, or STEP_ECLOSED once pool_free has begun, STEP_ENOMEM. */
int pool_submit(pool *p, pool_fn fn, void *arg);
/* Around a wait that uses no CPU (a reply from a worker process, a network call) in a job:
 * the worker stops counting as running, so a queued job may wake another worker at once
 * instead of after the monitor's delay. No-ops outside pool threads. */
void pool_block_begin(void);
void pool_block_end(void);
/* Jobs queued or running. */
size_t pool_pending(pool *p);
int pool_threads(const pool *p);
/* Runs the jobs still queued, joins the workers, frees the pool. NULL-safe. */
void pool_free(pool *p);

#endif
