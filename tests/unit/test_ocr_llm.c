/*
 * test_ocr_llm.c — document type from an LLM (src/ai/ocr_classify.c) against the fake
 * OpenAI-compatible server over real HTTP on 127.0.0.1: the model's answer decides the type and
 * the fields; a garbage answer, a dead server or no model at all fall back to keyword scoring,
 * with a warning when a configured model failed. Documents are text-layer PDFs generated here,
 * so no OCR runs and the file stays fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stepd/ai/llm.h>
#include <stepd/ai/ocr.h>
#include <stepd/step.h>

#include "support/llm_fake_server.h"
#include "support/ocr_docgen.h"

static void clear_env(void) {
    unsetenv("OPENAI_API_KEY");
    unsetenv("OPENAI_BASE_URL");
    unsetenv("OPENAI_MODEL");
    unsetenv("STEPD_AI_MODEL");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static stepd_llm_client *client_for(const char *url) {
    json_t *ai = json_pack("{s:s, s:s, s:i, s:i}", "baseUrl", url, "model", "fake-model",
                           "backoffMs", 10, "backoffMaxMs", 20);
    stepd_llm_client *c = NULL;
    char *err = NULL;
    assert_int_equal(stepd_llm_client_new(ai, &c, &err), 0);
    json_decref(ai);
    return c;
}

static void invoice_pdf(unsigned char **pdf, size_t *len) {
    ocr_gen_doc d;
    ocr_gen_invoice(5, &d);
    assert_int_equal(ocr_gen_pdf(&d, 1, pdf, len), 0);
}

static json_t *run(const unsigned char *pdf, size_t len, const ai_ocr_options *o) {
    json_t *doc = NULL;
    char *err = NULL;
    int rc = ai_ocr_process(NULL, pdf, len, o, &doc, &err);
    if (rc < 0)
        print_message("ocr failed: %s\n", err ? err : step_strerror(rc));
    free(err);
    assert_int_equal(rc, 0);
    return doc;
}

static const char *str(json_t *doc, const char *key) {
    return json_string_value(json_object_get(doc, key));
}

static const char *warning0(json_t *doc) {
    return json_string_value(json_array_get(json_object_get(doc, "warnings"), 0));
}

static void test_reply_parsing_is_strict(void **state) {
    (void)state;
    static const struct {
        const char *reply, *type;
        double conf;
    } good[] = {
        {"{\"type\": \"receipt\", \"confidence\": 0.82}", "receipt", 0.82},
        {"  {\"type\":\"ID\"}\n", "id", -1},
        {"{\"type\": \"other\", \"confidence\": 1, \"reason\": \"a letter\"}", "other", 1},
        {"```json\n{\"type\": \"invoice\", \"confidence\": 0.5}\n```", "invoice", 0.5},
        {"invoice", "invoice", -1},
        {" Receipt.\n", "receipt", -1},
        {"```\nid\n```", "id", -1},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *t;
        double c;
        assert_int_equal(ai_ocr_class_parse(good[i].reply, strlen(good[i].reply), &t, &c), 0);
        assert_string_equal(t, good[i].type);
        assert_true(c == good[i].conf);
    }
    static const char *const bad[] = {
        "",
        "I think this is an invoice.",
        "invoices",
        "contract",
        "{\"type\": \"letter\"}",
        "{\"type\": \"invoice\", \"confidence\": 1.5}",
        "{\"type\": \"invoice\", \"confidence\": \"high\"}",
        "{\"type\": \"invoice\", \"type\": \"receipt\"}",
        "{\"kind\": \"invoice\"}",
        "{\"type\": \"invoice\"",
        "[\"invoice\"]",
        "```json\n{\"type\": \"invoice\"}",
        "```\n```",
        "Echo: invoice",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *t = "x";
        double c = 7;
        assert_int_equal(ai_ocr_class_parse(bad[i], strlen(bad[i]), &t, &c), STEP_EPARSE);
        assert_null(t);
        assert_true(c == -1);
    }
}

static void test_llm_answer_decides_type_and_fields(void **state) {
    (void)state;
    clear_env();
    llm_fake_server *srv = llm_fake_start();
    assert_non_null(srv);
    stepd_llm_client *c = client_for(llm_fake_url(srv));
    ai_ocr_llm l = {.client = c};
    ai_ocr_options o = ai_ocr_options_default();
    assert_int_equal(ai_ocr_options_use_llm(&o, &l), 1);
    unsigned char *pdf;
    size_t len;
    invoice_pdf(&pdf, &len);

    /* an invoice by its keywords; the model says receipt, and the model wins */
    llm_fake_push(srv, &(llm_fake_reply){.content = "{\"type\":\"receipt\",\"confidence\":0.7}"});
    json_t *doc = run(pdf, len, &o);
    assert_int_equal(llm_fake_requests(srv), 1);
    assert_string_equal(str(doc, "type"), "receipt");
    assert_string_equal(str(doc, "classifiedBy"), "llm");
    assert_true(json_real_value(json_object_get(doc, "typeConfidence")) == 0.7);
    assert_null(json_object_get(doc, "warnings"));
    assert_non_null(json_object_get(json_object_get(doc, "fields"), "merchant"));
    json_decref(doc);

    /* what was sent: the instruction naming the types, then the document's text */
    json_t *body = llm_fake_last_body(srv);
    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    const char *sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    const char *user = json_string_value(json_object_get(json_array_get(msgs, 1), "content"));
    for (const char *const *t = (const char *const[]){"invoice", "receipt", "id", "other", NULL};
         *t; t++)
        assert_non_null(strstr(sys, *t));
    assert_non_null(strstr(user, "INVOICE") ? strstr(user, "INVOICE") : strstr(user, "Invoice"));
    assert_true(json_real_value(json_object_get(body, "temperature")) == 0);
    json_decref(body);

    /* a bare word is an answer too; a given type never asks */
    llm_fake_push(srv, &(llm_fake_reply){.content = "invoice"});
    doc = run(pdf, len, &o);
    assert_string_equal(str(doc, "type"), "invoice");
    assert_string_equal(str(doc, "classifiedBy"), "llm");
    assert_null(json_object_get(doc, "typeConfidence"));
    json_decref(doc);
    o.type = "invoice";
    doc = run(pdf, len, &o);
    assert_string_equal(str(doc, "classifiedBy"), "given");
    assert_int_equal(llm_fake_requests(srv), 2);
    json_decref(doc);

    free(pdf);
    stepd_llm_client_free(c);
    llm_fake_stop(srv);
}

static void test_garbage_answer_falls_back_to_keywords(void **state) {
    (void)state;
    clear_env();
    llm_fake_server *srv = llm_fake_start();
    stepd_llm_client *c = client_for(llm_fake_url(srv));
    ai_ocr_llm l = {.client = c};
    ai_ocr_options o = ai_ocr_options_default();
    ai_ocr_options_use_llm(&o, &l);
    unsigned char *pdf;
    size_t len;
    invoice_pdf(&pdf, &len);
    const char *garbage[] = {"Sure! This looks like a bill to me.", "{\"type\":\"contract\"}",
                             "{\"type\":\"receipt\",\"confidence\":3}"};
    for (size_t i = 0; i < 3; i++) {
        llm_fake_push(srv, &(llm_fake_reply){.content = garbage[i]});
        json_t *doc = run(pdf, len, &o);
        assert_string_equal(str(doc, "type"), "invoice");
        assert_string_equal(str(doc, "classifiedBy"), "keywords");
        assert_null(json_object_get(doc, "typeConfidence"));
        print_message("  warning: %s\n", warning0(doc));
        assert_non_null(strstr(warning0(doc), "not invoice, receipt, id or other"));
        assert_non_null(strstr(warning0(doc), "document type from keywords"));
        assert_non_null(json_object_get(json_object_get(doc, "fields"), "total"));
        json_decref(doc);
    }
    /* HTTP 500 on every attempt: same fallback, the reason names the failure */
    llm_fake_push(srv, &(llm_fake_reply){.status = 500});
    llm_fake_push(srv, &(llm_fake_reply){.status = 500});
    json_t *doc = run(pdf, len, &o);
    assert_string_equal(str(doc, "classifiedBy"), "keywords");
    assert_non_null(strstr(warning0(doc), "LLM classifier failed (server)"));
    assert_int_equal(llm_fake_requests(srv), 5); /* 3 answers + first attempt + one retry */
    json_decref(doc);
    free(pdf);
    stepd_llm_client_free(c);
    llm_fake_stop(srv);
}

static void test_server_down_falls_back_with_a_warning(void **state) {
    (void)state;
    clear_env();
    llm_fake_server *s = llm_fake_start(); /* a port nobody listens on */
    char url[64];
    snprintf(url, sizeof(url), "%s", llm_fake_url(s));
    llm_fake_stop(s);
    stepd_llm_client *c = client_for(url);
    ai_ocr_llm l = {.client = c};
    ai_ocr_options o = ai_ocr_options_default();
    assert_int_equal(ai_ocr_options_use_llm(&o, &l), 1);
    unsigned char *pdf;
    size_t len;
    invoice_pdf(&pdf, &len);
    double t0 = now();
    json_t *doc = run(pdf, len, &o);
    print_message("  warning: %s (%.2f s)\n", warning0(doc), now() - t0);
    assert_true(now() - t0 < 10);
    assert_string_equal(str(doc, "type"), "invoice");
    assert_string_equal(str(doc, "classifiedBy"), "keywords");
    assert_non_null(strstr(warning0(doc), "LLM classifier failed (network)"));
    assert_non_null(json_object_get(json_object_get(doc, "fields"), "total"));
    json_decref(doc);
    free(pdf);
    stepd_llm_client_free(c);
}

static void test_no_model_means_keywords_and_no_network(void **state) {
    (void)state;
    clear_env();
    /* a server is there, but a base URL without a model is "no model configured" */
    llm_fake_server *srv = llm_fake_start();
    setenv("OPENAI_BASE_URL", llm_fake_url(srv), 1);
    stepd_llm_client *c = NULL;
    char *err = NULL;
    assert_int_equal(stepd_llm_client_new(NULL, &c, &err), 0);
    clear_env();
    assert_int_equal(stepd_llm_client_has_model(c), 0);
    ai_ocr_llm l = {.client = c};
    ai_ocr_options o = ai_ocr_options_default();
    assert_int_equal(ai_ocr_options_use_llm(&o, &l), 0);
    assert_null(o.classify);
    unsigned char *pdf;
    size_t len;
    invoice_pdf(&pdf, &len);
    json_t *doc = run(pdf, len, &o);
    assert_string_equal(str(doc, "type"), "invoice");
    assert_string_equal(str(doc, "classifiedBy"), "keywords");
    assert_null(json_object_get(doc, "warnings"));
    json_decref(doc);

    /* the hook wired by hand anyway: refuses without touching the network, keywords decide */
    ai_ocr_class cls;
    assert_int_equal(ai_ocr_classify_llm("INVOICE 1", &cls, &l), STEP_ECONFIG);
    assert_non_null(strstr(cls.warning, "no chat model"));
    free(cls.warning);
    o.classify = ai_ocr_classify_llm;
    o.classify_user = &l;
    doc = run(pdf, len, &o);
    assert_string_equal(str(doc, "classifiedBy"), "keywords");
    assert_non_null(strstr(warning0(doc), "no chat model configured"));
    json_decref(doc);
    assert_int_equal(llm_fake_connections(srv), 0);
    free(pdf);
    stepd_llm_client_free(c);
    llm_fake_stop(srv);
}

static void test_prompt_is_bounded_and_valid_utf8(void **state) {
    (void)state;
    clear_env();
    llm_fake_server *srv = llm_fake_start();
    stepd_llm_client *c = client_for(llm_fake_url(srv));
    ai_ocr_llm l = {.client = c, .max_chars = 100};
    /* 3-byte characters, a page break and an invalid byte: the cut must not split a character */
    char text[4000];
    size_t n = 0;
    text[n++] = '\xff';
    text[n++] = '\f';
    while (n + 3 < sizeof(text))
        memcpy(text + n, "\xe2\x82\xac", 3), n += 3; /* € */
    text[n] = '\0';
    llm_fake_push(srv, &(llm_fake_reply){.content = "other"});
    ai_ocr_class cls;
    assert_int_equal(ai_ocr_classify_llm(text, &cls, &l), 0);
    assert_string_equal(cls.type, "other");
    assert_null(cls.warning);
    json_t *body = llm_fake_last_body(srv);
    const char *user = json_string_value(
        json_object_get(json_array_get(json_object_get(body, "messages"), 1), "content"));
    assert_non_null(user);
    const char *doc = strstr(user, "?\n\xe2\x82\xac");
    assert_non_null(doc);
    assert_int_equal(strlen(doc), 2 + 32 * 3); /* 100 bytes cut back before a partial € */
    json_decref(body);
    /* a blank page is never sent */
    ocr_gen_doc d = {.w = 240, .h = 120, .font = "DejaVu Sans"};
    unsigned char *pdf;
    size_t len;
    assert_int_equal(ocr_gen_pdf(&d, 1, &pdf, &len), 0);
    ai_ocr_options o = ai_ocr_options_default();
    ai_ocr_options_use_llm(&o, &l);
    json_t *out = run(pdf, len, &o);
    assert_string_equal(str(out, "type"), "other");
    assert_string_equal(str(out, "classifiedBy"), "keywords");
    assert_int_equal(llm_fake_requests(srv), 1);
    json_decref(out);
    free(pdf);
    stepd_llm_client_free(c);
    llm_fake_stop(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_parsing_is_strict),
        cmocka_unit_test(test_llm_answer_decides_type_and_fields),
        cmocka_unit_test(test_garbage_answer_falls_back_to_keywords),
        cmocka_unit_test(test_server_down_falls_back_with_a_warning),
        cmocka_unit_test(test_no_model_means_keywords_and_no_network),
        cmocka_unit_test(test_prompt_is_bounded_and_valid_utf8),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    /* the document generator's fonts, so the leak checker sees only our allocations */
    cairo_debug_reset_static_data();
    FcFini();
    return failed;
}
