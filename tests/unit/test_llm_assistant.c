/* test_llm_assistant.c — the assistant: intent and entity rules on a table of messages,
 * conversation memory (window + running summary) in fake state, actions and responses with
 * and without a model (the fake OpenAI server answering with tool calls). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stepd/ai/llm.h>

#include "support/llm_fake_server.h"
#include "support/llm_test_hooks.h"

typedef struct intent_case {
    const char *message;
    const char *intent;
} intent_case;

static void test_intent_table(void **state) {
    (void)state;
    static const intent_case cases[] = {
        {"Where is my order #A12345?", "order.track"},
        {"can you track order 558812 please", "order.track"},
        {"My package hasn't arrived yet", "order.track"},
        {"what's the shipping status of ORD-99812", "order.track"},
        {"I'm looking for running shoes under $80", "product.search"},
        {"Do you have wireless headphones?", "product.search"},
        {"show me some red dresses", "product.search"},
        {"I want a refund for order 12345, it arrived broken", "support.ticket"},
        {"The blender I got is defective", "support.ticket"},
        {"I need to cancel my subscription", "support.ticket"},
        {"Can I speak to a human?", "support.ticket"},
        {"hello", "greeting"},
        {"Hey there!", "greeting"},
        {"thanks a lot", "thanks"},
        {"ok bye", "goodbye"},
        {"what is the meaning of life", "general"},
        {"", "general"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *e = stepd_assistant_entities(cases[i].message);
        double conf = -1;
        const char *got = stepd_assistant_intent(cases[i].message, e, &conf);
        if (strcmp(got, cases[i].intent))
            print_message("message: \"%s\" → %s (want %s)\n", cases[i].message, got,
                          cases[i].intent);
        assert_string_equal(got, cases[i].intent);
        assert_true(conf > 0 && conf <= 1);
        json_decref(e);
    }
}

static char *entity_summary(const char *message) {
    json_t *e = stepd_assistant_entities(message);
    char buf[1024] = "";
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(e, "orderNumbers"), i, v) {
        strcat(buf, "order:");
        strcat(buf, json_string_value(v));
        strcat(buf, " ");
    }
    json_array_foreach(json_object_get(e, "emails"), i, v) {
        strcat(buf, "email:");
        strcat(buf, json_string_value(v));
        strcat(buf, " ");
    }
    json_array_foreach(json_object_get(e, "amounts"), i, v) {
        char a[64];
        snprintf(a, sizeof(a), "amount:%.2f%s ", json_number_value(json_object_get(v, "value")),
                 json_string_value(json_object_get(v, "currency")));
        strcat(buf, a);
    }
    json_array_foreach(json_object_get(e, "dates"), i, v) {
        const char *d = json_string_value(json_object_get(v, "date"));
        strcat(buf, "date:");
        strcat(buf, d ? d : json_string_value(json_object_get(v, "text")));
        strcat(buf, " ");
    }
    json_decref(e);
    size_t n = strlen(buf);
    if (n)
        buf[n - 1] = '\0';
    return strdup(buf);
}

static void test_entity_table(void **state) {
    (void)state;
    static const struct {
        const char *message, *want;
    } cases[] = {
        {"Where is order #A12345? email me at Jane.Doe@Example.com",
         "order:A12345 email:jane.doe@example.com"},
        {"order number: ORD-2024-001 was $49.99", "order:ORD-2024-001 amount:49.99USD"},
        {"my order no. 55501 cost 1,299.50 dollars", "order:55501 amount:1299.50USD"},
        {"refund €30 and £12.5 please", "amount:30.00EUR amount:12.50GBP"},
        {"delivered on 2024-03-15 or 15/03/2024?", "date:2024-03-15 date:2024-03-15"},
        {"It should arrive by January 5th, 2025", "date:2025-01-05"},
        {"ordered 3 March 2024, not 2024-02-30", "date:2024-03-03 date:2024-02-30"},
        {"I paid 20 EUR for item X", "amount:20.00EUR"},
        {"contact bob@shop.io, not bob@localhost", "email:bob@shop.io"},
        {"nothing to see here, just 42 apples", ""},
        {"it came friday", "date:friday"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = entity_summary(cases[i].message);
        if (strcmp(got, cases[i].want))
            print_message("message: \"%s\"\n  got:  %s\n  want: %s\n", cases[i].message, got,
                          cases[i].want);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
    /* relative dates resolve against today (UTC) */
    json_t *e = stepd_assistant_entities("deliver it tomorrow");
    time_t t = time(NULL) + 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    char want[16];
    strftime(want, sizeof(want), "%Y-%m-%d", &tm);
    json_t *d = json_array_get(json_object_get(e, "dates"), 0);
    assert_string_equal(json_string_value(json_object_get(d, "date")), want);
    json_decref(e);
}

static void test_rules_turn_emits_action_and_remembers(void **state) {
    (void)state;
    llm_test_hooks th;
    llm_test_hooks_init(&th);
    stepd_llm_hooks h = llm_test_hooks_get(&th);
    stepd_assistant_turn turn;
    char *err = NULL;
    stepd_assistant_options opt = {.use_llm = -1};

    assert_int_equal(stepd_assistant_handle(NULL, &h, "s1",
                                            "My order A77881 is late, "
                                            "mail me at a@b.co",
                                            &opt, &turn, &err),
                     0);
    json_t *r = turn.response;
    assert_string_equal(json_string_value(json_object_get(r, "intent")), "order.track");
    assert_string_equal(json_string_value(json_object_get(r, "source")), "rules");
    assert_non_null(strstr(json_string_value(json_object_get(r, "message")), "A77881"));
    assert_non_null(turn.action);
    assert_string_equal(json_string_value(json_object_get(turn.action, "action")), "order.track");
    json_t *p = json_object_get(turn.action, "parameters");
    assert_string_equal(json_string_value(json_object_get(p, "orderNumber")), "A77881");
    assert_string_equal(json_string_value(json_object_get(p, "email")), "a@b.co");
    stepd_assistant_turn_free(&turn);

    /* a later turn without the number still knows it */
    assert_int_equal(
        stepd_assistant_handle(NULL, &h, "s1", "I want a refund, it is damaged", &opt, &turn, &err),
        0);
    assert_string_equal(json_string_value(json_object_get(turn.action, "action")),
                        "support.ticket");
    p = json_object_get(turn.action, "parameters");
    assert_string_equal(json_string_value(json_object_get(p, "orderNumber")), "A77881");
    assert_string_equal(json_string_value(json_object_get(p, "category")), "refund");
    assert_int_equal(json_integer_value(json_object_get(turn.response, "turn")), 2);
    stepd_assistant_turn_free(&turn);

    /* tracking without any number asks for it and emits no action */
    assert_int_equal(
        stepd_assistant_handle(NULL, &h, "s2", "where is my package?", &opt, &turn, &err), 0);
    assert_null(turn.action);
    assert_non_null(
        strstr(json_string_value(json_object_get(turn.response, "message")), "order number"));
    stepd_assistant_turn_free(&turn);

    /* product search parameters */
    assert_int_equal(stepd_assistant_handle(NULL, &h, "s3",
                                            "I'm looking for trail running shoes under $80", &opt,
                                            &turn, &err),
                     0);
    p = json_object_get(turn.action, "parameters");
    assert_string_equal(json_string_value(json_object_get(p, "query")), "trail running shoes");
    assert_true(json_number_value(json_object_get(p, "maxPrice")) == 80.0);
    stepd_assistant_turn_free(&turn);

    /* greetings answer without an action */
    assert_int_equal(stepd_assistant_handle(NULL, &h, "s3", "thanks!", &opt, &turn, &err), 0);
    assert_null(turn.action);
    assert_string_equal(json_string_value(json_object_get(turn.response, "intent")), "thanks");
    stepd_assistant_turn_free(&turn);

    assert_int_equal(stepd_assistant_handle(NULL, &h, "", "hi", &opt, &turn, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "sessionId"));
    free(err);
    llm_test_hooks_free(&th);
}

static void test_memory_window_and_summary(void **state) {
    (void)state;
    llm_test_hooks th;
    llm_test_hooks_init(&th);
    stepd_llm_hooks h = llm_test_hooks_get(&th);
    stepd_assistant_options opt = {.use_llm = -1, .window = 4, .summary_max = 200};
    char msg[64];
    for (int i = 1; i <= 6; i++) {
        snprintf(msg, sizeof(msg), "question number %d about shoes", i);
        stepd_assistant_turn turn;
        assert_int_equal(stepd_assistant_handle(NULL, &h, "mem", msg, &opt, &turn, NULL), 0);
        stepd_assistant_turn_free(&turn);
    }
    json_t *mem = llm_test_hooks_peek(&th, STEPD_ASSISTANT_STATE_GROUP, "mem");
    assert_non_null(mem);
    json_t *msgs = json_object_get(mem, "messages");
    assert_int_equal(json_array_size(msgs), 4); /* the window */
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
                        "question number 5 about shoes");
    const char *summary = json_string_value(json_object_get(mem, "summary"));
    assert_true(strlen(summary) <= 200);
    assert_non_null(strstr(summary, "question number 4")); /* older turns are summarised */
    assert_null(strstr(summary, "question number 5"));     /* ... not the window */
    assert_int_equal(json_integer_value(json_object_get(mem, "turns")), 6);
    llm_test_hooks_free(&th);
}

static stepd_llm_client *client_for(llm_fake_server *srv) {
    unsetenv("OPENAI_API_KEY");
    unsetenv("OPENAI_BASE_URL");
    unsetenv("OPENAI_MODEL");
    unsetenv("STEPD_AI_MODEL");
    json_t *ai = json_pack("{s:s,s:s,s:i,s:i}", "baseUrl", llm_fake_url(srv), "model", "fake-model",
                           "backoffMs", 5, "maxRetries", 1);
    stepd_llm_client *c = NULL;
    assert_int_equal(stepd_llm_client_new(ai, &c, NULL), 0);
    json_decref(ai);
    return c;
}

static void test_model_tool_call_becomes_action(void **state) {
    (void)state;
    llm_fake_server *srv = llm_fake_start();
    stepd_llm_client *c = client_for(srv);
    llm_test_hooks th;
    llm_test_hooks_init(&th);
    stepd_llm_hooks h = llm_test_hooks_get(&th);

    llm_fake_reply tool = {.tool_name = "search_products",
                           .tool_args = "{\"query\":\"yoga mat\",\"max_price\":30}"};
    llm_fake_push(srv, &tool);
    stepd_assistant_turn turn;
    char *err = NULL;
    assert_int_equal(stepd_assistant_handle(c, &h, "m1",
                                            "got any yoga mats for 30 dollars or less? "
                                            "I'm x@y.com",
                                            NULL, &turn, &err),
                     0);
    assert_string_equal(json_string_value(json_object_get(turn.response, "source")), "llm");
    assert_string_equal(json_string_value(json_object_get(turn.action, "action")),
                        "product.search");
    json_t *p = json_object_get(turn.action, "parameters");
    assert_string_equal(json_string_value(json_object_get(p, "query")), "yoga mat");
    assert_true(json_number_value(json_object_get(p, "maxPrice")) == 30.0);
    /* the request carried the tools and the user's message */
    json_t *sent = llm_fake_last_body(srv);
    assert_int_equal(json_array_size(json_object_get(sent, "tools")), 3);
    json_decref(sent);
    /* one metrics.ai event, tagged */
    json_t *ev = json_object_get(json_array_get(th.events, 0), "data");
    assert_string_equal(json_string_value(json_object_get(ev, "tag")), "assistant");
    stepd_assistant_turn_free(&turn);

    /* a plain answer: the model's words, no action */
    llm_fake_reply text = {.content = "We open at 9am every day."};
    llm_fake_push(srv, &text);
    assert_int_equal(stepd_assistant_handle(c, &h, "m1", "when do you open?", NULL, &turn, &err),
                     0);
    assert_string_equal(json_string_value(json_object_get(turn.response, "message")),
                        "We open at 9am every day.");
    assert_null(turn.action);
    /* the second request replayed the first turn from memory */
    sent = llm_fake_last_body(srv);
    assert_int_equal(json_array_size(json_object_get(sent, "messages")), 4);
    json_decref(sent);
    stepd_assistant_turn_free(&turn);

    /* the model fails: rules answer, and say so */
    llm_fake_reply down = {.status = 500};
    llm_fake_push(srv, &down);
    llm_fake_push(srv, &down);
    assert_int_equal(stepd_assistant_handle(c, &h, "m2", "track order 99123", NULL, &turn, &err),
                     0);
    assert_string_equal(json_string_value(json_object_get(turn.response, "source")), "rules");
    assert_string_equal(json_string_value(json_object_get(turn.response, "llmError")), "server");
    assert_string_equal(json_string_value(json_object_get(turn.action, "action")), "order.track");
    stepd_assistant_turn_free(&turn);

    llm_test_hooks_free(&th);
    stepd_llm_client_free(c);
    llm_fake_stop(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intent_table),
        cmocka_unit_test(test_entity_table),
        cmocka_unit_test(test_rules_turn_emits_action_and_remembers),
        cmocka_unit_test(test_memory_window_and_summary),
        cmocka_unit_test(test_model_tool_call_becomes_action),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
