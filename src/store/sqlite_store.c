/*
 * sqlite_store.c — the default state and queue adapters: one SQLite database file (WAL mode)
 * holding three tables, `state`, `queue` and `dead` (see docs/store.md for the layout).
 *
 * This file opens and closes the database and holds what the other two files share: writes go
 * through GROUP COMMIT on one writer thread (sqlite_writer.c); the vtables (sqlite_ops.c) run
 * reads on a pool of read connections kept here (one per concurrently reading thread), so reads
 * never wait for the writer and see exactly what has been committed. WAL checkpoints run on a
 * thread and connection of their own, so their fsyncs never stall the writer.
 *
 * Cross-process: a CLI (`stepd emit`, `stepd dlq replay`) may open the same file while the
 * server runs. Transactions are BEGIN IMMEDIATE with a busy timeout and claim is one SQL
 * statement (UPDATE ... WHERE seq IN (SELECT ... LIMIT ?) RETURNING ...), so two processes
 * never lease the same message. Leases left by a dead process are expired on open, but only by
 * the first opener: every opener holds a shared flock(2) on "<path>-stepd.lock" and only one
 * that can take it exclusively (nobody else has the database open) expires leases.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <stepd/step.h>

#include "store/sqlite_internal.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS state("
    " grp TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(grp, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS queue("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, event_id TEXT, topic TEXT NOT NULL,"
    " step TEXT NOT NULL, data TEXT NOT NULL, trace_id TEXT, attempt INTEGER NOT NULL,"
    " due_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, lease_until INTEGER NOT NULL,"
    " group_key TEXT, idem_key TEXT, last_error TEXT, claims INTEGER NOT NULL DEFAULT 0);"
    "DROP INDEX IF EXISTS queue_step_seq;" /* early files: claim now uses queue_step_due */
    "CREATE INDEX IF NOT EXISTS queue_step_due ON queue(step, due_ms);"
    "CREATE INDEX IF NOT EXISTS queue_due ON queue(due_ms);"
    "CREATE TABLE IF NOT EXISTS dead("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL, event_id TEXT, topic TEXT NOT NULL,"
    " step TEXT NOT NULL, data TEXT NOT NULL, trace_id TEXT, attempt INTEGER NOT NULL,"
    " due_ms INTEGER NOT NULL, created_ms INTEGER NOT NULL, group_key TEXT, idem_key TEXT,"
    " last_error TEXT, failed_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS dead_id ON dead(id);"
    "PRAGMA user_version = 1;";

static _Thread_local char last_error[512];

const char *sqlite_store_last_error(void) {
    return last_error;
}

void sq_set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

int sq_map_rc(int rc) {
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
void sq_bind_opt(sqlite3_stmt *st, int i, const char *s) {
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no rows and resets it. Returns the SQLite code. */
int sq_run_stmt(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* malloc'ed copy of a text column, NULL for SQL NULL; *ok turns 0 when malloc fails. */
char *sq_col_dup(sqlite3_stmt *st, int i, int *ok) {
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
int64_t sq_row_to_msg(sqlite3_stmt *st, queue_msg *m) {
    int ok = 1;
    *m = (queue_msg){0};
    m->id = sq_col_dup(st, 1, &ok);
    m->event_id = sq_col_dup(st, 2, &ok);
    m->topic = sq_col_dup(st, 3, &ok);
    m->step = sq_col_dup(st, 4, &ok);
    m->data = sq_col_dup(st, 5, &ok);
    m->trace_id = sq_col_dup(st, 6, &ok);
    m->attempt = sqlite3_column_int(st, 7);
    m->due_ms = sqlite3_column_int64(st, 8);
    m->created_ms = sqlite3_column_int64(st, 9);
    m->group_key = sq_col_dup(st, 10, &ok);
    m->idem_key = sq_col_dup(st, 11, &ok);
    m->last_error = sq_col_dup(st, 12, &ok);
    if (!ok) {
        queue_msg_clear(m);
        return -1;
    }
    return sqlite3_column_int64(st, 0);
}

/* ---- read connections --------------------------------------------------------------------- */

void sq_rconn_free(rconn *c) {
    if (!c)
        return;
    for (int i = 0; i < RS_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

int sq_open_conn(const char *path, sqlite3 **out) {
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sq_set_error("cannot open database %s: %s", path,
                     db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return sq_map_rc(rc) ? sq_map_rc(rc) : STEP_EIO;
    }
    sqlite3_busy_timeout(db, 10000);
    *out = db;
    return 0;
}

/* Takes a read connection from the pool (opening one when empty); give it back with
 * rconn_put. Statements are prepared on first use. */
rconn *sq_rconn_get(sq_db *db) {
    pthread_mutex_lock(&db->mu);
    rconn *c = db->pool;
    if (c)
        db->pool = c->next;
    pthread_mutex_unlock(&db->mu);
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    if (sq_open_conn(db->path, &c->db) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void sq_rconn_put(sq_db *db, rconn *c) {
    pthread_mutex_lock(&db->mu);
    c->next = db->pool;
    db->pool = c;
    pthread_mutex_unlock(&db->mu);
}

/* ---- checkpoints -------------------------------------------------------------------------- */

/* WAL frames after which a background checkpoint starts (SQLite's default autocheckpoint),
 * and after which the writer checkpoints inline. */
#define CKPT_PAGES 1000
#define CKPT_PAGES_MAX (CKPT_PAGES * 4)

/* Runs in the writer after every commit, instead of SQLite's autocheckpoint (which would
 * fsync on the writer's path and stall every caller of the batch). */
/* Runs in the writer after every commit, instead of SQLite's autocheckpoint. Past CKPT_PAGES
 * it asks the checkpoint thread for a PASSIVE checkpoint (fsyncs off the writer's path), again
 * only after another CKPT_PAGES / 2 frames, so the thread is never kept spinning on a WAL it
 * cannot reset while writes go on. The WAL restarts from the beginning only once a checkpoint
 * has caught up completely; under continuous writes that needs the writer itself, so past
 * CKPT_PAGES_MAX it checkpoints inline (cheap then: the thread has copied most frames). */
static int wal_hook(void *arg, sqlite3 *wdb, const char *name, int pages) {
    sq_db *db = arg;
    if (pages < db->ck_last)
        db->ck_last = 0; /* the WAL was restarted */
    if (pages >= CKPT_PAGES_MAX) {
        sqlite3_wal_checkpoint_v2(wdb, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        db->ck_last = 0;
    } else if (pages >= CKPT_PAGES && pages >= db->ck_last + CKPT_PAGES / 2 &&
               !atomic_exchange(&db->ck_want, 1)) {
        db->ck_last = pages;
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
        sq_rconn_free(c);
    }
    sqlite3_close(db->wdb); /* the last connection: checkpoints and removes the WAL */
    if (db->lockfd >= 0)
        close(db->lockfd); /* drops our flock */
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->ck_mu);
    pthread_mutex_destroy(&db->wconn_mu);
    pthread_cond_destroy(&db->ck_cv);
    free(db->path);
    free(db);
}

void sq_db_unref(sq_db *db) {
    pthread_mutex_lock(&db->mu);
    int last = --db->refs == 0;
    pthread_mutex_unlock(&db->mu);
    if (!last)
        return;
    sq_writer_stop(db);
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
        sq_set_error("cannot open lock file %s: %m", lp);
        free(lp);
        return STEP_EIO;
    }
    free(lp);
    int alone = flock(db->lockfd, LOCK_EX | LOCK_NB) == 0;
    /* downgrade (or wait for an opener that is expiring leases right now) */
    if (flock(db->lockfd, LOCK_SH) != 0) {
        sq_set_error("cannot lock %s-stepd.lock: %m", db->path);
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
        sq_set_error("sqlite_store_open: a database path is required");
        return STEP_EINVAL;
    }
    sq_db *db = calloc(1, sizeof *db);
    if (!db)
        return STEP_ENOMEM;
    db->lockfd = -1;
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->ck_mu, NULL);
    pthread_mutex_init(&db->wconn_mu, NULL);
    pthread_cond_init(&db->ck_cv, NULL);
    db->batch_max = opts->batch_max ? opts->batch_max : 512;
    int err = STEP_ENOMEM, alone;
    char *msg = NULL;
    if (!(db->path = strdup(opts->path)))
        goto fail;
    if ((err = alone = take_open_lock(db)) < 0)
        goto fail;
    if ((err = sq_open_conn(db->path, &db->wdb)))
        goto fail;
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=OFF;",
             opts->fsync ? "FULL" : "NORMAL");
    if (sqlite3_exec(db->wdb, pragmas, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db->wdb, SCHEMA, NULL, NULL, &msg) != SQLITE_OK ||
        (alone && sqlite3_exec(db->wdb, "UPDATE queue SET lease_until = 0 WHERE lease_until > 0",
                               NULL, NULL, &msg) != SQLITE_OK)) {
        sq_set_error("cannot initialise database %s: %s", db->path, msg ? msg : "unknown error");
        err = sq_map_rc(sqlite3_errcode(db->wdb)) ? sq_map_rc(sqlite3_errcode(db->wdb)) : STEP_EIO;
        sqlite3_free(msg);
        goto fail;
    }
    /* files from before `claims` (deliveries started) get the column */
    sqlite3_stmt *probe = NULL;
    if (sqlite3_prepare_v2(db->wdb, "SELECT claims FROM queue LIMIT 0", -1, &probe, NULL) !=
            SQLITE_OK &&
        sqlite3_exec(db->wdb, "ALTER TABLE queue ADD COLUMN claims INTEGER NOT NULL DEFAULT 0",
                     NULL, NULL, &msg) != SQLITE_OK) {
        sq_set_error("cannot upgrade database %s: %s", db->path, msg ? msg : "unknown error");
        sqlite3_free(msg);
        err = STEP_EIO;
        goto fail;
    }
    sqlite3_finalize(probe);
    if ((err = sq_prepare_writes(db)))
        goto fail;
    if ((err = sq_open_conn(db->path, &db->cdb)))
        goto fail;
    if (pthread_create(&db->checkpointer, NULL, checkpointer_main, db) != 0) {
        sq_set_error("cannot start the database checkpoint thread");
        err = STEP_ENOMEM;
        goto fail;
    }
    db->checkpointer_started = 1;
    sqlite3_wal_hook(db->wdb, wal_hook, db);
    db->state.ops = &sq_state_ops;
    db->queue.ops = &sq_queue_ops;
    db->refs = (state ? 1 : 0) + (q ? 1 : 0);
    if (pthread_create(&db->writer, NULL, sq_writer_main, db) != 0) {
        sq_set_error("cannot start the database writer thread");
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
