/*
 * llm.c — the chat client: configuration (stepd.json "ai" + environment + per-call
 * overrides), the client object with its libcurl share handle, and stepd_llm_chat(), which
 * wraps the HTTP call (llm_http.c) with the opt-in cache, the fallback chain and the
 * metrics.ai event.
 *
 * Order of one call: resolve the primary endpoint → cache lookup (hooks.state_get, group
 * "ai_cache", entries carry expiresAt) → primary with its retries → each fallback endpoint
 * (client's, then the call's) → the call's fallback function → cache store → metrics event.
 * A call whose request is invalid or that was cancelled stops at once: no fallback would fix it.
 */
#include "ai/llm_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LLM_DEFAULT_OPENAI_BASE "https://api.openai.com/v1"
#define LLM_DEFAULT_OPENAI_MODEL "gpt-4o-mini"

struct stepd_llm_client {
    stepd_llm_config cfg;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_init_rc;
static void curl_init_once(void) {
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *stepd_llm_no_model_help(void) {
    return "no chat model configured: set OPENAI_API_KEY (OpenAI, model defaults to "
           "gpt-4o-mini), or OPENAI_BASE_URL plus OPENAI_MODEL for an OpenAI-compatible server "
           "(e.g. OPENAI_BASE_URL=http://127.0.0.1:11434/v1 OPENAI_MODEL=llama3.2 for Ollama), "
           "or put {\"ai\": {\"baseUrl\": \"...\", \"model\": \"...\", \"apiKeyEnv\": "
           "\"OPENAI_API_KEY\"}} in stepd.json";
}

/* ---- configuration ------------------------------------------------------------------------- */

static void endpoint_free(stepd_llm_endpoint *e) {
    free(e->base_url);
    free(e->api_key);
    free(e->model);
    memset(e, 0, sizeof(*e));
}

void stepd_llm_config_free(stepd_llm_config *cfg) {
    if (!cfg)
        return;
    endpoint_free(&cfg->primary);
    for (size_t i = 0; i < cfg->n_fallbacks; i++)
        endpoint_free(&cfg->fallbacks[i]);
    free(cfg->fallbacks);
    free(cfg->organization);
    memset(cfg, 0, sizeof(*cfg));
}

static int cfg_err(char **err, const char *fmt, const char *field) {
    if (err) {
        char buf[300];
        snprintf(buf, sizeof(buf), fmt, field);
        *err = strdup(buf);
    }
    return STEP_ECONFIG;
}

/* Replaces *dst with a copy of s (NULL/"" clear it). */
static void set_str(char **dst, const char *s) {
    free(*dst);
    *dst = s && *s ? strdup(s) : NULL;
}

/* Base URLs are stored without a trailing slash or a "/chat/completions" suffix. */
static void normalise_base(char *b) {
    if (!b)
        return;
    size_t n = strlen(b);
    const char *suffix = "/chat/completions";
    size_t k = strlen(suffix);
    if (n >= k && !strcmp(b + n - k, suffix))
        b[n -= k] = '\0';
    while (n && b[n - 1] == '/')
        b[--n] = '\0';
}

static int get_str(json_t *o, const char *key, const char *prefix, const char **out, char **err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        char field[128];
        snprintf(field, sizeof(field), "%s%s", prefix, key);
        return cfg_err(err, "stepd.json: %s must be a string", field);
    }
    *out = json_string_value(v);
    return 0;
}

static int get_ms(json_t *o, const char *key, long *out, char **err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        char field[128];
        snprintf(field, sizeof(field), "ai.%s", key);
        return cfg_err(err, "stepd.json: %s must be a non-negative integer (milliseconds)", field);
    }
    *out = (long)json_integer_value(v);
    return 0;
}

static int load_endpoint(json_t *o, const char *prefix, stepd_llm_endpoint *e, char **err) {
    const char *base = NULL, *key = NULL, *key_env = NULL, *model = NULL;
    int rc;
    if ((rc = get_str(o, "baseUrl", prefix, &base, err)) ||
        (rc = get_str(o, "apiKey", prefix, &key, err)) ||
        (rc = get_str(o, "apiKeyEnv", prefix, &key_env, err)) ||
        (rc = get_str(o, "model", prefix, &model, err)))
        return rc;
    if (base)
        set_str(&e->base_url, base);
    if (key)
        set_str(&e->api_key, key);
    if (key_env && getenv(key_env))
        set_str(&e->api_key, getenv(key_env));
    if (model)
        set_str(&e->model, model);
    normalise_base(e->base_url);
    return 0;
}

int stepd_llm_config_load(stepd_llm_config *cfg, json_t *ai, char **err) {
    if (err)
        *err = NULL;
    if (!cfg)
        return STEP_EINVAL;
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = 120000;
    cfg->connect_timeout_ms = 10000;
    cfg->idle_timeout_ms = 60000;
    cfg->max_retries = 3;
    cfg->backoff_ms = 500;
    cfg->backoff_max_ms = 20000;
    cfg->retry_after_max_ms = 60000;
    cfg->metrics = 1;
    cfg->stream_usage = 1;
    int rc = 0;
    if (ai && !json_is_null(ai)) {
        if (!json_is_object(ai)) {
            rc = cfg_err(err, "stepd.json: %s must be an object", "ai");
            goto fail;
        }
        /* Environment keys are read first only when the file names another variable. */
        if ((rc = load_endpoint(ai, "ai.", &cfg->primary, err)))
            goto fail;
        const char *org = NULL;
        if ((rc = get_str(ai, "organization", "ai.", &org, err)))
            goto fail;
        set_str(&cfg->organization, org);
        if ((rc = get_ms(ai, "timeoutMs", &cfg->timeout_ms, err)) ||
            (rc = get_ms(ai, "connectTimeoutMs", &cfg->connect_timeout_ms, err)) ||
            (rc = get_ms(ai, "idleTimeoutMs", &cfg->idle_timeout_ms, err)) ||
            (rc = get_ms(ai, "backoffMs", &cfg->backoff_ms, err)) ||
            (rc = get_ms(ai, "backoffMaxMs", &cfg->backoff_max_ms, err)) ||
            (rc = get_ms(ai, "retryAfterMaxMs", &cfg->retry_after_max_ms, err)))
            goto fail;
        json_t *v = json_object_get(ai, "maxRetries");
        if (v) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 20) {
                rc =
                    cfg_err(err, "stepd.json: %s must be an integer from 0 to 20", "ai.maxRetries");
                goto fail;
            }
            cfg->max_retries = (int)json_integer_value(v);
        }
        static const char *const flags[] = {"metrics", "streamUsage"};
        for (size_t i = 0; i < 2; i++) {
            v = json_object_get(ai, flags[i]);
            if (!v)
                continue;
            if (!json_is_boolean(v)) {
                char field[32];
                snprintf(field, sizeof(field), "ai.%s", flags[i]);
                rc = cfg_err(err, "stepd.json: %s must be true or false", field);
                goto fail;
            }
            *(i == 0 ? &cfg->metrics : &cfg->stream_usage) = json_is_true(v);
        }
        json_t *fb = json_object_get(ai, "fallback");
        if (fb && !json_is_null(fb)) {
            if (json_is_object(fb))
                fb = json_pack("[O]", fb);
            else
                json_incref(fb);
            if (!json_is_array(fb)) {
                json_decref(fb);
                rc = cfg_err(err, "stepd.json: %s must be an array of {model, baseUrl, apiKeyEnv}",
                             "ai.fallback");
                goto fail;
            }
            size_t n = json_array_size(fb);
            cfg->fallbacks = calloc(n ? n : 1, sizeof(*cfg->fallbacks));
            if (!cfg->fallbacks) {
                json_decref(fb);
                rc = STEP_ENOMEM;
                goto fail;
            }
            for (size_t i = 0; i < n; i++) {
                json_t *item = json_array_get(fb, i);
                char prefix[48];
                snprintf(prefix, sizeof(prefix), "ai.fallback[%zu].", i);
                cfg->n_fallbacks = i + 1;
                if (!json_is_object(item)) {
                    json_decref(fb);
                    rc = cfg_err(err, "stepd.json: %s must be an object", prefix);
                    goto fail;
                }
                if ((rc = load_endpoint(item, prefix, &cfg->fallbacks[i], err))) {
                    json_decref(fb);
                    goto fail;
                }
            }
            json_decref(fb);
        }
    }
    /* The environment wins over the file (twelve-factor). */
    const char *env;
    if ((env = getenv("OPENAI_API_KEY")) && *env && !(ai && json_object_get(ai, "apiKeyEnv")))
        set_str(&cfg->primary.api_key, env);
    if ((env = getenv("OPENAI_BASE_URL")) && *env) {
        set_str(&cfg->primary.base_url, env);
        normalise_base(cfg->primary.base_url);
    }
    if ((env = getenv("OPENAI_MODEL")) && *env)
        set_str(&cfg->primary.model, env);
    if ((env = getenv("STEPD_AI_MODEL")) && *env)
        set_str(&cfg->primary.model, env);
    if (cfg->primary.api_key && !cfg->primary.base_url) {
        set_str(&cfg->primary.base_url, LLM_DEFAULT_OPENAI_BASE);
        if (!cfg->primary.model)
            set_str(&cfg->primary.model, LLM_DEFAULT_OPENAI_MODEL);
    }
    /* A fallback without its own base URL is another model on the primary's server and uses
     * its key; one on another server never receives the primary's key. */
    for (size_t i = 0; i < cfg->n_fallbacks; i++) {
        stepd_llm_endpoint *f = &cfg->fallbacks[i];
        if (!f->base_url) {
            set_str(&f->base_url, cfg->primary.base_url);
            if (!f->api_key)
                set_str(&f->api_key, cfg->primary.api_key);
        }
        if (!f->model)
            set_str(&f->model, cfg->primary.model);
    }
    return 0;
fail:
    stepd_llm_config_free(cfg);
    if (rc == STEP_ENOMEM && err && !*err)
        *err = strdup("out of memory loading the ai configuration");
    return rc;
}

/* ---- client -------------------------------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud) {
    (void)h;
    (void)access;
    pthread_mutex_lock(&((stepd_llm_client *)ud)->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud) {
    (void)h;
    pthread_mutex_unlock(&((stepd_llm_client *)ud)->locks[data]);
}

void *llm_client_share(stepd_llm_client *c) {
    return c->share;
}

int stepd_llm_client_new_with_config(stepd_llm_config *cfg, stepd_llm_client **out) {
    if (!cfg || !out)
        return STEP_EINVAL;
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != 0)
        return STEP_EFAILED;
    stepd_llm_client *c = calloc(1, sizeof(*c));
    if (!c)
        return STEP_ENOMEM;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    c->share = curl_share_init();
    if (!c->share)
        goto err;
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK)
        goto err;
    c->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    *out = c;
    return 0;
err:
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c);
    return STEP_ENOMEM;
}

int stepd_llm_client_new(json_t *ai, stepd_llm_client **out, char **err) {
    stepd_llm_config cfg;
    int rc = stepd_llm_config_load(&cfg, ai, err);
    if (rc < 0)
        return rc;
    rc = stepd_llm_client_new_with_config(&cfg, out);
    if (rc < 0) {
        stepd_llm_config_free(&cfg);
        if (err)
            *err = strdup("cannot initialise libcurl for the chat client");
    }
    return rc;
}

void stepd_llm_client_free(stepd_llm_client *c) {
    if (!c)
        return;
    curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    stepd_llm_config_free(&c->cfg);
    free(c);
}

const stepd_llm_config *stepd_llm_client_config(const stepd_llm_client *c) {
    return c ? &c->cfg : NULL;
}

int stepd_llm_client_has_model(const stepd_llm_client *c) {
    return c && c->cfg.primary.base_url && c->cfg.primary.model;
}

/* ---- one call ------------------------------------------------------------------------------ */

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cache_lookup(const stepd_llm_hooks *h, const char *key, const stepd_llm_request *req,
                        stepd_llm_result *out) {
    json_t *v = NULL;
    if (h->state_get(h->ud, STEPD_LLM_CACHE_GROUP, key, &v) < 0 || !v)
        return 0;
    json_t *resp = json_object_get(v, "response");
    json_t *exp = json_object_get(v, "expiresAt");
    const char *content = json_string_value(json_object_get(resp, "content"));
    if (!json_is_integer(exp) || json_integer_value(exp) <= wall_ms() || !content) {
        json_decref(v);
        return 0;
    }
    out->content = strdup(content);
    json_t *tc = json_object_get(resp, "toolCalls");
    out->tool_calls = json_is_array(tc) ? json_incref(tc) : NULL;
    out->finish_reason = llm_strdup(json_string_value(json_object_get(resp, "finishReason")));
    const char *m = json_string_value(json_object_get(resp, "model"));
    if (m) {
        free(out->model);
        out->model = strdup(m);
    }
    json_t *u = json_object_get(resp, "usage");
    out->prompt_tokens = (long)json_integer_value(json_object_get(u, "promptTokens"));
    out->completion_tokens = (long)json_integer_value(json_object_get(u, "completionTokens"));
    out->total_tokens = (long)json_integer_value(json_object_get(u, "totalTokens"));
    out->cached = 1;
    json_decref(v);
    if (req->stream && req->on_token && *out->content) {
        out->streamed = strlen(out->content);
        req->on_token(req->token_ud, out->content, strlen(out->content));
    }
    return 1;
}

static void cache_store(const stepd_llm_hooks *h, const char *key, const stepd_llm_request *req,
                        const stepd_llm_result *r) {
    long long now = wall_ms();
    json_t *resp = stepd_llm_result_to_json(r);
    if (!resp)
        return;
    json_object_del(resp, "error");
    json_object_del(resp, "cached");
    json_object_del(resp, "attempts");
    json_object_del(resp, "fallback");
    json_object_del(resp, "latencyMs");
    json_t *entry = json_pack("{s:I,s:I,s:o}", "createdAt", (json_int_t)now, "expiresAt",
                              (json_int_t)(now + req->cache_ttl_s * 1000), "response", resp);
    if (entry)
        h->state_set(h->ud, STEPD_LLM_CACHE_GROUP, key, entry);
    json_decref(entry);
}

static void emit_metrics(const stepd_llm_hooks *h, const stepd_llm_request *req,
                         const stepd_llm_result *r, const char *model, int rc) {
    json_t *ev = json_pack(
        "{s:s,s:f,s:I,s:I,s:b,s:o,s:i,s:i,s:b,s:I}", "model", r->model ? r->model : model,
        "latencyMs", r->latency_ms, "tokensIn", (json_int_t)r->prompt_tokens, "tokensOut",
        (json_int_t)r->completion_tokens, "cacheHit", r->cached, "error",
        rc ? json_string(stepd_llm_error_name(r->error_kind)) : json_null(), "attempts",
        r->attempts, "fallback", r->fallback, "stream", req->stream, "ts", (json_int_t)wall_ms());
    if (!ev)
        return;
    if (rc == 0 && r->error)
        json_object_set_new(ev, "primaryError", json_string(stepd_llm_error_name(r->error_kind)));
    if (req->metrics_tag)
        json_object_set_new(ev, "tag", json_string(req->metrics_tag));
    h->emit(h->ud, STEPD_LLM_METRICS_TOPIC, ev);
}

/* The i-th endpoint of the chain: 0 primary (with the call's overrides), then the client's
 * fallbacks, then the call's. Returns 0 when i is past the end. */
static int endpoint_at(const stepd_llm_client *c, const stepd_llm_request *req, size_t i,
                       stepd_llm_endpoint *e) {
    const stepd_llm_config *cfg = &c->cfg;
    if (i == 0) {
        e->base_url = (char *)(req->base_url ? req->base_url : cfg->primary.base_url);
        e->api_key = (char *)(req->api_key ? req->api_key : cfg->primary.api_key);
        e->model = (char *)(req->model ? req->model : cfg->primary.model);
        return 1;
    }
    i--;
    if (i < cfg->n_fallbacks) {
        *e = cfg->fallbacks[i];
        return 1;
    }
    i -= cfg->n_fallbacks;
    if (i < req->n_fallbacks) {
        const stepd_llm_endpoint *f = &req->fallbacks[i];
        e->base_url = f->base_url ? f->base_url : cfg->primary.base_url;
        e->api_key = f->api_key ? f->api_key : f->base_url ? NULL : cfg->primary.api_key;
        e->model = f->model ? f->model : cfg->primary.model;
        return 1;
    }
    return 0;
}

int stepd_llm_chat(stepd_llm_client *c, const stepd_llm_request *req_in,
                   const stepd_llm_hooks *hooks, stepd_llm_result *out) {
    if (!out)
        return STEP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!c || !req_in)
        return llm_set_error(out, STEPD_LLM_ERR_BAD_REQUEST, "chat: no client or request");
    stepd_llm_request req_copy = *req_in;
    if (!c->cfg.stream_usage)
        req_copy.no_stream_usage = 1;
    const stepd_llm_request *req = &req_copy;
    static const stepd_llm_hooks no_hooks = {0};
    const stepd_llm_hooks *h = hooks ? hooks : &no_hooks;
    double t0 = mono_ms();
    const stepd_llm_config *cfg = &c->cfg;
    stepd_llm_endpoint primary;
    endpoint_at(c, req, 0, &primary);
    int rc = STEP_ECONFIG;
    char key[65] = "";
    int use_cache = req->cache_ttl_s > 0 && h->state_get && h->state_set && primary.model &&
                    stepd_llm_cache_key(req, primary.model, primary.base_url, key) == 0;

    if (use_cache && cache_lookup(h, key, req, out)) {
        rc = 0;
        goto finish;
    }

    stepd_llm_endpoint e;
    char *first_error = NULL;
    stepd_llm_error_kind first_kind = STEPD_LLM_ERR_NONE;
    for (size_t i = 0; endpoint_at(c, req, i, &e); i++) {
        out->fallback = (int)i;
        if (!e.base_url || !e.model) {
            rc = llm_set_error(out, STEPD_LLM_ERR_NO_MODEL, "%s", stepd_llm_no_model_help());
        } else {
            char *err = NULL;
            json_t *body = stepd_llm_request_body(req, e.model, &err);
            char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
            json_decref(body);
            if (!text) {
                rc = llm_set_error(out, STEPD_LLM_ERR_BAD_REQUEST, "%s",
                                   err ? err : "out of memory encoding the request");
                free(err);
                break;
            }
            llm_attempt_cfg ac = {
                .url_base = e.base_url,
                .api_key = e.api_key,
                .organization = cfg->organization,
                .timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : cfg->timeout_ms,
                .connect_timeout_ms = cfg->connect_timeout_ms,
                /* a non-streamed answer arrives all at once: only the total timeout applies */
                .idle_timeout_ms = req->stream ? cfg->idle_timeout_ms : 0,
                .max_retries = req->max_retries < 0   ? 0
                               : req->max_retries > 0 ? req->max_retries
                                                      : cfg->max_retries,
                .backoff_ms = cfg->backoff_ms,
                .backoff_max_ms = cfg->backoff_max_ms,
                .retry_after_max_ms = cfg->retry_after_max_ms,
            };
            free(out->model);
            out->model = llm_strdup(e.model);
            rc = llm_http_chat(c, &ac, text, req, out);
            free(text);
        }
        if (rc == 0)
            break;
        if (!first_error) {
            first_error = llm_strdup(out->error);
            first_kind = out->error_kind;
        }
        /* Neither another endpoint nor the fallback function may answer a cancelled call, and
         * once tokens reached the caller another answer would be spliced onto them. */
        if (out->error_kind == STEPD_LLM_ERR_CANCELLED || out->streamed)
            break;
    }
    if (rc != 0 && out->error_kind != STEPD_LLM_ERR_CANCELLED && req->fallback_fn &&
        !out->streamed) {
        stepd_llm_result fb = {0};
        int frc = req->fallback_fn(req->fallback_ud, req, out, &fb);
        if (frc == 0) {
            free(out->content);
            json_decref(out->tool_calls);
            free(out->finish_reason);
            out->content = fb.content ? fb.content : strdup("");
            out->tool_calls = fb.tool_calls;
            out->finish_reason = fb.finish_reason ? fb.finish_reason : strdup("stop");
            fb.content = NULL;
            fb.tool_calls = NULL;
            fb.finish_reason = NULL;
            out->fallback = -1;
            rc = 0;
            if (req->stream && req->on_token && *out->content) { /* a stream still streams */
                out->streamed = strlen(out->content);
                req->on_token(req->token_ud, out->content, out->streamed);
            }
        }
        stepd_llm_result_free(&fb);
    }
    if (rc == 0 && first_error) { /* a fallback answered: keep why the primary failed */
        free(out->error);
        out->error = first_error;
        out->error_kind = first_kind;
        first_error = NULL;
    } else if (rc == 0) {
        out->error_kind = STEPD_LLM_ERR_NONE;
    }
    free(first_error);
    /* Only the primary's answers are cached: a degraded answer must not outlive the outage. */
    if (rc == 0 && use_cache && out->fallback == 0)
        cache_store(h, key, req, out);

finish:
    out->latency_ms = mono_ms() - t0;
    if (!out->model)
        out->model = llm_strdup(primary.model);
    if (h->emit && cfg->metrics && !req->no_metrics)
        emit_metrics(h, req, out, primary.model ? primary.model : "", rc);
    return rc;
}
