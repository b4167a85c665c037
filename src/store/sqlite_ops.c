/*
 * sqlite_ops.c — the SQLite adapter's state_ops and queue_ops: what each contract function
 * means in SQL. Reads run here on a pooled read connection (they never wait for the writer and
 * see every committed write); writes are packed into a request for the writer thread
 * (sqlite_writer.c) and return when their transaction has committed.
 */
#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

#include "store/sqlite_internal.h"

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

sqlite3_stmt *sq_rstmt(rconn *c, int which) {
    if (!c->st[which] && sqlite3_prepare_v3(c->db, RSQL[which], -1, SQLITE_PREPARE_PERSISTENT,
                                            &c->st[which], NULL) != SQLITE_OK) {
        sq_set_error("sqlite: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->st[which];
}

void sq_rdone(sqlite3_stmt *st) {
    sqlite3_reset(st); /* ends the read transaction: the next read sees newer commits */
    sqlite3_clear_bindings(st);
}

/* ---- state -------------------------------------------------------------------------------- */

static int sq_get(state_store *s, const char *group, const char *key, char **value_out) {
    if (!group || !key || !value_out)
        return STEP_EINVAL;
    *value_out = NULL;
    sq_db *db = DB_OF_STATE(s);
    rconn *c = sq_rconn_get(db);
    sqlite3_stmt *st = c ? sq_rstmt(c, RS_GET) : NULL;
    if (!st) {
        if (c)
            sq_rconn_put(db, c);
        return STEP_EIO;
    }
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), err, ok = 1;
    if (rc == SQLITE_ROW) {
        *value_out = sq_col_dup(st, 0, &ok);
        err = ok && *value_out ? 0 : STEP_ENOMEM;
    } else {
        err = rc == SQLITE_DONE ? STEP_ENOTFOUND : sq_map_rc(rc);
    }
    sq_rdone(st);
    sq_rconn_put(db, c);
    return err;
}

static int sq_set(state_store *s, const char *group, const char *key, const char *value,
                  size_t len) {
    if (!group || !key || (!value && len) || len > INT32_MAX)
        return STEP_EINVAL;
    wreq r = {.op = OP_SET, .group = group, .key = key, .value = value ? value : "", .len = len};
    return sq_submit(DB_OF_STATE(s), &r);
}

static int sq_del(state_store *s, const char *group, const char *key) {
    if (!group || !key)
        return STEP_EINVAL;
    wreq r = {.op = OP_DEL, .group = group, .key = key};
    return sq_submit(DB_OF_STATE(s), &r);
}

static int sq_clear(state_store *s, const char *group) {
    if (!group)
        return STEP_EINVAL;
    wreq r = {.op = OP_CLEAR, .group = group};
    return sq_submit(DB_OF_STATE(s), &r);
}

/* Runs a read statement and collects up to two text columns per row into a growing array of
 * `width`-pointer records. Used by get_group (key, value) and groups (name). */
static int read_rows(sq_db *db, int which, const char *arg, int width, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    rconn *c = sq_rconn_get(db);
    sqlite3_stmt *st = c ? sq_rstmt(c, which) : NULL;
    if (!st) {
        if (c)
            sq_rconn_put(db, c);
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
            rows[cnt * width + i] = sq_col_dup(st, i, &ok);
        cnt++;
        if (!ok)
            err = STEP_ENOMEM;
    }
    if (!err && rc != SQLITE_DONE)
        err = sq_map_rc(rc);
    sq_rdone(st);
    sq_rconn_put(db, c);
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

static void sq_state_close(state_store *s) {
    if (s)
        sq_db_unref(DB_OF_STATE(s));
}

const state_ops sq_state_ops = {
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

static int sq_push(queue *q, const queue_msg *msgs, size_t n) {
    if (n && !msgs)
        return STEP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].topic || !msgs[i].step)
            return STEP_EINVAL;
    if (n == 0)
        return 0;
    wreq r = {.op = OP_PUSH, .msgs = msgs, .n = n};
    return sq_submit(DB_OF_QUEUE(q), &r);
}

/* 0 when no message of `step` is ready at now_ms; 1 when one is, or on any doubt. */
static int claimable(sq_db *db, const char *step, int64_t now_ms) {
    rconn *c = sq_rconn_get(db);
    sqlite3_stmt *st = c ? sq_rstmt(c, RS_CLAIMABLE) : NULL;
    int rc = SQLITE_ROW;
    if (st) {
        sqlite3_bind_text(st, 1, step, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_ms);
        rc = sqlite3_step(st);
        sq_rdone(st);
    }
    if (c)
        sq_rconn_put(db, c);
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
    /* Dispatchers poll: while the writer is busy, answer "nothing to claim" from a read
     * connection instead of queueing behind it. Only a claim that can succeed goes to the
     * writer (which re-checks). An idle writer means this thread commits directly, which is
     * cheaper than the read (a read connection re-reads its pages after every commit). */
    if (!sq_writer_idle(DB_OF_QUEUE(q)) && !claimable(DB_OF_QUEUE(q), step, now_ms))
        return 0;
    wreq r = {.op = OP_CLAIM, .step = step, .now_ms = now_ms, .lease_ms = lease_ms, .n = max};
    int err = sq_submit(DB_OF_QUEUE(q), &r);
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
    return sq_submit(DB_OF_QUEUE(q), &r);
}

static int sq_ack(queue *q, const char *id) {
    return by_id(q, OP_ACK, id, 0, NULL);
}
static int sq_retry(queue *q, const char *id, int64_t due_ms, const char *error) {
    return by_id(q, OP_RETRY, id, due_ms, error);
}
static int sq_bury(queue *q, const char *id, const char *error) {
    return by_id(q, OP_BURY, id, 0, error);
}
static int sq_release(queue *q, const char *id) {
    return by_id(q, OP_RELEASE, id, 0, NULL);
}

static int sq_dlq_replay(queue *q, const char *id, size_t *replayed) {
    wreq r = {.op = OP_REPLAY, .id = id};
    int err = sq_submit(DB_OF_QUEUE(q), &r);
    if (replayed)
        *replayed = err ? 0 : r.n;
    return err;
}

static int sq_next_due(queue *q, const char *step, int64_t *due_ms) {
    if (!due_ms)
        return STEP_EINVAL;
    sq_db *db = DB_OF_QUEUE(q);
    rconn *c = sq_rconn_get(db);
    sqlite3_stmt *st = c ? sq_rstmt(c, step ? RS_DUE_STEP : RS_DUE_ANY) : NULL;
    if (!st) {
        if (c)
            sq_rconn_put(db, c);
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
        err = rc == SQLITE_DONE ? STEP_ENOTFOUND : sq_map_rc(rc);
    }
    sq_rdone(st);
    sq_rconn_put(db, c);
    return err;
}

static int sq_dlq_list(queue *q, queue_msg **out, size_t *n) {
    if (!out || !n)
        return STEP_EINVAL;
    *out = NULL;
    *n = 0;
    sq_db *db = DB_OF_QUEUE(q);
    rconn *c = sq_rconn_get(db);
    sqlite3_stmt *st = c ? sq_rstmt(c, RS_DLQ) : NULL;
    if (!st) {
        if (c)
            sq_rconn_put(db, c);
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
        if (sq_row_to_msg(st, &rows[cnt]) < 0) {
            err = STEP_ENOMEM;
            break;
        }
        cnt++;
    }
    if (!err && rc != SQLITE_DONE)
        err = sq_map_rc(rc);
    sq_rdone(st);
    sq_rconn_put(db, c);
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
    rconn *c = sq_rconn_get(db);
    sqlite3_stmt *st = c ? sq_rstmt(c, RS_COUNTS) : NULL;
    if (!st) {
        if (c)
            sq_rconn_put(db, c);
        return STEP_EIO;
    }
    sqlite3_bind_int64(st, 1, queue_now_ms());
    int rc = sqlite3_step(st), err = 0;
    if (rc == SQLITE_ROW) {
        out->ready = (size_t)sqlite3_column_int64(st, 0);
        out->leased = (size_t)sqlite3_column_int64(st, 1);
        out->dead = (size_t)sqlite3_column_int64(st, 2);
    } else {
        err = sq_map_rc(rc) ? sq_map_rc(rc) : STEP_EIO;
    }
    sq_rdone(st);
    sq_rconn_put(db, c);
    return err;
}

static void sq_queue_close(queue *q) {
    if (q)
        sq_db_unref(DB_OF_QUEUE(q));
}

static int sq_write_async(queue *q, store_write *w) {
    return sq_submit_async(DB_OF_QUEUE(q), w);
}

const queue_ops sq_queue_ops = {
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
    .write_async = sq_write_async,
    .close = sq_queue_close,
};
