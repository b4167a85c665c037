/* test_lang_registry.c — JS/Python step configs (as the workers report them) become step_defs
 * with the script trampolines, and every invalid config is reported with its file. */
#include "support/test.h"

#include <stdlib.h>
#include <stepd/step.h>
#include <string.h>

#include "core/registry.h"
#include "lang/script.h"

static const registry_defaults DEFS = {
    .max_attempts = 3, .timeout_ms = 1000, .concurrency = 4, .backoff_ms = 10};

static script_step mk(const char *file, step_lang lang, const char *json) {
    json_error_t je;
    script_step s = {.file = (char *)file, .lang = lang, .config = json_loads(json, 0, &je)};
    assert_non_null(s.config);
    return s;
}

static void drop(script_step *s, int n) {
    for (int i = 0; i < n; i++)
        json_decref(s[i].config);
}

static void test_motia_configs_become_steps(void **state) {
    (void)state;
    script_step s[] = {
        mk("steps/chat.step.js", LANG_JS,
           "{\"type\":\"api\",\"name\":\"ChatApi\",\"path\":\"/ai/chat/:id\",\"method\":\"post\","
           "\"emits\":[{\"topic\":\"ai.chat.request\",\"label\":\"l\",\"conditional\":true},"
           "\"other\"],\"virtualEmits\":[\"v\"],\"flows\":[\"chat\"],"
           "\"middleware\":[\"authMiddleware\"],"
           "\"bodySchema\":{\"type\":\"object\",\"required\":[\"message\"]},\"timeoutMs\":250}"),
        mk("steps/reply_step.py", LANG_PYTHON,
           "{\"type\":\"event\",\"name\":\"Reply\",\"subscribes\":[\"ai.chat.request\"],"
           "\"emits\":[],\"input\":{\"type\":\"object\"}}"),
        mk("steps/tick.step.mjs", LANG_JS,
           "{\"type\":\"cron\",\"name\":\"Tick\",\"cron\":\"*/5 * * * *\",\"emits\":[]}"),
        mk("steps/note.step.py", LANG_PYTHON, "{\"type\":\"noop\",\"name\":\"Note\"}"),
    };
    registry *r = NULL;
    char *errors = NULL;
    assert_int_equal(registry_build(NULL, 0, s, 4, &DEFS, &r, &errors), 0);
    assert_null(errors);
    assert_int_equal(r->nsteps, 4);
    step_def *api = registry_step(r, "ChatApi");
    assert_non_null(api);
    assert_int_equal(api->lang, LANG_JS);
    assert_int_equal(api->type, STEP_API);
    assert_string_equal(api->method, "POST");
    assert_true(api->api == script_api);
    assert_non_null(api->body_schema);
    assert_true(step_def_emits(api, "ai.chat.request"));
    assert_true(step_def_emits(api, "other"));
    assert_true(step_def_emits(api, "v"));
    assert_false(step_def_emits(api, "nope"));
    assert_null(api->mw[0]); /* JS middleware runs in the worker */
    assert_int_equal(api->timeout_ms, 250);
    assert_int_equal(api->max_attempts, 3);
    step_def *ev = registry_step(r, "Reply");
    assert_int_equal(ev->lang, LANG_PYTHON);
    assert_true(ev->on_event == script_event);
    assert_non_null(ev->input_schema);
    const topic_subs *subs = registry_subscribers(r, "ai.chat.request");
    assert_non_null(subs);
    assert_int_equal(subs->n, 1);
    assert_true(registry_step(r, "Tick")->on_cron == script_cron);
    assert_int_equal(registry_step(r, "Note")->type, STEP_NOOP);
    registry_unref(r);
    drop(s, 4);
}

static void test_invalid_configs_are_all_named(void **state) {
    (void)state;
    script_step s[] = {
        mk("steps/a.step.js", LANG_JS, "{\"name\":\"A\"}"),
        mk("steps/b.step.js", LANG_JS, "{\"type\":\"webhook\",\"name\":\"B\"}"),
        mk("steps/c.step.js", LANG_JS, "{\"type\":\"api\",\"name\":\"C\"}"),
        mk("steps/d_step.py", LANG_PYTHON, "{\"type\":\"event\",\"name\":\"D\"}"),
        mk("steps/e_step.py", LANG_PYTHON,
           "{\"type\":\"cron\",\"name\":\"E\",\"cron\":\"61 * * * *\"}"),
        mk("steps/f.step.js", LANG_JS,
           "{\"type\":\"api\",\"name\":\"F\",\"path\":\"/f\",\"method\":\"GET\",\"bodySchema\":5}"),
        mk("steps/g.step.js", LANG_JS,
           "{\"type\":\"event\",\"name\":\"G\",\"subscribes\":[\"x\"],\"emits\":[{\"label\":1}]}"),
        mk("steps/dup.step.js", LANG_JS, "{\"type\":\"noop\",\"name\":\"Dup\"}"),
        mk("steps/h.step.js", LANG_JS, "{\"type\":\"noop\",\"name\":\"Dup\"}"),
        mk("steps/i.step.js", LANG_JS, "{\"type\":\"noop\"}"),
    };
    registry *r = NULL;
    char *errors = NULL;
    assert_int_equal(registry_build(NULL, 0, s, 10, &DEFS, &r, &errors), STEP_ECONFIG);
    assert_null(r);
    assert_non_null(errors);
    const char *want[] = {
        "steps/a.step.js: config.type is missing",
        "steps/b.step.js: unknown step type 'webhook'",
        "steps/c.step.js: api step needs config.method and config.path",
        "steps/d_step.py: event step subscribes to nothing",
        "steps/e_step.py: bad cron expression \"61 * * * *\"",
        "steps/f.step.js: bodySchema must be a JSON Schema object",
        "steps/g.step.js: flows/emits/virtualEmits/subscribes must be lists",
        "steps/h.step.js: step name \"Dup\" is already used by steps/dup.step.js",
        "steps/i.step.js: the step has no name",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(errors, want[i]))
            fail_msg("missing \"%s\" in:\n%s", want[i], errors);
    }
    free(errors);
    drop(s, 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_motia_configs_become_steps),
        cmocka_unit_test(test_invalid_configs_are_all_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
