/* test_pool.c — every submitted job runs exactly once, concurrently, and pool_free drains;
 * jobs that block (sleep) do not hold up the queue even though busy workers take the next job
 * themselves: all the pool's threads end up running blocked jobs side by side. */
#include "support/test.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <stepd/step.h>

#include "core/pool.h"

static atomic_int ran;
static atomic_int concurrent, peak;

static void job(void *arg) {
    (void)arg;
    int now = atomic_fetch_add(&concurrent, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    usleep(2000);
    atomic_fetch_sub(&concurrent, 1);
    atomic_fetch_add(&ran, 1);
}

static void test_runs_all_jobs_in_parallel(void **state) {
    (void)state;
    pool *p = pool_new(4, "test-pool", 0);
    assert_non_null(p);
    assert_int_equal(pool_threads(p), 4);
    for (int i = 0; i < 200; i++)
        assert_int_equal(pool_submit(p, job, NULL), 0);
    pool_free(p); /* drains the queue */
    assert_int_equal(atomic_load(&ran), 200);
    assert_true(atomic_load(&peak) > 1);
    assert_true(atomic_load(&peak) <= 4);
}

static atomic_int sleepers;

static void blocking_job(void *arg) {
    (void)arg;
    atomic_fetch_add(&sleepers, 1);
    usleep(200000); /* a model call, a slow disk: no CPU used */
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_blocked_workers_do_not_hold_up_the_queue(void **state) {
    (void)state;
    pool *p = pool_new(8, "test-block", 1);
    assert_non_null(p);
    double t0 = now_s();
    for (int i = 0; i < 8; i++)
        assert_int_equal(pool_submit(p, blocking_job, NULL), 0);
    usleep(100000);
    /* all eight are sleeping at once, whatever the number of cores */
    assert_int_equal(atomic_load(&sleepers), 8);
    pool_free(p);
    double took = now_s() - t0;
    print_message("8 blocking jobs of 200 ms on 8 threads: %.0f ms\n", took * 1000);
    assert_true(took < 0.6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_all_jobs_in_parallel),
        cmocka_unit_test(test_blocked_workers_do_not_hold_up_the_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
