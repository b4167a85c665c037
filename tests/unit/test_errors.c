/* test_errors.c — error names and texts come from one table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stepd/step.h>

static void test_strerror_names_every_code(void **state) {
    (void)state;
    assert_string_equal(step_strerror(STEP_ENOTFOUND), "not found");
    assert_string_equal(step_err_name(STEP_EUNDECLARED), "STEP_EUNDECLARED");
    assert_string_equal(step_strerror(12345), "unknown error");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_names_every_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
