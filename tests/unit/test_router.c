/* test_router.c — routing by method and pattern, params, specificity, 404/405, conflicts. */
#include "support/test.h"

#include <string.h>
#include <stepd/step.h>

#include "core/router.h"

static int match(router *r, const char *m, const char *p, route_match *out) {
    return router_match(r, m, strlen(m), p, strlen(p), out, NULL, 0);
}

static void test_params_and_static_precedence(void **state) {
    (void)state;
    router *r = router_new();
    int a = 1, b = 2, c = 3;
    assert_int_equal(router_add(r, "GET", "/users/:id", &a, NULL, NULL), 0);
    assert_int_equal(router_add(r, "GET", "/users/me", &b, NULL, NULL), 0);
    assert_int_equal(router_add(r, "post", "/ai/chat/:chatId/messages/:n", &c, NULL, NULL), 0);
    route_match m;
    assert_int_equal(match(r, "GET", "/users/me", &m), 0);
    assert_ptr_equal(m.target, &b);
    assert_int_equal(match(r, "GET", "/users/42", &m), 0);
    assert_ptr_equal(m.target, &a);
    assert_int_equal(m.nparams, 1);
    assert_int_equal(m.params[0].value_len, 2);
    assert_memory_equal(m.params[0].value, "42", 2);
    assert_int_equal(match(r, "POST", "/ai/chat/c1/messages/7", &m), 0);
    assert_int_equal(m.nparams, 2);
    assert_memory_equal(m.params[1].name, "n", 1);
    assert_memory_equal(m.params[1].value, "7", 1);
    /* trailing slash tolerated, HEAD served by GET */
    assert_int_equal(match(r, "GET", "/users/42/", &m), 0);
    assert_int_equal(match(r, "HEAD", "/users/42", &m), 0);
    router_free(r);
}

static void test_not_found_and_method_not_allowed(void **state) {
    (void)state;
    router *r = router_new();
    int a = 1;
    assert_int_equal(router_add(r, "POST", "/ai/chat", &a, NULL, NULL), 0);
    assert_int_equal(router_add(r, "PUT", "/ai/chat", &a, NULL, NULL), 0);
    route_match m;
    char allow[64];
    assert_int_equal(match(r, "GET", "/nope", &m), STEP_ENOTFOUND);
    assert_int_equal(match(r, "GET", "/ai/chat/x", &m), STEP_ENOTFOUND);
    assert_int_equal(match(r, "GET", "/ai", &m), STEP_ENOTFOUND);
    assert_int_equal(router_match(r, "GET", 3, "/ai/chat", 8, &m, allow, sizeof(allow)),
                     STEP_EUNSUPPORTED);
    assert_string_equal(allow, "POST, PUT");
    assert_int_equal(match(r, "POST", "//ai/chat", &m), STEP_ENOTFOUND);
    router_free(r);
}

static void test_conflicts_and_bad_patterns(void **state) {
    (void)state;
    router *r = router_new();
    int a = 1, b = 2;
    const char *err = NULL;
    void *existing = NULL;
    assert_int_equal(router_add(r, "GET", "/a/:id", &a, &err, NULL), 0);
    assert_int_equal(router_add(r, "GET", "/a/:other", &b, &err, &existing), STEP_ECONFLICT);
    assert_ptr_equal(existing, &a);
    assert_non_null(strstr(err, "already"));
    assert_int_equal(router_add(r, "POST", "/a/:other", &b, &err, NULL), 0);
    assert_int_equal(router_add(r, "GET", "a/b", &b, &err, NULL), STEP_EINVAL);
    assert_int_equal(router_add(r, "GET", "/a//b", &b, &err, NULL), STEP_EINVAL);
    assert_int_equal(router_add(r, "GET", "/a/:", &b, &err, NULL), STEP_EINVAL);
    assert_int_equal(router_add(r, "GET", "/a/:x/:x", &b, &err, NULL), STEP_EINVAL);
    assert_int_equal(router_add(r, "GET", "/a?b", &b, &err, NULL), STEP_EINVAL);
    assert_int_equal(router_add(r, "FETCH", "/z", &b, &err, NULL), STEP_EINVAL);
    assert_int_equal(router_add(r, "GET", "/", &b, &err, NULL), 0);
    route_match m;
    assert_int_equal(match(r, "GET", "/", &m), 0);
    assert_ptr_equal(m.target, &b);
    router_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_and_static_precedence),
        cmocka_unit_test(test_not_found_and_method_not_allowed),
        cmocka_unit_test(test_conflicts_and_bad_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
