/*
 * txn.h — the writes of one handler run: its state writes and emits go to the store without
 * waiting, in order, and the run ends with one more write (the delivery's ack, retry or bury,
 * or a mark) whose completion tells the runtime that everything before it is durable.
 *
 * So a handler thread never sleeps on a commit: an API response is sent, and an event is
 * acknowledged, only once the handler's writes have committed (an ack is turned into a retry
 * by the store when one of them failed; an API answers 500 instead). A read after a write in
 * the same run waits for the writes first (read-your-writes). With a store that has no
 * asynchronous writes (the memory adapter), every write runs at once and the end is inline.
 */
#ifndef STEPD_CORE_TXN_H
#define STEPD_CORE_TXN_H

#include <stdatomic.h>

#include "store/write.h"

typedef struct runtime runtime;
typedef struct txn txn;
typedef void (*txn_end_fn)(txn *t, int rc);

struct txn {
    runtime *rt;
    void *owner;          /* the job this run belongs to, for the end callback */
    const char *step;     /* for logs: the step and trace of the run */
    const char *trace_id;
    atomic_int failed;    /* the first error of any write (set by the store) */
    int unsynced;         /* writes submitted since the last txn_sync */
    int writes;           /* writes submitted in all */
    txn_end_fn end;
};

void txn_init(txn *t, runtime *rt, void *owner, const char *step, const char *trace_id);
/* Submits w (taken in every case). Returns 0, or an error known at once (store closed, or
 * the write itself failed when the store is synchronous). */
int txn_write(txn *t, store_write *w);
/* Waits until every write submitted so far has been applied; returns the first error. */
int txn_sync(txn *t);
/* Submits `last` (NULL: a mark) after the run's writes and calls end(t, rc) once it has been
 * applied: rc is the first error of the run's writes or of `last`. With no writes and no
 * `last`, end runs at once on this thread. */
void txn_end(txn *t, store_write *last, txn_end_fn end);

#endif
