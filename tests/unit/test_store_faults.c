/*
 * test_store_faults.c — the SQLite adapter under injected allocation failures.
 *
 * SQLite's allocator is wrapped (SQLITE_CONFIG_MALLOC, before anything opens a database) so
 * that the Nth allocation from now fails, once. For N = 1, 2, ... a fixed sequence of state
 * and queue operations runs with the failure armed; each op may fail (with a STEP_E* code),
 * none may crash or leak, and afterwards — failures off — the store must say exactly what the
 * return codes said: a write that returned 0 is there, a write that failed is not. The loop
 * ends when N is past the last allocation of the sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stepd/step.h>

#include "store/stores.h"

static sqlite3_mem_methods real_mem;
static atomic_int countdown; /* 0: off; the allocation that takes it to 0 fails */
static atomic_int failed;

static int should_fail(void) {
    int c = atomic_load(&countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&countdown, &c, c - 1)) {
            if (c == 1) {
                atomic_fetch_add(&failed, 1);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

static void *fi_malloc(int n) {
    return should_fail() ? NULL : real_mem.xMalloc(n);
}
static void *fi_realloc(void *p, int n) {
    return should_fail() ? NULL : real_mem.xRealloc(p, n);
}

static void set_str(state_store *s, const char *g, const char *k, const char *v, int *rc) {
    *rc = s->ops->set(s, g, k, v, strlen(v));
}

static void test_allocation_failures_leave_a_consistent_store(void **unused) {
    (void)unused;
    char dir[] = "/tmp/stepd-faults-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/stepd.db", dir);
    state_store *s;
    queue *q;
    sqlite_store_opts o = {.path = path};
    assert_int_equal(sqlite_store_open(&o, &s, &q), 0);

    int rounds = 0, triggered = 0;
    for (int n = 1; n < 5000; n++) {
        char key[32], step[32], id[32];
        snprintf(key, sizeof key, "k%d", n);
        snprintf(step, sizeof step, "s%d", n);
        snprintf(id, sizeof id, "m%d", n);
        atomic_store(&failed, 0);
        atomic_store(&countdown, n);

        int rc_set, rc_push, rc_claim, rc_ack = -99, rc_bury = -99, rc_open;
        set_str(s, "g", key, "{\"v\":1}", &rc_set);
        char *v = NULL;
        int rc_get = s->ops->get(s, "g", key, &v);
        free(v);
        queue_msg m = {.id = id, .topic = "t", .step = step, .data = "{}"};
        rc_push = q->ops->push(q, &m, 1);
        queue_msg *got = NULL;
        size_t cnt = 0;
        rc_claim = q->ops->claim(q, step, queue_now_ms(), 60000, 5, &got, &cnt);
        if (rc_claim == 0 && cnt == 1)
            rc_ack = (n % 2) ? q->ops->ack(q, id) : (rc_bury = q->ops->bury(q, id, "x"));
        queue_msgs_free(got, cnt);
        state_item *items = NULL;
        size_t ni = 0;
        if (s->ops->get_group(s, "g", &items, &ni) == 0)
            state_items_free(items, ni);
        queue_counts c;
        (void)q->ops->counts(q, &c);
        /* a second opener while failures are armed: succeeds or fails cleanly */
        state_store *s2 = NULL;
        rc_open = sqlite_store_open(&o, &s2, NULL);
        if (rc_open == 0)
            state_close(s2);

        int fired = atomic_load(&failed) > 0;
        atomic_store(&countdown, 0);
        rounds++;
        triggered += fired;
        if (!fired)
            break; /* n is past the last allocation of the sequence */

        /* what the return codes promised */
        v = NULL;
        int now_get = s->ops->get(s, "g", key, &v);
        if (rc_set == 0) {
            assert_int_equal(now_get, 0);
            assert_string_equal(v, "{\"v\":1}");
        } else {
            assert_true(rc_set < 0);
            assert_int_equal(now_get, STEP_ENOTFOUND);
        }
        free(v);
        if (rc_get != 0 && rc_get != STEP_ENOTFOUND)
            assert_true(rc_get < 0);
        queue_counts before;
        assert_int_equal(q->ops->counts(q, &before), 0);
        got = NULL;
        cnt = 0;
        assert_int_equal(q->ops->claim(q, step, queue_now_ms() + 120000, 60000, 5, &got, &cnt), 0);
        if (rc_push != 0) {
            assert_int_equal(cnt, 0); /* never stored */
        } else if (rc_ack == 0) {
            assert_int_equal(cnt, 0); /* acked or buried: gone from the queue */
        } else {
            assert_int_equal(cnt, 1); /* still there, whatever else failed */
            assert_int_equal(q->ops->ack(q, id), 0);
        }
        queue_msgs_free(got, cnt);
        if (rc_bury == 0)
            assert_int_equal(q->ops->dlq_replay(q, id, NULL), 0);
    }
    print_message("fault injection: %d rounds, %d with a failed allocation\n", rounds, triggered);
    assert_true(triggered > 20);
    state_close(s);
    queue_close(q);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    sqlite3_mem_methods mem;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) != SQLITE_OK)
        return 1;
    mem = real_mem;
    mem.xMalloc = fi_malloc;
    mem.xRealloc = fi_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mem) != SQLITE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocation_failures_leave_a_consistent_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
