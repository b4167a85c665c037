/* test_httputil.c — percent-decoding, query strings, content-type decisions. */
#include "support/test.h"

#include <stdlib.h>
#include <string.h>

#include "core/httputil.h"

static void test_url_decode(void **state) {
    (void)state;
    char *s = http_url_decode("a%20b+c%2Fd%zz%4", 16, 1);
    assert_string_equal(s, "a b c/d%zz%4");
    free(s);
    s = http_url_decode("a+b", 3, 0);
    assert_string_equal(s, "a+b");
    free(s);
}

static void test_query(void **state) {
    (void)state;
    json_t *q = http_parse_query("x=1&x=2&x=3&y=a%20b&flag&=skip&&z=");
    assert_int_equal(json_array_size(json_object_get(q, "x")), 3);
    assert_string_equal(json_string_value(json_object_get(q, "y")), "a b");
    assert_string_equal(json_string_value(json_object_get(q, "flag")), "");
    assert_string_equal(json_string_value(json_object_get(q, "z")), "");
    assert_int_equal(json_object_size(q), 4);
    json_decref(q);
    q = http_parse_query("bad=%ff%fe");
    assert_string_equal(json_string_value(json_object_get(q, "bad")), "??");
    json_decref(q);
    q = http_parse_query(NULL);
    assert_int_equal(json_object_size(q), 0);
    json_decref(q);
}

static void test_content_type(void **state) {
    (void)state;
    assert_true(http_content_is_json(NULL, "{}", 2));
    assert_true(http_content_is_json("application/json; charset=utf-8", "x", 1));
    assert_true(http_content_is_json("application/x-www-form-urlencoded", " {\"a\":1}", 8));
    assert_false(http_content_is_json("application/x-www-form-urlencoded", "a=1", 3));
    assert_false(http_content_is_json("image/png", "{", 1));
    assert_true(http_content_is_form("application/x-www-form-urlencoded"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_content_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
