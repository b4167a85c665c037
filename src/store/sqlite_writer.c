/*
 * sqlite_writer.c — group commit: the thread that writes to the SQLite database.
 *
 * Callers (sq_submit) push a request on a lock-free stack (the inbox) and sleep on a futex in
 * the request. The writer takes everything pending, reverses it into arrival order, runs up to
 * batch_max requests in ONE transaction (BEGIN IMMEDIATE ... COMMIT) and only then wakes each
 * caller with its own result. Single-statement ops are atomic on their own (SQLite undoes a
 * failed statement, not the transaction); multi-statement ops (a push of several messages,
 * bury, replay) run inside a SAVEPOINT, so one failing op never fails its neighbours. If SQLite
 * aborts the whole transaction (I/O error, disk full) or the commit fails, every op of the
 * batch gets the error and nothing of it is written.
 *
 * When the writer is idle and nothing is queued, a caller commits its own request on the
 * write connection (held under wconn_mu, which the writer also takes per batch): a lone writer
 * then pays no thread hand-off, and as soon as writes overlap they are batched again.
 *
 * Asynchronous writes (store/write.h, sq_submit_async) join the same inbox in a malloc'ed
 * request nobody waits on: the writer runs them in order with the rest and, after the commit,
 * calls their `done` and frees them. Handlers use them so a handler thread never sleeps on a
 * commit (see docs/store.md).
 *
 * On few cores the callers released by one commit may not have run yet when the writer looks
 * for the next batch; it yields briefly (at most 100 us) until as many requests are queued as
 * it just released, so one commit keeps serving them all.
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <stepd/step.h>

#include "store/sqlite_internal.h"

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
    /* a claim that finds more deliveries started than attempts recorded (the process died
     * while a handler ran: crash, kill -9) counts those runs as failed attempts, so an event
     * that crashes the server reaches the dead-letter queue instead of crashing it forever */
    [WS_CLAIM] = "UPDATE queue SET lease_until = ?1, attempt = max(attempt, claims),"
                 " last_error = CASE WHEN claims > attempt THEN '" QUEUE_LOST_RUN "'"
                 " ELSE last_error END, claims = claims + 1"
                 " WHERE seq IN (SELECT seq FROM queue"
                 " INDEXED BY queue_step_due WHERE step = ?2 AND due_ms <= ?3"
                 " AND lease_until <= ?3 ORDER BY due_ms, seq LIMIT ?4) RETURNING " MSG_COLS,
    [WS_ACK] = "DELETE FROM queue WHERE id = ?1",
    [WS_RETRY] = "UPDATE queue SET attempt = attempt + 1, due_ms = ?2, last_error = ?3,"
                 " lease_until = 0 WHERE id = ?1",
    [WS_RELEASE] = "UPDATE queue SET lease_until = 0, claims = max(claims - 1, 0) WHERE id = ?1",
    [WS_BURY_COPY] = "INSERT INTO dead(" COPY_COLS ", failed_ms) SELECT id, event_id, topic,"
                     " step, data, trace_id, attempt + 1, due_ms, created_ms, group_key,"
                     " idem_key, ?2, ?3 FROM queue WHERE id = ?1",
    [WS_REPLAY_ONE] = "INSERT INTO queue(" COPY_COLS ", lease_until) SELECT id, event_id,"
                      " topic, step, data, trace_id, 0, ?2, created_ms, group_key, idem_key,"
                      " last_error, 0 FROM dead WHERE id = ?1 ORDER BY seq",
    [WS_REPLAY_ONE_DEL] = "DELETE FROM dead WHERE id = ?1",
    [WS_REPLAY_ALL] = "INSERT INTO queue(" COPY_COLS ", lease_until) SELECT id, event_id,"
                      " topic, step, data, trace_id, 0, ?2, created_ms, group_key, idem_key,"
                      " last_error, 0 FROM dead ORDER BY seq",
    [WS_REPLAY_ALL_DEL] = "DELETE FROM dead",
};

int sq_prepare_writes(sq_db *db) {
    for (int i = 0; i < WS_COUNT; i++) {
        if (sqlite3_prepare_v3(db->wdb, WSQL[i], -1, SQLITE_PREPARE_PERSISTENT, &db->ws[i], NULL) !=
            SQLITE_OK) {
            sq_set_error("sqlite: preparing \"%s\": %s", WSQL[i], sqlite3_errmsg(db->wdb));
            return STEP_EIO;
        }
    }
    return 0;
}

typedef struct seq_msg {
    int64_t seq;
    queue_msg m;
} seq_msg;

/* Claim order: by due time, then push order. */
static int due_seq_cmp(const void *a, const void *b) {
    const seq_msg *x = a, *y = b;
    if (x->m.due_ms != y->m.due_ms)
        return x->m.due_ms < y->m.due_ms ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int op_push(sq_db *db, wreq *r) {
    sqlite3_stmt *st = db->ws[WS_PUSH];
    int64_t now = queue_now_ms();
    int rc = SQLITE_DONE;
    if (r->n > 1 && sq_run_stmt(db->ws[WS_SP]) != SQLITE_DONE)
        return STEP_EIO;
    for (size_t i = 0; i < r->n && rc == SQLITE_DONE; i++) {
        const queue_msg *m = &r->msgs[i];
        char id[33];
        if (!m->id)
            queue_new_id(id);
        sqlite3_bind_text(st, 1, m->id ? m->id : id, -1, SQLITE_STATIC);
        sq_bind_opt(st, 2, m->event_id);
        sqlite3_bind_text(st, 3, m->topic, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m->step, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, m->data ? m->data : "{}", -1, SQLITE_STATIC);
        sq_bind_opt(st, 6, m->trace_id);
        sqlite3_bind_int(st, 7, m->attempt);
        sqlite3_bind_int64(st, 8, m->due_ms ? m->due_ms : now); /* eligible from now */
        sqlite3_bind_int64(st, 9, m->created_ms ? m->created_ms : now);
        sq_bind_opt(st, 10, m->group_key);
        sq_bind_opt(st, 11, m->idem_key);
        sq_bind_opt(st, 12, m->last_error);
        rc = sq_run_stmt(st);
    }
    if (r->n > 1) {
        if (rc != SQLITE_DONE)
            sq_run_stmt(db->ws[WS_SP_ROLLBACK]);
        sq_run_stmt(db->ws[WS_SP_RELEASE]);
    }
    return sq_map_rc(rc);
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
        if ((rows[cnt].seq = sq_row_to_msg(st, &rows[cnt].m)) < 0)
            err = STEP_ENOMEM;
        else
            cnt++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!err && rc != SQLITE_DONE)
        err = sq_map_rc(rc);
    queue_msg *out = NULL;
    if (!err && cnt && !(out = malloc(cnt * sizeof *out)))
        err = STEP_ENOMEM;
    if (err) {
        /* the leases were written: give them back in the same transaction */
        for (size_t i = 0; i < cnt; i++) {
            if (rc == SQLITE_DONE) {
                sqlite3_bind_text(db->ws[WS_RELEASE], 1, rows[i].m.id, -1, SQLITE_STATIC);
                sq_run_stmt(db->ws[WS_RELEASE]);
            }
            queue_msg_clear(&rows[i].m);
        }
        free(rows);
        return err;
    }
    if (cnt)
        qsort(rows, cnt, sizeof *rows, due_seq_cmp); /* RETURNING order is unspecified */
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
        sq_bind_opt(st, 3, r->error);
    }
    int rc = sq_run_stmt(st);
    if (rc != SQLITE_DONE)
        return sq_map_rc(rc);
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
    if (sq_run_stmt(db->ws[WS_SP]) != SQLITE_DONE)
        return STEP_EIO;
    if (r->id)
        sqlite3_bind_text(copy, 1, r->id, -1, SQLITE_STATIC);
    if (r->op == OP_BURY) {
        sq_bind_opt(copy, 2, r->error);
        sqlite3_bind_int64(copy, 3, queue_now_ms());
    } else {
        sqlite3_bind_int64(copy, 2, queue_now_ms()); /* replayed: due now */
    }
    int rc = sq_run_stmt(copy), err = 0;
    size_t moved = rc == SQLITE_DONE ? (size_t)sqlite3_changes(db->wdb) : 0;
    if (rc != SQLITE_DONE) {
        err = sq_map_rc(rc);
    } else if (moved == 0) {
        err = r->id ? STEP_ENOTFOUND : 0;
    } else {
        if (r->id)
            sqlite3_bind_text(del, 1, r->id, -1, SQLITE_STATIC);
        rc = sq_run_stmt(del);
        err = sq_map_rc(rc);
    }
    if (err)
        sq_run_stmt(db->ws[WS_SP_ROLLBACK]);
    sq_run_stmt(db->ws[WS_SP_RELEASE]);
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
    return sq_map_rc(sq_run_stmt(st));
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

/* An asynchronous write: the same ops, plus the ACK fallback of write.h. */
static int run_async(sq_db *db, wreq *r) {
    store_write *w = r->w;
    store_write_op op = w->op;
    if (op == SW_ACK && w->failed && atomic_load(w->failed))
        op = w->fallback;
    static const enum wop map[] = {[SW_SET] = OP_SET,     [SW_DEL] = OP_DEL,
                                   [SW_CLEAR] = OP_CLEAR, [SW_PUSH] = OP_PUSH,
                                   [SW_ACK] = OP_ACK,     [SW_RETRY] = OP_RETRY,
                                   [SW_BURY] = OP_BURY};
    if (op == SW_MARK)
        return 0;
    wreq t = {.op = map[op], .group = w->group, .key = w->key, .value = w->value ? w->value : "",
              .len = w->len, .msgs = w->msgs, .n = w->n, .id = w->id, .error = w->error,
              .due_ms = w->due_ms};
    int rc = run_op(db, &t);
    /* a delivery that is already gone (a timeout re-queued it) is not the handler's failure */
    if (rc == STEP_ENOTFOUND && (op == SW_ACK || op == SW_RETRY || op == SW_BURY))
        rc = 0;
    store_write_failed(w, rc);
    return rc;
}

static void fail_batch(wreq *batch, int err) {
    for (wreq *r = batch; r; r = r->next) {
        if (r->w)
            store_write_failed(r->w, err);
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
    int rc = sq_run_stmt(db->ws[WS_BEGIN]);
    if (rc != SQLITE_DONE) {
        fail_batch(batch, sq_map_rc(rc));
        return;
    }
    for (wreq *r = batch; r; r = r->next)
        r->rc = r->w ? run_async(db, r) : run_op(db, r);
    if (sqlite3_get_autocommit(db->wdb)) { /* SQLite rolled the transaction back */
        fail_batch(batch, STEP_EIO);
        return;
    }
    rc = sq_run_stmt(db->ws[WS_COMMIT]);
    if (rc != SQLITE_DONE) {
        sq_run_stmt(db->ws[WS_ROLLBACK]);
        fail_batch(batch, sq_map_rc(rc) ? sq_map_rc(rc) : STEP_EIO);
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

/* Tells the caller of r its result (r may vanish as soon as `done` reads DONE), or finishes an
 * asynchronous write. Returns 1 when a caller was waiting. */
static int complete(wreq *r) {
    if (r->w) {
        store_write_finish(r->w, r->rc);
        free(r);
        return 0;
    }
    if (atomic_exchange(&r->done, REQ_DONE) == REQ_SLEEPING)
        futex_wake(&r->done);
    return 1;
}

void *sq_writer_main(void *p) {
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
            pthread_mutex_lock(&db->wconn_mu);
            run_batch(db, batch);
            pthread_mutex_unlock(&db->wconn_mu);
            for (wreq *r = batch; r;) {
                wreq *next = r->next;
                expect += complete(r);
                r = next;
            }
        }
    }
    return NULL;
}

static void inbox_push(sq_db *db, wreq *r) {
    wreq *head = atomic_load(&db->inbox);
    do
        r->next = head;
    while (!atomic_compare_exchange_weak(&db->inbox, &head, r));
    if (atomic_exchange(&db->wstate, 0) == 1)
        futex_wake(&db->wstate);
}

int sq_writer_idle(sq_db *db) {
    return atomic_load(&db->wstate) == 1 && !atomic_load(&db->inbox);
}

int sq_submit(sq_db *db, wreq *r) {
    if (atomic_load(&db->stopping))
        return STEP_ECLOSED;
    /* Nobody else is writing (the writer sleeps on an empty inbox): commit on this thread and
     * spare two context switches. Anyone arriving meanwhile queues for the writer, which waits
     * for the connection. */
    if (atomic_load(&db->wstate) == 1 && !atomic_load(&db->inbox) &&
        pthread_mutex_trylock(&db->wconn_mu) == 0) {
        r->next = NULL;
        run_batch(db, r);
        pthread_mutex_unlock(&db->wconn_mu);
        return r->rc;
    }
    atomic_init(&r->done, REQ_PENDING);
    r->w = NULL;
    inbox_push(db, r);
    int expected = REQ_PENDING;
    if (atomic_compare_exchange_strong(&r->done, &expected, REQ_SLEEPING))
        expected = REQ_SLEEPING;
    while (expected != REQ_DONE) {
        futex_wait(&r->done, REQ_SLEEPING);
        expected = atomic_load(&r->done);
    }
    return r->rc;
}

int sq_submit_async(sq_db *db, store_write *w) {
    if (atomic_load(&db->stopping))
        return STEP_ECLOSED;
    wreq *r = calloc(1, sizeof(*r));
    if (!r)
        return STEP_ENOMEM;
    r->w = w;
    inbox_push(db, r);
    return 0;
}

void sq_writer_stop(sq_db *db) {
    atomic_store(&db->stopping, 1);
    if (atomic_exchange(&db->wstate, 0) == 1)
        futex_wake(&db->wstate);
}
