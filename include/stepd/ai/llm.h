/*
 * stepd/ai/llm.h — chat completions against any OpenAI-compatible server (OpenAI, Azure,
 * Ollama, llama.cpp's server, vLLM, gateways), and the conversational assistant built on it.
 *
 * A client holds the configuration and one libcurl share handle (connections, DNS, TLS
 * sessions), so every call from every thread reuses connections. Calls are synchronous and
 * may block: run them on a handler thread, never on the event loop.
 *
 *     stepd_llm_client *c;
 *     char *err;
 *     if (stepd_llm_client_new(ai_section, &c, &err) < 0) { ...; free(err); }
 *     json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "Hello");
 *     stepd_llm_request req = {.messages = msgs, .cache_ttl_s = 3600};
 *     stepd_llm_result res;
 *     int rc = stepd_llm_chat(c, &req, &hooks, &res);   // res.content, res.usage, res.error
 *     stepd_llm_result_free(&res);
 *     json_decref(msgs);
 *     stepd_llm_client_free(c);
 *
 * The module never calls the runtime: caching, metrics and conversation memory go through a
 * stepd_llm_hooks the caller passes (the runtime wraps step_state_get/step_state_set/step_emit;
 * tests pass an in-memory fake).
 *
 * Errors: functions return 0 or a negative STEP_E* code from <stepd/step.h>; chat calls also
 * set result->error_kind (a stepd_llm_error_kind) and result->error (a message naming what
 * failed and how to fix it).
 */
#ifndef STEPD_AI_LLM_H
#define STEPD_AI_LLM_H

#include <jansson.h>
#include <stddef.h>
#include <stepd/step.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- typed errors ---------------------------------------------------------------------------
 * X(NAME, "name used in metrics and JSON", STEP_E code the call returns, retried?) */
#define STEPD_LLM_ERROR_MAP(X)                                                                     \
    X(NONE, "none", 0, 0)                                                                          \
    X(NO_MODEL, "no_model", STEP_ECONFIG, 0)                                                       \
    X(AUTH, "auth", STEP_EFAILED, 0)                                                               \
    X(BAD_REQUEST, "bad_request", STEP_EINVAL, 0)                                                  \
    X(CONTENT_FILTER, "content_filter", STEP_EFAILED, 0)                                           \
    X(RATE_LIMITED, "rate_limited", STEP_EBUSY, 1)                                                 \
    X(SERVER, "server", STEP_EFAILED, 1)                                                           \
    X(TIMEOUT, "timeout", STEP_ETIMEOUT, 1)                                                        \
    X(NETWORK, "network", STEP_EIO, 1)                                                             \
    X(PARSE, "parse", STEP_EPARSE, 0)                                                              \
    X(CANCELLED, "cancelled", STEP_ECLOSED, 0)

typedef enum stepd_llm_error_kind {
#define STEPD_LLM_ERROR_ENUM(name, str, code, retry) STEPD_LLM_ERR_##name,
    STEPD_LLM_ERROR_MAP(STEPD_LLM_ERROR_ENUM)
#undef STEPD_LLM_ERROR_ENUM
} stepd_llm_error_kind;

/* "auth", "timeout", ... (static string; "unknown" out of range). */
const char *stepd_llm_error_name(stepd_llm_error_kind kind);

/* ---- configuration --------------------------------------------------------------------------
 * Filled, in increasing precedence, from built-in defaults, the "ai" object of stepd.json,
 * the environment (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL, STEPD_AI_MODEL) and the
 * per-call fields of stepd_llm_request. stepd.json keys (camelCase):
 *   {"ai": {"baseUrl": "http://127.0.0.1:11434/v1", "apiKey": "...", "apiKeyEnv": "MY_KEY",
 *           "model": "llama3.2", "timeoutMs": 120000, "connectTimeoutMs": 10000,
 *           "idleTimeoutMs": 60000, "maxRetries": 3, "backoffMs": 500, "backoffMaxMs": 20000,
 *           "retryAfterMaxMs": 60000, "metrics": true, "streamUsage": true,
 *           "organization": "...",
 *           "fallback": [{"model": "gpt-4o-mini", "baseUrl": "...", "apiKeyEnv": "..."}]}}
 * With OPENAI_API_KEY but no base URL the base is https://api.openai.com/v1 and the model
 * defaults to gpt-4o-mini; a base URL without a model is "no model configured". */
typedef struct stepd_llm_endpoint {
    char *base_url; /* ".../v1"; "/chat/completions" is appended */
    char *api_key;  /* sent as "Authorization: Bearer ..."; NULL/"" sends none */
    char *model;
} stepd_llm_endpoint;

typedef struct stepd_llm_config {
    stepd_llm_endpoint primary;
    char *organization;      /* OpenAI-Organization header, optional */
    long timeout_ms;         /* whole attempt, default 120000 */
    long connect_timeout_ms; /* default 10000 */
    long idle_timeout_ms;    /* no byte received for this long aborts a stream, default 60000 */
    int max_retries;         /* retries after the first attempt, default 3 */
    long backoff_ms;         /* first retry delay, doubled each retry, with jitter; default 500 */
    long backoff_max_ms;     /* cap of one delay, default 20000 */
    long retry_after_max_ms; /* a server's Retry-After longer than this is capped, default 60000 */
    int metrics;             /* emit metrics.ai events, default 1 */
    int stream_usage;        /* ask for usage in streams (stream_options), default 1; set
                                "streamUsage": false for servers that refuse it (older Azure) */
    stepd_llm_endpoint *fallbacks; /* tried in order when the primary fails after its retries */
    size_t n_fallbacks;
} stepd_llm_config;

/* Fills *cfg from `ai` (the "ai" object of stepd.json, borrowed, may be NULL) and the
 * environment. On error returns STEP_ECONFIG and *err (caller frees) names the bad field.
 * Free with stepd_llm_config_free(). */
int stepd_llm_config_load(stepd_llm_config *cfg, json_t *ai, char **err);
void stepd_llm_config_free(stepd_llm_config *cfg);

/* ---- client -------------------------------------------------------------------------------- */
typedef struct stepd_llm_client stepd_llm_client; /* opaque, thread-safe */

/* Creates a client configured from `ai` and the environment (see stepd_llm_config_load).
 * A client without a model is valid: its chat calls fail with STEPD_LLM_ERR_NO_MODEL (or use
 * the call's fallback). *out: free with stepd_llm_client_free(). */
int stepd_llm_client_new(json_t *ai, stepd_llm_client **out, char **err);
/* Takes ownership of *cfg (it is zeroed) instead of loading one. */
int stepd_llm_client_new_with_config(stepd_llm_config *cfg, stepd_llm_client **out);
/* Waits for no call; the caller makes sure none is running. NULL is a no-op. */
void stepd_llm_client_free(stepd_llm_client *c);
/* Borrowed view of the client's configuration. */
const stepd_llm_config *stepd_llm_client_config(const stepd_llm_client *c);
/* 1 when a model and an endpoint are configured (so calls will reach a server). */
int stepd_llm_client_has_model(const stepd_llm_client *c);
/* The message shown when no model is configured (static string). */
const char *stepd_llm_no_model_help(void);

/* ---- hooks into the runtime -----------------------------------------------------------------
 * Every function may be NULL (the feature is then off). Same ownership as step.h:
 * state_get returns a new reference in *out (STEP_ENOTFOUND when absent), state_set borrows
 * `value`, emit steals `data`. */
typedef struct stepd_llm_hooks {
    void *ud;
    int (*state_get)(void *ud, const char *group, const char *key, json_t **out);
    int (*state_set)(void *ud, const char *group, const char *key, json_t *value);
    int (*emit)(void *ud, const char *topic, json_t *data);
} stepd_llm_hooks;

/* Hooks bound to a step's context (cache and memory in the project's state, metrics as
 * events): `stepd_llm_hooks h = stepd_llm_step_hooks(ctx);`. The step must list "metrics.ai"
 * in its emits (or the call passes .no_metrics = 1). Header-only, so the library itself does
 * not depend on the runtime. */
static inline int stepd_llm_step_state_get_(void *ud, const char *g, const char *k, json_t **o) {
    return step_state_get((step_ctx *)ud, g, k, o);
}
static inline int stepd_llm_step_state_set_(void *ud, const char *g, const char *k, json_t *v) {
    return step_state_set((step_ctx *)ud, g, k, v);
}
static inline int stepd_llm_step_emit_(void *ud, const char *topic, json_t *data) {
    return step_emit((step_ctx *)ud, topic, data);
}
static inline stepd_llm_hooks stepd_llm_step_hooks(step_ctx *ctx) {
    stepd_llm_hooks h = {ctx, stepd_llm_step_state_get_, stepd_llm_step_state_set_,
                         stepd_llm_step_emit_};
    return h;
}

#define STEPD_LLM_CACHE_GROUP "ai_cache"
#define STEPD_LLM_METRICS_TOPIC "metrics.ai"

/* ---- one chat call ------------------------------------------------------------------------- */
typedef struct stepd_llm_request stepd_llm_request;
typedef struct stepd_llm_result stepd_llm_result;

/* Streaming: called on the calling thread for each content delta, in order. Return non-zero
 * to cancel the call (it then fails with STEPD_LLM_ERR_CANCELLED). */
typedef int (*stepd_llm_token_fn)(void *ud, const char *delta, size_t len);
/* Cancellation poll, called often while waiting; non-zero cancels. */
typedef int (*stepd_llm_cancel_fn)(void *ud);
/* Last-resort fallback: fill out->content (malloc'ed; or out->tool_calls) and return 0, or
 * return a negative STEP_E* code. `failed` describes the last failure (borrowed). */
typedef int (*stepd_llm_fallback_fn)(void *ud, const stepd_llm_request *req,
                                     const stepd_llm_result *failed, stepd_llm_result *out);

struct stepd_llm_request {
    json_t *messages;   /* borrowed: [{"role":"system|user|assistant|tool","content":...}, ...] */
    const char *system; /* optional: prepended as a system message */

    /* overrides of the client's configuration; NULL / 0 keep it */
    const char *model;
    const char *base_url;
    const char *api_key;
    long timeout_ms;
    int max_retries; /* -1 = no retries, 0 = the client's setting */

    /* sampling; only sent when set */
    double temperature; /* sent when has_temperature */
    int has_temperature;
    double top_p;            /* sent when > 0 */
    int max_tokens;          /* sent when > 0 */
    json_t *stop;            /* borrowed string or array */
    int json_mode;           /* response_format {"type":"json_object"} */
    json_t *response_format; /* borrowed, wins over json_mode (e.g. a json_schema format) */
    json_t *tools;           /* borrowed OpenAI tools array */
    json_t *tool_choice;     /* borrowed: "auto", "none", "required" or an object */
    int seed;                /* sent when has_seed */
    int has_seed;
    const char *user;
    json_t *extra; /* borrowed object merged into the request body last */

    /* streaming over SSE; tokens go to on_token */
    int stream;
    int no_stream_usage; /* do not send stream_options (see stepd_llm_config.stream_usage) */
    stepd_llm_token_fn on_token;
    void *token_ud;

    /* cancellation: either or both */
    const int *cancel_flag; /* read atomically; non-zero cancels */
    stepd_llm_cancel_fn cancel_fn;
    void *cancel_ud;

    /* cache (opt-in): >0 looks up and stores results in state group "ai_cache" */
    long cache_ttl_s;
    /* metrics: the client's setting unless this is set */
    int no_metrics;
    const char *metrics_tag; /* optional "tag" field of the metrics.ai event */

    /* fallback: these endpoints (after the client's own), then fallback_fn */
    const stepd_llm_endpoint *fallbacks;
    size_t n_fallbacks;
    stepd_llm_fallback_fn fallback_fn;
    void *fallback_ud;
};

struct stepd_llm_result {
    char *content;       /* assistant text ("" when the reply is only tool calls) */
    json_t *tool_calls;  /* [{"id","type":"function","function":{"name","arguments"}}] or NULL */
    char *finish_reason; /* "stop", "length", "tool_calls", "content_filter", or NULL */
    char *model;         /* as reported by the server (else as requested) */
    char *id;            /* response id, if any */
    long prompt_tokens, completion_tokens, total_tokens; /* 0 when the server sent no usage */
    int cached;   /* 1: answered from the ai_cache state group */
    int attempts; /* HTTP attempts made, all endpoints together */
    int fallback; /* 0 primary; i>0 the i-th fallback endpoint; -1 the fallback_fn */
    double latency_ms;
    int http_status; /* last HTTP status seen, 0 if none */
    size_t streamed; /* content bytes already handed to on_token (kept on failure too) */
    stepd_llm_error_kind error_kind; /* of the failure, or of the primary's when a fallback
                                        answered */
    char *error;                     /* message when the call failed (or why the primary failed) */
};

/* One chat completion. `hooks` may be NULL. Returns 0 when *out holds an answer (from the
 * server, the cache or a fallback), else a negative STEP_E* code with out->error_kind and
 * out->error set. Always free *out with stepd_llm_result_free(), whatever the return. */
int stepd_llm_chat(stepd_llm_client *c, const stepd_llm_request *req, const stepd_llm_hooks *hooks,
                   stepd_llm_result *out);
void stepd_llm_result_free(stepd_llm_result *r);

/* The result as JSON: {"content","toolCalls","finishReason","model","usage":{...},"cached",
 * "attempts","fallback","latencyMs","error":{"kind","message"}|null}. New reference. */
json_t *stepd_llm_result_to_json(const stepd_llm_result *r);

/* A request described in JSON — what JS/Python steps pass to ctx.ai.chat(...) and what the
 * runtime forwards here:
 *   {"messages": [...] | "message": "text", "system", "model", "baseUrl", "temperature",
 *    "topP", "maxTokens", "stop", "json": true, "responseFormat", "tools", "toolChoice",
 *    "seed", "user", "extra": {...}, "stream": true, "cacheTtl": seconds, "metrics": false,
 *    "timeoutMs", "maxRetries", "fallback": [{"model", "baseUrl"}] (at most 4), "tag"}
 * Unknown keys are refused (a typo would otherwise be silently ignored). */
typedef struct stepd_llm_json_request {
    stepd_llm_request req; /* its pointers borrow from the args and from `owned` */
    stepd_llm_endpoint fallbacks[4];
    json_t *owned; /* messages built from "message"; freed by stepd_llm_json_request_free */
} stepd_llm_json_request;

/* Fills *out from `args` (borrowed: keep it alive while out is used). Returns 0, or
 * STEP_EINVAL with *err (caller frees) naming the field. Free with
 * stepd_llm_json_request_free() either way. Callbacks (on_token, cancel) are left for the
 * caller to set. */
int stepd_llm_request_from_json(json_t *args, stepd_llm_json_request *out, char **err);
void stepd_llm_json_request_free(stepd_llm_json_request *r);

/* ---- wire format (exposed for tests, tools and other bindings) ----------------------------- */

/* The request body for `req` against `model` (new reference), or NULL with *err set. */
json_t *stepd_llm_request_body(const stepd_llm_request *req, const char *model, char **err);
/* Parses a non-streaming response body into *out (content, tool calls, usage, ...). Returns 0,
 * or STEP_EPARSE with out->error set. */
int stepd_llm_parse_response(const char *body, size_t len, stepd_llm_result *out);
/* Cache key of a request: hex SHA-256 of the normalised body (sorted keys, no stream flags) and
 * base URL. Writes 65 bytes to key_out. */
int stepd_llm_cache_key(const stepd_llm_request *req, const char *model, const char *base_url,
                        char key_out[65]);

/* Incremental server-sent-events parser (WHATWG rules: LF, CR or CRLF line ends, multi-line
 * data joined with LF, comments, an optional BOM), independent of how bytes are chunked. */
typedef struct stepd_sse_parser stepd_sse_parser;
/* Called per dispatched event; `event` is "message" unless named; data is NUL-terminated.
 * Both are valid only during the call. Return non-zero to stop parsing. */
typedef int (*stepd_sse_event_fn)(void *ud, const char *event, const char *data, size_t len);
/* max_event: bytes one event may hold before the parser fails (0 = 16 MiB). */
stepd_sse_parser *stepd_sse_parser_new(size_t max_event, stepd_sse_event_fn fn, void *ud);
/* Returns 0, 1 when the callback stopped the parse, or STEP_ENOMEM / STEP_EPARSE (event too
 * large). After a non-zero return the parser must not be fed again. */
int stepd_sse_feed(stepd_sse_parser *p, const char *buf, size_t len);
/* Ends the stream: an unterminated last event is discarded, as the standard says. */
void stepd_sse_parser_free(stepd_sse_parser *p);

/* The other direction, for streaming tokens to an HTTP client as text/event-stream: formats
 * one event ("event:" line if `event` is not NULL, "id:" line if `id` is not NULL, one "data:"
 * line per line of data, a blank line). CR/LF inside event and id are dropped. Returns a
 * malloc'ed string (caller frees), its length in *out_len (may be NULL), or NULL when out of
 * memory. The parser above reads it back as exactly `data`. */
char *stepd_sse_format(const char *event, const char *id, const char *data, size_t len,
                       size_t *out_len);

/* ---- assistant ------------------------------------------------------------------------------
 * One turn of the e-commerce assistant: load the session's memory (state group
 * "assistant_sessions"), detect the intent and entities (the model's tool calls when a model
 * is configured, deterministic rules otherwise or when the model fails), answer, save the
 * memory (the last `window` messages plus a running summary of older ones), and build the
 * payloads the caller emits. */
#define STEPD_ASSISTANT_STATE_GROUP "assistant_sessions"

typedef struct stepd_assistant_options {
    int window;         /* messages kept verbatim, default 12 */
    size_t summary_max; /* bytes of running summary kept, default 1500 */
    const char *system; /* overrides the built-in system prompt */
    const char *model;  /* overrides the client's model */
    int use_llm;        /* -1 never, 0 when a model is configured (default), 1 always */
} stepd_assistant_options;

typedef struct stepd_assistant_turn {
    json_t *response; /* assistant.response payload: {"sessionId","message","intent",
                         "confidence","entities","source":"llm"|"rules","turn"} */
    json_t *action;   /* assistant.action payload {"sessionId","action","parameters"} or NULL */
} stepd_assistant_turn;

/* `c` may be NULL (rules only). Returns 0 or a negative STEP_E* code with *err (caller frees).
 * Free turn with stepd_assistant_turn_free(). */
int stepd_assistant_handle(stepd_llm_client *c, const stepd_llm_hooks *hooks,
                           const char *session_id, const char *message,
                           const stepd_assistant_options *opt, stepd_assistant_turn *turn,
                           char **err);
void stepd_assistant_turn_free(stepd_assistant_turn *turn);

/* Deterministic rules, usable alone. Intents: "order.track", "product.search",
 * "support.ticket", "greeting", "thanks", "goodbye", "general". Entities object:
 * {"orderNumbers":[..],"emails":[..],"amounts":[{"value":12.5,"currency":"USD","text":..}],
 *  "dates":[{"text":..,"date":"YYYY-MM-DD"|null}]} — arrays always present. New reference.
 * *confidence (may be NULL) gets 0..1. */
json_t *stepd_assistant_entities(const char *message);
const char *stepd_assistant_intent(const char *message, json_t *entities, double *confidence);

#ifdef __cplusplus
}
#endif
#endif
