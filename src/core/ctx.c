/*
 * ctx.c — the step API (<stepd/step.h>) as handlers call it: emit, state, log, and the
 * request/response helpers. Values are serialised here so the store adapters only ever
 * see JSON text.
 */
#include "core/ctx.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

int step_emit(step_ctx *ctx, const char *topic, json_t *data) {
    if (!ctx || !topic || !*topic) {
        json_decref(data);
        return STEP_EINVAL;
    }
    if (ctx->step && !step_def_emits(ctx->step, topic)) {
        json_decref(data);
        json_t *f = json_pack("{s:s}", "topic", topic);
        log_write(STEP_LOG_ERROR, ctx->step->name, ctx->trace_id,
                  "emit of a topic not declared in the step's emits", f);
        json_decref(f);
        return STEP_EUNDECLARED;
    }
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
    json_decref(data);
    if (!text)
        return STEP_ENOMEM;
    int rc = runtime_emit(ctx->rt, ctx->reg, ctx->step, topic, text, ctx->trace_id, ctx->tx);
    free(text);
    return rc;
}

int step_flush(step_ctx *ctx) {
    if (!ctx)
        return STEP_EINVAL;
    return ctx->tx ? txn_sync(ctx->tx) : 0;
}

static int bad_key(const char *group, const char *key) {
    return !group || !*group || (key && !*key);
}

int step_state_get(step_ctx *ctx, const char *group, const char *key, json_t **out) {
    *out = NULL;
    if (!ctx || bad_key(group, key) || !key)
        return STEP_EINVAL;
    if (ctx->tx)
        txn_sync(ctx->tx); /* read your own writes */
    char *text = NULL;
    int rc = ctx->rt->state->ops->get(ctx->rt->state, group, key, &text);
    if (rc)
        return rc;
    *out = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    return *out ? 0 : STEP_EPARSE;
}

int step_state_set(step_ctx *ctx, const char *group, const char *key, json_t *value) {
    if (!ctx || bad_key(group, key) || !key || !value)
        return STEP_EINVAL;
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return STEP_ENOMEM;
    int rc;
    if (ctx->tx) {
        store_write *w = store_write_state(SW_SET, group, key, text, strlen(text));
        rc = w ? txn_write(ctx->tx, w) : STEP_ENOMEM;
    } else {
        rc = ctx->rt->state->ops->set(ctx->rt->state, group, key, text, strlen(text));
    }
    free(text);
    return rc;
}

int step_state_delete(step_ctx *ctx, const char *group, const char *key) {
    if (!ctx || bad_key(group, key) || !key)
        return STEP_EINVAL;
    if (ctx->tx) {
        store_write *w = store_write_state(SW_DEL, group, key, NULL, 0);
        return w ? txn_write(ctx->tx, w) : STEP_ENOMEM;
    }
    return ctx->rt->state->ops->del(ctx->rt->state, group, key);
}

int step_state_get_group(step_ctx *ctx, const char *group, json_t **out) {
    *out = NULL;
    if (!ctx || bad_key(group, NULL))
        return STEP_EINVAL;
    if (ctx->tx)
        txn_sync(ctx->tx); /* read your own writes */
    state_item *items = NULL;
    size_t n = 0;
    int rc = ctx->rt->state->ops->get_group(ctx->rt->state, group, &items, &n);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *v = json_loads(items[i].value, JSON_DECODE_ANY, NULL);
        if (v)
            json_array_append_new(arr, v);
    }
    state_items_free(items, n);
    *out = arr;
    return arr ? 0 : STEP_ENOMEM;
}

int step_state_clear(step_ctx *ctx, const char *group) {
    if (!ctx || bad_key(group, NULL))
        return STEP_EINVAL;
    if (ctx->tx) {
        store_write *w = store_write_state(SW_CLEAR, group, NULL, NULL, 0);
        return w ? txn_write(ctx->tx, w) : STEP_ENOMEM;
    }
    return ctx->rt->state->ops->clear(ctx->rt->state, group);
}

void step_log(step_ctx *ctx, step_log_level level, const char *msg, json_t *fields) {
    log_write(level, ctx && ctx->step ? ctx->step->name : NULL, ctx ? ctx->trace_id : NULL, msg,
              fields);
}

const char *step_trace_id(const step_ctx *ctx) {
    return ctx && ctx->trace_id ? ctx->trace_id : "";
}

const char *step_event_id(const step_ctx *ctx) {
    return ctx && ctx->event_id ? ctx->event_id : "";
}

const char *step_name(const step_ctx *ctx) {
    return ctx && ctx->step ? ctx->step->name : "";
}

int step_attempt(const step_ctx *ctx) {
    return ctx && ctx->attempt > 0 ? ctx->attempt : 1;
}

void step_new_id(char out[33]) {
    runtime_new_id(out);
}

int step_respond(step_response *res, int status, json_t *body) {
    if (!res) {
        json_decref(body);
        return STEP_EINVAL;
    }
    res->status = status;
    json_decref(res->body);
    res->body = body;
    return 0;
}

int step_respond_bytes(step_response *res, int status, const char *content_type, const void *data,
                       size_t len) {
    if (!res || (!data && len))
        return STEP_EINVAL;
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return STEP_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    free(res->raw);
    res->raw = copy;
    res->raw_len = len;
    res->status = status;
    json_decref(res->body);
    res->body = NULL;
    return step_response_header(res, "content-type",
                                content_type ? content_type : "application/octet-stream");
}

int step_response_header(step_response *res, const char *name, const char *value) {
    if (!res || !name || !*name || !value)
        return STEP_EINVAL;
    for (const char *c = name; *c; c++)
        if (!isgraph((unsigned char)*c) || *c == ':')
            return STEP_EINVAL;
    for (const char *c = value; *c; c++)
        if (*c == '\r' || *c == '\n')
            return STEP_EINVAL;
    if (!res->headers && !(res->headers = json_object()))
        return STEP_ENOMEM;
    char lower[256];
    size_t i = 0;
    for (; i < sizeof(lower) - 1 && name[i]; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[i] = '\0';
    return json_object_set_new(res->headers, lower, json_string(value)) ? STEP_ENOMEM : 0;
}

int step_request_set_local(step_request *req, const char *name, json_t *value) {
    if (!req || !name || !value) {
        json_decref(value);
        return STEP_EINVAL;
    }
    if (!req->locals && !(req->locals = json_object())) {
        json_decref(value);
        return STEP_ENOMEM;
    }
    return json_object_set_new(req->locals, name, value) ? STEP_ENOMEM : 0;
}

json_t *step_request_local(const step_request *req, const char *name) {
    return req && name ? json_object_get(req->locals, name) : NULL;
}

const char *step_request_header(const step_request *req, const char *name) {
    if (!req || !name)
        return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(req->headers, k, v) {
        if (!strcasecmp(k, name))
            return json_is_string(v) ? json_string_value(v) : NULL;
    }
    return NULL;
}
