/*
 * write.h — asynchronous writes: a handler's state writes, emits and the end of its delivery
 * (ack, retry, bury), handed to the store without waiting for each to commit.
 *
 * An adapter that implements queue_ops.write_async applies the writes it is given in
 * submission order (state and queue writes alike, so it must own both: the SQLite adapter
 * does, one database behind both handles) and, once the transaction holding a write has
 * committed or failed, calls its `done` on the adapter's thread and frees it. Adapters
 * without write_async are driven synchronously by store_write_apply() below.
 *
 * Failure propagation: every write of one handler points `failed` at the same flag. The
 * adapter stores the first error of any of them there when the write fails; an ACK that finds
 * the flag set when its turn comes runs its `fallback` (RETRY at due_ms, or BURY) with
 * `error` instead, so a delivery whose writes did not all land is never acknowledged.
 */
#ifndef STEPD_STORE_WRITE_H
#define STEPD_STORE_WRITE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/queue.h"
#include "store/state.h"

typedef enum store_write_op {
    SW_SET,   /* state: group, key, value (len bytes) */
    SW_DEL,   /* state: group, key */
    SW_CLEAR, /* state: group */
    SW_PUSH,  /* queue: msgs[n], atomically */
    SW_ACK,   /* queue: id; `fallback` when *failed */
    SW_RETRY, /* queue: id, due_ms, error */
    SW_BURY,  /* queue: id, error */
    SW_MARK,  /* nothing: done() runs once every earlier write is applied */
} store_write_op;

typedef struct store_write store_write;
typedef void (*store_write_done)(store_write *w, int rc);

struct store_write {
    store_write *next; /* free for the adapter's use */
    store_write_op op;
    const char *group, *key, *value; /* point into this allocation */
    size_t len;
    queue_msg *msgs; /* push: strings point into this allocation */
    size_t n;
    const char *id, *error;
    int64_t due_ms;
    store_write_op fallback; /* ACK only: SW_RETRY or SW_BURY */
    atomic_int *failed;      /* may be NULL */
    store_write_done done;   /* may be NULL; must not free w */
    void *arg, *arg2;
};

/* Constructors copy their arguments into one allocation; NULL when out of memory. */
store_write *store_write_state(store_write_op op, const char *group, const char *key,
                               const char *value, size_t len);
store_write *store_write_push(const queue_msg *msgs, size_t n);
/* ACK / RETRY / BURY of delivery `id`; error may be NULL. For an ACK, fallback/due_ms/error
 * say what to do instead when an earlier write of the handler failed. */
store_write *store_write_end(store_write_op op, const char *id, store_write_op fallback,
                             int64_t due_ms, const char *error);
store_write *store_write_mark(void);
void store_write_free(store_write *w);

/* Runs w at once through the blocking vtables, records a failure in *w->failed, calls done
 * and frees w. Returns w's result. */
int store_write_apply(state_store *s, queue *q, store_write *w);
/* What an adapter calls when w is finished: records a failure, calls done, frees w. */
void store_write_finish(store_write *w, int rc);
/* Records rc (if an error) as the first failure of w's handler. */
void store_write_failed(store_write *w, int rc);

#endif
