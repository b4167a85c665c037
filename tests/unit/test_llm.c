/* test_llm.c — the chat client: wire format, SSE parsing across chunk boundaries, config, and
 * whole calls against the fake OpenAI-compatible server (retries, Retry-After, timeouts,
 * cancellation, streaming, tool calls, cache, metrics, fallback).
 * `test_llm --serve` runs the fake server in the foreground for integration scripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stepd/ai/llm.h>

#include "support/llm_fake_server.h"
#include "support/llm_test_hooks.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void clear_env(void) {
    unsetenv("OPENAI_API_KEY");
    unsetenv("OPENAI_BASE_URL");
    unsetenv("OPENAI_MODEL");
    unsetenv("STEPD_AI_MODEL");
}

static json_t *user_msgs(const char *text) {
    return json_pack("[{s:s,s:s}]", "role", "user", "content", text);
}

/* ---- wire format --------------------------------------------------------------------------- */

static void test_request_body_encodes_every_option(void **state) {
    (void)state;
    json_t *msgs = user_msgs("hi");
    json_t *tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"f\","
                               "\"parameters\":{\"type\":\"object\"}}}]",
                               0, NULL);
    json_t *stop = json_string("END");
    stepd_llm_request req = {.messages = msgs,
                             .system = "be brief",
                             .has_temperature = 1,
                             .temperature = 0.25,
                             .max_tokens = 50,
                             .stop = stop,
                             .json_mode = 1,
                             .tools = tools,
                             .tool_choice = json_string("auto"),
                             .stream = 1,
                             .has_seed = 1,
                             .seed = 7};
    char *err = NULL;
    json_t *b = stepd_llm_request_body(&req, "m1", &err);
    assert_non_null(b);
    assert_null(err);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "m1");
    json_t *m = json_object_get(b, "messages");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 0), "role")), "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "content")), "hi");
    assert_true(json_real_value(json_object_get(b, "temperature")) == 0.25);
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 50);
    assert_string_equal(json_string_value(json_object_get(b, "stop")), "END");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "response_format"), "type")),
        "json_object");
    assert_int_equal(json_array_size(json_object_get(b, "tools")), 1);
    assert_string_equal(json_string_value(json_object_get(b, "tool_choice")), "auto");
    assert_true(json_is_true(json_object_get(b, "stream")));
    assert_true(
        json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")));
    assert_int_equal(json_integer_value(json_object_get(b, "seed")), 7);
    json_decref(b);
    req.no_stream_usage = 1; /* for servers that refuse stream_options */
    b = stepd_llm_request_body(&req, "m1", NULL);
    assert_true(json_is_true(json_object_get(b, "stream")));
    assert_null(json_object_get(b, "stream_options"));
    json_decref(b);
    json_decref(req.tool_choice);

    /* unset options are not sent */
    stepd_llm_request plain = {.messages = msgs};
    b = stepd_llm_request_body(&plain, "m1", NULL);
    assert_null(json_object_get(b, "temperature"));
    assert_null(json_object_get(b, "stream"));
    assert_null(json_object_get(b, "max_tokens"));
    json_decref(b);
    json_decref(msgs);
    json_decref(tools);
    json_decref(stop);
}

static void test_request_body_rejects_bad_messages(void **state) {
    (void)state;
    json_t *bad = json_pack("[{s:s,s:s}]", "role", "wizard", "content", "x");
    stepd_llm_request req = {.messages = bad};
    char *err = NULL;
    assert_null(stepd_llm_request_body(&req, "m", &err));
    assert_non_null(strstr(err, "messages[0].role"));
    free(err);
    json_decref(bad);
    json_t *empty = json_array();
    req.messages = empty;
    assert_null(stepd_llm_request_body(&req, "m", &err));
    assert_non_null(strstr(err, "empty"));
    free(err);
    json_decref(empty);
}

static void test_parse_response_reads_content_tools_usage(void **state) {
    (void)state;
    const char *body =
        "{\"id\":\"c1\",\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        "\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\","
        "\"function\":{\"name\":\"track_order\",\"arguments\":\"{\\\"n\\\":1}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":11,"
        "\"completion_tokens\":3,\"total_tokens\":14}}";
    stepd_llm_result r = {0};
    assert_int_equal(stepd_llm_parse_response(body, strlen(body), &r), 0);
    assert_string_equal(r.content, "");
    assert_string_equal(r.finish_reason, "tool_calls");
    assert_string_equal(r.model, "gpt-x");
    assert_int_equal(r.prompt_tokens, 11);
    assert_int_equal(r.completion_tokens, 3);
    assert_int_equal(r.total_tokens, 14);
    json_t *fn = json_object_get(json_array_get(r.tool_calls, 0), "function");
    assert_string_equal(json_string_value(json_object_get(fn, "name")), "track_order");
    stepd_llm_result_free(&r);

    assert_int_equal(stepd_llm_parse_response("{\"choices\":[", 12, &r), STEP_EPARSE);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_PARSE);
    assert_non_null(strstr(r.error, "malformed JSON"));
    stepd_llm_result_free(&r);
}

static void test_request_from_json_for_other_languages(void **state) {
    (void)state;
    json_t *args = json_loads("{\"message\":\"hi\",\"system\":\"s\",\"model\":\"m\","
                              "\"temperature\":0.5,\"maxTokens\":20,\"json\":true,"
                              "\"cacheTtl\":60,\"metrics\":false,\"stream\":true,"
                              "\"fallback\":[{\"model\":\"small\"}],\"tag\":\"t\"}",
                              0, NULL);
    stepd_llm_json_request jr;
    char *err = NULL;
    assert_int_equal(stepd_llm_request_from_json(args, &jr, &err), 0);
    assert_string_equal(jr.req.model, "m");
    assert_true(jr.req.has_temperature && jr.req.temperature == 0.5);
    assert_int_equal(jr.req.max_tokens, 20);
    assert_int_equal(jr.req.cache_ttl_s, 60);
    assert_true(jr.req.no_metrics && jr.req.json_mode && jr.req.stream);
    assert_int_equal(jr.req.n_fallbacks, 1);
    assert_string_equal(jr.req.fallbacks[0].model, "small");
    json_t *body = stepd_llm_request_body(&jr.req, "m", NULL);
    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "hi");
    json_decref(body);
    stepd_llm_json_request_free(&jr);
    json_decref(args);

    args = json_loads("{\"message\":\"hi\",\"temprature\":1}", 0, NULL);
    assert_int_equal(stepd_llm_request_from_json(args, &jr, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "temprature"));
    free(err);
    stepd_llm_json_request_free(&jr);
    json_decref(args);
    args = json_loads("{\"message\":\"hi\",\"maxTokens\":\"ten\"}", 0, NULL);
    assert_int_equal(stepd_llm_request_from_json(args, &jr, &err), STEP_EINVAL);
    assert_non_null(strstr(err, "maxTokens"));
    free(err);
    stepd_llm_json_request_free(&jr);
    json_decref(args);
}

/* ---- SSE ----------------------------------------------------------------------------------- */

typedef struct sse_log {
    char text[4096];
    int n;
} sse_log;

static int sse_collect(void *ud, const char *event, const char *data, size_t len) {
    sse_log *l = ud;
    assert_int_equal(strlen(data), len);
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof(l->text) - used, "[%s|%s]", event, data);
    l->n++;
    return 0;
}

static void sse_parse_split(const char *in, size_t len, size_t step, sse_log *out) {
    memset(out, 0, sizeof(*out));
    stepd_sse_parser *p = stepd_sse_parser_new(0, sse_collect, out);
    for (size_t off = 0; off < len; off += step)
        assert_int_equal(stepd_sse_feed(p, in + off, off + step > len ? len - off : step), 0);
    stepd_sse_parser_free(p);
}

static void test_sse_same_events_for_every_chunking(void **state) {
    (void)state;
    const char in[] = "\xEF\xBB\xBF: comment\r\ndata: {\"a\":1}\r\n\r\nevent: error\ndata:x\ndata: "
                      "y\n\ndata: no-end\r\rid: 4\nretry: 9\ndata\n\ndata: tail-dropped";
    sse_log whole, piece;
    sse_parse_split(in, sizeof(in) - 1, sizeof(in), &whole);
    assert_string_equal(whole.text, "[message|{\"a\":1}][error|x\ny][message|no-end][message|]");
    for (size_t step = 1; step < sizeof(in); step++) {
        sse_parse_split(in, sizeof(in) - 1, step, &piece);
        assert_string_equal(piece.text, whole.text);
    }
}

static void test_sse_rejects_oversized_event(void **state) {
    (void)state;
    sse_log l = {0};
    stepd_sse_parser *p = stepd_sse_parser_new(16, sse_collect, &l);
    assert_int_equal(stepd_sse_feed(p, "data: 0123456789\ndata: 0123456789\n", 34), STEP_EPARSE);
    stepd_sse_parser_free(p);
    assert_int_equal(l.n, 0);
}

static void test_sse_format_round_trips(void **state) {
    (void)state;
    const char *data = "line one\nline two\r\n: not a comment\rlast";
    size_t n;
    char *ev = stepd_sse_format("token", "7\n", data, strlen(data), &n);
    assert_string_equal(ev, "event: token\nid: 7\ndata: line one\ndata: line two\ndata: : not "
                            "a comment\ndata: last\n\n");
    assert_int_equal(n, strlen(ev));
    sse_log l = {0};
    stepd_sse_parser *p = stepd_sse_parser_new(0, sse_collect, &l);
    assert_int_equal(stepd_sse_feed(p, ev, n), 0);
    stepd_sse_parser_free(p);
    assert_string_equal(l.text, "[token|line one\nline two\n: not a comment\nlast]");
    free(ev);
    ev = stepd_sse_format(NULL, NULL, "", 0, &n);
    assert_string_equal(ev, "data: \n\n");
    free(ev);
}

/* ---- config -------------------------------------------------------------------------------- */

static void test_config_file_env_and_defaults(void **state) {
    (void)state;
    clear_env();
    json_t *ai = json_loads("{\"baseUrl\":\"http://h:1/v1/\",\"model\":\"llama3\",\"maxRetries\":1,"
                            "\"timeoutMs\":5000,\"fallback\":[{\"model\":\"small\"}]}",
                            0, NULL);
    stepd_llm_config cfg;
    char *err = NULL;
    assert_int_equal(stepd_llm_config_load(&cfg, ai, &err), 0);
    assert_string_equal(cfg.primary.base_url, "http://h:1/v1");
    assert_string_equal(cfg.primary.model, "llama3");
    assert_null(cfg.primary.api_key);
    assert_int_equal(cfg.max_retries, 1);
    assert_int_equal(cfg.timeout_ms, 5000);
    assert_int_equal(cfg.n_fallbacks, 1);
    assert_string_equal(cfg.fallbacks[0].model, "small");
    assert_string_equal(cfg.fallbacks[0].base_url, "http://h:1/v1");
    stepd_llm_config_free(&cfg);

    setenv("OPENAI_MODEL", "from-env", 1);
    setenv("OPENAI_API_KEY", "sk-test", 1);
    assert_int_equal(stepd_llm_config_load(&cfg, ai, &err), 0);
    assert_string_equal(cfg.primary.model, "from-env");
    assert_string_equal(cfg.primary.api_key, "sk-test");
    stepd_llm_config_free(&cfg);
    json_decref(ai);

    unsetenv("OPENAI_MODEL"); /* only a key: OpenAI with its default model */
    assert_int_equal(stepd_llm_config_load(&cfg, NULL, &err), 0);
    assert_string_equal(cfg.primary.base_url, "https://api.openai.com/v1");
    assert_string_equal(cfg.primary.model, "gpt-4o-mini");
    stepd_llm_config_free(&cfg);
    clear_env();

    ai = json_loads("{\"timeoutMs\":\"soon\"}", 0, NULL);
    assert_int_equal(stepd_llm_config_load(&cfg, ai, &err), STEP_ECONFIG);
    assert_non_null(strstr(err, "ai.timeoutMs"));
    free(err);
    json_decref(ai);
}

static void test_no_model_says_how_to_configure(void **state) {
    (void)state;
    clear_env();
    stepd_llm_client *c;
    assert_int_equal(stepd_llm_client_new(NULL, &c, NULL), 0);
    assert_false(stepd_llm_client_has_model(c));
    json_t *msgs = user_msgs("hi");
    stepd_llm_request req = {.messages = msgs};
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(c, &req, NULL, &r), STEP_ECONFIG);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_NO_MODEL);
    assert_non_null(strstr(r.error, "OPENAI_API_KEY"));
    assert_non_null(strstr(r.error, "OPENAI_BASE_URL"));
    assert_non_null(strstr(r.error, "stepd.json"));
    stepd_llm_result_free(&r);
    json_decref(msgs);
    stepd_llm_client_free(c);
}

/* ---- against the fake server --------------------------------------------------------------- */

typedef struct fixture {
    llm_fake_server *srv;
    stepd_llm_client *c;
    llm_test_hooks hooks;
} fixture;

static int setup_server(void **state) {
    clear_env();
    fixture *f = calloc(1, sizeof(*f));
    f->srv = llm_fake_start();
    assert_non_null(f->srv);
    json_t *ai = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "baseUrl", llm_fake_url(f->srv), "model",
                           "fake-model", "apiKey", "sk-fake", "backoffMs", 10, "maxRetries", 2,
                           "backoffMaxMs", 40);
    char *err = NULL;
    assert_int_equal(stepd_llm_client_new(ai, &f->c, &err), 0);
    json_decref(ai);
    llm_test_hooks_init(&f->hooks);
    *state = f;
    return 0;
}

static int teardown_server(void **state) {
    fixture *f = *state;
    stepd_llm_client_free(f->c);
    llm_fake_stop(f->srv);
    llm_test_hooks_free(&f->hooks);
    free(f);
    return 0;
}

static void test_chat_round_trip_with_usage_and_auth_header(void **state) {
    fixture *f = *state;
    json_t *msgs = user_msgs("hello there");
    stepd_llm_request req = {.messages = msgs};
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), 0);
    assert_string_equal(r.content, "Echo: hello there");
    assert_string_equal(r.finish_reason, "stop");
    assert_string_equal(r.model, "fake-model");
    assert_int_equal(r.prompt_tokens, 2);
    assert_int_equal(r.completion_tokens, 3);
    assert_int_equal(r.attempts, 1);
    assert_null(r.error);
    char *auth = llm_fake_last_header(f->srv, "authorization");
    assert_string_equal(auth, "Bearer sk-fake");
    free(auth);
    json_t *sent = llm_fake_last_body(f->srv);
    assert_string_equal(json_string_value(json_object_get(sent, "model")), "fake-model");
    json_decref(sent);
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_connections_are_reused(void **state) {
    fixture *f = *state;
    json_t *msgs = user_msgs("x");
    stepd_llm_request req = {.messages = msgs};
    for (int i = 0; i < 4; i++) {
        stepd_llm_result r;
        assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), 0);
        stepd_llm_result_free(&r);
    }
    assert_int_equal(llm_fake_requests(f->srv), 4);
    assert_int_equal(llm_fake_connections(f->srv), 1);
    json_decref(msgs);
}

typedef struct tokens {
    char text[1024];
    int calls;
    int stop_after;
} tokens;

static int on_token(void *ud, const char *delta, size_t len) {
    tokens *t = ud;
    strncat(t->text, delta, len);
    t->calls++;
    return t->stop_after && t->calls >= t->stop_after;
}

static void test_stream_tokens_survive_tiny_chunks(void **state) {
    fixture *f = *state;
    llm_fake_reply rep = {.content = "The quick brown fox jumps over the lazy dog",
                          .chunk_bytes = 7};
    llm_fake_push(f->srv, &rep);
    json_t *msgs = user_msgs("tell me");
    tokens t = {0};
    stepd_llm_request req = {.messages = msgs, .stream = 1, .on_token = on_token, .token_ud = &t};
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), 0);
    assert_string_equal(t.text, "The quick brown fox jumps over the lazy dog");
    assert_int_equal(t.calls, 9);
    assert_string_equal(r.content, t.text);
    assert_string_equal(r.finish_reason, "stop");
    assert_int_equal(r.completion_tokens, 9);
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_tool_calls_plain_and_streamed(void **state) {
    fixture *f = *state;
    json_t *msgs = user_msgs("where is my order A12345?");
    for (int stream = 0; stream < 2; stream++) {
        llm_fake_reply rep = {.tool_name = "track_order",
                              .tool_args = "{\"order_number\":\"A12345\"}",
                              .chunk_bytes = 5};
        llm_fake_push(f->srv, &rep);
        stepd_llm_request req = {.messages = msgs, .stream = stream};
        stepd_llm_result r;
        assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), 0);
        assert_string_equal(r.finish_reason, "tool_calls");
        assert_int_equal(json_array_size(r.tool_calls), 1);
        json_t *call = json_array_get(r.tool_calls, 0);
        assert_string_equal(json_string_value(json_object_get(call, "id")), "call_fake_1");
        json_t *fn = json_object_get(call, "function");
        assert_string_equal(json_string_value(json_object_get(fn, "name")), "track_order");
        assert_string_equal(json_string_value(json_object_get(fn, "arguments")),
                            "{\"order_number\":\"A12345\"}");
        stepd_llm_result_free(&r);
    }
    json_decref(msgs);
}

static void test_retries_5xx_then_succeeds(void **state) {
    fixture *f = *state;
    llm_fake_reply e500 = {.status = 500}, e503 = {.status = 503}, ok = {.content = "fine"};
    llm_fake_push(f->srv, &e500);
    llm_fake_push(f->srv, &e503);
    llm_fake_push(f->srv, &ok);
    json_t *msgs = user_msgs("x");
    stepd_llm_request req = {.messages = msgs};
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), 0);
    assert_string_equal(r.content, "fine");
    assert_int_equal(r.attempts, 3);
    assert_null(r.error);
    stepd_llm_result_free(&r);

    /* beyond max retries: a typed server error naming the attempts */
    for (int i = 0; i < 3; i++)
        llm_fake_push(f->srv, &e500);
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EFAILED);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_SERVER);
    assert_int_equal(r.http_status, 500);
    assert_non_null(strstr(r.error, "after 3 attempts"));
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_429_honours_retry_after(void **state) {
    fixture *f = *state;
    llm_fake_reply limited = {.status = 429, .retry_after = "1"}, ok = {.content = "ok"};
    llm_fake_push(f->srv, &limited);
    llm_fake_push(f->srv, &ok);
    json_t *msgs = user_msgs("x");
    stepd_llm_request req = {.messages = msgs};
    stepd_llm_result r;
    double t0 = now_ms();
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), 0);
    double took = now_ms() - t0;
    assert_true(took >= 950); /* waited what the server asked, not the 10 ms backoff */
    assert_true(took < 3000);
    assert_int_equal(r.attempts, 2);
    stepd_llm_result_free(&r);

    /* still limited after every retry */
    llm_fake_reply quick = {.status = 429, .retry_after = "0"};
    for (int i = 0; i < 3; i++)
        llm_fake_push(f->srv, &quick);
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EBUSY);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_RATE_LIMITED);
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_auth_and_bad_request_are_not_retried(void **state) {
    fixture *f = *state;
    json_t *msgs = user_msgs("x");
    stepd_llm_request req = {.messages = msgs, .model = "fake-401"};
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EFAILED);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_AUTH);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(r.error, "Incorrect API key"));
    assert_non_null(strstr(r.error, "OPENAI_API_KEY"));
    stepd_llm_result_free(&r);

    llm_fake_reply bad = {.status = 400,
                          .body = "{\"error\":{\"message\":\"max_tokens is too large\","
                                  "\"type\":\"invalid_request_error\"}}"};
    llm_fake_push(f->srv, &bad);
    req.model = NULL;
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EINVAL);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_BAD_REQUEST);
    assert_int_equal(r.attempts, 1);
    assert_non_null(strstr(r.error, "max_tokens is too large"));
    stepd_llm_result_free(&r);

    llm_fake_reply filtered = {.status = 400,
                               .body = "{\"error\":{\"message\":\"filtered\",\"code\":"
                                       "\"content_filter\"}}"};
    llm_fake_push(f->srv, &filtered);
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EFAILED);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_CONTENT_FILTER);
    stepd_llm_result_free(&r);
    llm_fake_reply fr = {.content = "partial", .finish_reason = "content_filter"};
    llm_fake_push(f->srv, &fr);
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EFAILED);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_CONTENT_FILTER);
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_timeout_on_slow_server(void **state) {
    fixture *f = *state;
    llm_fake_reply slow = {.delay_ms = 2000};
    llm_fake_push(f->srv, &slow);
    json_t *msgs = user_msgs("x");
    stepd_llm_request req = {.messages = msgs, .timeout_ms = 300, .max_retries = -1};
    stepd_llm_result r;
    double t0 = now_ms();
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_ETIMEOUT);
    assert_true(now_ms() - t0 < 1500);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_TIMEOUT);
    assert_non_null(strstr(r.error, "300 ms"));
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

typedef struct canceller {
    int flag;
    int after_ms;
} canceller;

static void *cancel_later(void *arg) {
    canceller *c = arg;
    struct timespec ts = {0, c->after_ms * 1000000L};
    nanosleep(&ts, NULL);
    __atomic_store_n(&c->flag, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_cancellation_stops_a_waiting_call(void **state) {
    fixture *f = *state;
    llm_fake_reply slow = {.delay_ms = 2500};
    llm_fake_push(f->srv, &slow);
    json_t *msgs = user_msgs("x");
    canceller cz = {.after_ms = 150};
    stepd_llm_request req = {.messages = msgs, .cancel_flag = &cz.flag};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &cz);
    stepd_llm_result r;
    double t0 = now_ms();
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_ECLOSED);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_CANCELLED);
    assert_int_equal(r.attempts, 1);
    pthread_join(th, NULL);
    stepd_llm_result_free(&r);

    /* the token callback can cancel a stream too */
    llm_fake_reply words = {.content = "one two three four five six", .chunk_delay_ms = 5};
    llm_fake_push(f->srv, &words);
    tokens t = {.stop_after = 2};
    stepd_llm_request sreq = {.messages = msgs, .stream = 1, .on_token = on_token, .token_ud = &t};
    assert_int_equal(stepd_llm_chat(f->c, &sreq, NULL, &r), STEP_ECLOSED);
    assert_string_equal(t.text, "one two");
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_truncated_stream_and_malformed_json(void **state) {
    fixture *f = *state;
    llm_fake_reply cut = {.content = "alpha beta gamma delta epsilon zeta", .truncate = 1};
    llm_fake_push(f->srv, &cut);
    json_t *msgs = user_msgs("x");
    tokens t = {0};
    stepd_llm_request req = {.messages = msgs, .stream = 1, .on_token = on_token, .token_ud = &t};
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EIO);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_NETWORK);
    assert_non_null(strstr(r.error, "ended early"));
    assert_true(t.calls > 0);               /* what arrived was delivered ... */
    assert_string_equal(r.content, t.text); /* ... and kept */
    assert_int_equal(r.attempts, 1);        /* not retried: the caller already saw tokens */
    stepd_llm_result_free(&r);

    llm_fake_reply junk = {.body = "{\"choices\": [ {\"message\": "};
    llm_fake_push(f->srv, &junk);
    stepd_llm_request plain = {.messages = msgs};
    assert_int_equal(stepd_llm_chat(f->c, &plain, NULL, &r), STEP_EPARSE);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_PARSE);
    stepd_llm_result_free(&r);

    llm_fake_reply bad_chunk = {.body = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                                        "data: {oops\n\n",
                                .content_type = "text/event-stream"};
    llm_fake_push(f->srv, &bad_chunk);
    memset(&t, 0, sizeof(t));
    assert_int_equal(stepd_llm_chat(f->c, &req, NULL, &r), STEP_EPARSE);
    assert_non_null(strstr(r.error, "malformed JSON chunk"));
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_cache_hit_miss_and_expiry(void **state) {
    fixture *f = *state;
    json_t *msgs = user_msgs("cache me");
    stepd_llm_request req = {.messages = msgs, .cache_ttl_s = 60};
    stepd_llm_hooks h = llm_test_hooks_get(&f->hooks);
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    assert_false(r.cached);
    stepd_llm_result_free(&r);
    assert_int_equal(llm_fake_requests(f->srv), 1);

    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    assert_true(r.cached);
    assert_string_equal(r.content, "Echo: cache me");
    assert_int_equal(r.prompt_tokens, 2);
    stepd_llm_result_free(&r);
    assert_int_equal(llm_fake_requests(f->srv), 1); /* served from state */

    /* streaming and non-streaming requests share the entry; the tokens still arrive */
    tokens t = {0};
    stepd_llm_request sreq = req;
    sreq.stream = 1;
    sreq.on_token = on_token;
    sreq.token_ud = &t;
    assert_int_equal(stepd_llm_chat(f->c, &sreq, &h, &r), 0);
    assert_true(r.cached);
    assert_string_equal(t.text, "Echo: cache me");
    stepd_llm_result_free(&r);

    /* another temperature is another request */
    stepd_llm_request hot = req;
    hot.has_temperature = 1;
    hot.temperature = 1.5;
    assert_int_equal(stepd_llm_chat(f->c, &hot, &h, &r), 0);
    assert_false(r.cached);
    stepd_llm_result_free(&r);
    assert_int_equal(llm_fake_requests(f->srv), 2);

    /* an expired entry is a miss */
    char key[65];
    assert_int_equal(stepd_llm_cache_key(&req, "fake-model", llm_fake_url(f->srv), key), 0);
    json_t *entry = llm_test_hooks_peek(&f->hooks, STEPD_LLM_CACHE_GROUP, key);
    assert_non_null(entry);
    json_object_set_new(entry, "expiresAt", json_integer(1000));
    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    assert_false(r.cached);
    stepd_llm_result_free(&r);
    assert_int_equal(llm_fake_requests(f->srv), 3);
    json_decref(msgs);
}

static void test_metrics_event_per_call(void **state) {
    fixture *f = *state;
    json_t *msgs = user_msgs("measure this");
    stepd_llm_request req = {.messages = msgs, .cache_ttl_s = 60, .metrics_tag = "t1"};
    stepd_llm_hooks h = llm_test_hooks_get(&f->hooks);
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    stepd_llm_result_free(&r);
    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    stepd_llm_result_free(&r);
    req.model = "fake-401";
    assert_int_not_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    stepd_llm_result_free(&r);
    req.no_metrics = 1;
    assert_int_not_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    stepd_llm_result_free(&r);

    json_t *ev = f->hooks.events;
    assert_int_equal(json_array_size(ev), 3);
    json_t *e0 = json_array_get(ev, 0), *d0 = json_object_get(e0, "data");
    assert_string_equal(json_string_value(json_object_get(e0, "topic")), "metrics.ai");
    assert_string_equal(json_string_value(json_object_get(d0, "model")), "fake-model");
    assert_int_equal(json_integer_value(json_object_get(d0, "tokensIn")), 2);
    assert_int_equal(json_integer_value(json_object_get(d0, "tokensOut")), 3);
    assert_true(json_is_false(json_object_get(d0, "cacheHit")));
    assert_true(json_is_null(json_object_get(d0, "error")));
    assert_true(json_real_value(json_object_get(d0, "latencyMs")) > 0);
    assert_string_equal(json_string_value(json_object_get(d0, "tag")), "t1");
    json_t *d1 = json_object_get(json_array_get(ev, 1), "data");
    assert_true(json_is_true(json_object_get(d1, "cacheHit")));
    json_t *d2 = json_object_get(json_array_get(ev, 2), "data");
    assert_string_equal(json_string_value(json_object_get(d2, "error")), "auth");
    assert_string_equal(json_string_value(json_object_get(d2, "model")), "fake-401");
    json_decref(msgs);
}

static int canned(void *ud, const stepd_llm_request *req, const stepd_llm_result *failed,
                  stepd_llm_result *out) {
    (void)req;
    int *calls = ud;
    (*calls)++;
    assert_int_equal(failed->error_kind, STEPD_LLM_ERR_SERVER);
    out->content = strdup("Sorry, our assistant is busy. Please try again shortly.");
    return 0;
}

static void test_fallback_endpoint_then_function(void **state) {
    fixture *f = *state;
    json_t *msgs = user_msgs("x");
    stepd_llm_endpoint alt = {.model = "backup-model"};
    stepd_llm_request req = {.messages = msgs,
                             .model = "fake-500",
                             .max_retries = 1,
                             .fallbacks = &alt,
                             .n_fallbacks = 1};
    stepd_llm_hooks h = llm_test_hooks_get(&f->hooks);
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    assert_int_equal(r.fallback, 1);
    assert_string_equal(r.model, "backup-model");
    assert_string_equal(r.content, "Echo: x");
    assert_int_equal(r.attempts, 3); /* 2 on the primary, 1 on the fallback */
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_SERVER);
    assert_non_null(r.error); /* why the primary failed */
    stepd_llm_result_free(&r);
    json_t *d = json_object_get(json_array_get(f->hooks.events, 0), "data");
    assert_int_equal(json_integer_value(json_object_get(d, "fallback")), 1);
    assert_string_equal(json_string_value(json_object_get(d, "primaryError")), "server");

    int calls = 0;
    alt.model = "fake-500";
    req.fallback_fn = canned;
    req.fallback_ud = &calls;
    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(r.fallback, -1);
    assert_non_null(strstr(r.content, "busy"));
    stepd_llm_result_free(&r);

    /* without any fallback left, the error is the last one's */
    req.fallback_fn = NULL;
    assert_int_equal(stepd_llm_chat(f->c, &req, &h, &r), STEP_EFAILED);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_SERVER);
    stepd_llm_result_free(&r);
    json_decref(msgs);
}

static void test_stream_idle_timeout_and_key_isolation(void **state) {
    fixture *f = *state;
    clear_env();
    json_t *ai =
        json_pack("{s:s,s:s,s:s,s:i,s:i,s:[{s:s,s:s}]}", "baseUrl", llm_fake_url(f->srv), "model",
                  "fake-model", "apiKey", "sk-primary", "idleTimeoutMs", 200, "maxRetries", 0,
                  "fallback", "baseUrl", llm_fake_url(f->srv), "model", "other-host-model");
    stepd_llm_client *c;
    assert_int_equal(stepd_llm_client_new(ai, &c, NULL), 0);
    json_decref(ai);
    json_t *msgs = user_msgs("x");

    /* stalls before any token: the fallback (on "another server") answers, without the key */
    llm_fake_reply stall = {.content = "first second third", .stall_after = 1, .stall_ms = 1500};
    llm_fake_push(f->srv, &stall);
    tokens t = {0};
    stepd_llm_request req = {.messages = msgs, .stream = 1, .on_token = on_token, .token_ud = &t};
    stepd_llm_result r;
    double t0 = now_ms();
    assert_int_equal(stepd_llm_chat(c, &req, NULL, &r), 0);
    assert_true(now_ms() - t0 < 1200);
    assert_int_equal(r.fallback, 1);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_TIMEOUT); /* why the primary failed */
    assert_string_equal(t.text, "Echo: x");
    char *auth = llm_fake_last_header(f->srv, "authorization");
    assert_null(auth);
    stepd_llm_result_free(&r);

    /* stalls after a token: an idle timeout, the token kept, no fallback splicing */
    llm_fake_reply late = {.content = "first second third", .stall_after = 2, .stall_ms = 1500};
    llm_fake_push(f->srv, &late);
    memset(&t, 0, sizeof(t));
    assert_int_equal(stepd_llm_chat(c, &req, NULL, &r), STEP_ETIMEOUT);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_TIMEOUT);
    assert_non_null(strstr(r.error, "idle"));
    assert_string_equal(t.text, "first");
    assert_string_equal(r.content, "first");
    assert_int_equal(r.streamed, 5);
    assert_int_equal(r.fallback, 0);
    stepd_llm_result_free(&r);
    stepd_llm_client_free(c);
    json_decref(msgs);
}

typedef struct par {
    stepd_llm_client *c;
    int ok;
} par;

static void *par_main(void *arg) {
    par *p = arg;
    json_t *msgs = user_msgs("parallel");
    stepd_llm_request req = {.messages = msgs};
    for (int i = 0; i < 10; i++) {
        stepd_llm_result r;
        if (stepd_llm_chat(p->c, &req, NULL, &r) == 0 && !strcmp(r.content, "Echo: parallel"))
            p->ok++;
        else
            fprintf(stderr, "parallel call failed: %s\n", r.error ? r.error : "wrong content");
        stepd_llm_result_free(&r);
    }
    json_decref(msgs);
    return NULL;
}

static void test_threads_share_one_client(void **state) {
    fixture *f = *state;
    pthread_t th[4];
    par p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (par){f->c, 0};
        pthread_create(&th[i], NULL, par_main, &p[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].ok, 10);
    }
    assert_int_equal(llm_fake_requests(f->srv), 40);
    assert_true(llm_fake_connections(f->srv) <= 4); /* kept alive and reused */
}

static void test_unreachable_server_is_a_network_error(void **state) {
    (void)state;
    clear_env();
    /* a port nobody listens on: start and stop a server to get one */
    llm_fake_server *s = llm_fake_start();
    char url[64];
    snprintf(url, sizeof(url), "%s", llm_fake_url(s));
    llm_fake_stop(s);
    json_t *ai = json_pack("{s:s,s:s,s:i,s:i}", "baseUrl", url, "model", "m", "backoffMs", 5,
                           "maxRetries", 1);
    stepd_llm_client *c;
    assert_int_equal(stepd_llm_client_new(ai, &c, NULL), 0);
    json_t *msgs = user_msgs("x");
    stepd_llm_request req = {.messages = msgs};
    stepd_llm_result r;
    assert_int_equal(stepd_llm_chat(c, &req, NULL, &r), STEP_EIO);
    assert_int_equal(r.error_kind, STEPD_LLM_ERR_NETWORK);
    assert_int_equal(r.attempts, 2);
    assert_non_null(strstr(r.error, "cannot reach"));
    stepd_llm_result_free(&r);
    stepd_llm_client_free(c);
    json_decref(msgs);
    json_decref(ai);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--serve"))
        return llm_fake_serve_forever();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_body_encodes_every_option),
        cmocka_unit_test(test_request_body_rejects_bad_messages),
        cmocka_unit_test(test_parse_response_reads_content_tools_usage),
        cmocka_unit_test(test_request_from_json_for_other_languages),
        cmocka_unit_test(test_sse_same_events_for_every_chunking),
        cmocka_unit_test(test_sse_rejects_oversized_event),
        cmocka_unit_test(test_sse_format_round_trips),
        cmocka_unit_test(test_config_file_env_and_defaults),
        cmocka_unit_test(test_no_model_says_how_to_configure),
        cmocka_unit_test_setup_teardown(test_chat_round_trip_with_usage_and_auth_header,
                                        setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_connections_are_reused, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_stream_tokens_survive_tiny_chunks, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_tool_calls_plain_and_streamed, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_retries_5xx_then_succeeds, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_429_honours_retry_after, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_auth_and_bad_request_are_not_retried, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_timeout_on_slow_server, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_cancellation_stops_a_waiting_call, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_truncated_stream_and_malformed_json, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_cache_hit_miss_and_expiry, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_metrics_event_per_call, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_fallback_endpoint_then_function, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_stream_idle_timeout_and_key_isolation, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_threads_share_one_client, setup_server,
                                        teardown_server),
        cmocka_unit_test(test_unreachable_server_is_a_network_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
