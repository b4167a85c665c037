/* test_schema.c — body/input validation names the failing field. */
#include "support/test.h"

#include <string.h>
#include <stepd/step.h>

#include "core/schema.h"

static const char *chat_schema =
    "{\"type\":\"object\",\"required\":[\"message\"],\"properties\":{"
    "\"message\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":5},"
    "\"mode\":{\"enum\":[\"fast\",\"slow\"]},"
    "\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
    "\"tags\":{\"type\":\"array\",\"maxItems\":2,\"items\":{\"type\":\"string\"}},"
    "\"user\":{\"type\":\"object\",\"required\":[\"id\"],\"additionalProperties\":false,"
    "\"properties\":{\"id\":{\"type\":\"string\"}}}}}";

static int check(json_t *s, const char *doc, schema_error *e) {
    json_t *v = json_loads(doc, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    int rc = schema_validate(s, v, e);
    json_decref(v);
    return rc;
}

static void test_valid_and_invalid_bodies(void **state) {
    (void)state;
    schema_error e;
    json_t *s = schema_load(chat_schema, &e);
    assert_non_null(s);
    assert_int_equal(check(s, "{\"message\":\"hi\"}", &e), 0);
    assert_int_equal(check(s, "{\"message\":\"h\\u00e9llo\",\"n\":3,\"tags\":[\"a\"]}", &e), 0);
    assert_int_equal(check(s, "{}", &e), STEP_ESCHEMA);
    assert_string_equal(e.field, "message");
    assert_string_equal(e.message, "is required");
    assert_int_equal(check(s, "{\"message\":7}", &e), STEP_ESCHEMA);
    assert_string_equal(e.message, "must be a string");
    assert_int_equal(check(s, "{\"message\":\"\"}", &e), STEP_ESCHEMA);
    assert_int_equal(check(s, "{\"message\":\"toolong\"}", &e), STEP_ESCHEMA);
    assert_string_equal(e.message, "must be at most 5 characters long");
    assert_int_equal(check(s, "{\"message\":\"a\",\"mode\":\"x\"}", &e), STEP_ESCHEMA);
    assert_string_equal(e.field, "mode");
    assert_int_equal(check(s, "{\"message\":\"a\",\"n\":11}", &e), STEP_ESCHEMA);
    assert_int_equal(check(s, "{\"message\":\"a\",\"n\":1.5}", &e), STEP_ESCHEMA);
    assert_int_equal(check(s, "{\"message\":\"a\",\"tags\":[\"a\",1]}", &e), STEP_ESCHEMA);
    assert_string_equal(e.field, "tags[1]");
    assert_int_equal(check(s, "{\"message\":\"a\",\"user\":{}}", &e), STEP_ESCHEMA);
    assert_string_equal(e.field, "user.id");
    assert_int_equal(check(s, "{\"message\":\"a\",\"user\":{\"id\":\"u\",\"x\":1}}", &e),
                     STEP_ESCHEMA);
    assert_string_equal(e.field, "user.x");
    assert_int_equal(check(s, "[1]", &e), STEP_ESCHEMA);
    assert_string_equal(e.message, "must be an object");
    assert_int_equal(schema_validate(s, NULL, &e), STEP_ESCHEMA);
    json_t *ej = schema_error_json(&e, "invalid body");
    assert_non_null(strstr(json_string_value(json_object_get(ej, "error")), "invalid body"));
    json_decref(ej);
    json_decref(s);
}

static void test_bad_schemas_are_rejected(void **state) {
    (void)state;
    schema_error e;
    assert_null(schema_load("{\"type\":\"strnig\"}", &e));
    assert_null(schema_load("{\"requird\":[\"a\"]}", &e));
    assert_non_null(strstr(e.message, "requird"));
    assert_null(schema_load("{\"properties\":{\"a\":{\"minLength\":-1}}}", &e));
    assert_string_equal(e.field, "properties.a.minLength");
    assert_null(schema_load("{not json", &e));
    assert_null(schema_load("[]", &e));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_invalid_bodies),
        cmocka_unit_test(test_bad_schemas_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
