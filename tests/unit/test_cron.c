/* test_cron.c — 5-field cron parsing and next-fire computation. */
#include "support/test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stepd/step.h>

#include "core/cron.h"

static time_t at(int y, int mo, int d, int h, int mi) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_isdst = -1};
    return mktime(&tm);
}

static int setup(void **state) {
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    return 0;
}

static void test_next_times(void **state) {
    (void)state;
    cron_expr e;
    const char *err;
    assert_int_equal(cron_parse("*/15 * * * *", &e, &err), 0);
    assert_int_equal(cron_next(&e, at(2026, 1, 1, 10, 7)), at(2026, 1, 1, 10, 15));
    assert_int_equal(cron_next(&e, at(2026, 1, 1, 10, 7) + 59), at(2026, 1, 1, 10, 15));
    assert_int_equal(cron_next(&e, at(2026, 1, 1, 10, 15)), at(2026, 1, 1, 10, 30));
    assert_int_equal(cron_parse("0 9 * * mon-fri", &e, &err), 0);
    /* 2026-11-27 is a Friday: next is Monday 30th 09:00 */
    assert_int_equal(cron_next(&e, at(2026, 11, 27, 9, 0)), at(2026, 11, 30, 9, 0));
    assert_int_equal(cron_parse("0 0 29 2 *", &e, &err), 0);
    assert_int_equal(cron_next(&e, at(2026, 3, 1, 0, 0)), at(2028, 2, 29, 0, 0));
    assert_int_equal(cron_parse("@hourly", &e, &err), 0);
    assert_int_equal(cron_next(&e, at(2026, 1, 1, 23, 59)), at(2026, 1, 2, 0, 0));
    /* both day fields restricted: either matches (1st of month OR Sunday) */
    assert_int_equal(cron_parse("0 0 1 * 0", &e, &err), 0);
    assert_int_equal(cron_next(&e, at(2026, 11, 25, 0, 0)), at(2026, 11, 29, 0, 0));
    assert_int_equal(cron_next(&e, at(2026, 11, 29, 0, 0)), at(2026, 12, 1, 0, 0));
    /* six fields: seconds first */
    assert_int_equal(cron_parse("*/20 * * * * *", &e, &err), 0);
    assert_int_equal(cron_next(&e, at(2026, 1, 1, 10, 7) + 5), at(2026, 1, 1, 10, 7) + 20);
    assert_int_equal(cron_next(&e, at(2026, 1, 1, 10, 7) + 40), at(2026, 1, 1, 10, 8));
    assert_int_equal(cron_parse("30 8-18/5 * jan,jul 7", &e, &err), 0);
    assert_int_equal(cron_next(&e, at(2026, 7, 1, 0, 0)), at(2026, 7, 5, 8, 30));
}

static void test_bad_expressions(void **state) {
    (void)state;
    cron_expr e;
    const char *err = NULL;
    assert_int_equal(cron_parse("* * * *", &e, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "5 fields"));
    assert_int_equal(cron_parse("60 * * * *", &e, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "minute"));
    assert_int_equal(cron_parse("* 24 * * *", &e, &err), STEP_EINVAL);
    assert_int_equal(cron_parse("* * 0 * *", &e, &err), STEP_EINVAL);
    assert_int_equal(cron_parse("* * * foo *", &e, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "month"));
    assert_int_equal(cron_parse("*/0 * * * *", &e, &err), STEP_EINVAL);
    assert_int_equal(cron_parse("5-1 * * * *", &e, &err), STEP_EINVAL);
    assert_int_equal(cron_parse("* * * * * * *", &e, &err), STEP_EINVAL);
    assert_int_equal(cron_parse("60 * * * * *", &e, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "second"));
    assert_int_equal(cron_parse("@often", &e, &err), STEP_EINVAL);
    assert_int_equal(cron_parse("", &e, &err), STEP_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_next_times, setup),
        cmocka_unit_test(test_bad_expressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
