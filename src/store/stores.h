/*
 * stores.h — constructors of the state and queue adapters.
 *
 * The SQLite adapter keeps state and queue in one database file (WAL mode) and funnels
 * every write through one writer thread that commits in batches ("group commit"): callers
 * block until the transaction holding their write has committed, so many concurrent
 * writers share one commit instead of paying one each (a lone writer, with nothing queued,
 * commits on its own thread). See docs/store.md.
 */
#ifndef STEPD_STORE_STORES_H
#define STEPD_STORE_STORES_H

#include "store/queue.h"
#include "store/state.h"

typedef struct sqlite_store_opts {
    const char *path; /* database file; its directory must exist */
    int fsync;        /* 1: synchronous=FULL (survives power loss); 0: NORMAL (survives kill -9) */
    int batch_max;    /* max writes per transaction (0 = 512) */
} sqlite_store_opts;

/* Opens (creating if needed) the database and returns a state store and a queue that share
 * it. Either out-pointer may be NULL. Each returned object is closed separately; the database
 * closes with the last one. Leases left by a previous process are expired on open. */
int sqlite_store_open(const sqlite_store_opts *opts, state_store **state, queue **q);
/* Why the last sqlite_store_open() on this thread failed (path and SQLite's message), "" if it
 * did not; static per-thread storage, valid until the next open on the same thread. */
const char *sqlite_store_last_error(void);

/* In-memory adapters for unit tests (nothing survives the process). */
int memory_store_open(state_store **state, queue **q);

#endif
