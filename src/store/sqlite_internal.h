/*
 * sqlite_internal.h — what the three files of the SQLite adapter share (not a public API).
 *
 *   sqlite_store.c   open/close, schema, read-connection pool, checkpoints, shared helpers
 *   sqlite_writer.c  the group-commit writer thread and every write op
 *   sqlite_ops.c     the state_ops / queue_ops vtables (reads run here, writes are submitted)
 */
#ifndef STEPD_STORE_SQLITE_INTERNAL_H
#define STEPD_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "store/stores.h"
#include "store/write.h"

/* The columns of a message row, in the order sq_row_to_msg reads them. */
#define MSG_COLS                                                                                   \
    "seq, id, event_id, topic, step, data, trace_id, attempt, due_ms, created_ms, group_key,"      \
    " idem_key, last_error"
#define COPY_COLS                                                                                  \
    "id, event_id, topic, step, data, trace_id, attempt, due_ms, created_ms, group_key,"           \
    " idem_key, last_error"

/* Prepared write statements, owned by the writer connection. */
enum wstmt {
    WS_BEGIN,
    WS_COMMIT,
    WS_ROLLBACK,
    WS_SP,
    WS_SP_RELEASE,
    WS_SP_ROLLBACK,
    WS_SET,
    WS_DEL,
    WS_CLEAR,
    WS_PUSH,
    WS_CLAIM,
    WS_ACK,
    WS_RETRY,
    WS_RELEASE,
    WS_BURY_COPY,
    WS_REPLAY_ONE,
    WS_REPLAY_ONE_DEL,
    WS_REPLAY_ALL,
    WS_REPLAY_ALL_DEL,
    WS_COUNT
};

/* Prepared read statements, one set per read connection. */
enum rstmt {
    RS_GET,
    RS_GROUP,
    RS_GROUPS,
    RS_DUE_STEP,
    RS_DUE_ANY,
    RS_DLQ,
    RS_COUNTS,
    RS_CLAIMABLE,
    RS_COUNT
};

enum wop {
    OP_SET,
    OP_DEL,
    OP_CLEAR,
    OP_PUSH,
    OP_CLAIM,
    OP_ACK,
    OP_RETRY,
    OP_BURY,
    OP_RELEASE,
    OP_REPLAY
};

/* One write request; lives on the caller's stack until `done`. */
typedef struct wreq {
    struct wreq *next;
    enum wop op;
    const char *group, *key, *value, *id, *error, *step;
    size_t len;
    const queue_msg *msgs;
    size_t n; /* push: messages in; claim: max; replay: count out */
    int64_t now_ms, lease_ms, due_ms;
    queue_msg *out; /* claim results */
    int rc;
    atomic_int done; /* REQ_*; the writer sets DONE after rc and out */
    store_write *w;  /* an asynchronous write (the wreq is then malloc'ed and nobody waits) */
} wreq;

enum { REQ_PENDING, REQ_SLEEPING, REQ_DONE };

typedef struct rconn {
    struct rconn *next;
    sqlite3 *db;
    sqlite3_stmt *st[RS_COUNT];
} rconn;

typedef struct sq_db {
    state_store state;
    queue queue;
    char *path;
    int refs;
    int batch_max;
    int lockfd;
    sqlite3 *wdb;
    sqlite3_stmt *ws[WS_COUNT];
    pthread_t writer;
    pthread_mutex_t wconn_mu; /* whoever runs a transaction on wdb holds it */
    /* checkpoints run on their own thread and connection, off the writer's path */
    pthread_t checkpointer;
    int checkpointer_started;
    sqlite3 *cdb;
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
    atomic_int ck_want;
    int ck_stop;
    int ck_last;           /* WAL size at the last checkpoint request (under wconn_mu) */
    pthread_mutex_t mu;    /* guards refs and the read pool */
    _Atomic(wreq *) inbox; /* pending writes, newest first (lock-free push) */
    atomic_int wstate;     /* 1 while the writer sleeps on it */
    atomic_int stopping;
    rconn *pool;
} sq_db;

#define DB_OF_STATE(s) ((sq_db *)((char *)(s)-offsetof(sq_db, state)))
#define DB_OF_QUEUE(x) ((sq_db *)((char *)(x)-offsetof(sq_db, queue)))

/* Records why an open failed, for sqlite_store_last_error() (per thread). */
void sq_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* SQLite result code -> 0 or STEP_E*. */
int sq_map_rc(int rc);
/* Binds text that may be NULL (as SQL NULL). */
void sq_bind_opt(sqlite3_stmt *st, int i, const char *s);
/* Steps a statement that returns no rows, resets it, returns the SQLite code (ROW -> DONE). */
int sq_run_stmt(sqlite3_stmt *st);
/* malloc'ed copy of a text column, NULL for SQL NULL; *ok turns 0 when malloc fails. */
char *sq_col_dup(sqlite3_stmt *st, int i, int *ok);
/* Reads a MSG_COLS row into *m (caller clears); returns its seq, or -1 when out of memory. */
int64_t sq_row_to_msg(sqlite3_stmt *st, queue_msg *m);
/* Opens one connection to path with the busy timeout set. */
int sq_open_conn(const char *path, sqlite3 **out);

/* Read connections: take one (NULL on failure), prepare statements lazily, give it back. */
rconn *sq_rconn_get(sq_db *db);
void sq_rconn_put(sq_db *db, rconn *c);
void sq_rconn_free(rconn *c);
sqlite3_stmt *sq_rstmt(rconn *c, int which); /* NULL on failure */
void sq_rdone(sqlite3_stmt *st);             /* resets: ends the read transaction */

/* The writer (sqlite_writer.c). */
int sq_prepare_writes(sq_db *db);  /* prepares db->ws on db->wdb */
void *sq_writer_main(void *db);    /* the thread; returns when stopping and drained */
void sq_writer_stop(sq_db *db);    /* asks it to drain and stop (then join it) */
int sq_submit(sq_db *db, wreq *r); /* blocks until r's transaction committed or failed */
int sq_submit_async(sq_db *db, store_write *w); /* queues w; see store/write.h */
int sq_writer_idle(sq_db *db);     /* nothing queued and the writer asleep: a hint */

/* Drops one handle (state or queue); the last one closes the database. */
void sq_db_unref(sq_db *db);

extern const state_ops sq_state_ops;
extern const queue_ops sq_queue_ops;

#endif
