/* test_pool.c — every submitted job runs exactly once, concurrently, and pool_free drains. */
#include "support/test.h"

#include <stdatomic.h>
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
    pool *p = pool_new(4, "test-pool");
    assert_non_null(p);
    assert_int_equal(pool_threads(p), 4);
    for (int i = 0; i < 200; i++)
        assert_int_equal(pool_submit(p, job, NULL), 0);
    pool_free(p); /* drains the queue */
    assert_int_equal(atomic_load(&ran), 200);
    assert_true(atomic_load(&peak) > 1);
    assert_true(atomic_load(&peak) <= 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_all_jobs_in_parallel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
