/*
 * script_ai.c — the AI calls JavaScript and Python steps make through their context
 * (ctx.ai.chat(...)), run here on the handler's thread with the handler's own step context:
 * the LLM module's JSON request (see stepd_llm_request_from_json in <stepd/ai/llm.h>), one
 * client per process configured from stepd.json's "ai" section and the environment, the
 * step's state for caching and memory, and `metrics.ai` events when the step declares them.
 *
 * Beyond the C request, "streamTo": {"stream": S, "id": I} publishes each token to the named
 * stream (S, I) as it arrives ("token" events), then an "end" event with {"content"} or
 * {"error"}, so clients following (S, I) see the reply being written (step_respond_follow).
 *
 * The AI library is loaded on first use (lang/ailib.c); its functions are looked up by name so
 * the runtime binary keeps no link-time dependency on it.
 */
#include "lang/script_ai.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/ai/llm.h>

#include "core/ctx.h"
#include "lang/ailib.h"

typedef struct llm_api {
    int (*client_new)(json_t *, stepd_llm_client **, char **);
    int (*from_json)(json_t *, stepd_llm_json_request *, char **);
    void (*json_free)(stepd_llm_json_request *);
    int (*chat)(stepd_llm_client *, const stepd_llm_request *, const stepd_llm_hooks *,
                stepd_llm_result *);
    json_t *(*to_json)(const stepd_llm_result *);
    void (*result_free)(stepd_llm_result *);
} llm_api;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static llm_api api;
static stepd_llm_client *client;
static char load_error[512];

/* Loads the library and the process's client once; NULL with load_error set on failure. */
static stepd_llm_client *get_client(runtime *rt) {
    pthread_mutex_lock(&mu);
    if (!client && !load_error[0]) {
        void *h = ailib_open(load_error, sizeof(load_error));
        if (h) {
            *(void **)&api.client_new = dlsym(h, "stepd_llm_client_new");
            *(void **)&api.from_json = dlsym(h, "stepd_llm_request_from_json");
            *(void **)&api.json_free = dlsym(h, "stepd_llm_json_request_free");
            *(void **)&api.chat = dlsym(h, "stepd_llm_chat");
            *(void **)&api.to_json = dlsym(h, "stepd_llm_result_to_json");
            *(void **)&api.result_free = dlsym(h, "stepd_llm_result_free");
            char *err = NULL;
            if (!api.client_new || !api.from_json || !api.json_free || !api.chat ||
                !api.to_json || !api.result_free)
                snprintf(load_error, sizeof(load_error),
                         "libstepd-ai.so lacks the LLM functions (rebuild it with `make`)");
            else if (api.client_new(json_object_get(rt->cfg->raw, "ai"), &client, &err) < 0)
                snprintf(load_error, sizeof(load_error), "stepd.json \"ai\": %s",
                         err ? err : "invalid");
            free(err);
        }
    }
    stepd_llm_client *c = client;
    pthread_mutex_unlock(&mu);
    return c;
}

typedef struct token_sink {
    step_ctx *ctx;
    const char *stream, *id;
} token_sink;

static int publish_token(void *ud, const char *delta, size_t len) {
    token_sink *t = ud;
    char *text = strndup(delta, len);
    if (text)
        step_stream_publish(t->ctx, t->stream, t->id, "token", text);
    free(text);
    return 0;
}

static int hook_get(void *ud, const char *g, const char *k, json_t **o) {
    return step_state_get(ud, g, k, o);
}
static int hook_set(void *ud, const char *g, const char *k, json_t *v) {
    return step_state_set(ud, g, k, v);
}
static int hook_emit(void *ud, const char *topic, json_t *data) {
    return step_emit(ud, topic, data);
}

int script_ai_chat(step_ctx *ctx, json_t *args, json_t **result, char **err) {
    *result = NULL;
    *err = NULL;
    if (!json_is_object(args)) {
        *err = strdup("ai.chat takes an object, e.g. {message: \"Hello\"}");
        return STEP_EINVAL;
    }
    stepd_llm_client *c = get_client(ctx->rt);
    if (!c) {
        *err = strdup(load_error);
        return STEP_EUNSUPPORTED;
    }
    json_t *a = json_copy(args); /* shallow: the values stay borrowed from args */
    if (!a)
        return STEP_ENOMEM;
    token_sink sink = {.ctx = ctx};
    json_t *to = json_object_get(a, "streamTo");
    if (to) {
        sink.stream = json_string_value(json_object_get(to, "stream"));
        sink.id = json_string_value(json_object_get(to, "id"));
        if (!sink.stream || !*sink.stream || !sink.id || !*sink.id) {
            json_decref(a);
            *err = strdup("streamTo must be {stream: \"name\", id: \"id\"}");
            return STEP_EINVAL;
        }
        json_incref(to); /* sink points into it */
        json_object_del(a, "streamTo");
    }
    /* metrics only when the step may emit them (else every call would log an undeclared emit) */
    if (!json_object_get(a, "metrics") && !step_def_emits(ctx->step, STEPD_LLM_METRICS_TOPIC))
        json_object_set_new(a, "metrics", json_false());
    stepd_llm_json_request jr;
    int rc = api.from_json(a, &jr, err);
    if (rc == 0) {
        if (to) {
            jr.req.stream = 1;
            jr.req.on_token = publish_token;
            jr.req.token_ud = &sink;
        }
        stepd_llm_hooks hooks = {ctx, hook_get, hook_set, hook_emit};
        stepd_llm_result res = {0};
        rc = api.chat(c, &jr.req, &hooks, &res);
        if (rc && res.error)
            *err = strdup(res.error);
        else
            *result = api.to_json(&res);
        if (to) {
            json_t *end = rc ? json_pack("{s:s}", "error", res.error ? res.error : "failed")
                             : json_pack("{s:s}", "content", res.content ? res.content : "");
            char *text = end ? json_dumps(end, JSON_COMPACT) : NULL;
            step_stream_publish(ctx, sink.stream, sink.id, "end", text ? text : "{}");
            free(text);
            json_decref(end);
        }
        api.result_free(&res);
        if (!rc && !*result)
            rc = STEP_ENOMEM;
    }
    api.json_free(&jr);
    json_decref(a);
    json_decref(to);
    return rc;
}
