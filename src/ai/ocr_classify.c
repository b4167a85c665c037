/*
 * ocr_classify.c — document type from an LLM: the classify hook of ai_ocr_options backed by the
 * LLM module (stepd/ai/llm.h). The start of the document text (max_chars bytes, cut at a UTF-8
 * boundary, invalid bytes replaced) goes to the model with a short instruction naming the four
 * types; the reply is read strictly — a JSON object {"type", "confidence"} or a bare type word,
 * optionally inside one ``` fence — and anything else is a failure with a warning, so the
 * caller (ocr_fields_run) falls back to keyword scoring. Calls are bounded (30 s per attempt,
 * one retry by default) so a dead server delays a document by seconds, not minutes.
 */
#include "ai/ocr_internal.h"

#include <stepd/ai/llm.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLASSIFY_MAX_CHARS 2000
#define CLASSIFY_TIMEOUT_MS 30000

static const char classify_system[] =
    "You classify business documents from their OCR text. The types are: invoice (a bill "
    "asking for payment), receipt (proof of a purchase already paid), id (passport, identity "
    "card, driving licence) and other. Answer with JSON only, no prose: "
    "{\"type\": \"invoice|receipt|id|other\", \"confidence\": a number from 0 to 1}.";

static const char *doc_type(const char *s, size_t n) {
    static const char *const types[] = {"invoice", "receipt", "id", "other"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i]) == n && !strncasecmp(s, types[i], n))
            return types[i];
    return NULL;
}

static void trim(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

int ai_ocr_class_parse(const char *reply, size_t len, const char **type, double *confidence) {
    *type = NULL;
    *confidence = -1;
    if (!reply)
        return STEP_EPARSE;
    const char *s = reply;
    size_t n = len;
    trim(&s, &n);
    if (n >= 6 && !memcmp(s, "```", 3)) { /* one fence: ```[json]\n ... ``` */
        if (memcmp(s + n - 3, "```", 3))
            return STEP_EPARSE;
        const char *eol = memchr(s, '\n', n - 3);
        if (!eol)
            return STEP_EPARSE;
        for (const char *p = s + 3; p < eol; p++)
            if (!isalpha((unsigned char)*p) && !isspace((unsigned char)*p))
                return STEP_EPARSE;
        n = (size_t)(s + n - 3 - (eol + 1));
        s = eol + 1;
        trim(&s, &n);
    }
    if (n && s[0] == '{') {
        json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
        json_t *t = json_object_get(o, "type"), *c = json_object_get(o, "confidence");
        int ok = json_is_object(o) && json_is_string(t);
        if (ok)
            *type = doc_type(json_string_value(t), json_string_length(t));
        if (ok && c) {
            double v = json_number_value(c);
            ok = json_is_number(c) && v >= 0 && v <= 1;
            *confidence = v;
        }
        json_decref(o);
        if (!ok || !*type) {
            *type = NULL;
            *confidence = -1;
            return STEP_EPARSE;
        }
        return 0;
    }
    if (n && s[n - 1] == '.')
        n--;
    *type = doc_type(s, n);
    return *type ? 0 : STEP_EPARSE;
}

/* The first `max` bytes of text as valid UTF-8 (cut before a partial character, invalid bytes
 * as '?', page breaks as newlines). Caller frees. */
static char *prompt_text(const char *text, size_t max) {
    size_t n = strlen(text);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t i = 0;
    while (i < n) {
        unsigned char b = (unsigned char)text[i];
        size_t k = b < 0x80             ? 1
                   : (b & 0xE0) == 0xC0 ? 2
                   : (b & 0xF0) == 0xE0 ? 3
                   : (b & 0xF8) == 0xF0 ? 4
                                        : 0;
        int ok = k > 0 && i + k <= n && !(k == 2 && b < 0xC2) && !(k == 4 && b > 0xF4);
        for (size_t j = 1; ok && j < k; j++)
            ok = ((unsigned char)text[i + j] & 0xC0) == 0x80;
        if (!ok) {
            out[i++] = '?';
            continue;
        }
        for (size_t j = 0; j < k; j++)
            out[i + j] = text[i + j];
        if (b == '\f')
            out[i] = '\n';
        i += k;
    }
    out[n] = '\0';
    return out;
}

/* The start of a reply for a one-line message: at most 80 bytes, whole characters, control
 * characters as spaces. */
static void quote_reply(const char *r, char out[81]) {
    char *q = prompt_text(r ? r : "", 80);
    size_t n = 0;
    for (const char *p = q; p && *p; p++)
        out[n++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    out[n] = '\0';
    free(q);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof(buf), f, ap);
    va_end(ap);
    return strdup(buf);
}

int ai_ocr_classify_llm(const char *text, ai_ocr_class *out, void *user) {
    const ai_ocr_llm *l = user;
    out->type = NULL;
    out->confidence = -1;
    out->warning = NULL;
    if (!l || !l->client || !text)
        return STEP_EINVAL;
    if (!stepd_llm_client_has_model(l->client)) {
        out->warning = fmt("LLM classifier: no chat model configured");
        return STEP_ECONFIG;
    }
    char *body = prompt_text(text, l->max_chars ? l->max_chars : CLASSIFY_MAX_CHARS);
    json_t *msgs = body ? json_pack("[{s:s, s:s++}]", "role", "user", "content",
                                    "Classify this document.\n\n", body, "")
                        : NULL;
    free(body);
    if (!msgs)
        return STEP_ENOMEM;
    stepd_llm_request req = {
        .messages = msgs,
        .system = classify_system,
        .has_temperature = 1,
        .temperature = 0,
        .timeout_ms = l->timeout_ms > 0 ? l->timeout_ms : CLASSIFY_TIMEOUT_MS,
        .max_retries = l->max_retries ? l->max_retries : 1,
        .cache_ttl_s = l->hooks ? l->cache_ttl_s : 0,
        .no_metrics = !l->hooks || !l->hooks->emit,
        .metrics_tag = "ocr.classify",
    };
    stepd_llm_result res;
    int rc = stepd_llm_chat(l->client, &req, l->hooks, &res);
    json_decref(msgs);
    if (rc < 0) {
        out->warning = fmt("LLM classifier failed (%s): %s", stepd_llm_error_name(res.error_kind),
                           res.error ? res.error : step_strerror(rc));
    } else if (ai_ocr_class_parse(res.content, res.content ? strlen(res.content) : 0, &out->type,
                                  &out->confidence) < 0) {
        char q[81];
        quote_reply(res.content, q);
        out->warning = fmt("LLM classifier answered '%s%s', not invoice, receipt, id or other", q,
                           res.content && strlen(res.content) > strlen(q) ? "..." : "");
        rc = STEP_EPARSE;
    }
    stepd_llm_result_free(&res);
    return rc;
}

int ai_ocr_options_use_llm(ai_ocr_options *o, ai_ocr_llm *llm) {
    if (!o || !llm || !llm->client || !stepd_llm_client_has_model(llm->client))
        return 0;
    o->classify = ai_ocr_classify_llm;
    o->classify_user = llm;
    return 1;
}
