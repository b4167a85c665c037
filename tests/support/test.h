/* test.h — includes every cmocka test needs, in the order cmocka requires. */
#ifndef STEPD_TESTS_SUPPORT_TEST_H
#define STEPD_TESTS_SUPPORT_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#endif
