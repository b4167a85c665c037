/*
 * store_bench.c — throughput of the SQLite state/queue adapter (group commit) against the
 * same work on plain SQLite with one transaction per write (the peer), measured in one run.
 *
 *   store_bench DIR SECONDS      prints one tab-separated line per case:
 *   workload  threads  durability  stepd_ops_s  peer_ops_s
 *
 * Workloads: "state.set" (one state write per op, distinct keys, ~100-byte JSON values),
 * "state.set async" (the same write as a handler makes it: queued without waiting, the op
 * done when its commit is reported; up to 256 in flight per thread) and "push+claim+ack" (one
 * message pushed, claimed and acked per op: three durable writes).
 * The peer shares one connection between the threads behind a mutex (SQLite has one writer
 * anyway; separate connections would only add busy-wait sleeps) with the same pragmas (WAL,
 * synchronous NORMAL or FULL), the same tables and statements, and autocommit per statement.
 */
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/stores.h"
#include "store/write.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct run {
    int workload; /* 0 state.set, 1 push+claim+ack, 2 state.set async */
    int peer;
    double deadline;
    state_store *s;
    queue *q;
    sqlite3 *pdb;
    pthread_mutex_t *pmu;
    sqlite3_stmt *pst[4];
    atomic_long ops;
    atomic_int errors;
} run;

typedef struct async_count {
    atomic_long done;
    atomic_int errors;
} async_count;

static void async_done(store_write *w, int rc) {
    async_count *c = w->arg;
    if (rc)
        atomic_fetch_add(&c->errors, 1);
    atomic_fetch_add(&c->done, 1);
}

typedef struct targ {
    run *r;
    int t;
} targ;

static const char VALUE[] =
    "{\"userId\":\"u-123456\",\"message\":\"hello there, how are you today?\","
    "\"status\":\"processing\",\"n\":42}";

static int peer_exec(run *r, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
    (void)r;
}

static void *thread_main(void *p) {
    targ *a = p;
    run *r = a->r;
    char key[48], step[16], id[33];
    snprintf(step, sizeof step, "step%d", a->t);
    long n = 0;
    async_count ac = {0};
    while (now_s() < r->deadline) {
        for (int burst = 0; burst < 16; burst++, n++) {
            int err = 0;
            if (r->workload == 2 && !r->peer) {
                snprintf(key, sizeof key, "t%d-%ld", a->t, n);
                store_write *w = store_write_state(SW_SET, "bench", key, VALUE, sizeof VALUE - 1);
                w->done = async_done;
                w->arg = &ac;
                err = r->q->ops->write_async(r->q, w);
                while (!err && n - atomic_load(&ac.done) > 256)
                    sched_yield();
            } else if (r->workload != 1) {
                snprintf(key, sizeof key, "t%d-%ld", a->t, n);
                if (!r->peer) {
                    err = r->s->ops->set(r->s, "bench", key, VALUE, sizeof VALUE - 1);
                } else {
                    pthread_mutex_lock(r->pmu);
                    sqlite3_stmt *st = r->pst[0];
                    sqlite3_bind_text(st, 1, "bench", -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 3, VALUE, sizeof VALUE - 1, SQLITE_STATIC);
                    sqlite3_bind_int64(st, 4, queue_now_ms());
                    err = peer_exec(r, st);
                    pthread_mutex_unlock(r->pmu);
                }
            } else {
                queue_new_id(id);
                if (!r->peer) {
                    queue_msg m = {.id = id,
                                   .event_id = id,
                                   .topic = "bench.topic",
                                   .step = step,
                                   .data = (char *)VALUE,
                                   .trace_id = id};
                    queue_msg *got = NULL;
                    size_t cnt = 0;
                    err = r->q->ops->push(r->q, &m, 1);
                    if (!err)
                        err = r->q->ops->claim(r->q, step, queue_now_ms(), 30000, 1, &got, &cnt);
                    if (!err && cnt == 1)
                        err = r->q->ops->ack(r->q, got[0].id);
                    else if (!err)
                        err = -1;
                    queue_msgs_free(got, cnt);
                } else {
                    int64_t now = queue_now_ms();
                    pthread_mutex_lock(r->pmu);
                    sqlite3_stmt *st = r->pst[1];
                    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 3, VALUE, -1, SQLITE_STATIC);
                    sqlite3_bind_int64(st, 4, now);
                    err = peer_exec(r, st);
                    pthread_mutex_unlock(r->pmu);
                    char got[33] = "";
                    pthread_mutex_lock(r->pmu);
                    st = r->pst[2];
                    sqlite3_bind_int64(st, 1, now + 30000);
                    sqlite3_bind_text(st, 2, step, -1, SQLITE_STATIC);
                    sqlite3_bind_int64(st, 3, now);
                    if (sqlite3_step(st) == SQLITE_ROW)
                        snprintf(got, sizeof got, "%s", (const char *)sqlite3_column_text(st, 1));
                    while (sqlite3_step(st) == SQLITE_ROW)
                        ;
                    sqlite3_reset(st);
                    pthread_mutex_unlock(r->pmu);
                    pthread_mutex_lock(r->pmu);
                    st = r->pst[3];
                    sqlite3_bind_text(st, 1, got, -1, SQLITE_STATIC);
                    err |= peer_exec(r, st) || !got[0];
                    pthread_mutex_unlock(r->pmu);
                }
            }
            if (err)
                atomic_fetch_add(&r->errors, 1);
        }
    }
    if (r->workload == 2 && !r->peer) {
        while (atomic_load(&ac.done) < n) /* every write committed */
            sched_yield();
        atomic_fetch_add(&r->errors, atomic_load(&ac.errors));
    }
    atomic_fetch_add(&r->ops, n);
    return NULL;
}

static int open_peer(run *r, const char *path, int fsync_on) {
    if (sqlite3_open_v2(path, &r->pdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL))
        return -1;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
             "CREATE TABLE IF NOT EXISTS state(grp TEXT NOT NULL, key TEXT NOT NULL,"
             " value TEXT NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY(grp, key))"
             " WITHOUT ROWID;"
             "CREATE TABLE IF NOT EXISTS queue(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
             " step TEXT NOT NULL, data TEXT NOT NULL, due_ms INTEGER NOT NULL,"
             " created_ms INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0);"
             "CREATE INDEX IF NOT EXISTS queue_step_seq ON queue(step, seq);",
             fsync_on ? "FULL" : "NORMAL");
    if (sqlite3_exec(r->pdb, sql, NULL, NULL, NULL))
        return -1;
    const char *stmts[4] = {
        "INSERT INTO state(grp, key, value, updated_ms) VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(grp, key) DO UPDATE SET value = excluded.value,"
        " updated_ms = excluded.updated_ms",
        "INSERT INTO queue(id, step, data, due_ms, created_ms) VALUES(?1, ?2, ?3, 0, ?4)",
        "UPDATE queue SET lease_until = ?1 WHERE seq IN (SELECT seq FROM queue WHERE step = ?2"
        " AND due_ms <= ?3 AND lease_until <= ?3 ORDER BY seq LIMIT 1) RETURNING seq, id, data",
        "DELETE FROM queue WHERE id = ?1",
    };
    for (int i = 0; i < 4; i++)
        if (sqlite3_prepare_v2(r->pdb, stmts[i], -1, &r->pst[i], NULL))
            return -1;
    return 0;
}

static double one_case(const char *dir, int workload, int threads, int fsync_on, int peer,
                       double seconds) {
    static int seq;
    char path[512];
    snprintf(path, sizeof path, "%s/case%d.db", dir, seq++);
    run r = {.workload = workload, .peer = peer};
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    r.pmu = &mu;
    if (peer) {
        if (open_peer(&r, path, fsync_on)) {
            fprintf(stderr, "peer open failed: %s\n", sqlite3_errmsg(r.pdb));
            return -1;
        }
    } else {
        sqlite_store_opts o = {.path = path, .fsync = fsync_on};
        if (sqlite_store_open(&o, &r.s, &r.q)) {
            fprintf(stderr, "open failed: %s\n", sqlite_store_last_error());
            return -1;
        }
    }
    pthread_t th[64];
    targ args[64];
    double start = now_s();
    r.deadline = start + seconds;
    for (int t = 0; t < threads; t++) {
        args[t] = (targ){&r, t};
        pthread_create(&th[t], NULL, thread_main, &args[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    double took = now_s() - start;
    if (peer) {
        for (int i = 0; i < 4; i++)
            sqlite3_finalize(r.pst[i]);
        sqlite3_close(r.pdb);
    } else {
        state_close(r.s);
        queue_close(r.q);
    }
    const char *sfx[] = {"", "-wal", "-shm", "-stepd.lock"};
    for (int i = 0; i < 4; i++) {
        char f[600];
        snprintf(f, sizeof f, "%s%s", path, sfx[i]);
        unlink(f);
    }
    if (atomic_load(&r.errors)) {
        fprintf(stderr, "%d errors in case %s\n", atomic_load(&r.errors), path);
        return -1;
    }
    return (double)atomic_load(&r.ops) / took;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: store_bench DIR SECONDS\n");
        return 2;
    }
    const char *dir = argv[1];
    double secs = atof(argv[2]);
    if (secs <= 0)
        secs = 1;
    const char *wl[3] = {"state.set", "push+claim+ack", "state.set async"};
    int thread_counts[2] = {1, 8};
    for (int w = 0; w < 3; w++)
        for (int f = 0; f < 2; f++)
            for (int ti = 0; ti < 2; ti++) {
                int t = thread_counts[ti];
                double mine = one_case(dir, w, t, f, 0, secs);
                double peer = one_case(dir, w, t, f, 1, secs);
                printf("%s\t%d\t%s\t%.0f\t%.0f\n", wl[w], t, f ? "fsync" : "normal", mine, peer);
                fflush(stdout);
                if (mine < 0 || peer < 0)
                    return 1;
            }
    return 0;
}
