/* test_lang_protocol.c — the core side of the worker protocol: message decoding, line framing,
 * and a pool driving a small fake worker (Debian's python3 running an inline script) through
 * round trips, back-calls, concurrency, crashes, hangs and garbage. */
#include "support/test.h"

#include <pthread.h>
#include <stepd/step.h>
#include <string.h>
#include <unistd.h>

#include "lang/worker.h"

static int decode(const char *s, worker_msg *m) {
    const char *why = NULL;
    int rc = worker_msg_decode(s, strlen(s), m, &why);
    if (rc)
        assert_non_null(why);
    return rc;
}

static void test_decode_accepts_each_message(void **state) {
    (void)state;
    worker_msg m;
    assert_int_equal(decode("{\"t\":\"result\",\"id\":7,\"ok\":true,\"value\":{\"a\":1}}", &m), 0);
    assert_int_equal(m.type, WMSG_RESULT);
    assert_int_equal(m.id, 7);
    worker_msg_clear(&m);
    assert_int_equal(decode("{\"t\":\"call\",\"id\":3,\"call\":9,\"op\":\"emit\",\"args\":{}}", &m),
                     0);
    assert_int_equal(m.type, WMSG_CALL);
    assert_int_equal(m.call, 9);
    worker_msg_clear(&m);
    assert_int_equal(decode("{\"t\":\"call\",\"id\":3,\"op\":\"state.set\",\"args\":{}}", &m), 0);
    assert_int_equal(m.type, WMSG_CALL);
    assert_int_equal(m.call, 0); /* fire and forget */
    worker_msg_clear(&m);
    assert_int_equal(decode("{\"t\":\"log\",\"msg\":\"hi\",\"fields\":null}", &m), 0);
    assert_int_equal(m.type, WMSG_LOG);
    assert_int_equal(m.id, 0);
    worker_msg_clear(&m);
    assert_int_equal(decode("{\"t\":\"loaded\",\"id\":1,\"steps\":[],\"errors\":[]}", &m), 0);
    assert_int_equal(m.type, WMSG_LOADED);
    worker_msg_clear(&m);
}

static void test_decode_rejects_garbage(void **state) {
    (void)state;
    const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"id\":1}",
        "{\"t\":\"nope\",\"id\":1}",
        "{\"t\":\"result\",\"id\":1}",              /* no ok */
        "{\"t\":\"result\",\"id\":-1,\"ok\":true}", /* negative id */
        "{\"t\":\"result\",\"id\":\"1\",\"ok\":true}",
        "{\"t\":\"call\",\"id\":1,\"call\":2}", /* no op */
        "{\"t\":\"call\",\"id\":1,\"call\":\"2\",\"op\":\"emit\"}",
        "{\"t\":\"call\",\"id\":1,\"call\":2,\"op\":\"emit\",\"args\":[]}",
        "{\"t\":\"log\",\"id\":1}",
        "{\"t\":\"loaded\",\"id\":1}",
        "{\"t\":\"result\",\"id\":1,\"ok\":true} trailing",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        worker_msg m;
        assert_int_equal(decode(bad[i], &m), STEP_EPARSE);
        assert_null(m.json);
    }
}

static void test_linebuf_frames_lines(void **state) {
    (void)state;
    worker_linebuf lb = {.max = 64};
    size_t len;
    assert_int_equal(worker_linebuf_feed(&lb, "ab", 2), 0);
    assert_null(worker_linebuf_next(&lb, &len));
    assert_int_equal(worker_linebuf_feed(&lb, "c\nde\n\nf", 7), 0);
    const char *l = worker_linebuf_next(&lb, &len);
    assert_string_equal(l, "abc");
    assert_int_equal(len, 3);
    assert_string_equal(worker_linebuf_next(&lb, &len), "de");
    assert_string_equal(worker_linebuf_next(&lb, &len), "");
    assert_null(worker_linebuf_next(&lb, &len));
    assert_int_equal(worker_linebuf_feed(&lb, "g\n", 2), 0);
    assert_string_equal(worker_linebuf_next(&lb, &len), "fg");
    /* many small feeds keep the buffer bounded */
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(worker_linebuf_feed(&lb, "xyz\n", 4), 0);
        assert_string_equal(worker_linebuf_next(&lb, &len), "xyz");
    }
    assert_true(lb.cap <= 65536);
    char big[100];
    memset(big, 'a', sizeof(big));
    assert_int_equal(worker_linebuf_feed(&lb, big, sizeof(big)), STEP_EPARSE);
    worker_linebuf_free(&lb);
}

/* The fake worker: answers invoke with its data; data "call" first makes a back-call and
 * answers with the reply's value; "crash" exits; "hang" sleeps; "garbage" prints junk. */
static const char *FAKE =
    "import json, sys, os, time\n"
    "out = os.fdopen(1, 'w')\n"
    "def send(m):\n"
    "    out.write(json.dumps(m) + '\\n'); out.flush()\n"
    "for line in sys.stdin:\n"
    "    m = json.loads(line)\n"
    "    if m['t'] == 'load':\n"
    "        send({'t': 'loaded', 'id': m['id'], 'steps': [{'file': f} for f in m['files']],\n"
    "              'errors': []})\n"
    "        continue\n"
    "    if m['t'] != 'invoke':\n"
    "        continue\n"
    "    d = m['data']\n"
    "    if d == 'crash': os._exit(3)\n"
    "    if d == 'hang': time.sleep(60)\n"
    "    if d == 'garbage': out.write('hello\\n'); out.flush(); continue\n"
    "    if d == 'throw':\n"
    "        send({'t': 'result', 'id': m['id'], 'ok': False, 'error': {'message': 'boom'}})\n"
    "        continue\n"
    "    if d in ('post', 'post-ok'):\n"
    "        send({'t': 'call', 'id': m['id'], 'op': 'echo', 'args': {'x': 1}})\n"
    "        if d == 'post': send({'t': 'call', 'id': m['id'], 'op': 'fail', 'args': {}})\n"
    "        send({'t': 'call', 'id': m['id'], 'op': 'echo', 'args': {'x': 2}})\n"
    "    if d == 'call':\n"
    "        send({'t': 'log', 'id': m['id'], 'level': 'info', 'msg': 'calling'})\n"
    "        send({'t': 'call', 'id': m['id'], 'call': 1, 'op': 'echo', 'args': {'x': 41}})\n"
    "        r = json.loads(sys.stdin.readline())\n"
    "        d = r['value']\n"
    "    send({'t': 'result', 'id': m['id'], 'ok': True, 'value': d})\n";

static worker_pool *fake_pool(int processes) {
    if (access("/usr/bin/python3", X_OK) != 0)
        return NULL;
    char *const argv[] = {"/usr/bin/python3", "-c", (char *)FAKE, NULL};
    worker_pool_opts o = {.lang = "fake", .argv = argv, .processes = processes, .dir = "/"};
    worker_pool *p = NULL;
    assert_int_equal(worker_pool_new(&o, &p), 0);
    return p;
}

typedef struct served {
    int calls, logs;
} served;

static int serve(void *arg, const worker_msg *m, json_t **value, char **error) {
    served *s = arg;
    (void)error;
    if (m->type == WMSG_LOG) {
        s->logs++;
        return 0;
    }
    s->calls++;
    if (!strcmp(json_string_value(json_object_get(m->json, "op")), "fail")) {
        *error = strdup("state.set failed: no space");
        return STEP_EIO;
    }
    json_t *x = json_object_get(json_object_get(m->json, "args"), "x");
    *value = json_integer(json_integer_value(x) + 1);
    return 0;
}

static int invoke(worker_pool *p, json_t *data, int timeout, served *s, json_t **value,
                  json_t **error) {
    json_t *msg = json_pack("{s:s, s:s, s:s, s:o}", "t", "invoke", "step", "S", "kind", "event",
                            "data", data);
    int rc = worker_invoke(p, msg, timeout, serve, s, value, error);
    json_decref(msg);
    return rc;
}

#define SKIP_WITHOUT_PYTHON(p)                                                                     \
    if (!(p)) {                                                                                    \
        print_message("skipped: /usr/bin/python3 is needed for the fake worker\n");                \
        skip();                                                                                    \
    }

static void test_pool_round_trip_and_back_calls(void **state) {
    (void)state;
    worker_pool *p = fake_pool(1);
    SKIP_WITHOUT_PYTHON(p);
    served s = {0};
    json_t *v = NULL, *e = NULL;
    assert_int_equal(invoke(p, json_string("hello"), 5000, &s, &v, &e), 0);
    assert_string_equal(json_string_value(v), "hello");
    json_decref(v);
    assert_int_equal(invoke(p, json_string("call"), 5000, &s, &v, &e), 0);
    assert_int_equal(json_integer_value(v), 42);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.logs, 1);
    json_decref(v);
    assert_int_equal(invoke(p, json_string("throw"), 5000, &s, &v, &e), STEP_EFAILED);
    assert_string_equal(json_string_value(json_object_get(e, "message")), "boom");
    json_decref(e);
    /* back-calls without a call id get no reply; a failed one fails the invocation */
    s.calls = 0;
    assert_int_equal(invoke(p, json_string("post-ok"), 5000, &s, &v, &e), 0);
    assert_string_equal(json_string_value(v), "post-ok");
    json_decref(v);
    assert_int_equal(s.calls, 2);
    assert_int_equal(invoke(p, json_string("post"), 5000, &s, &v, &e), STEP_EFAILED);
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "state.set failed: no space");
    json_decref(e);
    assert_int_equal(s.calls, 5); /* served in order, the ones after the failure too */
    assert_int_equal(invoke(p, json_string("hello"), 5000, &s, &v, &e), 0);
    json_decref(v);
    json_t *files = json_pack("[s]", "/x/a.step.js"), *loaded = NULL;
    char *err = NULL;
    assert_int_equal(worker_pool_load(p, files, 5000, &loaded, &err), 0);
    assert_int_equal(json_array_size(json_object_get(loaded, "steps")), 1);
    json_decref(loaded);
    json_decref(files);
    worker_pool_stats st;
    worker_pool_get_stats(p, &st);
    assert_int_equal(st.spawned, 1);
    worker_pool_free(p);
}

static void test_pool_replaces_crashed_hung_and_garbling_workers(void **state) {
    (void)state;
    worker_pool *p = fake_pool(1);
    SKIP_WITHOUT_PYTHON(p);
    served s = {0};
    json_t *v = NULL, *e = NULL;
    const char *faults[] = {"crash", "garbage", "hang"};
    int codes[] = {STEP_EFAILED, STEP_EFAILED, STEP_ETIMEOUT};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(invoke(p, json_string(faults[i]), 500, &s, &v, &e), codes[i]);
        assert_non_null(json_object_get(e, "message"));
        json_decref(e);
        e = NULL;
        /* the next call gets a fresh process that works */
        assert_int_equal(invoke(p, json_string("ok"), 5000, &s, &v, &e), 0);
        assert_string_equal(json_string_value(v), "ok");
        json_decref(v);
    }
    worker_pool_stats st;
    worker_pool_get_stats(p, &st);
    assert_int_equal(st.spawned, 4);
    assert_int_equal(st.died, 3);
    worker_pool_free(p);
}

typedef struct thread_arg {
    worker_pool *p;
    int ok;
} thread_arg;

static void *hammer(void *arg) {
    thread_arg *a = arg;
    for (int i = 0; i < 200; i++) {
        served s = {0};
        json_t *v = NULL, *e = NULL;
        json_t *d = json_integer(i);
        if (invoke(a->p, d, 5000, &s, &v, &e) == 0 && json_integer_value(v) == i)
            a->ok++;
        json_decref(v);
        json_decref(e);
    }
    return NULL;
}

static void test_pool_many_threads_many_in_flight(void **state) {
    (void)state;
    worker_pool *p = fake_pool(2);
    SKIP_WITHOUT_PYTHON(p);
    pthread_t t[6];
    thread_arg a[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (thread_arg){.p = p};
        pthread_create(&t[i], NULL, hammer, &a[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].ok, 200);
    }
    worker_pool_free(p);
}

static void test_pool_reports_a_missing_interpreter(void **state) {
    (void)state;
    char *const argv[] = {"/nonexistent/interpreter", NULL};
    worker_pool_opts o = {.lang = "ghost", .argv = argv, .processes = 1};
    worker_pool *p = NULL;
    assert_int_equal(worker_pool_new(&o, &p), 0);
    served s = {0};
    json_t *v = NULL, *e = NULL;
    int rc = invoke(p, json_string("x"), 1000, &s, &v, &e);
    assert_true(rc != 0);
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "ghost"));
    json_decref(e);
    worker_pool_free(p);
    assert_int_equal(worker_pool_new(&(worker_pool_opts){.argv = NULL, .processes = 1}, &p),
                     STEP_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_accepts_each_message),
        cmocka_unit_test(test_decode_rejects_garbage),
        cmocka_unit_test(test_linebuf_frames_lines),
        cmocka_unit_test(test_pool_round_trip_and_back_calls),
        cmocka_unit_test(test_pool_replaces_crashed_hung_and_garbling_workers),
        cmocka_unit_test(test_pool_many_threads_many_in_flight),
        cmocka_unit_test(test_pool_reports_a_missing_interpreter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
