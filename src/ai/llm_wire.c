/*
 * llm_wire.c — the OpenAI chat-completions wire format: building request bodies, parsing
 * JSON responses and streamed chunks (content and tool-call deltas, usage, finish reason),
 * classifying HTTP errors into stepd_llm_error_kind, the normalised cache key, and the
 * result's JSON form. No I/O here, so all of it is unit-tested and fuzzed directly.
 */
#include "ai/llm_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- errors -------------------------------------------------------------------------------- */

const char *stepd_llm_error_name(stepd_llm_error_kind kind) {
    switch (kind) {
#define LLM_ERR_NAME(name, str, code, retry)                                                       \
    case STEPD_LLM_ERR_##name:                                                                     \
        return str;
        STEPD_LLM_ERROR_MAP(LLM_ERR_NAME)
#undef LLM_ERR_NAME
    }
    return "unknown";
}

int llm_error_code(stepd_llm_error_kind kind) {
    switch (kind) {
#define LLM_ERR_CODE(name, str, code, retry)                                                       \
    case STEPD_LLM_ERR_##name:                                                                     \
        return code;
        STEPD_LLM_ERROR_MAP(LLM_ERR_CODE)
#undef LLM_ERR_CODE
    }
    return STEP_EFAILED;
}

int llm_error_retryable(stepd_llm_error_kind kind) {
    switch (kind) {
#define LLM_ERR_RETRY(name, str, code, retry)                                                      \
    case STEPD_LLM_ERR_##name:                                                                     \
        return retry;
        STEPD_LLM_ERROR_MAP(LLM_ERR_RETRY)
#undef LLM_ERR_RETRY
    }
    return 0;
}

char *llm_strdup(const char *s) {
    return s ? strdup(s) : NULL;
}

int llm_set_error(stepd_llm_result *out, stepd_llm_error_kind kind, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(out->error);
    out->error = strdup(buf);
    out->error_kind = kind;
    return llm_error_code(kind);
}

void llm_result_reset(stepd_llm_result *r) {
    free(r->content);
    json_decref(r->tool_calls);
    free(r->finish_reason);
    free(r->model);
    free(r->id);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

void stepd_llm_result_free(stepd_llm_result *r) {
    if (r)
        llm_result_reset(r);
}

/* ---- request ------------------------------------------------------------------------------- */

static int valid_role(const char *r) {
    static const char *const roles[] = {"system", "user",      "assistant",
                                        "tool",   "developer", "function"};
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (!strcmp(r, roles[i]))
            return 1;
    return 0;
}

static int set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(char **err, const char *fmt, ...) {
    if (err) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        *err = strdup(buf);
    }
    return STEP_EINVAL;
}

json_t *stepd_llm_request_body(const stepd_llm_request *req, const char *model, char **err) {
    if (err)
        *err = NULL;
    if (!req || !model || !*model) {
        set_err(err, "request: no model");
        return NULL;
    }
    json_t *msgs = json_array();
    json_t *body = json_object();
    if (!msgs || !body)
        goto nomem;
    if (req->system && json_array_append_new(
                           msgs, json_pack("{s:s,s:s}", "role", "system", "content", req->system)))
        goto nomem;
    if (req->messages && !json_is_array(req->messages)) {
        set_err(err, "request: messages must be an array of {role, content} objects");
        goto fail;
    }
    size_t i;
    json_t *m;
    json_array_foreach(req->messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_object(m) || !role || !valid_role(role)) {
            set_err(err, "request: messages[%zu].role must be system, user, assistant or tool", i);
            goto fail;
        }
        json_t *content = json_object_get(m, "content");
        if (!content && !json_object_get(m, "tool_calls")) {
            set_err(err, "request: messages[%zu] has no content", i);
            goto fail;
        }
        if (json_array_append(msgs, m))
            goto nomem;
    }
    if (json_array_size(msgs) == 0) {
        set_err(err, "request: messages is empty; give at least one user message");
        goto fail;
    }
    json_object_set_new(body, "model", json_string(model));
    json_object_set_new(body, "messages", msgs);
    msgs = NULL;
    if (req->has_temperature)
        json_object_set_new(body, "temperature", json_real(req->temperature));
    if (req->top_p > 0)
        json_object_set_new(body, "top_p", json_real(req->top_p));
    if (req->max_tokens > 0)
        json_object_set_new(body, "max_tokens", json_integer(req->max_tokens));
    if (req->stop) {
        if (!json_is_string(req->stop) && !json_is_array(req->stop)) {
            set_err(err, "request: stop must be a string or an array of strings");
            goto fail;
        }
        json_object_set(body, "stop", req->stop);
    }
    if (req->response_format)
        json_object_set(body, "response_format", req->response_format);
    else if (req->json_mode)
        json_object_set_new(body, "response_format", json_pack("{s:s}", "type", "json_object"));
    if (req->tools) {
        if (!json_is_array(req->tools)) {
            set_err(err, "request: tools must be an array of {type:function, function:{...}}");
            goto fail;
        }
        json_object_set(body, "tools", req->tools);
    }
    if (req->tool_choice)
        json_object_set(body, "tool_choice", req->tool_choice);
    if (req->has_seed)
        json_object_set_new(body, "seed", json_integer(req->seed));
    if (req->user)
        json_object_set_new(body, "user", json_string(req->user));
    if (req->extra && json_is_object(req->extra))
        json_object_update(body, req->extra);
    if (req->stream) {
        json_object_set_new(body, "stream", json_true());
        if (!req->no_stream_usage)
            json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    return body;
nomem:
    set_err(err, "request: out of memory");
fail:
    json_decref(msgs);
    json_decref(body);
    return NULL;
}

/* ---- responses ----------------------------------------------------------------------------- */

static char *content_text(json_t *content) {
    if (json_is_string(content))
        return strdup(json_string_value(content));
    if (json_is_array(content)) { /* [{"type":"text","text":"..."}] from some gateways */
        size_t n = 0, i;
        json_t *part;
        json_array_foreach(content, i, part) {
            const char *t = json_string_value(json_object_get(part, "text"));
            n += t ? strlen(t) : 0;
        }
        char *s = malloc(n + 1), *w = s;
        if (!s)
            return NULL;
        json_array_foreach(content, i, part) {
            const char *t = json_string_value(json_object_get(part, "text"));
            size_t k = t ? strlen(t) : 0;
            memcpy(w, t ? t : "", k);
            w += k;
        }
        *w = '\0';
        return s;
    }
    return strdup("");
}

static void read_usage(json_t *usage, long *in, long *outp, long *total) {
    if (!json_is_object(usage))
        return;
    *in = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
    *outp = (long)json_integer_value(json_object_get(usage, "completion_tokens"));
    *total = (long)json_integer_value(json_object_get(usage, "total_tokens"));
    if (!*total)
        *total = *in + *outp;
}

static stepd_llm_error_kind kind_of_error_object(json_t *e, long status) {
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if ((code && strstr(code, "content_filter")) || (type && strstr(type, "content_filter")) ||
        (msg && strstr(msg, "content management policy")))
        return STEPD_LLM_ERR_CONTENT_FILTER;
    if ((code && !strcmp(code, "invalid_api_key")) ||
        (type && !strcmp(type, "authentication_error")))
        return STEPD_LLM_ERR_AUTH;
    if (status == 401 || status == 403)
        return STEPD_LLM_ERR_AUTH;
    if (status == 408)
        return STEPD_LLM_ERR_TIMEOUT;
    if (status == 429 || (code && !strcmp(code, "rate_limit_exceeded")))
        return STEPD_LLM_ERR_RATE_LIMITED;
    if (status >= 500 || status == 0)
        return STEPD_LLM_ERR_SERVER;
    return STEPD_LLM_ERR_BAD_REQUEST;
}

stepd_llm_error_kind llm_classify_http(long status, const char *body, size_t len, char **msg) {
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_object_get(root, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!m)
        m = json_string_value(e); /* {"error": "text"} (Ollama) */
    stepd_llm_error_kind k = kind_of_error_object(e, status);
    if (msg) {
        char buf[600];
        if (m)
            snprintf(buf, sizeof(buf), "%.500s", m);
        else if (body && len && !root)
            snprintf(buf, sizeof(buf), "%.200s", body); /* plain text or HTML from a proxy */
        else
            snprintf(buf, sizeof(buf), "no error message");
        for (char *p = buf; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        *msg = strdup(buf);
    }
    json_decref(root);
    return k;
}

int stepd_llm_parse_response(const char *body, size_t len, stepd_llm_result *out) {
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return llm_set_error(out, STEPD_LLM_ERR_PARSE,
                             "malformed JSON from the chat server: %s (at byte %d)", jerr.text,
                             jerr.position);
    }
    json_t *e = json_object_get(root, "error");
    if (e && !json_is_null(e)) {
        const char *m = json_string_value(json_object_get(e, "message"));
        int rc = llm_set_error(out, kind_of_error_object(e, 500), "chat server error: %s",
                               m ? m : "unspecified");
        json_decref(root);
        return rc;
    }
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *msg = json_object_get(choice, "message");
    if (!json_is_object(msg)) {
        json_decref(root);
        return llm_set_error(out, STEPD_LLM_ERR_PARSE,
                             "chat server response has no choices[0].message");
    }
    free(out->content);
    out->content = content_text(json_object_get(msg, "content"));
    json_t *tc = json_object_get(msg, "tool_calls");
    json_decref(out->tool_calls);
    out->tool_calls = json_is_array(tc) && json_array_size(tc) ? json_incref(tc) : NULL;
    const char *fr = json_string_value(json_object_get(choice, "finish_reason"));
    free(out->finish_reason);
    out->finish_reason = llm_strdup(fr);
    const char *model = json_string_value(json_object_get(root, "model"));
    if (model) {
        free(out->model);
        out->model = strdup(model);
    }
    free(out->id);
    out->id = llm_strdup(json_string_value(json_object_get(root, "id")));
    read_usage(json_object_get(root, "usage"), &out->prompt_tokens, &out->completion_tokens,
               &out->total_tokens);
    json_decref(root);
    if (!out->content)
        return llm_set_error(out, STEPD_LLM_ERR_PARSE, "out of memory reading the response");
    return 0;
}

/* ---- streaming ------------------------------------------------------------------------------ */

static int acc_append(llm_stream_acc *a, const char *s, size_t n) {
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *b = realloc(a->content, cap);
        if (!b)
            return STEP_ENOMEM;
        a->content = b;
        a->cap = cap;
    }
    memcpy(a->content + a->len, s, n);
    a->len += n;
    a->content[a->len] = '\0';
    return 0;
}

static void str_append(json_t *obj, const char *key, const char *more) {
    const char *old = json_string_value(json_object_get(obj, key));
    if (!old) {
        json_object_set_new(obj, key, json_string(more));
        return;
    }
    size_t a = strlen(old), b = strlen(more);
    char *s = malloc(a + b + 1);
    if (!s)
        return;
    memcpy(s, old, a);
    memcpy(s + a, more, b + 1);
    json_object_set_new(obj, key, json_string(s));
    free(s);
}

static void apply_tool_delta(llm_stream_acc *a, json_t *deltas) {
    size_t i;
    json_t *d;
    if (!a->tool_calls)
        a->tool_calls = json_array();
    json_array_foreach(deltas, i, d) {
        json_t *ix = json_object_get(d, "index");
        size_t idx = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
        if (idx > 64)
            continue; /* nonsense from a broken server; do not allocate for it */
        while (json_array_size(a->tool_calls) <= idx)
            json_array_append_new(a->tool_calls,
                                  json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", "", "type", "function",
                                            "function", "name", "", "arguments", ""));
        json_t *call = json_array_get(a->tool_calls, idx);
        json_t *fn = json_object_get(call, "function");
        const char *id = json_string_value(json_object_get(d, "id"));
        if (id && *id)
            json_object_set_new(call, "id", json_string(id));
        json_t *dfn = json_object_get(d, "function");
        const char *name = json_string_value(json_object_get(dfn, "name"));
        const char *args = json_string_value(json_object_get(dfn, "arguments"));
        if (name)
            str_append(fn, "name", name);
        if (args)
            str_append(fn, "arguments", args);
    }
}

int llm_stream_apply(llm_stream_acc *a, const char *data, size_t len,
                     const stepd_llm_request *req) {
    while (len && (data[len - 1] == ' ' || data[len - 1] == '\t'))
        len--;
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        a->done = 1;
        return 0;
    }
    json_t *root = json_loadb(data, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        free(a->error);
        a->error = strdup("malformed JSON chunk in the chat stream");
        a->error_kind = STEPD_LLM_ERR_PARSE;
        return STEP_EPARSE;
    }
    json_t *e = json_object_get(root, "error");
    if (e && !json_is_null(e)) {
        const char *m = json_string_value(json_object_get(e, "message"));
        char buf[600];
        snprintf(buf, sizeof(buf), "chat server error in the stream: %.500s",
                 m ? m : "unspecified");
        free(a->error);
        a->error = strdup(buf);
        a->error_kind = kind_of_error_object(e, 500);
        json_decref(root);
        return llm_error_code(a->error_kind);
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    if (model && !a->model)
        a->model = strdup(model);
    const char *id = json_string_value(json_object_get(root, "id"));
    if (id && !a->id)
        a->id = strdup(id);
    read_usage(json_object_get(root, "usage"), &a->prompt_tokens, &a->completion_tokens,
               &a->total_tokens);
    int rc = 0;
    json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
    json_t *delta = json_object_get(choice, "delta");
    const char *text = json_string_value(json_object_get(delta, "content"));
    if (text && *text) {
        size_t n = strlen(text);
        if (acc_append(a, text, n) < 0)
            rc = STEP_ENOMEM;
        else if (req && req->on_token) {
            a->delivered += n;
            if (req->on_token(req->token_ud, text, n))
                rc = 1;
        }
    }
    json_t *tc = json_object_get(delta, "tool_calls");
    if (json_is_array(tc))
        apply_tool_delta(a, tc);
    const char *fr = json_string_value(json_object_get(choice, "finish_reason"));
    if (fr) {
        free(a->finish_reason);
        a->finish_reason = strdup(fr);
    }
    json_decref(root);
    return rc;
}

void llm_stream_finish(llm_stream_acc *a, stepd_llm_result *out) {
    free(out->content);
    out->content = a->content ? a->content : strdup("");
    a->content = NULL;
    a->len = a->cap = 0;
    json_decref(out->tool_calls);
    out->tool_calls = json_array_size(a->tool_calls) ? a->tool_calls : NULL;
    if (!out->tool_calls)
        json_decref(a->tool_calls);
    a->tool_calls = NULL;
    free(out->finish_reason);
    out->finish_reason = a->finish_reason;
    a->finish_reason = NULL;
    if (a->model) {
        free(out->model);
        out->model = a->model;
        a->model = NULL;
    }
    free(out->id);
    out->id = a->id;
    a->id = NULL;
    out->prompt_tokens = a->prompt_tokens;
    out->completion_tokens = a->completion_tokens;
    out->total_tokens = a->total_tokens;
}

void llm_stream_acc_free(llm_stream_acc *a) {
    free(a->content);
    json_decref(a->tool_calls);
    free(a->finish_reason);
    free(a->model);
    free(a->id);
    free(a->error);
    memset(a, 0, sizeof(*a));
}

/* ---- cache key: SHA-256 of the normalised request ------------------------------------------ */

typedef struct sha256 {
    uint32_t h[8];
    uint64_t bits;
    unsigned char buf[64];
    size_t n;
} sha256;

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256 *s, const unsigned char *p) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5],
             g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

static void sha256_update(sha256 *s, const unsigned char *p, size_t len) {
    s->bits += (uint64_t)len * 8;
    while (len) {
        size_t take = 64 - s->n < len ? 64 - s->n : len;
        memcpy(s->buf + s->n, p, take);
        s->n += take;
        p += take;
        len -= take;
        if (s->n == 64) {
            sha256_block(s, s->buf);
            s->n = 0;
        }
    }
}

void llm_sha256_hex(const void *data, size_t len, char out[65]) {
    sha256 s = {{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                 0x5be0cd19},
                0,
                {0},
                0};
    sha256_update(&s, data, len);
    uint64_t bits = s.bits;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    sha256_update(&s, &pad, 1);
    while (s.n != 56)
        sha256_update(&s, &zero, 1);
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(&s, lenb, 8);
    for (int i = 0; i < 8; i++)
        snprintf(out + 8 * i, 9, "%08x", s.h[i]);
}

int stepd_llm_cache_key(const stepd_llm_request *req, const char *model, const char *base_url,
                        char key_out[65]) {
    char *err = NULL;
    json_t *body = stepd_llm_request_body(req, model, &err);
    if (!body) {
        free(err);
        return STEP_EINVAL;
    }
    json_object_del(body, "stream");
    json_object_del(body, "stream_options");
    json_object_set_new(body, "@base", json_string(base_url ? base_url : ""));
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(body);
    if (!text)
        return STEP_ENOMEM;
    llm_sha256_hex(text, strlen(text), key_out);
    free(text);
    return 0;
}

/* ---- result as JSON ------------------------------------------------------------------------ */

json_t *stepd_llm_result_to_json(const stepd_llm_result *r) {
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "content", r->content ? json_string(r->content) : json_null());
    json_object_set_new(o, "toolCalls", r->tool_calls ? json_incref(r->tool_calls) : json_null());
    json_object_set_new(o, "finishReason",
                        r->finish_reason ? json_string(r->finish_reason) : json_null());
    json_object_set_new(o, "model", r->model ? json_string(r->model) : json_null());
    json_object_set_new(o, "usage",
                        json_pack("{s:I,s:I,s:I}", "promptTokens", (json_int_t)r->prompt_tokens,
                                  "completionTokens", (json_int_t)r->completion_tokens,
                                  "totalTokens", (json_int_t)r->total_tokens));
    json_object_set_new(o, "cached", json_boolean(r->cached));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "fallback", json_integer(r->fallback));
    json_object_set_new(o, "latencyMs", json_real(r->latency_ms));
    if (r->error)
        json_object_set_new(o, "error",
                            json_pack("{s:s,s:s}", "kind", stepd_llm_error_name(r->error_kind),
                                      "message", r->error));
    else
        json_object_set_new(o, "error", json_null());
    return o;
}

/* ---- requests from JSON (ctx.ai.chat in JS/Python steps) ---------------------------------- */

void stepd_llm_json_request_free(stepd_llm_json_request *r) {
    if (!r)
        return;
    json_decref(r->owned);
    memset(r, 0, sizeof(*r));
}

static int json_field_err(char **err, const char *field, const char *what) {
    return set_err(err, "ai.chat: \"%s\" must be %s", field, what);
}

int stepd_llm_request_from_json(json_t *args, stepd_llm_json_request *out, char **err) {
    if (err)
        *err = NULL;
    if (!out)
        return STEP_EINVAL;
    memset(out, 0, sizeof(*out));
    stepd_llm_request *q = &out->req;
    if (!json_is_object(args))
        return set_err(err, "ai.chat: expects an object like {\"message\": \"Hello\"}");
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v) {
        if (!strcmp(k, "messages")) {
            if (!json_is_array(v))
                return json_field_err(err, k, "an array of {role, content}");
            q->messages = v;
        } else if (!strcmp(k, "message")) {
            if (!json_is_string(v))
                return json_field_err(err, k, "a string");
        } else if (!strcmp(k, "system") || !strcmp(k, "model") || !strcmp(k, "baseUrl") ||
                   !strcmp(k, "user") || !strcmp(k, "tag")) {
            if (!json_is_string(v))
                return json_field_err(err, k, "a string");
            const char *s = json_string_value(v);
            if (!strcmp(k, "system"))
                q->system = s;
            else if (!strcmp(k, "model"))
                q->model = s;
            else if (!strcmp(k, "baseUrl"))
                q->base_url = s;
            else if (!strcmp(k, "user"))
                q->user = s;
            else
                q->metrics_tag = s;
        } else if (!strcmp(k, "temperature") || !strcmp(k, "topP")) {
            if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 2)
                return json_field_err(err, k, "a number from 0 to 2");
            if (!strcmp(k, "temperature")) {
                q->temperature = json_number_value(v);
                q->has_temperature = 1;
            } else {
                q->top_p = json_number_value(v);
            }
        } else if (!strcmp(k, "maxTokens") || !strcmp(k, "cacheTtl") || !strcmp(k, "timeoutMs") ||
                   !strcmp(k, "maxRetries") || !strcmp(k, "seed")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 1000000000)
                return json_field_err(err, k, "a non-negative integer");
            long n = (long)json_integer_value(v);
            if (!strcmp(k, "maxTokens"))
                q->max_tokens = (int)n;
            else if (!strcmp(k, "cacheTtl"))
                q->cache_ttl_s = n;
            else if (!strcmp(k, "timeoutMs"))
                q->timeout_ms = n;
            else if (!strcmp(k, "seed")) {
                q->seed = (int)n;
                q->has_seed = 1;
            } else
                q->max_retries = n ? (int)(n > 20 ? 20 : n) : -1;
        } else if (!strcmp(k, "stop")) {
            if (!json_is_string(v) && !json_is_array(v))
                return json_field_err(err, k, "a string or an array of strings");
            q->stop = v;
        } else if (!strcmp(k, "json") || !strcmp(k, "stream") || !strcmp(k, "metrics")) {
            if (!json_is_boolean(v))
                return json_field_err(err, k, "true or false");
            if (!strcmp(k, "json"))
                q->json_mode = json_is_true(v);
            else if (!strcmp(k, "stream"))
                q->stream = json_is_true(v);
            else
                q->no_metrics = !json_is_true(v);
        } else if (!strcmp(k, "responseFormat") || !strcmp(k, "extra")) {
            if (!json_is_object(v))
                return json_field_err(err, k, "an object");
            if (!strcmp(k, "extra"))
                q->extra = v;
            else
                q->response_format = v;
        } else if (!strcmp(k, "tools")) {
            if (!json_is_array(v))
                return json_field_err(err, k, "an array of {type: \"function\", function}");
            q->tools = v;
        } else if (!strcmp(k, "toolChoice")) {
            q->tool_choice = v;
        } else if (!strcmp(k, "fallback")) {
            size_t i, n = json_array_size(v);
            json_t *f;
            if (!json_is_array(v) || n > 4)
                return json_field_err(err, k, "an array of at most 4 {model, baseUrl}");
            json_array_foreach(v, i, f) {
                const char *m = json_string_value(json_object_get(f, "model"));
                const char *b = json_string_value(json_object_get(f, "baseUrl"));
                if (!json_is_object(f) || (!m && !b))
                    return json_field_err(err, k, "an array of at most 4 {model, baseUrl}");
                out->fallbacks[i].model = (char *)m;
                out->fallbacks[i].base_url = (char *)b;
            }
            q->fallbacks = out->fallbacks;
            q->n_fallbacks = n;
        } else {
            return set_err(err, "ai.chat: unknown option \"%s\"", k);
        }
    }
    const char *message = json_string_value(json_object_get(args, "message"));
    if (message) {
        out->owned = json_array();
        if (q->messages)
            json_array_extend(out->owned, q->messages);
        json_array_append_new(out->owned,
                              json_pack("{s:s,s:s}", "role", "user", "content", message));
        q->messages = out->owned;
    }
    if (!q->messages && !q->system)
        return set_err(err, "ai.chat: give \"message\" or \"messages\"");
    return 0;
}
