/*
 * test_store.c — one contract suite for the state and queue adapters, run against every
 * adapter (memory, and SQLite in a fresh mkdtemp directory per test), plus SQLite-only tests:
 * reopen, crash (SIGKILL a writing child, every acknowledged write survives) and a second
 * open of the same file acting as a second process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stepd/step.h>

#include "store/stores.h"
#include "store/write.h"

typedef struct fixture {
    int sqlite;
    char dir[64];
    char path[128];
    state_store *s;
    queue *q;
} fixture;

static int open_fixture(fixture *f) {
    if (!f->sqlite)
        return memory_store_open(&f->s, &f->q);
    sqlite_store_opts o = {.path = f->path};
    return sqlite_store_open(&o, &f->s, &f->q);
}

static int setup_any(void **state, int sqlite) {
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->sqlite = sqlite;
    if (sqlite) {
        strcpy(f->dir, "/tmp/stepd-store-XXXXXX");
        if (!mkdtemp(f->dir))
            return -1;
        snprintf(f->path, sizeof f->path, "%s/stepd.db", f->dir);
    }
    if (open_fixture(f) != 0)
        return -1;
    *state = f;
    return 0;
}

static int setup_memory(void **state) {
    return setup_any(state, 0);
}
static int setup_sqlite(void **state) {
    return setup_any(state, 1);
}

static void close_fixture(fixture *f) {
    state_close(f->s);
    queue_close(f->q);
    f->s = NULL;
    f->q = NULL;
}

static int teardown(void **state) {
    fixture *f = *state;
    close_fixture(f);
    if (f->sqlite) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            return -1;
    }
    free(f);
    return 0;
}

static void set_str(state_store *s, const char *g, const char *k, const char *v) {
    assert_int_equal(s->ops->set(s, g, k, v, strlen(v)), 0);
}

static void assert_value(state_store *s, const char *g, const char *k, const char *want) {
    char *v = NULL;
    assert_int_equal(s->ops->get(s, g, k, &v), 0);
    assert_string_equal(v, want);
    free(v);
}

static queue_msg mk(const char *id, const char *step, const char *data) {
    return (queue_msg){.id = (char *)id,
                       .event_id = "ev",
                       .topic = "t.topic",
                       .step = (char *)step,
                       .data = (char *)data,
                       .trace_id = "tr"};
}

static void push1(queue *q, const char *id, const char *step, const char *data) {
    queue_msg m = mk(id, step, data);
    assert_int_equal(q->ops->push(q, &m, 1), 0);
}

/* ---- state contract ----------------------------------------------------------------------- */

static void test_state_get_set_overwrite_delete(void **state) {
    fixture *f = *state;
    state_store *s = f->s;
    char *v = (char *)1;
    assert_int_equal(s->ops->get(s, "chats", "c1", &v), STEP_ENOTFOUND);
    assert_null(v);
    set_str(s, "chats", "c1", "{\"status\":\"processing\"}");
    assert_value(s, "chats", "c1", "{\"status\":\"processing\"}");
    set_str(s, "chats", "c1", "{\"status\":\"done\"}");
    assert_value(s, "chats", "c1", "{\"status\":\"done\"}");
    /* a value of `len` bytes that is not NUL-terminated */
    assert_int_equal(s->ops->set(s, "chats", "c2", "[1,2,3]garbage", 7), 0);
    assert_value(s, "chats", "c2", "[1,2,3]");
    assert_int_equal(s->ops->del(s, "chats", "c1"), 0);
    assert_int_equal(s->ops->get(s, "chats", "c1", &v), STEP_ENOTFOUND);
    assert_int_equal(s->ops->del(s, "chats", "c1"), 0); /* absent: not an error */
    assert_int_equal(s->ops->del(s, "nogroup", "x"), 0);
    assert_value(s, "chats", "c2", "[1,2,3]");
    assert_int_equal(s->ops->get(s, NULL, "k", &v), STEP_EINVAL);
    assert_int_equal(s->ops->update(s, "chats", "c2", STATE_INCREMENT, "1", NULL, &v),
                     STEP_EUNSUPPORTED);
}

static void test_state_roundtrips_unicode_and_quotes(void **state) {
    fixture *f = *state;
    state_store *s = f->s;
    const char *g = "grüppe \"q\" ' ; DROP TABLE state; --";
    const char *k = "ключ/日本語/\\\"/🙂";
    const char *v = "{\"text\":\"she said \\\"hi\\\" — 你好 🙂 \\u0000 \\n\",\"n\":-1.5e3}";
    set_str(s, g, k, v);
    assert_value(s, g, k, v);
    set_str(s, g, "", "\"\"");
    assert_value(s, g, "", "\"\"");
    state_item *items;
    size_t n;
    assert_int_equal(s->ops->get_group(s, g, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].key, "");
    assert_string_equal(items[1].key, k);
    assert_string_equal(items[1].value, v);
    state_items_free(items, n);
}

static void test_state_get_group_ordering_clear_groups(void **state) {
    fixture *f = *state;
    state_store *s = f->s;
    set_str(s, "users", "charlie", "3");
    set_str(s, "users", "alice", "1");
    set_str(s, "users", "bob", "2");
    set_str(s, "users", "Zed", "0"); /* byte order: uppercase first */
    set_str(s, "chats", "x", "{}");
    set_str(s, "users2", "a", "9"); /* a group whose name extends another */
    set_str(s, "a", "z", "8");

    state_item *items = NULL;
    size_t n = 0;
    assert_int_equal(s->ops->get_group(s, "users", &items, &n), 0);
    assert_int_equal(n, 4);
    const char *keys[] = {"Zed", "alice", "bob", "charlie"};
    const char *vals[] = {"0", "1", "2", "3"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(items[i].key, keys[i]);
        assert_string_equal(items[i].value, vals[i]);
    }
    state_items_free(items, n);

    assert_int_equal(s->ops->get_group(s, "empty", &items, &n), 0);
    assert_int_equal(n, 0);
    state_items_free(items, n);

    char **names;
    assert_int_equal(s->ops->groups(s, &names, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "chats");
    assert_string_equal(names[2], "users");
    assert_string_equal(names[3], "users2");
    state_strings_free(names, n);

    assert_int_equal(s->ops->clear(s, "users"), 0);
    assert_int_equal(s->ops->get_group(s, "users", &items, &n), 0);
    assert_int_equal(n, 0);
    state_items_free(items, n);
    assert_value(s, "users2", "a", "9");
    assert_value(s, "chats", "x", "{}");
    assert_int_equal(s->ops->clear(s, "never"), 0);

    assert_int_equal(s->ops->groups(s, &names, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(names[2], "users2");
    state_strings_free(names, n);
}

/* ---- queue contract ----------------------------------------------------------------------- */

static void test_queue_push_batch_and_claim_order(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    queue_msg batch[5];
    char ids[5][16], data[5][24];
    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof ids[i], "m%d", i);
        snprintf(data[i], sizeof data[i], "{\"i\":%d}", i);
        batch[i] = mk(ids[i], i == 2 ? "other" : "s1", data[i]);
    }
    batch[4].group_key = "gk";
    batch[4].idem_key = "ik";
    assert_int_equal(q->ops->push(q, batch, 5), 0);

    int64_t now = queue_now_ms();
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", now, 30000, 2, &got, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].id, "m0");
    assert_string_equal(got[1].id, "m1");
    assert_string_equal(got[0].data, "{\"i\":0}");
    assert_string_equal(got[0].topic, "t.topic");
    assert_string_equal(got[0].step, "s1");
    assert_string_equal(got[0].event_id, "ev");
    assert_string_equal(got[0].trace_id, "tr");
    assert_int_equal(got[0].attempt, 0);
    assert_true(got[0].created_ms >= now - 60000 && got[0].created_ms <= now + 60000);
    assert_null(got[0].last_error);
    queue_msgs_free(got, n);

    assert_int_equal(q->ops->claim(q, "s1", now, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].id, "m3");
    assert_string_equal(got[1].id, "m4");
    assert_string_equal(got[1].group_key, "gk");
    assert_string_equal(got[1].idem_key, "ik");
    queue_msgs_free(got, n);

    /* everything for s1 is leased now */
    assert_int_equal(q->ops->claim(q, "s1", now, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 0);
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->claim(q, "nobody", now, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 0);
    queue_msgs_free(got, n);

    queue_counts c;
    assert_int_equal(q->ops->counts(q, &c), 0);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.leased, 4);
    assert_int_equal(c.dead, 0);
}

static void test_queue_push_is_atomic_and_generates_ids(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    push1(q, "dup", "s1", "1");
    queue_msg batch[3] = {mk("a1", "s1", "1"), mk("dup", "s1", "2"), mk("a3", "s1", "3")};
    assert_int_equal(q->ops->push(q, batch, 3), STEP_ECONFLICT);
    queue_counts c;
    assert_int_equal(q->ops->counts(q, &c), 0);
    assert_int_equal(c.ready, 1); /* none of the batch went in */

    queue_msg gen[2] = {mk(NULL, "s1", "{\"g\":1}"), mk(NULL, "s1", NULL)};
    assert_int_equal(q->ops->push(q, gen, 2), 0);
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", queue_now_ms(), 30000, 10, &got, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(got[0].id, "dup");
    assert_int_equal(strlen(got[1].id), 32);
    assert_int_equal(strlen(got[2].id), 32);
    assert_string_not_equal(got[1].id, got[2].id);
    assert_string_equal(got[2].data, "{}"); /* NULL data is {} */
    queue_msgs_free(got, n);

    char id1[33], id2[33];
    queue_new_id(id1);
    queue_new_id(id2);
    assert_int_equal(strspn(id1, "0123456789abcdef"), 32);
    assert_string_not_equal(id1, id2);
    assert_int_equal(q->ops->push(q, NULL, 0), 0);
}

static void test_queue_lease_expiry_reclaims(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    push1(q, "m1", "s1", "{}");
    int64_t now = queue_now_ms();
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", now, 1000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->claim(q, "s1", now + 999, 1000, 10, &got, &n), 0);
    assert_int_equal(n, 0);
    queue_msgs_free(got, n);
    /* the lease ran out (the worker died): delivered again, the lost run counted as a failed
     * attempt (so a message that kills its worker cannot do it forever) */
    assert_int_equal(q->ops->claim(q, "s1", now + 1000, 1000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, "m1");
    assert_int_equal(got[0].attempt, 1);
    assert_string_equal(got[0].last_error, QUEUE_LOST_RUN);
    queue_msgs_free(got, n);
}

static void test_queue_ack(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    push1(q, "m1", "s1", "{}");
    push1(q, "m2", "s1", "{}");
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", queue_now_ms(), 30000, 1, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(q->ops->ack(q, got[0].id), 0);
    assert_int_equal(q->ops->ack(q, got[0].id), STEP_ENOTFOUND);
    assert_int_equal(q->ops->ack(q, "never-pushed"), STEP_ENOTFOUND);
    queue_msgs_free(got, n);
    queue_counts c;
    assert_int_equal(q->ops->counts(q, &c), 0);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.leased, 0);
    /* acked is gone even after any lease would have expired */
    assert_int_equal(q->ops->claim(q, "s1", queue_now_ms() + 100000, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, "m2");
    queue_msgs_free(got, n);
}

static void test_queue_retry_due_attempt_error(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    push1(q, "m1", "s1", "{}");
    int64_t now = queue_now_ms();
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", now, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->retry(q, "m1", now + 5000, "boom: \"quoted\" ☃"), 0);
    assert_int_equal(q->ops->retry(q, "missing", now, "x"), STEP_ENOTFOUND);

    int64_t due = 0;
    assert_int_equal(q->ops->next_due(q, "s1", &due), 0);
    assert_int_equal(due, now + 5000);
    assert_int_equal(q->ops->claim(q, "s1", now + 4999, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 0); /* not before due */
    queue_msgs_free(got, n);
    queue_counts c;
    assert_int_equal(q->ops->counts(q, &c), 0);
    assert_int_equal(c.ready, 1); /* delayed counts as ready */

    assert_int_equal(q->ops->claim(q, "s1", now + 5000, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempt, 1);
    assert_string_equal(got[0].last_error, "boom: \"quoted\" ☃");
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->retry(q, "m1", 0, NULL), 0);
    assert_int_equal(q->ops->claim(q, "s1", now, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempt, 2);
    queue_msgs_free(got, n);
}

static void test_queue_bury_list_replay(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    push1(q, "m1", "s1", "{\"a\":1}");
    push1(q, "m2", "s1", "{\"a\":2}");
    push1(q, "m3", "s2", "{\"a\":3}");
    int64_t now = queue_now_ms();
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", now, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 2);
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->retry(q, "m2", now, "first"), 0);
    assert_int_equal(q->ops->bury(q, "m2", "second"), 0);
    assert_int_equal(q->ops->bury(q, "m1", "bad input"), 0);
    assert_int_equal(q->ops->bury(q, "m1", "again"), STEP_ENOTFOUND);
    assert_int_equal(q->ops->bury(q, "m3", "never claimed"), 0);

    queue_counts c;
    assert_int_equal(q->ops->counts(q, &c), 0);
    assert_int_equal(c.ready + c.leased, 0);
    assert_int_equal(c.dead, 3);
    assert_int_equal(q->ops->next_due(q, NULL, &(int64_t){0}), STEP_ENOTFOUND);
    assert_int_equal(q->ops->ack(q, "m1"), STEP_ENOTFOUND); /* dead is not leased */

    assert_int_equal(q->ops->dlq_list(q, &got, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(got[0].id, "m2"); /* in burial order */
    assert_string_equal(got[0].last_error, "second");
    assert_int_equal(got[0].attempt, 2); /* bury counts the final failed attempt */
    assert_string_equal(got[1].id, "m1");
    assert_string_equal(got[1].data, "{\"a\":1}");
    assert_string_equal(got[1].last_error, "bad input");
    assert_string_equal(got[2].id, "m3");
    queue_msgs_free(got, n);

    size_t replayed = 99;
    assert_int_equal(q->ops->dlq_replay(q, "m1", &replayed), 0);
    assert_int_equal(replayed, 1);
    assert_int_equal(q->ops->dlq_replay(q, "m1", &replayed), STEP_ENOTFOUND);
    assert_int_equal(replayed, 0);
    assert_int_equal(q->ops->claim(q, "s1", queue_now_ms(), 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, "m1");
    assert_int_equal(got[0].attempt, 0);
    assert_string_equal(got[0].data, "{\"a\":1}");
    queue_msgs_free(got, n);

    assert_int_equal(q->ops->dlq_replay(q, NULL, &replayed), 0);
    assert_int_equal(replayed, 2);
    assert_int_equal(q->ops->dlq_list(q, &got, &n), 0);
    assert_int_equal(n, 0);
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->counts(q, &c), 0);
    assert_int_equal(c.dead, 0);
    assert_int_equal(c.ready, 2);
    assert_int_equal(c.leased, 1);
    assert_int_equal(q->ops->dlq_replay(q, NULL, &replayed), 0);
    assert_int_equal(replayed, 0);
}

static void test_queue_release_and_next_due(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    int64_t now = queue_now_ms(), due;
    assert_int_equal(q->ops->next_due(q, NULL, &due), STEP_ENOTFOUND);
    queue_msg later = mk("late", "s2", "{}");
    later.due_ms = now + 60000;
    assert_int_equal(q->ops->push(q, &later, 1), 0);
    push1(q, "m1", "s1", "{}");
    assert_int_equal(q->ops->next_due(q, NULL, &due), 0);
    assert_true(due >= now && due <= queue_now_ms()); /* due 0 is stored as the push time */
    assert_int_equal(q->ops->next_due(q, "s2", &due), 0);
    assert_int_equal(due, now + 60000);
    assert_int_equal(q->ops->next_due(q, "s3", &due), STEP_ENOTFOUND);

    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", queue_now_ms(), 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(q->ops->next_due(q, "s1", &due), STEP_ENOTFOUND); /* leased */
    assert_int_equal(q->ops->next_due(q, NULL, &due), 0);
    assert_int_equal(due, now + 60000);
    assert_int_equal(q->ops->release(q, got[0].id), 0);
    assert_int_equal(q->ops->release(q, "missing"), STEP_ENOTFOUND);
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->next_due(q, "s1", &due), 0);
    assert_int_equal(q->ops->claim(q, "s1", queue_now_ms(), 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempt, 0); /* release counts no attempt */
    queue_msgs_free(got, n);
}

/* Claim order is the order messages became due: a retry that is due again goes before what
 * became due after it, and a backlog of delayed retries does not hide fresh work. */
static void test_queue_claim_order_is_due_then_push(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    int64_t t0 = queue_now_ms();
    push1(q, "a", "s1", "{}");
    push1(q, "b", "s1", "{}");
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", queue_now_ms(), 30000, 1, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, "a");
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->retry(q, "a", t0 + 500, "later"), 0);
    queue_msg late[200];
    char ids[200][16];
    for (int i = 0; i < 200; i++) { /* far-future retries queued before the fresh message */
        snprintf(ids[i], sizeof ids[i], "d%03d", i);
        late[i] = mk(ids[i], "s1", "{}");
        late[i].due_ms = t0 + 3600000;
    }
    assert_int_equal(q->ops->push(q, late, 200), 0);
    queue_msg c = mk("c", "s1", "{}");
    c.due_ms = t0 + 600; /* due after a's retry */
    assert_int_equal(q->ops->push(q, &c, 1), 0);
    assert_int_equal(q->ops->claim(q, "s1", t0 + 1000, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(got[0].id, "b");
    assert_string_equal(got[1].id, "a");
    assert_string_equal(got[2].id, "c");
    for (size_t i = 0; i < n; i++)
        assert_int_equal(q->ops->ack(q, got[i].id), 0);
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->claim(q, "s1", t0 + 3600000, 30000, 2, &got, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].id, "d000");
    assert_string_equal(got[1].id, "d001");
    queue_msgs_free(got, n);
}

/* ---- concurrency -------------------------------------------------------------------------- */

#define NTHREADS 8
#define PER_THREAD 200

typedef struct worker_arg {
    fixture *f;
    int t;
    int errors;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    state_store *s = a->f->s;
    queue *q = a->f->q;
    char step[16], key[32], val[64];
    snprintf(step, sizeof step, "step%d", a->t);
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(key, sizeof key, "t%d-k%03d", a->t, i);
        snprintf(val, sizeof val, "{\"t\":%d,\"i\":%d}", a->t, i);
        if (s->ops->set(s, "conc", key, val, strlen(val)) != 0)
            a->errors++;
        queue_msg m = mk(NULL, step, val);
        if (q->ops->push(q, &m, 1) != 0)
            a->errors++;
        if (i % 10 == 9) { /* claim and ack the last ten, in order */
            queue_msg *got;
            size_t n;
            if (q->ops->claim(q, step, queue_now_ms(), 60000, 10, &got, &n) != 0 || n != 10) {
                a->errors++;
                continue;
            }
            for (size_t j = 0; j < n; j++) {
                snprintf(val, sizeof val, "{\"t\":%d,\"i\":%d}", a->t, i - 9 + (int)j);
                if (strcmp(got[j].data, val) != 0 || q->ops->ack(q, got[j].id) != 0)
                    a->errors++;
            }
            queue_msgs_free(got, n);
        }
        if (i % 50 == 0) { /* reads interleaved with writes */
            char *v = NULL;
            snprintf(key, sizeof key, "t%d-k%03d", a->t, i);
            if (s->ops->get(s, "conc", key, &v) != 0)
                a->errors++;
            free(v);
        }
    }
    return NULL;
}

static void test_concurrent_writers(void **state) {
    fixture *f = *state;
    pthread_t th[NTHREADS];
    worker_arg args[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        args[t] = (worker_arg){f, t, 0};
        assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].errors, 0);
    }
    state_item *items;
    size_t n;
    assert_int_equal(f->s->ops->get_group(f->s, "conc", &items, &n), 0);
    assert_int_equal(n, NTHREADS * PER_THREAD);
    for (int t = 0; t < NTHREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            char key[32], val[64];
            snprintf(key, sizeof key, "t%d-k%03d", t, i);
            snprintf(val, sizeof val, "{\"t\":%d,\"i\":%d}", t, i);
            state_item *it = &items[t * PER_THREAD + i];
            assert_string_equal(it->key, key);
            assert_string_equal(it->value, val);
        }
    }
    state_items_free(items, n);
    queue_counts c;
    assert_int_equal(f->q->ops->counts(f->q, &c), 0);
    assert_int_equal(c.ready + c.leased + c.dead, 0);
}

/* ---- SQLite only -------------------------------------------------------------------------- */

static void test_sqlite_reopen_keeps_everything(void **state) {
    fixture *f = *state;
    set_str(f->s, "g", "k", "{\"v\":\"é\"}");
    push1(f->q, "m1", "s1", "{\"x\":1}");
    push1(f->q, "m2", "s1", "{\"x\":2}");
    push1(f->q, "m3", "s1", "{\"x\":3}");
    queue_msg *got;
    size_t n;
    int64_t now = queue_now_ms();
    assert_int_equal(f->q->ops->claim(f->q, "s1", now, 600000, 1, &got, &n), 0);
    assert_int_equal(n, 1);
    queue_msgs_free(got, n);
    assert_int_equal(f->q->ops->bury(f->q, "m2", "dead"), 0);

    /* state and queue close separately; the database closes with the last */
    state_close(f->s);
    f->s = NULL;
    assert_int_equal(f->q->ops->retry(f->q, "m3", now + 1234, "later"), 0);
    queue_close(f->q);
    f->q = NULL;
    assert_int_equal(open_fixture(f), 0);

    assert_value(f->s, "g", "k", "{\"v\":\"é\"}");
    queue_counts c;
    assert_int_equal(f->q->ops->counts(f->q, &c), 0);
    assert_int_equal(c.ready, 2); /* m1's lease was expired on open */
    assert_int_equal(c.leased, 0);
    assert_int_equal(c.dead, 1);
    assert_int_equal(f->q->ops->claim(f->q, "s1", now + 1234, 60000, 10, &got, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].id, "m1");
    assert_string_equal(got[1].id, "m3");
    assert_int_equal(got[1].attempt, 1);
    assert_string_equal(got[1].last_error, "later");
    queue_msgs_free(got, n);
}

static void test_sqlite_second_process_sees_writes(void **state) {
    fixture *f = *state;
    state_store *s2;
    queue *q2;
    sqlite_store_opts o = {.path = f->path};
    assert_int_equal(sqlite_store_open(&o, &s2, &q2), 0);

    push1(f->q, "m1", "s1", "{}");
    set_str(f->s, "g", "k", "1");
    queue_msg *got;
    size_t n;
    int64_t now = queue_now_ms();
    assert_int_equal(q2->ops->claim(q2, "s1", now, 60000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, "m1");
    queue_msgs_free(got, n);
    assert_value(s2, "g", "k", "1");
    /* the first handle cannot claim what the second leased */
    assert_int_equal(f->q->ops->claim(f->q, "s1", now, 60000, 10, &got, &n), 0);
    assert_int_equal(n, 0);
    queue_msgs_free(got, n);
    push1(q2, "m2", "s1", "{}");
    assert_int_equal(q2->ops->ack(q2, "m1"), 0);
    assert_int_equal(f->q->ops->claim(f->q, "s1", queue_now_ms(), 60000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].id, "m2");
    queue_msgs_free(got, n);

    /* a second opener does not expire the first one's live leases */
    state_store *s3;
    queue *q3;
    assert_int_equal(sqlite_store_open(&o, &s3, &q3), 0);
    queue_counts c;
    assert_int_equal(q3->ops->counts(q3, &c), 0);
    assert_int_equal(c.leased, 1);
    state_close(s3);
    queue_close(q3);
    state_close(s2);
    queue_close(q2);
}

/* Two real processes claim from one file at once: every message is leased exactly once. */
static void test_sqlite_two_processes_never_share_a_lease(void **state) {
    fixture *f = *state;
    enum { N = 600 };
    queue_msg batch[N];
    char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "x%04d", i);
        batch[i] = mk(ids[i], "s1", "{}");
    }
    assert_int_equal(f->q->ops->push(f->q, batch, N), 0);
    close_fixture(f);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            close(fds[0]);
            if (open_fixture(f) != 0)
                _exit(2);
            for (;;) {
                queue_msg *got;
                size_t n;
                if (f->q->ops->claim(f->q, "s1", queue_now_ms(), 600000, 7, &got, &n))
                    _exit(3);
                if (n == 0)
                    break;
                for (size_t j = 0; j < n; j++) {
                    char line[48];
                    int len = snprintf(line, sizeof line, "%s\n", got[j].id);
                    if (write(fds[1], line, (size_t)len) != len || f->q->ops->ack(f->q, got[j].id))
                        _exit(4);
                }
                queue_msgs_free(got, n);
            }
            close_fixture(f);
            _exit(0);
        }
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    assert_non_null(in);
    static int seen[N];
    memset(seen, 0, sizeof seen);
    char buf[64];
    int total = 0;
    while (fgets(buf, sizeof buf, in)) {
        int i = atoi(buf + 1);
        assert_true(i >= 0 && i < N);
        seen[i]++;
        total++;
    }
    fclose(in);
    for (int k = 0; k < 2; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    for (int i = 0; i < N; i++)
        if (seen[i] != 1)
            fail_msg("message %d claimed %d times", i, seen[i]);
    assert_int_equal(total, N);
    assert_int_equal(open_fixture(f), 0);
}

static void *crash_writer(void *p) {
    worker_arg *a = p;
    int fd = a->errors; /* the pipe */
    char id[33], line[64], val[64];
    for (int i = 0;; i++) {
        if (a->t % 2) {
            snprintf(val, sizeof val, "{\"i\":%d}", i);
            snprintf(id, sizeof id, "k%d-%d", a->t, i);
            if (a->f->s->ops->set(a->f->s, "crash", id, val, strlen(val)) != 0)
                _exit(3);
            snprintf(line, sizeof line, "S %s\n", id);
        } else {
            queue_new_id(id);
            queue_msg m = mk(id, "s1", "{}");
            if (a->f->q->ops->push(a->f->q, &m, 1) != 0)
                _exit(4);
            if (i % 4 == 0) { /* leave some leases behind */
                queue_msg *got;
                size_t n;
                if (a->f->q->ops->claim(a->f->q, "s1", queue_now_ms(), 600000, 1, &got, &n))
                    _exit(5);
                queue_msgs_free(got, n);
            }
            snprintf(line, sizeof line, "Q %s\n", id);
        }
        if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
            _exit(6);
    }
    return NULL;
}

static void test_sqlite_crash_keeps_acknowledged_writes(void **state) {
    fixture *f = *state;
    close_fixture(f); /* the child owns the database */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (open_fixture(f) != 0)
            _exit(2);
        pthread_t th[4];
        worker_arg args[4];
        for (int t = 0; t < 4; t++) {
            args[t] = (worker_arg){f, t, fds[1]};
            pthread_create(&th[t], NULL, crash_writer, &args[t]);
        }
        pthread_join(th[0], NULL);
        _exit(1);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    assert_non_null(in);
    size_t cap = 1 << 16, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    char buf[128];
    int64_t start = queue_now_ms();
    int killed = 0;
    while (fgets(buf, sizeof buf, in)) {
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = strdup(buf);
        if (!killed && (n >= 3000 || queue_now_ms() - start > 3000)) {
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    fclose(in);
    if (!killed)
        kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(n > 100);

    assert_int_equal(open_fixture(f), 0);
    queue_counts c;
    assert_int_equal(f->q->ops->counts(f->q, &c), 0);
    assert_int_equal(c.leased, 0);
    queue_msg *got;
    size_t nq;
    assert_int_equal(f->q->ops->claim(f->q, "s1", queue_now_ms(), 60000, 1000000, &got, &nq), 0);
    size_t states = 0, msgs = 0;
    for (size_t i = 0; i < n; i++) {
        char kind = lines[i][0], *id = lines[i] + 2;
        id[strcspn(id, "\n")] = '\0';
        if (kind == 'S') {
            char *v = NULL;
            assert_int_equal(f->s->ops->get(f->s, "crash", id, &v), 0);
            free(v);
            states++;
        } else {
            int found = 0;
            for (size_t j = 0; j < nq && !found; j++)
                found = strcmp(got[j].id, id) == 0;
            if (!found)
                fail_msg("acknowledged push %s lost after SIGKILL", id);
            msgs++;
        }
        free(lines[i]);
    }
    free(lines);
    queue_msgs_free(got, nq);
    print_message("crash: %zu acknowledged sets and %zu pushes all present\n", states, msgs);
    assert_true(states > 0 && msgs > 0);
}


static void test_queue_lost_runs_count_as_attempts(void **state) {
    fixture *f = *state;
    queue *q = f->q;
    push1(q, "m1", "s1", "{}");
    int64_t t = queue_now_ms();
    queue_msg *got;
    size_t n;
    assert_int_equal(q->ops->claim(q, "s1", t, 1000, 1, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempt, 0);
    queue_msgs_free(got, n);
    /* the process died during that run: the lease expires, the next claim counts it */
    for (int lost = 1; lost <= 2; lost++) {
        t += 2000;
        assert_int_equal(q->ops->claim(q, "s1", t, 1000, 1, &got, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(got[0].attempt, lost);
        assert_string_equal(got[0].last_error, QUEUE_LOST_RUN);
        queue_msgs_free(got, n);
    }
    /* a recorded failure is one attempt, not two; a release is none */
    assert_int_equal(q->ops->retry(q, "m1", t, "boom"), 0);
    assert_int_equal(q->ops->claim(q, "s1", t, 1000, 1, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempt, 3);
    assert_string_equal(got[0].last_error, "boom");
    queue_msgs_free(got, n);
    assert_int_equal(q->ops->release(q, "m1"), 0);
    assert_int_equal(q->ops->claim(q, "s1", t, 1000, 1, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempt, 3);
    assert_string_equal(got[0].last_error, "boom");
    queue_msgs_free(got, n);
}

/* ---- asynchronous writes (store/write.h) ----------------------------------------------------- */

typedef struct waitmark {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int order[16], n; /* the order in which `done` callbacks ran */
} waitmark;

static void note_done(store_write *w, int rc) {
    (void)rc;
    waitmark *m = w->arg;
    pthread_mutex_lock(&m->mu);
    if (m->n < 16)
        m->order[m->n++] = (int)(intptr_t)w->arg2;
    if (w->op == SW_MARK)
        m->done = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Submits w the way the runtime does: asynchronously when the adapter can, else at once. */
static int submit(fixture *f, store_write *w, atomic_int *failed, waitmark *m, int tag) {
    w->failed = failed;
    w->done = note_done;
    w->arg = m;
    w->arg2 = (void *)(intptr_t)tag;
    if (f->q->ops->write_async) {
        int rc = f->q->ops->write_async(f->q, w);
        if (rc)
            store_write_finish(w, rc);
        return rc;
    }
    return store_write_apply(f->s, f->q, w);
}

static void drain(fixture *f, waitmark *m) {
    m->done = 0;
    assert_int_equal(submit(f, store_write_mark(), NULL, m, 99), 0);
    pthread_mutex_lock(&m->mu);
    while (!m->done)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
}

static void test_async_writes_order_and_ack_fallback(void **state) {
    fixture *f = *state;
    waitmark m = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    atomic_int failed = 0;
    /* a run's writes land in order; callbacks run in order, after the writes */
    submit(f, store_write_state(SW_SET, "g", "k", "1", 1), &failed, &m, 1);
    submit(f, store_write_state(SW_DEL, "g", "k", NULL, 0), &failed, &m, 2);
    submit(f, store_write_state(SW_SET, "g", "k", "{\"v\":3}", 7), &failed, &m, 3);
    submit(f, store_write_state(SW_SET, "g", "other", "4", 1), &failed, &m, 4);
    submit(f, store_write_state(SW_CLEAR, "h", NULL, NULL, 0), &failed, &m, 5);
    queue_msg msg = mk("m1", "s1", "{\"x\":1}");
    submit(f, store_write_push(&msg, 1), &failed, &m, 6);
    drain(f, &m);
    assert_int_equal(m.n, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(m.order[i], i < 6 ? i + 1 : 99);
    assert_int_equal(atomic_load(&failed), 0);
    assert_value(f->s, "g", "k", "{\"v\":3}");
    assert_value(f->s, "g", "other", "4");

    queue_msg *got;
    size_t n;
    assert_int_equal(f->q->ops->claim(f->q, "s1", queue_now_ms(), 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].data, "{\"x\":1}");
    queue_msgs_free(got, n);

    /* a write of the run fails (a duplicate message id): its ack becomes the fallback retry */
    submit(f, store_write_push(&msg, 1), &failed, &m, 7);
    submit(f, store_write_end(SW_ACK, "m1", SW_RETRY, queue_now_ms() + 60000, "a write failed"),
           &failed, &m, 8);
    drain(f, &m);
    assert_int_not_equal(atomic_load(&failed), 0);
    queue_counts c;
    assert_int_equal(f->q->ops->counts(f->q, &c), 0);
    assert_int_equal(c.ready, 1); /* retried: ready again, due in a minute */
    assert_int_equal(c.leased, 0);
    assert_int_equal(f->q->ops->claim(f->q, "s1", queue_now_ms(), 30000, 10, &got, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(
        f->q->ops->claim(f->q, "s1", queue_now_ms() + 120000, 30000, 10, &got, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempt, 1);
    assert_string_equal(got[0].last_error, "a write failed");
    queue_msgs_free(got, n);

    /* the next attempt's writes all land: the ack acknowledges */
    atomic_int ok = 0;
    submit(f, store_write_state(SW_SET, "g", "k", "5", 1), &ok, &m, 9);
    submit(f, store_write_end(SW_ACK, "m1", SW_BURY, 0, "unused"), &ok, &m, 10);
    drain(f, &m);
    assert_int_equal(atomic_load(&ok), 0);
    assert_int_equal(f->q->ops->counts(f->q, &c), 0);
    assert_int_equal(c.ready + c.leased + c.dead, 0);
    assert_value(f->s, "g", "k", "5");
}

#define CONTRACT(setup)                                                                            \
    cmocka_unit_test_setup_teardown(test_state_get_set_overwrite_delete, setup, teardown),         \
        cmocka_unit_test_setup_teardown(test_state_roundtrips_unicode_and_quotes, setup,           \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(test_state_get_group_ordering_clear_groups, setup,         \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(test_queue_push_batch_and_claim_order, setup, teardown),   \
        cmocka_unit_test_setup_teardown(test_queue_push_is_atomic_and_generates_ids, setup,        \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(test_queue_lease_expiry_reclaims, setup, teardown),        \
        cmocka_unit_test_setup_teardown(test_queue_ack, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(test_queue_retry_due_attempt_error, setup, teardown),      \
        cmocka_unit_test_setup_teardown(test_queue_bury_list_replay, setup, teardown),             \
        cmocka_unit_test_setup_teardown(test_queue_release_and_next_due, setup, teardown),         \
        cmocka_unit_test_setup_teardown(test_queue_claim_order_is_due_then_push, setup, teardown), \
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(test_queue_lost_runs_count_as_attempts, setup, teardown),  \
        cmocka_unit_test_setup_teardown(test_async_writes_order_and_ack_fallback, setup, teardown)

int main(void) {
    const struct CMUnitTest memory[] = {CONTRACT(setup_memory)};
    const struct CMUnitTest sqlite[] = {
        CONTRACT(setup_sqlite),
        cmocka_unit_test_setup_teardown(test_sqlite_reopen_keeps_everything, setup_sqlite,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_second_process_sees_writes, setup_sqlite,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_two_processes_never_share_a_lease, setup_sqlite,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_crash_keeps_acknowledged_writes, setup_sqlite,
                                        teardown),
    };
    int failed = cmocka_run_group_tests_name("memory", memory, NULL, NULL);
    failed += cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
    return failed ? 1 : 0;
}
