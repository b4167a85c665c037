/*
 * http.c — see http.h.
 *
 * Request lifetime: h2o owns the request (h2o_req_t) and frees it with its memory pool when
 * the response is sent or the connection dies. When a request goes to a worker, a small
 * "pending" record is allocated in the request's pool with a dispose callback, linking the
 * request and the job. Both the dispose callback and the completion run on the loop thread,
 * so no lock guards the link: a job that completes after its client left finds the link
 * cleared and is simply freed. Workers never touch h2o objects.
 */
#include "core/http.h"

#include <ctype.h>
#include <h2o.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ctx.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/httputil.h"
#include "core/schema.h"
#include "core/stream.h"

typedef struct http_job http_job;

typedef struct pending {
    h2o_req_t *req;
    http_job *job;
} pending;

typedef enum job_kind {
    JOB_API,
    JOB_ADMIN_EMIT,
    JOB_ADMIN_DLQ,
    JOB_ADMIN_REPLAY,
    JOB_ADMIN_STATE
} job_kind;

struct http_job {
    txn tx; /* the handler's writes: the response waits for them */
    http_server *srv;
    runtime *rt;
    registry *reg;
    step_def *step;
    job_kind kind;
    pending *pend; /* NULL once the client is gone (loop thread only) */
    /* input: `block` is one allocation holding method, path, query, params and headers */
    void *block;
    char *method, *path, *query;
    int nparams, nheaders;
    char **param_kv;  /* 2 * nparams strings */
    char **header_kv; /* 2 * nheaders strings */
    char *body;
    size_t body_len;
    char request_id[33], trace_id[65];
    /* output */
    int status;
    char *resp_body;
    size_t resp_len;
    json_t *resp_headers;
    step_stream *stream;       /* step_respond_stream: the body is being streamed */
    char *follow_stream, *follow_id; /* step_respond_follow */
    http_job *next;
};

struct http_server {
    runtime *rt;
    registry *reg;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int listening;
    int port;
    uv_async_t done_async;
    _Atomic(http_job *) done; /* finished jobs, newest first (lock-free push by workers) */
    stream_hub *hub;
};

typedef struct stepd_handler {
    h2o_handler_t super;
    http_server *srv;
} stepd_handler;

static const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Error"
                                                                                  : "Server Error";
    }
}

/* ---- sending (loop thread) ------------------------------------------------------------ */

/* Status and headers of a response: the handler's, a default content type, the ids. */
static void set_head(h2o_req_t *req, int status, const char *default_ctype,
                     const char *request_id, const char *trace_id, json_t *headers) {
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    int has_ct = 0;
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v) {
        if (!json_is_string(v))
            continue;
        if (!strcmp(k, "content-type"))
            has_ct = 1;
        if (!strcmp(k, "content-length") || !strcmp(k, "transfer-encoding") ||
            !strcmp(k, "connection"))
            continue;
        h2o_iovec_t name = h2o_strdup(&req->pool, k, strlen(k));
        h2o_iovec_t val = h2o_strdup(&req->pool, json_string_value(v), json_string_length(v));
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 1, NULL,
                              val.base, val.len);
    }
    if (!has_ct && default_ctype) {
        h2o_iovec_t ct = h2o_strdup(&req->pool, default_ctype, strlen(default_ctype));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct.base,
                       ct.len);
    }
    if (request_id && *request_id) {
        h2o_iovec_t id = h2o_strdup(&req->pool, request_id, strlen(request_id));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                              id.base, id.len);
    }
    if (trace_id && *trace_id) {
        h2o_iovec_t id = h2o_strdup(&req->pool, trace_id, strlen(trace_id));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-trace-id"), 0, NULL,
                              id.base, id.len);
    }
}

static void send_json(h2o_req_t *req, int status, const char *body, size_t len,
                      const char *request_id, const char *trace_id, json_t *headers) {
    set_head(req, status, body ? "application/json; charset=utf-8" : NULL, request_id, trace_id,
             headers);
    /* h2o_send_inline leaves the length unset, and HTTP/1.1 then delimits the body by closing
     * the connection: say it, so keep-alive connections stay open */
    req->res.content_length = body ? len : 0;
    h2o_send_inline(req, body ? body : "", body ? len : 0);
}

static void send_error(h2o_req_t *req, int status, const char *message, json_t *extra,
                       const char *request_id) {
    json_t *o = json_pack("{s:s}", "error", message);
    if (extra)
        json_object_update(o, extra);
    if (request_id && *request_id)
        json_object_set_new(o, "requestId", json_string(request_id));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    send_json(req, status, s, s ? strlen(s) : 0, request_id, NULL, NULL);
    free(s);
}

static void job_free(http_job *j) {
    if (!j)
        return;
    free(j->follow_stream);
    free(j->follow_id);
    registry_unref(j->reg);
    free(j->body);
    free(j->resp_body);
    json_decref(j->resp_headers);
    free(j->block);
    free(j);
}

static void on_jobs_done(uv_async_t *a) {
    http_server *s = a->data;
    http_job *j = NULL, *stack = atomic_exchange(&s->done, NULL);
    while (stack) { /* oldest first */
        http_job *next = stack->next;
        stack->next = j;
        j = stack;
        stack = next;
    }
    /* streams first: one a finished job opened must have started */
    if (s->hub)
        stream_hub_run(s->hub);
    while (j) {
        http_job *next = j->next;
        h2o_req_t *req = j->pend ? j->pend->req : NULL;
        if (j->pend)
            j->pend->job = NULL;
        if (j->stream) {
            stream_handler_done(j->stream); /* ends the response once its bytes are out */
        } else if (req && j->follow_stream) {
            set_head(req, 200, "text/event-stream", j->request_id, j->trace_id, j->resp_headers);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                           H2O_STRLIT("no-cache"));
            if (stream_follow(s->hub, req, j->follow_stream, j->follow_id))
                send_error(req, 503, "server is out of memory", NULL, j->request_id);
        } else if (req) {
            send_json(req, j->status, j->resp_body, j->resp_len, j->request_id, j->trace_id,
                      j->resp_headers);
        }
        job_free(j);
        j = next;
    }
}

static void job_done(http_job *j) {
    http_server *s = j->srv;
    runtime *rt = j->rt;
    http_job *head = atomic_load(&s->done);
    do
        j->next = head;
    while (!atomic_compare_exchange_weak(&s->done, &head, j));
    uv_async_send(&s->done_async);
    runtime_job_end(rt);
}

static void on_pending_dispose(void *p) {
    pending *pd = p;
    if (pd->job)
        pd->job->pend = NULL;
}

/* ---- worker side ---------------------------------------------------------------------- */

static void respond_json(http_job *j, int status, json_t *body /* stolen */) {
    j->status = status;
    if (body) {
        j->resp_body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        j->resp_len = j->resp_body ? strlen(j->resp_body) : 0;
        json_decref(body);
    }
}

static void respond_error(http_job *j, int status, const char *msg, json_t *extra) {
    json_t *o = json_pack("{s:s}", "error", msg);
    if (extra) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    if (status >= 500)
        json_object_set_new(o, "requestId", json_string(j->request_id));
    respond_json(j, status, o);
}

static void run_api(http_job *j) {
    step_def *s = j->step;
    step_request req = {.method = j->method, .path = j->path, .request_id = j->request_id,
                        .raw_body = j->body ? j->body : "", .raw_body_len = j->body_len};
    step_response res = {.status = 200, .internal = j};
    req.headers = json_object();
    req.path_params = json_object();
    req.locals = json_object();
    const char *ctype = NULL;
    for (int i = 0; i < j->nheaders; i++) {
        const char *k = j->header_kv[2 * i], *v = j->header_kv[2 * i + 1];
        json_t *prev = json_object_get(req.headers, k);
        if (prev && json_is_string(prev)) {
            char *joined = NULL;
            if (asprintf(&joined, "%s, %s", json_string_value(prev), v) >= 0) {
                json_object_set_new(req.headers, k, http_json_string(joined));
                free(joined);
            }
        } else {
            json_object_set_new(req.headers, k, http_json_string(v));
        }
        if (!strcmp(k, "content-type"))
            ctype = v;
    }
    for (int i = 0; i < j->nparams; i++) {
        char *v = http_url_decode(j->param_kv[2 * i + 1], strlen(j->param_kv[2 * i + 1]), 0);
        if (v)
            json_object_set_new(req.path_params, j->param_kv[2 * i], http_json_string(v));
        free(v);
    }
    req.query_params = http_parse_query(j->query);
    if (j->body_len > 0 && http_content_is_form(ctype) && !http_content_is_json(ctype, j->body, j->body_len)) {
        req.body = http_parse_query(j->body); /* a=1&b=2 → {"a":"1","b":"2"} */
    } else if (j->body_len > 0 && http_content_is_json(ctype, j->body, j->body_len)) {
        json_error_t je;
        req.body = json_loadb(j->body, j->body_len, JSON_DECODE_ANY, &je);
        if (!req.body) {
            char msg[300];
            snprintf(msg, sizeof(msg), "malformed JSON body: %s", je.text);
            respond_error(j, 400, msg, json_pack("{s:i, s:i}", "line", je.line, "column", je.column));
            goto out;
        }
    }
    if (s->body_schema) {
        schema_error se;
        if (schema_validate(s->body_schema, req.body, &se)) {
            respond_json(j, 400, schema_error_json(&se, "invalid request body"));
            goto out;
        }
    }
    step_ctx ctx = {.rt = j->rt, .reg = j->reg, .step = s, .trace_id = j->trace_id, .attempt = 1,
                    .tx = &j->tx};
    for (int i = 0; s->mw && s->mw[i]; i++) {
        int rc = s->mw[i](&ctx, &req, &res);
        if (rc == STEP_DONE)
            goto send;
        if (rc != STEP_NEXT) {
            json_t *f = json_pack("{s:s, s:i}", "middleware", s->middleware[i], "rc", rc);
            log_write(STEP_LOG_ERROR, s->name, j->trace_id, "middleware failed", f);
            json_decref(f);
            respond_error(j, 500, "internal error", NULL);
            goto out;
        }
    }
    int rc = s->api(&ctx, &req, &res);
    if (rc) {
        json_t *f = json_pack("{s:i, s:s, s:s}", "rc", rc, "requestId", j->request_id, "error",
                              rc < 0 ? step_strerror(rc) : "handler failed");
        log_write(STEP_LOG_ERROR, s->name, j->trace_id, "api handler failed", f);
        json_decref(f);
        free(j->follow_stream); /* a failed handler answers 500, not a stream to follow */
        j->follow_stream = NULL;
        respond_error(j, 500, "internal error", NULL);
        goto out;
    }
send:
    if (j->stream || j->follow_stream) { /* the body is (or will be) streamed */
        j->resp_headers = res.headers;
        res.headers = NULL;
        goto out;
    }
    if (res.status < 100 || res.status > 999) {
        respond_error(j, 500, "internal error: handler set an invalid status", NULL);
        goto out;
    }
    j->resp_headers = res.headers;
    res.headers = NULL;
    if (res.raw) { /* bytes from step_respond_bytes: sent as they are */
        j->status = res.status;
        j->resp_body = res.raw;
        j->resp_len = res.raw_len;
        res.raw = NULL;
    } else {
        respond_json(j, res.status, res.body);
        res.body = NULL;
    }
out:
    free(res.raw);
    json_decref(res.body);
    json_decref(res.headers);
    json_decref(req.body);
    json_decref(req.headers);
    json_decref(req.path_params);
    json_decref(req.query_params);
    json_decref(req.locals);
}

/* GET /__stepd/state/GROUP[/KEY] (percent-encoded): one value, or the group as an object */
static void run_admin_state(http_job *j) {
    const char *rest = j->path + strlen("/__stepd/state/");
    const char *slash = strchr(rest, '/');
    char *group = http_url_decode(rest, slash ? (size_t)(slash - rest) : strlen(rest), 0);
    char *key = slash ? http_url_decode(slash + 1, strlen(slash + 1), 0) : NULL;
    state_store *st = j->rt->state;
    if (!group || !*group) {
        respond_error(j, 400, "usage: /__stepd/state/GROUP[/KEY]", NULL);
    } else if (key) {
        char *v = NULL;
        int rc = st->ops->get(st, group, key, &v);
        json_t *val = rc ? NULL : json_loads(v, JSON_DECODE_ANY, NULL);
        if (rc == STEP_ENOTFOUND)
            respond_error(j, 404, "not found", NULL);
        else if (rc || !val)
            respond_error(j, 500, rc ? step_strerror(rc) : "stored value is not JSON", NULL);
        else
            respond_json(j, 200, val);
        free(v);
    } else {
        state_item *items = NULL;
        size_t n = 0;
        int rc = st->ops->get_group(st, group, &items, &n);
        json_t *o = json_object();
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *v = json_loads(items[i].value, JSON_DECODE_ANY, NULL);
            json_object_set_new(o, items[i].key, v ? v : json_null());
        }
        state_items_free(items, n);
        if (rc) {
            json_decref(o);
            respond_error(j, 500, step_strerror(rc), NULL);
        } else {
            respond_json(j, 200, o);
        }
    }
    free(group);
    free(key);
}

static void run_admin(http_job *j) {
    if (j->kind == JOB_ADMIN_STATE) {
        run_admin_state(j);
        return;
    }
    json_error_t je;
    json_t *body = j->body_len ? json_loadb(j->body, j->body_len, 0, &je) : json_object();
    if (!body) {
        respond_error(j, 400, "malformed JSON body", NULL);
        return;
    }
    if (j->kind == JOB_ADMIN_EMIT) {
        const char *topic = json_string_value(json_object_get(body, "topic"));
        json_t *data = json_object_get(body, "data");
        if (!topic || !*topic) {
            respond_error(j, 400, "'topic' is required", NULL);
        } else {
            char *text = json_dumps(data ? data : json_object(), JSON_COMPACT | JSON_ENCODE_ANY);
            const topic_subs *subs = registry_subscribers(j->reg, topic);
            int rc = text ? runtime_emit(j->rt, j->reg, NULL, topic, text, j->trace_id, NULL)
                          : STEP_ENOMEM;
            free(text);
            if (rc)
                respond_error(j, 500, step_strerror(rc), NULL);
            else
                respond_json(j, 202, json_pack("{s:s, s:i, s:s}", "topic", topic, "subscribers",
                                               subs ? subs->n : 0, "traceId", j->trace_id));
        }
    } else if (j->kind == JOB_ADMIN_DLQ) {
        queue_msg *msgs = NULL;
        size_t n = 0;
        int rc = j->rt->q->ops->dlq_list(j->rt->q, &msgs, &n);
        json_t *arr = json_array();
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *d = json_loads(msgs[i].data ? msgs[i].data : "null", JSON_DECODE_ANY, NULL);
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:i, s:s?}", "id", msgs[i].id,
                               "eventId", msgs[i].event_id ? msgs[i].event_id : "", "topic",
                               msgs[i].topic, "step", msgs[i].step, "data",
                               d ? d : json_null(), "traceId",
                               msgs[i].trace_id ? msgs[i].trace_id : "", "attempts",
                               msgs[i].attempt, "error", msgs[i].last_error));
        }
        queue_msgs_free(msgs, n);
        if (rc) {
            json_decref(arr);
            respond_error(j, 500, step_strerror(rc), NULL);
        } else {
            respond_json(j, 200, arr);
        }
    } else {
        const char *id = json_string_value(json_object_get(body, "id"));
        size_t replayed = 0;
        int rc = j->rt->q->ops->dlq_replay(j->rt->q, id, &replayed);
        if (rc == STEP_ENOTFOUND)
            respond_error(j, 404, "no such dead-letter message", NULL);
        else if (rc)
            respond_error(j, 500, step_strerror(rc), NULL);
        else {
            registry *reg = j->reg;
            for (int i = 0; i < reg->nsteps; i++)
                atomic_store(&reg->steps[i]->dirty, 1);
            respond_json(j, 200, json_pack("{s:i}", "replayed", (int)replayed));
        }
    }
    json_decref(body);
}

/* ---- streaming (see stream.h) -------------------------------------------------------------- */

/* Loop: the head of a handler's stream, on the request its job answers. */
static h2o_req_t *stream_start(void *owner, int status, const char *content_type,
                               json_t *headers) {
    http_job *j = owner;
    h2o_req_t *req = j->pend ? j->pend->req : NULL;
    if (req) {
        set_head(req, status, content_type, j->request_id, j->trace_id, headers);
        if (!strncmp(content_type, "text/event-stream", 17))
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                           H2O_STRLIT("no-cache"));
    }
    json_decref(headers);
    return req;
}

int step_respond_stream(step_ctx *ctx, step_response *res, int status, const char *content_type,
                        step_stream **out) {
    http_job *j = res ? res->internal : NULL;
    if (out)
        *out = NULL;
    if (!j || !out || j->stream || j->follow_stream || status < 100 || status > 999)
        return STEP_EINVAL;
    if (ctx && ctx->tx)
        txn_sync(ctx->tx); /* what the handler wrote so far is durable before the client hears */
    json_t *headers = res->headers;
    res->headers = NULL;
    res->status = status;
    j->stream = stream_open(j->srv->hub, j, status,
                            content_type ? content_type : "text/event-stream", headers);
    *out = j->stream;
    return j->stream ? 0 : STEP_ENOMEM;
}

int step_respond_follow(step_response *res, const char *stream, const char *id) {
    http_job *j = res ? res->internal : NULL;
    if (!j || !stream || !*stream || !id || !*id || j->stream || j->follow_stream)
        return STEP_EINVAL;
    if (!(j->follow_stream = strdup(stream)) || !(j->follow_id = strdup(id))) {
        free(j->follow_stream);
        j->follow_stream = NULL;
        return STEP_ENOMEM;
    }
    res->status = 200;
    return 0;
}

int step_stream_publish(step_ctx *ctx, const char *stream, const char *id, const char *event,
                        const char *data) {
    if (!ctx || !stream || !*stream || !id || !*id)
        return STEP_EINVAL;
    http_server *srv = ctx->rt ? ctx->rt->http : NULL;
    if (!srv || !srv->hub)
        return STEP_ECLOSED;
    return stream_publish(srv->hub, stream, id, event, data);
}

/* The handler's state writes and emits are durable (or failed): now the client may know. */
static void api_end(txn *t, int rc) {
    http_job *j = t->owner;
    if (rc) {
        json_t *f = json_pack("{s:s, s:s}", "requestId", j->request_id, "error", step_strerror(rc));
        log_write(STEP_LOG_ERROR, j->step->name, j->trace_id,
                  "a state write or emit of the handler failed", f);
        json_decref(f);
        free(j->resp_body);
        j->resp_body = NULL;
        json_decref(j->resp_headers);
        j->resp_headers = NULL;
        free(j->follow_stream);
        j->follow_stream = NULL;
        respond_error(j, 500, "internal error: a state write or emit failed", NULL);
    }
    job_done(j);
}

static void job_run(void *arg) {
    http_job *j = arg;
    if (j->kind == JOB_API) {
        txn_init(&j->tx, j->rt, j, j->step->name, j->trace_id);
        run_api(j);
        txn_end(&j->tx, NULL, api_end);
    } else {
        run_admin(j);
        job_done(j);
    }
}

/* ---- accepting (loop thread) ---------------------------------------------------------- */

static int is_loopback(h2o_req_t *req) {
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (len == 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

static int valid_trace(const char *s, size_t len) {
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

/* Copies what the worker needs out of h2o's request into one allocation. */
static http_job *job_new(http_server *srv, h2o_req_t *req, const route_match *m, size_t path_len,
                         job_kind kind) {
    size_t qlen = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    size_t need = req->method.len + 1 + path_len + 1 + qlen + 1;
    int np = m ? m->nparams : 0;
    for (int i = 0; i < np; i++)
        need += m->params[i].name_len + 1 + m->params[i].value_len + 1;
    for (size_t i = 0; i < req->headers.size; i++)
        need += req->headers.entries[i].name->len + 1 + req->headers.entries[i].value.len + 1;
    size_t nptrs = 2 * (size_t)np + 2 * req->headers.size;
    http_job *j = calloc(1, sizeof(*j));
    char *block = malloc(nptrs * sizeof(char *) + need);
    if (!j || !block) {
        free(j);
        free(block);
        return NULL;
    }
    char **ptrs = (char **)block;
    char *p = block + nptrs * sizeof(char *);
#define COPY(dst, src, len)                                                                        \
    do {                                                                                           \
        (dst) = p;                                                                                 \
        memcpy(p, (src), (len));                                                                   \
        p[(len)] = '\0';                                                                           \
        p += (len) + 1;                                                                            \
    } while (0)
    j->block = block;
    COPY(j->method, req->method.base, req->method.len);
    COPY(j->path, req->path.base, path_len);
    if (qlen)
        COPY(j->query, req->path.base + req->query_at + 1, qlen);
    j->param_kv = ptrs;
    j->nparams = np;
    for (int i = 0; i < np; i++) {
        COPY(ptrs[2 * i], m->params[i].name, m->params[i].name_len);
        COPY(ptrs[2 * i + 1], m->params[i].value, m->params[i].value_len);
    }
    j->header_kv = ptrs + 2 * np;
    j->nheaders = (int)req->headers.size;
    for (size_t i = 0; i < req->headers.size; i++) {
        h2o_header_t *h = &req->headers.entries[i];
        COPY(j->header_kv[2 * i], h->name->base, h->name->len);
        COPY(j->header_kv[2 * i + 1], h->value.base, h->value.len);
    }
#undef COPY
    if (req->entity.base && req->entity.len) {
        j->body = malloc(req->entity.len + 1);
        if (!j->body) {
            free(block);
            free(j);
            return NULL;
        }
        memcpy(j->body, req->entity.base, req->entity.len);
        j->body[req->entity.len] = '\0';
        j->body_len = req->entity.len;
    }
    j->srv = srv;
    j->rt = srv->rt;
    j->reg = registry_ref(srv->reg);
    j->step = m ? m->target : NULL;
    j->kind = kind;
    runtime_new_id(j->request_id);
    ssize_t ti = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-trace-id"), -1);
    if (ti >= 0 && valid_trace(req->headers.entries[ti].value.base,
                               req->headers.entries[ti].value.len)) {
        memcpy(j->trace_id, req->headers.entries[ti].value.base, req->headers.entries[ti].value.len);
        j->trace_id[req->headers.entries[ti].value.len] = '\0';
    } else {
        memcpy(j->trace_id, j->request_id, 33);
    }
    return j;
}

static int dispatch(http_server *srv, h2o_req_t *req, const route_match *m, size_t path_len,
                    job_kind kind) {
    http_job *j = job_new(srv, req, m, path_len, kind);
    if (!j) {
        send_error(req, 503, "server is out of memory", NULL, NULL);
        return 0;
    }
    pending *pd = h2o_mem_alloc_shared(&req->pool, sizeof(*pd), on_pending_dispose);
    pd->req = req;
    pd->job = j;
    j->pend = pd;
    runtime_job_begin(srv->rt);
    if (pool_submit(srv->rt->workers, job_run, j)) {
        runtime_job_end(srv->rt);
        pd->job = NULL;
        job_free(j);
        send_error(req, 503, "server is shutting down", NULL, NULL);
    }
    return 0;
}

static int admin_request(http_server *srv, h2o_req_t *req, const char *path, size_t len) {
    if (!is_loopback(req)) {
        send_error(req, 403, "admin endpoints answer loopback clients only", NULL, NULL);
        return 0;
    }
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    if (h2o_memis(path, len, H2O_STRLIT("/__stepd/health")) && get) {
        char body[128];
        int n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"version\":\"%s\",\"steps\":%d}",
                         STEPD_VERSION, srv->reg->nsteps);
        send_json(req, 200, body, (size_t)n, NULL, NULL, NULL);
        return 0;
    }
    if (h2o_memis(path, len, H2O_STRLIT("/__stepd/emit")) && post)
        return dispatch(srv, req, NULL, len, JOB_ADMIN_EMIT);
    if (h2o_memis(path, len, H2O_STRLIT("/__stepd/dlq")) && get)
        return dispatch(srv, req, NULL, len, JOB_ADMIN_DLQ);
    if (len > 15 && !memcmp(path, "/__stepd/state/", 15) && get)
        return dispatch(srv, req, NULL, len, JOB_ADMIN_STATE);
    if (h2o_memis(path, len, H2O_STRLIT("/__stepd/dlq/replay")) && post)
        return dispatch(srv, req, NULL, len, JOB_ADMIN_REPLAY);
    if (len > 17 && !memcmp(path, "/__stepd/streams/", 17) && get) {
        /* GET /__stepd/streams/STREAM/ID (percent-encoded): follow it as server-sent events */
        const char *rest = path + 17, *slash = memchr(rest, '/', len - 17);
        char *name = slash ? http_url_decode(rest, (size_t)(slash - rest), 0) : NULL;
        char *id = slash ? http_url_decode(slash + 1, len - 17 - (size_t)(slash - rest) - 1, 0)
                         : NULL;
        if (!name || !*name || !id || !*id || strchr(id, '/')) {
            send_error(req, 400, "usage: /__stepd/streams/STREAM/ID", NULL, NULL);
        } else {
            set_head(req, 200, "text/event-stream", NULL, NULL, NULL);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                           H2O_STRLIT("no-cache"));
            if (stream_follow(srv->hub, req, name, id))
                send_error(req, 503, "server is out of memory", NULL, NULL);
        }
        free(name);
        free(id);
        return 0;
    }
    send_error(req, 404, "unknown admin endpoint", NULL, NULL);
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    http_server *srv = ((stepd_handler *)self)->srv;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *path = req->path.base;
    if (atomic_load(&srv->rt->stopping)) {
        send_error(req, 503, "server is shutting down", NULL, NULL);
        return 0;
    }
    if (path_len >= 9 && !memcmp(path, "/__stepd/", 9))
        return admin_request(srv, req, path, path_len);
    route_match m;
    char allow[128];
    int rc = router_match(srv->reg->routes, req->method.base, req->method.len, path, path_len, &m,
                          allow, sizeof(allow));
    if (rc == STEP_EUNSUPPORTED) {
        h2o_iovec_t a = h2o_strdup(&req->pool, allow, strlen(allow));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("allow"), 0, NULL, a.base,
                              a.len);
        json_t *extra = json_pack("{s:s}", "allow", allow);
        send_error(req, 405, "method not allowed", extra, NULL);
        json_decref(extra);
        return 0;
    }
    if (rc) {
        char msg[300];
        snprintf(msg, sizeof(msg), "no route for %.*s %.*s", (int)req->method.len,
                 req->method.base, (int)(path_len > 200 ? 200 : path_len), path);
        json_t *probe = json_string(msg);
        if (!probe) /* the path was not UTF-8 */
            snprintf(msg, sizeof(msg), "no route for this path");
        json_decref(probe);
        send_error(req, 404, msg, NULL, NULL);
        return 0;
    }
    return dispatch(srv, req, &m, path_len, JOB_API);
}

/* ---- h2o's own errors as JSON ------------------------------------------------------------ *
 * h2o answers a few errors itself before any handler runs (a body over the size limit: 413, a
 * broken chunked encoding or content-length: 400) with a text/plain body. A response filter
 * turns those bodies into {"error": "<text>"}, like every other error of the server. */

static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                            h2o_send_state_t state) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += bufs[i].len;
    char *text = h2o_mem_alloc_pool(&req->pool, len + 1), *p = text;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, bufs[i].base, bufs[i].len);
        p += bufs[i].len;
    }
    *p = '\0';
    json_t *o = json_pack("{s:s}", "error", text);
    char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    h2o_iovec_t body = out ? h2o_strdup(&req->pool, out, strlen(out))
                           : h2o_iovec_init(H2O_STRLIT("{\"error\":\"bad request\"}"));
    free(out);
    req->res.content_length = body.len;
    h2o_ostream_send_next(self, req, &body, 1, state);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot) {
    (void)self;
    ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (req->res.status >= 400 && ct >= 0 && req->res.content_length != SIZE_MAX &&
        req->res.content_length < 4096 &&
        !strncmp(req->res.headers.entries[ct].value.base, "text/plain", 10)) {
        req->res.headers.entries[ct].value = h2o_iovec_init(H2O_STRLIT("application/json; charset=utf-8"));
        h2o_ostream_t *os = h2o_add_ostream(req, sizeof(*os), slot);
        os->do_send = json_error_send;
        slot = &os->next;
    }
    h2o_setup_next_ostream(req, slot);
}

static void on_accept(uv_stream_t *listener, int status) {
    http_server *srv = listener->data;
    if (status != 0)
        return;
    uv_tcp_t *conn = h2o_mem_alloc(sizeof(*conn));
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&srv->accept_ctx, sock);
}

int http_server_start(runtime *rt, char **err) {
    http_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        *err = strdup("out of memory");
        return STEP_ENOMEM;
    }
    srv->rt = rt;
    srv->reg = runtime_registry(rt);
    h2o_config_init(&srv->config);
    srv->config.max_request_entity_size = (size_t)rt->cfg->max_body;
    srv->config.server_name = h2o_iovec_init(H2O_STRLIT("stepd"));
    h2o_hostconf_t *host =
        h2o_config_register_host(&srv->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_create_filter(pc, sizeof(h2o_filter_t))->on_setup_ostream = json_error_setup;
    h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream =
        json_error_setup;
    stepd_handler *h = (stepd_handler *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_req;
    h->srv = srv;
    h2o_context_init(&srv->ctx, rt->loop, &srv->config);
    srv->accept_ctx.ctx = &srv->ctx;
    srv->accept_ctx.hosts = srv->config.hosts;
    uv_async_init(rt->loop, &srv->done_async, on_jobs_done);
    srv->done_async.data = srv;
    srv->hub = stream_hub_new(rt->loop, &srv->done_async, stream_start);
    if (!srv->hub) {
        *err = strdup("out of memory");
        return STEP_ENOMEM;
    }
    rt->http = srv;

    struct sockaddr_storage addr;
    int r;
    if (strchr(rt->cfg->host, ':'))
        r = uv_ip6_addr(rt->cfg->host, rt->cfg->port, (struct sockaddr_in6 *)&addr);
    else
        r = uv_ip4_addr(rt->cfg->host, rt->cfg->port, (struct sockaddr_in *)&addr);
    if (r) {
        if (asprintf(err, "invalid host \"%s\"", rt->cfg->host) < 0)
            *err = NULL;
        return STEP_ECONFIG;
    }
    uv_tcp_init(rt->loop, &srv->listener);
    srv->listener.data = srv;
    if ((r = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0)) == 0)
        r = uv_listen((uv_stream_t *)&srv->listener, 1024, on_accept);
    if (r) {
        if (asprintf(err, "cannot listen on %s:%d: %s", rt->cfg->host, rt->cfg->port,
                     uv_strerror(r)) < 0)
            *err = NULL;
        return STEP_EIO;
    }
    srv->listening = 1;
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen);
    srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

int http_server_port(const http_server *s) {
    return s ? s->port : 0;
}

void http_server_set_registry(http_server *s, registry *reg) {
    registry_ref(reg);
    registry_unref(s->reg);
    s->reg = reg;
}

void http_server_stop_accepting(http_server *s) {
    if (s && s->hub)
        stream_hub_shutdown(s->hub); /* followers end; their connections finish */
    if (s && s->listening) {
        s->listening = 0;
        uv_close((uv_handle_t *)&s->listener, NULL);
    }
}

void http_server_free(http_server *s) {
    if (!s)
        return;
    on_jobs_done(&s->done_async); /* answers nobody (loop stopped) but frees finished jobs */
    stream_hub_free(s->hub);
    s->hub = NULL;
    if (s->listening)
        uv_close((uv_handle_t *)&s->listener, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->done_async))
        uv_close((uv_handle_t *)&s->done_async, NULL);
    uv_run(s->rt->loop, UV_RUN_NOWAIT);
    h2o_context_dispose(&s->ctx);
    h2o_config_dispose(&s->config);
    registry_unref(s->reg);
    free(s);
}
