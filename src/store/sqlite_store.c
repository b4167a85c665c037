/*
 * sqlite_store.c — the default state and queue adapters: one SQLite database file (WAL mode)
 * holding three tables, `state`, `queue` and `dead` (see docs/store.md for the layout).
 *
 * Writes go through GROUP COMMIT: one writer thread owns the only write connection. Every
 * write op (state set/del/clear; queue push, claim — it writes the lease —, ack, retry, bury,
 * release, dlq_replay) is a request on a FIFO list; the writer takes everything pending (up to
 * batch_max), runs it in ONE transaction, commits, and only then wakes the callers, each with
 * its own result. Single-statement ops are atomic on their own (SQLite undoes a failed
 * statement, not the transaction); multi-statement ops run inside a SAVEPOINT, so one failing
 * op never fails its neighbours. If SQLite aborts the whole transaction (I/O error, disk full)
 * or the commit fails, every op of the batch gets the error. Reads use a small pool of read
 * connections (one per concurrently reading thread), so they never wait for the writer and
 * see exactly what has been committed.
 *
 * Cross-process: a CLI (`stepd emit`, `stepd dlq replay`) may open the same file while the
 * server runs. Transactions are BEGIN IMMEDIATE with a busy timeout and claim is one SQL
 * statement (UPDATE ... WHERE seq IN (SELECT ... LIMIT ?) RETURNING ...), so two processes
 * never lease the same message. Leases left by a dead process are expired on open, but only by
 * the first opener: every opener holds a shared flock(2) on "<path>-stepd.lock" and only one
 * that can take it exclusively (nobody else has the database open) expires leases.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#include <stepd/step.h>

#include "store/stores.h"

/* ---- SQL ---------------------------------------------------------------------------------- */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS state("
    " grp TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(grp, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS queue("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, event_id TEXT, topic TEXT NOT NULL,"
    " step TEXT NOT NULL, data TEXT NOT NULL, trace_id TEXT, attempt INTEGER NOT NULL,"
    " due_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, lease_until INTEGER NOT NULL,"
    " group_key TEXT, idem_key TEXT, last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS queue_step_seq ON queue(step, seq);"
    "CREATE INDEX IF NOT EXISTS queue_step_due ON queue(step, due_ms);"
    "CREATE INDEX IF NOT EXISTS queue_due ON queue(due_ms);"
    "CREATE TABLE IF NOT EXISTS dead("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL, event_id TEXT, topic TEXT NOT NULL,"
    " step TEXT NOT NULL, data TEXT NOT NULL, trace_id TEXT, attempt INTEGER NOT NULL,"
    " due_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, group_key TEXT, idem_key TEXT,"
    " last_error TEXT, failed_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS dead_id ON dead(id);"
    "PRAGMA user_version = 1;";

/* The columns of a message, in queue_msg order after seq (see row_to_msg). */
#define MSG_COLS                                                                                   \
    "seq, id, event_id, topic, step, data, trace_id, attempt, due_ms, created_ms, group_key,"     \
    " idem_key, last_error"
#define COPY_COLS                                                                                  \
    "id, event_id, topic, step, data, trace_id, attempt, due_ms, created_ms, group_key,"          \
    " idem_key, last_error"

enum wstmt {
    WS_BEGIN, WS_COMMIT, WS_ROLLBACK, WS_SP, WS_SP_RELEASE, WS_SP_ROLLBACK,
    WS_SET, WS_DEL, WS_CLEAR,
    WS_PUSH, WS_CLAIM, WS_ACK, WS_RETRY, WS_RELEASE, WS_BURY_COPY,
    WS_REPLAY_ONE, WS_REPLAY_ONE_DEL, WS_REPLAY_ALL, WS_REPLAY_ALL_DEL,
    WS_COUNT
};

static const char *const WSQL[WS_COUNT] = {
    [WS_BEGIN] = "BEGIN IMMEDIATE",
    [WS_COMMIT] = "COMMIT",
    [WS_ROLLBACK] = "ROLLBACK",
    [WS_SP] = "SAVEPOINT op",
    [WS_SP_RELEASE] = "RELEASE op",
    [WS_SP_ROLLBACK] = "ROLLBACK TO op",
    [WS_SET] = "INSERT INTO state(grp, key, value, updated_ms) VALUES(?1, ?2, ?3, ?4)"
               " ON CONFLICT(grp, key) DO UPDATE SET value = excluded.value,"
               " updated_ms = excluded.updated_ms",
    [WS_DEL] = "DELETE FROM state WHERE grp = ?1 AND key = ?2",
    [WS_CLEAR] = "DELETE FROM state WHERE grp = ?1",
    [WS_PUSH] = "INSERT INTO queue(id, event_id, topic, step, data, trace_id, attempt, due_ms,"
                " created_ms, lease_until, group_key, idem_key, last_error)"
                " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11, ?12)",
    [WS_CLAIM] = "UPDATE queue SET lease_until = ?1 WHERE seq IN (SELECT seq FROM queue"
                 " INDEXED BY queue_step_seq WHERE step = ?2 AND due_ms <= ?3"
                 " AND lease_until <= ?3 ORDER BY seq LIMIT ?4) RETURNING " MSG_COLS,
    [WS_ACK] = "DELETE FROM queue WHERE id = ?1",
    [WS_RETRY] = "UPDATE queue SET attempt = attempt + 1, due_ms = ?2, last_error = ?3,"
                 " lease_until = 0 WHERE id = ?1",
    [WS_RELEASE] = "UPDATE queue SET lease_until = 0 WHERE id = ?1",
    [WS_BURY_COPY] = "INSERT INTO dead(" COPY_COLS ", failed_ms) SELECT id, event_id, topic,"
                     " step, data, trace_id, attempt + 1, due_ms, created_ms, group_key,"
                     " idem_key, ?2, ?3 FROM queue WHERE id = ?1",
    [WS_REPLAY_ONE] = "INSERT INTO queue(" COPY_COLS ", lease_until) SELECT id, event_id,"
                      " topic, step, data, trace_id, 0, 0, created_ms, group_key, idem_key,"
                      " last_error, 0 FROM dead WHERE id = ?1 ORDER BY seq",
    [WS_REPLAY_ONE_DEL] = "DELETE FROM dead WHERE id = ?1",
    [WS_REPLAY_ALL] = "INSERT INTO queue(" COPY_COLS ", lease_until) SELECT id, event_id,"
                      " topic, step, data, trace_id, 0, 0, created_ms, group_key, idem_key,"
                      " last_error, 0 FROM dead ORDER BY seq",
    [WS_REPLAY_ALL_DEL] = "DELETE FROM dead",
};

enum rstmt {
    RS_GET, RS_GROUP, RS_GROUPS, RS_DUE_STEP, RS_DUE_ANY, RS_DLQ, RS_COUNTS, RS_CLAIMABLE,
    RS_COUNT
};

static const char *const RSQL[RS_COUNT] = {
    [RS_GET] = "SELECT value FROM state WHERE grp = ?1 AND key = ?2",
    [RS_GROUP] = "SELECT key, value FROM state WHERE grp = ?1 ORDER BY key",
    [RS_GROUPS] = "SELECT DISTINCT grp FROM state ORDER BY grp",
    [RS_DUE_STEP] = "SELECT due_ms FROM queue INDEXED BY queue_step_due WHERE step = ?1"
                    " AND lease_until <= ?2 ORDER BY due_ms LIMIT 1",
    [RS_DUE_ANY] = "SELECT due_ms FROM queue INDEXED BY queue_due WHERE lease_until <= ?1"
                   " ORDER BY due_ms LIMIT 1",
    [RS_DLQ] = "SELECT " MSG_COLS " FROM dead ORDER BY seq",
    [RS_COUNTS] = "SELECT (SELECT count(*) FROM queue WHERE lease_until <= ?1),"
                  " (SELECT count(*) FROM queue WHERE lease_until > ?1),"
                  " (SELECT count(*) FROM dead)",
    [RS_CLAIMABLE] = "SELECT 1 FROM queue INDEXED BY queue_step_due WHERE step = ?1"
                     " AND due_ms <= ?2 AND lease_until <= ?2 LIMIT 1",
};

/* ---- types -------------------------------------------------------------------------------- */

enum wop { OP_SET, OP_DEL, OP_CLEAR, OP_PUSH, OP_CLAIM, OP_ACK, OP_RETRY, OP_BURY, OP_RELEASE,
           OP_REPLAY };

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
    /* checkpoints run on their own thread and connection, off the writer's path */
    pthread_t checkpointer;
    int checkpointer_started;
    sqlite3 *cdb;
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
    atomic_int ck_want;
    int ck_stop;
    pthread_mutex_t mu;      /* guards refs and the read pool */
    _Atomic(wreq *) inbox;   /* pending writes, newest first (lock-free push) */
    atomic_int wstate;       /* 1 while the writer sleeps on it */
    atomic_int stopping;
    rconn *pool;
} sq_db;

#define DB_OF_STATE(s) ((sq_db *)((char *)(s) - offsetof(sq_db, state)))
#define DB_OF_QUEUE(x) ((sq_db *)((char *)(x) - offsetof(sq_db, queue)))

static _Thread_local char last_error[512];

const char *sqlite_store_last_error(void) { return last_error; }

static void set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static int map_rc(int rc) {
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STEP_EBUSY;
    case SQLITE_NOMEM:
        return STEP_ENOMEM;
    case SQLITE_CONSTRAINT:
        return STEP_ECONFLICT;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
        return STEP_EINVAL;
    default:
        return STEP_EIO;
    }
}

/* Binds text that may be NULL. */
static void bind_opt(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows and resets it. Returns the SQLite code. */
static int run_stmt(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* malloc'ed copy of a text column, NULL for SQL NULL; *ok turns 0 when malloc fails. */
static char *col_dup(sqlite3_stmt *st, int i, int *ok) {
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) {
        if (sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM)
            *ok = 0;
        return NULL;
    }
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *d = malloc(n + 1);
    if (!d) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, t, n);
    d[n] = '\0';
    return d;
}

/* Reads a MSG_COLS row into *m; returns its seq, or -1 on allocation failure. */
static int64_t row_to_msg(sqlite3_stmt *st, queue_msg *m) {
    int ok = 1;
    *m = (queue_msg){0};
    m->id = col_dup(st, 1, &ok);
    m->event_id = col_dup(st, 2, &ok);
    m->topic = col_dup(st, 3, &ok);
    m->step = col_dup(st, 4, &ok);
    m->data = col_dup(st, 5, &ok);
    m->trace_id = col_dup(st, 6, &ok);
    m->attempt = sqlite3_column_int(st, 7);
    m->due_ms = sqlite3_column_int64(st, 8);
    m->created_ms = sqlite3_column_int64(st, 9);
    m->group_key = col_dup(st, 10, &ok);
    m->idem_key = col_dup(st, 11, &ok);
    m->last_error = col_dup(st, 12, &ok);
    if (!ok) {
        queue_msg_clear(m);
        return -1;
    }
    return sqlite3_column_int64(st, 0);
}

/* ---- the writer --------------------------------------------------------------------------- */

typedef struct seq_msg {
    int64_t seq;
    queue_msg m;
} seq_msg;

static int seq_cmp(const void *a, const void *b) {
    int64_t x = ((const seq_msg *)a)->seq, y = ((const seq_msg *)b)->seq;
    return (x > y) - (x < y);
}

static int op_push(sq_db *db, wreq *r) {
    sqlite3_stmt *st = db->ws[WS_PUSH];
    int64_t now = queue_now_ms();
    int rc = SQLITE_DONE;
    if (r->n > 1 && run_stmt(db->ws[WS_SP]) != SQLITE_DONE)
        return STEP_EIO;
    for (size_t i = 0; i < r->n && rc == SQLITE_DONE; i++) {
        const queue_msg *m = &r->msgs[i];
        char id[33];
        if (!m->id)
            queue_new_id(id);
        sqlite3_bind_text(st, 1, m->id ? m->id : id, -1, SQLITE_STATIC);
        bind_opt(st, 2, m->event_id);
        sqlite3_bind_text(st, 3, m->topic, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m->step, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, m->data ? m->data : "{}", -1, SQLITE_STATIC);
        bind_opt(st, 6, m->trace_id);
        sqlite3_bind_int(st, 7, m->attempt);
        sqlite3_bind_int64(st, 8, m->due_ms);
        sqlite3_bind_int64(st, 9, m->created_ms ? m->created_ms : now);
        bind_opt(st, 10, m->group_key);
        bind_opt(st, 11, m->idem_key);
        bind_opt(st, 12, m->last_error);
        rc = run_stmt(st);
    }
    if (r->n > 1) {
        if (rc != SQLITE_DONE)
            run_stmt(db->ws[WS_SP_ROLLBACK]);
        run_stmt(db->ws[WS_SP_RELEASE]);
    }
    return map_rc(rc);
}

static int op_claim(sq_db *db, wreq *r) {
    sqlite3_stmt *st = db->ws[WS_CLAIM];
    sqlite3_bind_int64(st, 1, r->now_ms + r->lease_ms);
    sqlite3_bind_text(st, 2, r->step, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->now_ms);
    sqlite3_bind_int64(st, 4, r->n > INT64_MAX ? INT64_MAX : (int64_t)r->n);
    seq_msg *rows = NULL;
    size_t cnt = 0, cap = 0;
    int rc, err = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (err)
            continue; /* finish the statement so the update completes, then undo */
        if (cnt == cap) {
            size_t c = cap ? cap * 2 : 16;
            seq_msg *p = realloc(rows, c * sizeof *p);
            if (!p) {
                err = STEP_ENOMEM;
                continue;
            }
            rows = p;
            cap = c;
        }
        if ((rows[cnt].seq = row_to_msg(st, &rows[cnt].m)) < 0)
            err = STEP_ENOMEM;
        else
            cnt++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!err && rc != SQLITE_DONE)
        err = map_rc(rc);
    queue_msg *out = NULL;
    if (!err && cnt && !(out = malloc(cnt * sizeof *out)))
        err = STEP_ENOMEM;
    if (err) {
        /* the leases were written: give them back in the same transaction */
        for (size_t i = 0; i < cnt; i++) {
            if (rc == SQLITE_DONE) {
                sqlite3_bind_text(db->ws[WS_RELEASE], 1, rows[i].m.id, -1, SQLITE_STATIC);
                run_stmt(db->ws[WS_RELEASE]);
            }
            queue_msg_clear(&rows[i].m);
        }
        free(rows);
        return err;
    }
    if (cnt)
        qsort(rows, cnt, sizeof *rows, seq_cmp); /* RETURNING order is unspecified */
    for (size_t i = 0; i < cnt; i++)
        out[i] = rows[i].m;
    free(rows);
    r->out = out;
    r->n = cnt;
    return 0;
}

/* Runs a one-statement op keyed by id; STEP_ENOTFOUND when it touched no row. */
static int op_by_id(sq_db *db, int which, wreq *r) {
    sqlite3_stmt *st = db->ws[which];
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    if (which == WS_RETRY) {
        sqlite3_bind_int64(st, 2, r->due_ms);
        bind_opt(st, 3, r->error);
    }
    int rc = run_stmt(st);
    if (rc != SQLITE_DONE)
        return map_rc(rc);
    return sqlite3_changes(db->wdb) ? 0 : STEP_ENOTFOUND;
}

/* Copy-then-delete ops (bury, replay) inside a savepoint. */
static int op_move(sq_db *db, wreq *r) {
    sqlite3_stmt *copy, *del;
    if (r->op == OP_BURY) {
        copy = db->ws[WS_BURY_COPY];
        del = db->ws[WS_ACK];
    } else if (r->id) {
        copy = db->ws[WS_REPLAY_ONE];
        del = db->ws[WS_REPLAY_ONE_DEL];
    } else {
        copy = db->ws[WS_REPLAY_ALL];
        del = db->ws[WS_REPLAY_ALL_DEL];
    }
    if (run_stmt(db->ws[WS_SP]) != SQLITE_DONE)
        return STEP_EIO;
    if (r->id)
        sqlite3_bind_text(copy, 1, r->id, -1, SQLITE_STATIC);
    if (r->op == OP_BURY) {
        bind_opt(copy, 2, r->error);
        sqlite3_bind_int64(copy, 3, queue_now_ms());
    }
    int rc = run_stmt(copy), err = 0;
    size_t moved = rc == SQLITE_DONE ? (size_t)sqlite3_changes(db->wdb) : 0;
    if (rc != SQLITE_DONE) {
        err = map_rc(rc);
    } else if (moved == 0) {
        err = r->id ? STEP_ENOTFOUND : 0;
    } else {
        if (r->id)
            sqlite3_bind_text(del, 1, r->id, -1, SQLITE_STATIC);
        rc = run_stmt(del);
        err = map_rc(rc);
    }
    if (err)
        run_stmt(db->ws[WS_SP_ROLLBACK]);
    run_stmt(db->ws[WS_SP_RELEASE]);
    r->n = err ? 0 : moved;
    return err;
}

static int op_state(sq_db *db, wreq *r) {
    sqlite3_stmt *st;
    if (r->op == OP_SET) {
        st = db->ws[WS_SET];
        sqlite3_bind_text(st, 3, r->value, (int)r->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, queue_now_ms());
    } else {
        st = db->ws[r->op == OP_DEL ? WS_DEL : WS_CLEAR];
    }
    sqlite3_bind_text(st, 1, r->group, -1, SQLITE_STATIC);
    if (r->op != OP_CLEAR)
        sqlite3_bind_text(st, 2, r->key, -1, SQLITE_STATIC);
    return map_rc(run_stmt(st));
}

static int run_op(sq_db *db, wreq *r) {
    switch (r->op) {
    case OP_SET:
    case OP_DEL:
    case OP_CLEAR:
        return op_state(db, r);
    case OP_PUSH:
        return op_push(db, r);
    case OP_CLAIM:
        return op_claim(db, r);
    case OP_ACK:
        return op_by_id(db, WS_ACK, r);
    case OP_RETRY:
        return op_by_id(db, WS_RETRY, r);
    case OP_RELEASE:
        return op_by_id(db, WS_RELEASE, r);
    case OP_BURY:
    case OP_REPLAY:
        return op_move(db, r);
    }
    return STEP_EINVAL;
}

static void fail_batch(wreq *batch, int err) {
    for (wreq *r = batch; r; r = r->next) {
        if (r->op == OP_CLAIM && r->rc == 0) {
            queue_msgs_free(r->out, r->n);
            r->out = NULL;
            r->n = 0;
        }
        if (r->op == OP_REPLAY)
            r->n = 0;
        r->rc = err;
    }
}

static void run_batch(sq_db *db, wreq *batch) {
    int rc = run_stmt(db->ws[WS_BEGIN]);
    if (rc != SQLITE_DONE) {
        fail_batch(batch, map_rc(rc));
        return;
    }
    for (wreq *r = batch; r; r = r->next)
        r->rc = run_op(db, r);
    if (sqlite3_get_autocommit(db->wdb)) { /* SQLite rolled the transaction back */
        fail_batch(batch, STEP_EIO);
        return;
    }
    rc = run_stmt(db->ws[WS_COMMIT]);
    if (rc != SQLITE_DONE) {
        run_stmt(db->ws[WS_ROLLBACK]);
        fail_batch(batch, map_rc(rc) ? map_rc(rc) : STEP_EIO);
    }
}

static void futex_wait(atomic_int *addr, int val) {
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_int *addr) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int inbox_len(wreq *r, int cap) {
    int n = 0;
    for (; r && n < cap; r = r->next)
        n++;
    return n;
}

/* Tells the caller of r its result. r may vanish as soon as `done` reads DONE. */
static void complete(wreq *r) {
    if (atomic_exchange(&r->done, REQ_DONE) == REQ_SLEEPING)
        futex_wake(&r->done);
}

static void *writer_main(void *p) {
    sq_db *db = p;
    pthread_setname_np(pthread_self(), "stepd-sqlwrite");
    int expect = 0; /* callers released by the last batch: they are likely to write again */
    for (;;) {
        wreq *list = atomic_load(&db->inbox);
        if (!list) {
            if (atomic_load(&db->stopping))
                break; /* drained */
            atomic_store(&db->wstate, 1);
            if (!atomic_load(&db->inbox) && !atomic_load(&db->stopping))
                futex_wait(&db->wstate, 1);
            atomic_store(&db->wstate, 0);
            continue;
        }
        /* Group commit on few cores: the callers released by the last commit are runnable but
         * may not have run yet; yielding briefly lets them queue their next write, so one
         * commit serves them all instead of a commit each. Bounded to 100 us. */
        if (expect > 1 && inbox_len(list, expect) < expect) {
            int64_t t0 = mono_us();
            do
                sched_yield();
            while (inbox_len(atomic_load(&db->inbox), expect) < expect && mono_us() - t0 < 100);
        }
        list = atomic_exchange(&db->inbox, NULL);
        wreq *fifo = NULL; /* the inbox is a stack: reverse it into arrival order */
        while (list) {
            wreq *next = list->next;
            list->next = fifo;
            fifo = list;
            list = next;
        }
        expect = 0;
        while (fifo) {
            wreq *batch = fifo, *last = fifo;
            for (int n = 1; last->next && n < db->batch_max; n++)
                last = last->next;
            fifo = last->next;
            last->next = NULL;
            run_batch(db, batch);
            for (wreq *r = batch; r;) {
                wreq *next = r->next;
                complete(r);
                expect++;
                r = next;
            }
        }
    }
    return NULL;
}

/* Hands r to the writer and blocks until its transaction has committed (or failed). */
static int submit(sq_db *db, wreq *r) {
    if (atomic_load(&db->stopping))
        return STEP_ECLOSED;
    atomic_init(&r->done, REQ_PENDING);
    wreq *head = atomic_load(&db->inbox);
    do
        r->next = head;
    while (!atomic_compare_exchange_weak(&db->inbox, &head, r));
    if (atomic_exchange(&db->wstate, 0) == 1)
        futex_wake(&db->wstate);
    int expected = REQ_PENDING;
    if (atomic_compare_exchange_strong(&r->done, &expected, REQ_SLEEPING))
        expected = REQ_SLEEPING;
    while (expected != REQ_DONE) {
        futex_wait(&r->done, REQ_SLEEPING);
        expected = atomic_load(&r->done);
    }
    return r->rc;
}

/* ---- read connections --------------------------------------------------------------------- */

static void rconn_free(rconn *c) {
    if (!c)
        return;
    for (int i = 0; i < RS_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

static int open_conn(const char *path, sqlite3 **out) {
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                            SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_error("cannot open database %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return map_rc(rc) ? map_rc(rc) : STEP_EIO;
    }
    sqlite3_busy_timeout(db, 10000);
    *out = db;
    return 0;
}

/* Takes a read connection from the pool (opening one when empty); give it back with
 * rconn_put. Statements are prepared on first use. */
static rconn *rconn_get(sq_db *db) {
    pthread_mutex_lock(&db->mu);
    rconn *c = db->pool;
    if (c)
        db->pool = c->next;
    pthread_mutex_unlock(&db->mu);
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    if (open_conn(db->path, &c->db) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void rconn_put(sq_db *db, rconn *c) {
    pthread_mutex_lock(&db->mu);
    c->next = db->pool;
    db->pool = c;
    pthread_mutex_unlock(&db->mu);
}

static sqlite3_stmt *rstmt(rconn *c, int which) {
    if (!c->st[which] && sqlite3_prepare_v3(c->db, RSQL[which], -1, SQLITE_PREPARE_PERSISTENT,
                                            &c->st[which], NULL) != SQLITE_OK) {
        set_error("sqlite: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->st[which];
}

static void rdone(sqlite3_stmt *st) {
    sqlite3_reset(st); /* ends the read transaction: the next read sees newer commits */
    sqlite3_clear_bindings(st);
}

/* ---- state ops ---------------------------------------------------------------------------- */

static int sq_get(state_store *s, const char *group, const char *key, char **value_out) {
    if (!group || !key || !value_out)
        return STEP_EINVAL;
    *value_out = NULL;
    sq_db *db = DB_OF_STATE(s);
    rconn *c = rconn_get(db);
    sqlite3_stmt *st = c ? rstmt(c, RS_GET) : NULL;
    if (!st) {
        if (c)
            rconn_put(db, c);
        return STEP_EIO;
    }
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), err, ok = 1;
    if (rc == SQLITE_ROW) {
        *value_out = col_dup(st, 0, &ok);
        err = ok && *value_out ? 0 : STEP_ENOMEM;
    } else {
        err = rc == SQLITE_DONE ? STEP_ENOTFOUND : map_rc(rc);
    }
    rdone(st);
    rconn_put(db, c);
    return err;
}

static int sq_set(state_store *s, const char *group, const char *key, const char *value,
                  size_t len) {
    if (!group || !key || (!value && len) || len > INT32_MAX)
        return STEP_EINVAL;
    wreq r = {.op = OP_SET, .group = group, .key = key, .value = value ? value : "", .len = len};
    return submit(DB_OF_STATE(s), &r);
}

static int sq_del(state_store *s, const char *group, const char *key) {
    if (!group || !key)
        return STEP_EINVAL;
    wreq r = {.op = OP_DEL, .group = group, .key = key};
    return submit(DB_OF_STATE(s), &r);
}

static int sq_clear(state_store *s, const char *group) {
    if (!group)
        return STEP_EINVAL;
    wreq r = {.op = OP_CLEAR, .group = group};
    return submit(DB_OF_STATE(s), &r);
}

/* Runs a read statement and collects up to two text columns per row into a growing array of
 * `width`-pointer records. Used by get_group (key, value) and groups (name). */
static int read_rows(sq_db *db, int which, const char *arg, int width, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    rconn *c = rconn_get(db);
    sqlite3_stmt *st = c ? rstmt(c, which) : NULL;
    if (!st) {
        if (c)
            rconn_put(db, c);
        return STEP_EIO;
    }
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    char **rows = NULL;
    size_t cnt = 0, cap = 0;
    int rc = SQLITE_DONE, err = 0, ok = 1;
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t c2 = cap ? cap * 2 : 16;
            char **p = realloc(rows, c2 * width * sizeof *p);
            if (!p) {
                err = STEP_ENOMEM;
                break;
            }
            rows = p;
            cap = c2;
        }
        for (int i = 0; i < width; i++)
            rows[cnt * width + i] = col_dup(st, i, &ok);
        cnt++;
        if (!ok)
            err = STEP_ENOMEM;
    }
    if (!err && rc != SQLITE_DONE)
        err = map_rc(rc);
    rdone(st);
    rconn_put(db, c);
    if (err) {
        for (size_t i = 0; i < cnt * width; i++)
            free(rows[i]);
        free(rows);
        return err;
    }
    *out = rows;
    *n = cnt;
    return 0;
}

static int sq_get_group(state_store *s, const char *group, state_item **items, size_t *n) {
    if (!group || !items || !n)
        return STEP_EINVAL;
    _Static_assert(sizeof(state_item) == 2 * sizeof(char *), "state_item is two pointers");
    char **rows;
    int err = read_rows(DB_OF_STATE(s), RS_GROUP, group, 2, &rows, n);
    *items = (state_item *)rows;
    return err;
}

static int sq_groups(state_store *s, char ***names, size_t *n) {
    if (!names || !n)
        return STEP_EINVAL;
    return read_rows(DB_OF_STATE(s), RS_GROUPS, NULL, 1, names, n);
}

static int sq_update(state_store *s, const char *group, const char *key, state_update_op op,
                     const char *arg, const char *expect, char **result_out) {
    (void)s, (void)group, (void)key, (void)op, (void)arg, (void)expect;
    if (result_out)
        *result_out = NULL;
    return STEP_EUNSUPPORTED;
}

static void db_unref(sq_db *db);

static void sq_state_close(state_store *s) {
    if (s)
        db_unref(DB_OF_STATE(s));
}

static const state_ops sq_state_ops = {
    .name = "sqlite",
    .get = sq_get,
    .set = sq_set,
    .del = sq_del,
    .get_group = sq_get_group,
    .clear = sq_clear,
    .groups = sq_groups,
    .update = sq_update,
    .close = sq_state_close,
};

/* ---- queue ops ---------------------------------------------------------------------------- */

static int sq_push(queue *q, const queue_msg *msgs, size_t n) {
    if (n && !msgs)
        return STEP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].topic || !msgs[i].step)
            return STEP_EINVAL;
    if (n == 0)
        return 0;
    wreq r = {.op = OP_PUSH, .msgs = msgs, .n = n};
    return submit(DB_OF_QUEUE(q), &r);
}

/* 0 when no message of `step` is ready at now_ms; 1 when one is, or on any doubt. */
static int claimable(sq_db *db, const char *step, int64_t now_ms) {
    rconn *c = rconn_get(db);
    sqlite3_stmt *st = c ? rstmt(c, RS_CLAIMABLE) : NULL;
    int rc = SQLITE_ROW;
    if (st) {
        sqlite3_bind_text(st, 1, step, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_ms);
        rc = sqlite3_step(st);
        rdone(st);
    }
    if (c)
        rconn_put(db, c);
    return rc != SQLITE_DONE;
}

static int sq_claim(queue *q, const char *step, int64_t now_ms, int64_t lease_ms, size_t max,
                    queue_msg **out, size_t *n) {
    if (!step || !out || !n || lease_ms < 0)
        return STEP_EINVAL;
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    /* Dispatchers poll: answer "nothing to claim" from a read connection, without a write
     * transaction. Only a claim that can succeed goes to the writer (which re-checks). */
    if (!claimable(DB_OF_QUEUE(q), step, now_ms))
        return 0;
    wreq r = {.op = OP_CLAIM, .step = step, .now_ms = now_ms, .lease_ms = lease_ms, .n = max};
    int err = submit(DB_OF_QUEUE(q), &r);
    if (err == 0) {
        *out = r.out;
        *n = r.n;
    }
    return err;
}

static int by_id(queue *q, enum wop op, const char *id, int64_t due_ms, const char *error) {
    if (!id)
        return STEP_EINVAL;
    wreq r = {.op = op, .id = id, .due_ms = due_ms, .error = error};
    return submit(DB_OF_QUEUE(q), &r);
}

static int sq_ack(queue *q, const char *id) { return by_id(q, OP_ACK, id, 0, NULL); }
static int sq_retry(queue *q, const char *id, int64_t due_ms, const char *error) {
    return by_id(q, OP_RETRY, id, due_ms, error);
}
static int sq_bury(queue *q, const char *id, const char *error) {
    return by_id(q, OP_BURY, id, 0, error);
}
static int sq_release(queue *q, const char *id) { return by_id(q, OP_RELEASE, id, 0, NULL); }

static int sq_dlq_replay(queue *q, const char *id, size_t *replayed) {
    wreq r = {.op = OP_REPLAY, .id = id};
    int err = submit(DB_OF_QUEUE(q), &r);
    if (replayed)
        *replayed = err ? 0 : r.n;
    return err;
}

static int sq_next_due(queue *q, const char *step, int64_t *due_ms) {
    if (!due_ms)
        return STEP_EINVAL;
    sq_db *db = DB_OF_QUEUE(q);
    rconn *c = rconn_get(db);
    sqlite3_stmt *st = c ? rstmt(c, step ? RS_DUE_STEP : RS_DUE_ANY) : NULL;
    if (!st) {
        if (c)
            rconn_put(db, c);
        return STEP_EIO;
    }
    int64_t now = queue_now_ms();
    if (step) {
        sqlite3_bind_text(st, 1, step, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
    } else {
        sqlite3_bind_int64(st, 1, now);
    }
    int rc = sqlite3_step(st), err;
    if (rc == SQLITE_ROW) {
        *due_ms = sqlite3_column_int64(st, 0);
        err = 0;
    } else {
        err = rc == SQLITE_DONE ? STEP_ENOTFOUND : map_rc(rc);
    }
    rdone(st);
    rconn_put(db, c);
    return err;
}

static int sq_dlq_list(queue *q, queue_msg **out, size_t *n) {
    if (!out || !n)
        return STEP_EINVAL;
    *out = NULL;
    *n = 0;
    sq_db *db = DB_OF_QUEUE(q);
    rconn *c = rconn_get(db);
    sqlite3_stmt *st = c ? rstmt(c, RS_DLQ) : NULL;
    if (!st) {
        if (c)
            rconn_put(db, c);
        return STEP_EIO;
    }
    queue_msg *rows = NULL;
    size_t cnt = 0, cap = 0;
    int rc, err = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t c2 = cap ? cap * 2 : 16;
            queue_msg *p = realloc(rows, c2 * sizeof *p);
            if (!p) {
                err = STEP_ENOMEM;
                break;
            }
            rows = p;
            cap = c2;
        }
        if (row_to_msg(st, &rows[cnt]) < 0) {
            err = STEP_ENOMEM;
            break;
        }
        cnt++;
    }
    if (!err && rc != SQLITE_DONE)
        err = map_rc(rc);
    rdone(st);
    rconn_put(db, c);
    if (err) {
        queue_msgs_free(rows, cnt);
        return err;
    }
    *out = rows;
    *n = cnt;
    return 0;
}

static int sq_counts(queue *q, queue_counts *out) {
    if (!out)
        return STEP_EINVAL;
    sq_db *db = DB_OF_QUEUE(q);
    rconn *c = rconn_get(db);
    sqlite3_stmt *st = c ? rstmt(c, RS_COUNTS) : NULL;
    if (!st) {
        if (c)
            rconn_put(db, c);
        return STEP_EIO;
    }
    sqlite3_bind_int64(st, 1, queue_now_ms());
    int rc = sqlite3_step(st), err = 0;
    if (rc == SQLITE_ROW) {
        out->ready = (size_t)sqlite3_column_int64(st, 0);
        out->leased = (size_t)sqlite3_column_int64(st, 1);
        out->dead = (size_t)sqlite3_column_int64(st, 2);
    } else {
        err = map_rc(rc) ? map_rc(rc) : STEP_EIO;
    }
    rdone(st);
    rconn_put(db, c);
    return err;
}

static void sq_queue_close(queue *q) {
    if (q)
        db_unref(DB_OF_QUEUE(q));
}

static const queue_ops sq_queue_ops = {
    .name = "sqlite",
    .push = sq_push,
    .claim = sq_claim,
    .ack = sq_ack,
    .retry = sq_retry,
    .bury = sq_bury,
    .release = sq_release,
    .next_due = sq_next_due,
    .dlq_list = sq_dlq_list,
    .dlq_replay = sq_dlq_replay,
    .counts = sq_counts,
    .close = sq_queue_close,
};

/* ---- checkpoints ------------------------------------------------------------------------- */

/* WAL frames after which a checkpoint is started (SQLite's default autocheckpoint), and the
 * size at which the writer checkpoints itself because the checkpointer cannot keep up. */
#define CKPT_PAGES 1000
#define CKPT_PAGES_MAX (CKPT_PAGES * 32)

/* Runs in the writer after every commit, instead of SQLite's autocheckpoint (which would
 * fsync on the writer's path and stall every caller of the batch). */
static int wal_hook(void *arg, sqlite3 *wdb, const char *name, int pages) {
    sq_db *db = arg;
    if (pages >= CKPT_PAGES_MAX) {
        sqlite3_wal_checkpoint_v2(wdb, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (pages >= CKPT_PAGES && !atomic_exchange(&db->ck_want, 1)) {
        pthread_mutex_lock(&db->ck_mu);
        pthread_cond_signal(&db->ck_cv);
        pthread_mutex_unlock(&db->ck_mu);
    }
    return SQLITE_OK;
}

static void *checkpointer_main(void *p) {
    sq_db *db = p;
    pthread_setname_np(pthread_self(), "stepd-sqlckpt");
    pthread_mutex_lock(&db->ck_mu);
    for (;;) {
        while (!atomic_load(&db->ck_want) && !db->ck_stop)
            pthread_cond_wait(&db->ck_cv, &db->ck_mu);
        if (db->ck_stop)
            break;
        pthread_mutex_unlock(&db->ck_mu);
        /* PASSIVE: copies what it can without blocking the writer or readers */
        sqlite3_wal_checkpoint_v2(db->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_store(&db->ck_want, 0);
        pthread_mutex_lock(&db->ck_mu);
    }
    pthread_mutex_unlock(&db->ck_mu);
    return NULL;
}

/* ---- open / close ------------------------------------------------------------------------- */

/* Frees everything but the writer thread (stopped by the caller, or never started). */
static void db_free(sq_db *db) {
    if (db->checkpointer_started) {
        pthread_mutex_lock(&db->ck_mu);
        db->ck_stop = 1;
        pthread_cond_signal(&db->ck_cv);
        pthread_mutex_unlock(&db->ck_mu);
        pthread_join(db->checkpointer, NULL);
    }
    sqlite3_close(db->cdb);
    for (int i = 0; i < WS_COUNT; i++)
        sqlite3_finalize(db->ws[i]);
    while (db->pool) {
        rconn *c = db->pool;
        db->pool = c->next;
        rconn_free(c);
    }
    sqlite3_close(db->wdb); /* the last connection: checkpoints and removes the WAL */
    if (db->lockfd >= 0)
        close(db->lockfd); /* drops our flock */
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->ck_mu);
    pthread_cond_destroy(&db->ck_cv);
    free(db->path);
    free(db);
}

static void db_unref(sq_db *db) {
    pthread_mutex_lock(&db->mu);
    int last = --db->refs == 0;
    pthread_mutex_unlock(&db->mu);
    if (!last)
        return;
    atomic_store(&db->stopping, 1);
    if (atomic_exchange(&db->wstate, 0) == 1)
        futex_wake(&db->wstate);
    pthread_join(db->writer, NULL); /* it drains pending requests first */
    db_free(db);
}

/* Takes the shared lock every opener holds; returns 1 when nobody else had the database
 * open (so leases in it belong to dead processes), 0 otherwise, negative on error. */
static int take_open_lock(sq_db *db) {
    size_t n = strlen(db->path) + sizeof "-stepd.lock";
    char *lp = malloc(n);
    if (!lp)
        return STEP_ENOMEM;
    snprintf(lp, n, "%s-stepd.lock", db->path);
    db->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lockfd < 0) {
        set_error("cannot open lock file %s: %m", lp);
        free(lp);
        return STEP_EIO;
    }
    free(lp);
    int alone = flock(db->lockfd, LOCK_EX | LOCK_NB) == 0;
    /* downgrade (or wait for an opener that is expiring leases right now) */
    if (flock(db->lockfd, LOCK_SH) != 0) {
        set_error("cannot lock %s-stepd.lock: %m", db->path);
        return STEP_EIO;
    }
    return alone;
}

int sqlite_store_open(const sqlite_store_opts *opts, state_store **state, queue **q) {
    if (state)
        *state = NULL;
    if (q)
        *q = NULL;
    last_error[0] = '\0';
    if (!opts || !opts->path || !*opts->path || (!state && !q) || opts->batch_max < 0) {
        set_error("sqlite_store_open: a database path is required");
        return STEP_EINVAL;
    }
    sq_db *db = calloc(1, sizeof *db);
    if (!db)
        return STEP_ENOMEM;
    db->lockfd = -1;
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->ck_mu, NULL);
    pthread_cond_init(&db->ck_cv, NULL);
    db->batch_max = opts->batch_max ? opts->batch_max : 512;
    int err = STEP_ENOMEM, alone;
    char *msg = NULL;
    if (!(db->path = strdup(opts->path)))
        goto fail;
    if ((err = alone = take_open_lock(db)) < 0)
        goto fail;
    if ((err = open_conn(db->path, &db->wdb)))
        goto fail;
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=OFF;",
             opts->fsync ? "FULL" : "NORMAL");
    if (sqlite3_exec(db->wdb, pragmas, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db->wdb, SCHEMA, NULL, NULL, &msg) != SQLITE_OK ||
        (alone && sqlite3_exec(db->wdb, "UPDATE queue SET lease_until = 0 WHERE lease_until > 0",
                               NULL, NULL, &msg) != SQLITE_OK)) {
        set_error("cannot initialise database %s: %s", db->path, msg ? msg : "unknown error");
        err = map_rc(sqlite3_errcode(db->wdb)) ? map_rc(sqlite3_errcode(db->wdb)) : STEP_EIO;
        sqlite3_free(msg);
        goto fail;
    }
    for (int i = 0; i < WS_COUNT; i++) {
        if (sqlite3_prepare_v3(db->wdb, WSQL[i], -1, SQLITE_PREPARE_PERSISTENT, &db->ws[i],
                               NULL) != SQLITE_OK) {
            set_error("sqlite: preparing statement %d: %s", i, sqlite3_errmsg(db->wdb));
            err = STEP_EIO;
            goto fail;
        }
    }
    if ((err = open_conn(db->path, &db->cdb)))
        goto fail;
    if (pthread_create(&db->checkpointer, NULL, checkpointer_main, db) != 0) {
        set_error("cannot start the database checkpoint thread");
        err = STEP_ENOMEM;
        goto fail;
    }
    db->checkpointer_started = 1;
    sqlite3_wal_hook(db->wdb, wal_hook, db);
    db->state.ops = &sq_state_ops;
    db->queue.ops = &sq_queue_ops;
    db->refs = (state ? 1 : 0) + (q ? 1 : 0);
    if (pthread_create(&db->writer, NULL, writer_main, db) != 0) {
        set_error("cannot start the database writer thread");
        err = STEP_ENOMEM;
        goto fail;
    }
    if (state)
        *state = &db->state;
    if (q)
        *q = &db->queue;
    return 0;
fail:
    db_free(db);
    return err;
}
