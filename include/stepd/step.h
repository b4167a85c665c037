/*
 * stepd/step.h — the whole public API for writing steps in C.
 *
 * A C step is one file, `NAME.step.c`, anywhere under a project's steps/ folder.
 * It declares its config with STEP_CONFIG and a handler; stepd compiles it into a
 * shared object and loads it. Handlers run on a worker thread and may block: every
 * context call below (emit, state, log) is synchronous and thread-safe.
 *
 *     #include <stepd/step.h>
 *
 *     static int handler(step_ctx *ctx, step_request *req, step_response *res) {
 *         json_t *user = step_request_local(req, "user");
 *         step_emit(ctx, "ai.chat.request", json_pack("{s:s}", "chatId", "c1"));
 *         return step_respond(res, 202, json_pack("{s:s}", "chatId", "c1"));
 *     }
 *
 *     STEP_CONFIG = {
 *         .type = STEP_API, .name = "ChatApi", .method = "POST", .path = "/ai/chat",
 *         .middleware = STEP_LIST("auth"), .emits = STEP_LIST("ai.chat.request"),
 *         .body_schema = "{\"type\":\"object\",\"required\":[\"message\"]}",
 *         .api = handler,
 *     };
 *
 * JSON values are jansson's json_t (https://jansson.readthedocs.io). Ownership:
 * functions that take a json_t say whether they *steal* the reference (you must not
 * decref it afterwards) or *borrow* it; out-parameters are new references the caller
 * must json_decref().
 */
#ifndef STEPD_STEP_H
#define STEPD_STEP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STEPD_VERSION "0.1.0"
#define STEPD_ABI 1 /* bumped when step_config or the handler signatures change */

/* ---- errors -------------------------------------------------------------------------------
 * Functions return 0 or a negative STEP_E* code; step_strerror() names it. */
#define STEP_ERRNO_MAP(X)                                                                          \
    X(FAILED, -1, "handler failed")                                                                \
    X(NOTFOUND, -2, "not found")                                                                   \
    X(INVAL, -3, "invalid argument")                                                               \
    X(NOMEM, -4, "out of memory")                                                                  \
    X(IO, -5, "storage I/O error")                                                                 \
    X(UNDECLARED, -6, "topic not declared in the step's emits")                                    \
    X(TIMEOUT, -7, "timed out")                                                                    \
    X(CLOSED, -8, "runtime is shutting down")                                                      \
    X(CONFIG, -9, "invalid configuration")                                                         \
    X(SCHEMA, -10, "value does not match the schema")                                              \
    X(COMPILE, -11, "compilation failed")                                                          \
    X(UNSUPPORTED, -12, "not supported")                                                           \
    X(BUSY, -13, "resource busy")                                                                  \
    X(CONFLICT, -14, "conflict")                                                                   \
    X(PARSE, -15, "parse error")

enum step_errno {
#define STEP_ERRNO_ENUM(name, value, text) STEP_E##name = (value),
    STEP_ERRNO_MAP(STEP_ERRNO_ENUM)
#undef STEP_ERRNO_ENUM
};

/* Returns a static string describing err ("unknown error" for codes not in the map). */
const char *step_strerror(int err);
/* Returns the symbolic name of err, e.g. "STEP_ENOTFOUND". */
const char *step_err_name(int err);

/* ---- the handler context ------------------------------------------------------------------ */

typedef struct step_ctx step_ctx; /* opaque; valid only during the handler call */

/* Writes (emits and state writes) are applied in the order the handler makes them, without
 * the handler waiting for each commit: they are durable, and visible to other handlers, within
 * a commit (milliseconds), and the runtime waits for all of them before the run counts as done:
 * an API response is sent, and an event acknowledged, only once every write of the handler has
 * committed. If one fails, the API answers 500 and the event is retried (dead-lettered after
 * its last attempt) like a failed handler. A handler reads its own writes (a read after a write
 * waits for it). step_flush waits for the writes so far, e.g. before an irreversible side
 * effect; it returns the first write error, or 0. */
int step_flush(step_ctx *ctx);

/* Emits `data` on `topic` (one queued delivery per subscribing step). Steals `data` (NULL
 * means {}). Fails at once with STEP_EUNDECLARED if the step's config does not list the topic. */
int step_emit(step_ctx *ctx, const char *topic, json_t *data);

/* State: JSON values under (group, key). */
int step_state_get(step_ctx *ctx, const char *group, const char *key, json_t **out); /* new ref */
int step_state_set(step_ctx *ctx, const char *group, const char *key, json_t *value); /* borrows */
int step_state_delete(step_ctx *ctx, const char *group, const char *key);
/* All values of a group as a JSON array ordered by key; *out is a new reference. */
int step_state_get_group(step_ctx *ctx, const char *group, json_t **out);
int step_state_clear(step_ctx *ctx, const char *group);

typedef enum step_log_level {
    STEP_LOG_DEBUG = 0,
    STEP_LOG_INFO = 1,
    STEP_LOG_WARN = 2,
    STEP_LOG_ERROR = 3,
} step_log_level;

/* Logs one structured line with the step name and trace id. `fields` is borrowed (may be NULL). */
void step_log(step_ctx *ctx, step_log_level level, const char *msg, json_t *fields);
#define step_log_debug(ctx, msg, fields) step_log((ctx), STEP_LOG_DEBUG, (msg), (fields))
#define step_log_info(ctx, msg, fields) step_log((ctx), STEP_LOG_INFO, (msg), (fields))
#define step_log_warn(ctx, msg, fields) step_log((ctx), STEP_LOG_WARN, (msg), (fields))
#define step_log_error(ctx, msg, fields) step_log((ctx), STEP_LOG_ERROR, (msg), (fields))

/* Borrowed strings, valid during the handler call. event_id is "" outside event handlers. */
const char *step_trace_id(const step_ctx *ctx);
const char *step_event_id(const step_ctx *ctx);
const char *step_name(const step_ctx *ctx);
/* 1 on the first delivery of an event, 2 on the first retry, ...; 1 for API and cron. */
int step_attempt(const step_ctx *ctx);

/* Writes a new random id (32 hex characters + NUL), e.g. for a chatId. Thread-safe. */
void step_new_id(char out[33]);

/* ---- HTTP requests and responses (API steps and middleware) -------------------------------- */

typedef struct step_request {
    const char *method;     /* "GET", "POST", ... */
    const char *path;       /* without the query string */
    const char *request_id; /* also sent back as x-request-id */
    json_t *body;           /* parsed JSON body or NULL when there is none */
    json_t *path_params;    /* object: {"id": "42"} for /chat/:id */
    json_t *query_params;   /* object: values are strings; repeated keys become arrays */
    json_t *headers;        /* object: lower-case names */
    const char *raw_body;   /* the body bytes (NUL-terminated copy), "" when none */
    size_t raw_body_len;
    json_t *locals; /* object: what middleware attached, e.g. {"user": {...}} */
} step_request;

typedef struct step_response {
    int status;      /* 200 unless set */
    json_t *body;    /* sent as JSON; NULL sends no body */
    json_t *headers; /* object of string values, e.g. {"location": "/x"} */
    void *raw;       /* set by step_respond_bytes: sent instead of body (the runtime frees it) */
    size_t raw_len;
    void *internal;  /* the runtime's (streaming and following); do not touch */
} step_response;

/* Sets status and body (stolen). Returns 0 so a handler can `return step_respond(...)`. */
int step_respond(step_response *res, int status, json_t *body);
/* Answers with raw bytes (copied) instead of JSON, e.g. audio or an image: status,
 * content-type and len bytes of data. Combine with step_response_header for content-range
 * and the like. Returns 0, or STEP_ENOMEM. */
#define STEP_HAS_RESPOND_BYTES 1
int step_respond_bytes(step_response *res, int status, const char *content_type, const void *data,
                       size_t len);
/* Sets a response header (copies both strings). */
int step_response_header(step_response *res, const char *name, const char *value);

/* ---- streaming responses (server-sent events) ------------------------------------------------
 * An API handler can send its body while it runs, e.g. an LLM's tokens as they arrive:
 *
 *     step_stream *s;
 *     step_respond_stream(ctx, res, 200, NULL, &s);      // headers go out now (SSE by default)
 *     step_stream_event(s, "token", "Hel");               // each call reaches the client at once
 *     step_stream_event(s, "done", "{}");
 *     return 0;                                           // returning ends the response
 *
 * Named streams let other handlers feed clients: step_stream_publish(ctx, "chat", id, "token",
 * text) from an event step, and an API handler answers `return step_respond_follow(res, "chat",
 * id)`: the client gets what was published recently, then each event as it comes, until one
 * named "end" (or it leaves). Following holds no thread. Loopback clients (the Workbench) can
 * follow any stream at GET /__stepd/streams/STREAM/ID. */
#define STEP_HAS_STREAMS 1
typedef struct step_stream step_stream;
/* Starts the response now with `status`, the headers set so far and `content_type` (NULL:
 * text/event-stream, with no-cache headers). The handler's writes so far are made durable
 * first. *out is valid until the handler returns. STEP_EINVAL if the response already started
 * or this is not an API handler. */
int step_respond_stream(step_ctx *ctx, step_response *res, int status, const char *content_type,
                        step_stream **out);
/* Sends bytes to the client (copied). STEP_ECLOSED once the client has gone. */
int step_stream_write(step_stream *s, const void *data, size_t len);
/* Sends one server-sent event: an "event:" line when `event` is not NULL, one "data:" line per
 * line of `data`. */
int step_stream_event(step_stream *s, const char *event, const char *data);
/* Publishes one event to the followers of (stream, id); an event named "end" ends them. The
 * last events of each (stream, id) are kept for a minute after its end for late followers. */
int step_stream_publish(step_ctx *ctx, const char *stream, const char *id, const char *event,
                        const char *data);
/* Answers the request by following (stream, id) as server-sent events (see above). */
int step_respond_follow(step_response *res, const char *stream, const char *id);
/* Attaches a value for later middleware and the handler (steals `value`). */
int step_request_set_local(step_request *req, const char *name, json_t *value);
/* Borrowed: what middleware attached under `name`, or NULL. */
json_t *step_request_local(const step_request *req, const char *name);
/* Borrowed header value (name in any case) or NULL. */
const char *step_request_header(const step_request *req, const char *name);

/* ---- handlers ------------------------------------------------------------------------------
 * Return 0 on success. A non-zero return from an event handler fails the attempt (it will be
 * retried, then dead-lettered); from an API handler it answers 500 with the request id. */
typedef int (*step_api_fn)(step_ctx *ctx, step_request *req, step_response *res);
typedef int (*step_event_fn)(step_ctx *ctx, json_t *input /* borrowed */);
typedef int (*step_cron_fn)(step_ctx *ctx);

/* Middleware: return STEP_NEXT to continue the chain, STEP_DONE after filling `res` to answer
 * now (e.g. 401), or a negative error for a 500. */
enum { STEP_NEXT = 0, STEP_DONE = 1 };
typedef int (*step_middleware_fn)(step_ctx *ctx, step_request *req, step_response *res);

/* A named middleware, usable by any API step of the project via .middleware = STEP_LIST("auth").
 * Define it in any *.step.c or *.middleware.c file under steps/ (or middleware/):
 *     STEP_MIDDLEWARE(auth) { ...; return STEP_NEXT; }                                        */
#define STEP_MIDDLEWARE(name)                                                                      \
    int stepd_mw_##name(step_ctx *ctx, step_request *req, step_response *res)

/* ---- configuration ------------------------------------------------------------------------ */

typedef enum step_type {
    STEP_NONE = 0,
    STEP_API,
    STEP_EVENT,
    STEP_CRON,
    STEP_NOOP,
} step_type;

/* A NULL-terminated list of strings: STEP_LIST("a", "b"). */
#define STEP_LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct step_config {
    step_type type;
    const char *name;
    const char *description;
    const char *const *flows;

    /* api */
    const char *method;
    const char *path; /* "/ai/chat/:id" */
    const char *const *middleware;
    const char *body_schema; /* JSON Schema (subset) as a string, or NULL */
    step_api_fn api;

    /* event (for noop steps: the topics drawn as arriving, no handler runs) */
    const char *const *subscribes;
    const char *input_schema; /* JSON Schema for the event data, or NULL */
    step_event_fn on_event;

    /* cron */
    const char *cron; /* 5 fields: "*\/5 * * * *" */
    step_cron_fn on_cron;

    /* all but noop */
    const char *const *emits;
    const char *const *virtual_emits; /* drawn in flows only */

    /* delivery settings for event steps; 0 means "use stepd.json's default" */
    int max_attempts;  /* total tries before dead-lettering */
    int timeout_ms;    /* per attempt */
    int concurrency;   /* max handlers of this step running at once */
    int backoff_ms;    /* first retry delay; doubles each attempt, with jitter */
} step_config;

#define STEP_CONFIG_SYMBOL stepd_step_config
#define STEP_CONFIG                                                                                \
    __attribute__((used, visibility("default"))) const int stepd_step_abi = STEPD_ABI;             \
    __attribute__((used, visibility("default"))) const step_config STEP_CONFIG_SYMBOL

#ifdef __cplusplus
}
#endif
#endif
