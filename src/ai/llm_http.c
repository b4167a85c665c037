/*
 * llm_http.c — the HTTP side of a chat call: one POST to {base}/chat/completions through
 * libcurl, retried with exponential backoff and jitter on 429, 408, 5xx, timeouts and
 * connection errors, honouring Retry-After / retry-after-ms.
 *
 * Each attempt runs an easy handle on a private multi handle polled every 50 ms, so a
 * cancellation flag or callback and the idle timeout are noticed promptly even while the
 * server is silent. The easy handles use the client's share handle, so connections, DNS and
 * TLS sessions are reused across calls and threads. A streamed reply goes through the SSE
 * parser straight to the caller's token callback; once a token has been delivered, the call
 * is not retried (the caller would see text twice).
 */
#include "ai/llm_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LLM_MAX_BODY ((size_t)32 << 20)

typedef struct http_attempt {
    const stepd_llm_request *req;
    CURL *easy;
    char *body;
    size_t len, cap;
    int too_big;
    int is_sse;          /* response content type is text/event-stream */
    long retry_after_ms; /* -1 when the server sent none */
    stepd_sse_parser *sse;
    llm_stream_acc acc;
    int stream_rc;  /* first non-zero return of the SSE path */
    int token_stop; /* the token callback asked to stop */
    double last_rx; /* monotonic ms of the last byte received */
} http_attempt;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cancelled(const stepd_llm_request *req) {
    if (req->cancel_flag && __atomic_load_n(req->cancel_flag, __ATOMIC_ACQUIRE))
        return 1;
    return req->cancel_fn && req->cancel_fn(req->cancel_ud);
}

static int on_sse_event(void *ud, const char *event, const char *data, size_t len) {
    http_attempt *a = ud;
    if (strcmp(event, "message") && strcmp(event, "error"))
        return 0;
    int rc = llm_stream_apply(&a->acc, data, len, a->req);
    if (rc == 1)
        a->token_stop = 1;
    if (rc) {
        a->stream_rc = rc;
        return 1;
    }
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
    http_attempt *a = ud;
    size_t n = size * nmemb;
    a->last_rx = now_ms();
    long status = 0;
    curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
    if (a->is_sse && status / 100 == 2) {
        if (!a->sse)
            a->sse = stepd_sse_parser_new(0, on_sse_event, a);
        if (!a->sse)
            return 0;
        int rc = stepd_sse_feed(a->sse, ptr, n);
        if (rc == STEP_EPARSE && !a->stream_rc) {
            a->acc.error_kind = STEPD_LLM_ERR_PARSE;
            free(a->acc.error);
            a->acc.error = strdup("an event in the chat stream is larger than 16 MiB");
            a->stream_rc = STEP_EPARSE;
        }
        return rc ? 0 : n;
    }
    if (a->len + n > LLM_MAX_BODY) {
        a->too_big = 1;
        return 0;
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *b = realloc(a->body, cap);
        if (!b)
            return 0;
        a->body = b;
        a->cap = cap;
    }
    memcpy(a->body + a->len, ptr, n);
    a->len += n;
    a->body[a->len] = '\0';
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
    http_attempt *a = ud;
    size_t n = size * nitems;
    char line[256];
    size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
    memcpy(line, buf, k);
    line[k] = '\0';
    a->last_rx = now_ms();
    if (!strncmp(line, "HTTP/", 5)) { /* a new response (after 100-continue or a redirect) */
        a->is_sse = 0;
        a->retry_after_ms = -1;
        return n;
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return n;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (!strcasecmp(line, "content-type")) {
        a->is_sse = !strncasecmp(v, "text/event-stream", 17);
    } else if (!strcasecmp(line, "retry-after-ms")) {
        char *end;
        double ms = strtod(v, &end);
        if (end != v && ms >= 0)
            a->retry_after_ms = (long)ms;
    } else if (!strcasecmp(line, "retry-after") && a->retry_after_ms < 0) {
        char *end;
        double s = strtod(v, &end);
        if (end != v && s >= 0) {
            a->retry_after_ms = (long)(s * 1000);
        } else { /* an HTTP date */
            for (char *p = v; *p; p++)
                if (*p == '\r' || *p == '\n')
                    *p = '\0';
            time_t t = curl_getdate(v, NULL);
            if (t > 0) {
                time_t now = time(NULL);
                a->retry_after_ms = t > now ? (long)(t - now) * 1000 : 0;
            }
        }
    }
    return n;
}

static void attempt_free(http_attempt *a) {
    free(a->body);
    stepd_sse_parser_free(a->sse);
    llm_stream_acc_free(&a->acc);
}

static struct curl_slist *build_headers(const llm_attempt_cfg *cfg, int stream) {
    struct curl_slist *h = NULL, *t;
#define ADD(s)                                                                                     \
    do {                                                                                           \
        t = curl_slist_append(h, (s));                                                             \
        if (!t)                                                                                    \
            goto nomem;                                                                            \
        h = t;                                                                                     \
    } while (0)
    ADD("Content-Type: application/json");
    ADD(stream ? "Accept: text/event-stream" : "Accept: application/json");
    ADD("Expect:");
    ADD("User-Agent: stepd/" STEPD_VERSION);
    if (cfg->api_key && *cfg->api_key) {
        size_t n = strlen(cfg->api_key) + 32;
        char *line = malloc(n);
        if (!line)
            goto nomem;
        snprintf(line, n, "Authorization: Bearer %s", cfg->api_key);
        t = curl_slist_append(h, line);
        free(line);
        if (!t)
            goto nomem;
        h = t;
    }
    if (cfg->organization && *cfg->organization) {
        char line[300];
        snprintf(line, sizeof(line), "OpenAI-Organization: %.250s", cfg->organization);
        ADD(line);
    }
#undef ADD
    return h;
nomem:
    curl_slist_free_all(h);
    return NULL;
}

/* Runs one attempt. Returns 0 or a negative code with out->error set; *retry_after_ms gets the
 * server's hint (or -1); *delivered whether tokens reached the caller. */
static int attempt_once(stepd_llm_client *c, const llm_attempt_cfg *cfg, const char *url,
                        struct curl_slist *headers, const char *body, const stepd_llm_request *req,
                        stepd_llm_result *out, long *retry_after_ms, int *delivered) {
    http_attempt a = {.req = req, .retry_after_ms = -1, .last_rx = now_ms()};
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = 0;
    CURLM *multi = curl_multi_init();
    a.easy = curl_easy_init();
    if (!multi || !a.easy) {
        rc = llm_set_error(out, STEPD_LLM_ERR_NETWORK, "out of memory starting an HTTP request");
        goto done;
    }
    CURL *e = a.easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_SHARE, (CURLSH *)llm_client_share(c));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_multi_add_handle(multi, e);

    int running = 1;
    int aborted = 0; /* STEPD_LLM_ERR_* kind when we stopped the transfer ourselves */
    while (running) {
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            rc = llm_set_error(out, STEPD_LLM_ERR_NETWORK, "HTTP client error: %s",
                               curl_multi_strerror(mc));
            goto done;
        }
        if (!running)
            break;
        if (cancelled(req)) {
            aborted = STEPD_LLM_ERR_CANCELLED;
            break;
        }
        if (a.stream_rc || a.too_big)
            break;
        if (cfg->idle_timeout_ms > 0 && now_ms() - a.last_rx > cfg->idle_timeout_ms) {
            aborted = STEPD_LLM_ERR_TIMEOUT;
            break;
        }
        curl_multi_poll(multi, NULL, 0, 50, NULL);
    }
    CURLcode cc = CURLE_OK;
    if (!running && !aborted) {
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(multi, &left)))
            if (m->msg == CURLMSG_DONE)
                cc = m->data.result;
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    out->http_status = (int)status;
    *retry_after_ms = a.retry_after_ms;
    *delivered = a.acc.delivered > 0;
    out->streamed += a.acc.delivered;

    if (aborted == STEPD_LLM_ERR_CANCELLED || a.token_stop) {
        rc = llm_set_error(out, STEPD_LLM_ERR_CANCELLED, "chat call cancelled");
    } else if (aborted == STEPD_LLM_ERR_TIMEOUT) {
        rc = llm_set_error(out, STEPD_LLM_ERR_TIMEOUT,
                           "no data from %s for %ld ms (idle timeout; ai.idleTimeoutMs)", url,
                           cfg->idle_timeout_ms);
    } else if (a.stream_rc) {
        rc = llm_set_error(out, a.acc.error_kind ? a.acc.error_kind : STEPD_LLM_ERR_PARSE, "%s",
                           a.acc.error ? a.acc.error : "bad chat stream");
    } else if (a.too_big) {
        rc = llm_set_error(out, STEPD_LLM_ERR_PARSE, "response from %s is larger than 32 MiB", url);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = llm_set_error(out, STEPD_LLM_ERR_TIMEOUT,
                           "no complete answer from %s within %ld ms (ai.timeoutMs)", url,
                           cfg->timeout_ms);
    } else if (cc != CURLE_OK && !(a.is_sse && status / 100 == 2)) {
        rc = llm_set_error(out, STEPD_LLM_ERR_NETWORK, "cannot reach the chat server at %s: %s",
                           url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (status / 100 != 2) {
        char *msg = NULL;
        stepd_llm_error_kind k = llm_classify_http(status, a.body, a.len, &msg);
        const char *hint =
            k == STEPD_LLM_ERR_AUTH ? " (check OPENAI_API_KEY or ai.apiKey in stepd.json)" : "";
        rc = llm_set_error(out, k, "chat server %s answered HTTP %ld: %s%s", url, status,
                           msg ? msg : "", hint);
        free(msg);
    } else if (a.is_sse) {
        if (!a.acc.done && !a.acc.finish_reason) {
            rc = llm_set_error(out, STEPD_LLM_ERR_NETWORK,
                               "the chat stream from %s ended early (%s)", url,
                               cc != CURLE_OK ? curl_easy_strerror(cc) : "no [DONE]");
            llm_stream_finish(&a.acc, out); /* keep what arrived */
            out->error_kind = STEPD_LLM_ERR_NETWORK;
        } else {
            llm_stream_finish(&a.acc, out);
        }
    } else {
        rc = stepd_llm_parse_response(a.body, a.len, out);
        /* A server that ignored "stream": hand the whole answer over as one token. */
        if (rc == 0 && req->stream && req->on_token && out->content && *out->content) {
            *delivered = 1;
            out->streamed += strlen(out->content);
            if (req->on_token(req->token_ud, out->content, strlen(out->content)))
                rc = llm_set_error(out, STEPD_LLM_ERR_CANCELLED, "chat call cancelled");
        }
    }
    /* the caller saw these tokens: the result keeps them whatever went wrong after */
    if (rc && a.acc.delivered && !(out->content && *out->content))
        llm_stream_finish(&a.acc, out);
    if (rc == 0 && out->finish_reason && !strcmp(out->finish_reason, "content_filter"))
        rc = llm_set_error(out, STEPD_LLM_ERR_CONTENT_FILTER,
                           "the model's content filter stopped the answer (finish_reason "
                           "content_filter)");
done:
    if (multi && a.easy)
        curl_multi_remove_handle(multi, a.easy);
    if (a.easy)
        curl_easy_cleanup(a.easy);
    if (multi)
        curl_multi_cleanup(multi);
    attempt_free(&a);
    return rc;
}

/* Sleeps ms, waking every 20 ms to check for cancellation. Returns 1 if cancelled. */
static int sleep_cancellable(const stepd_llm_request *req, long ms) {
    double end = now_ms() + ms;
    for (;;) {
        if (cancelled(req))
            return 1;
        double left = end - now_ms();
        if (left <= 0)
            return 0;
        long step = left > 20 ? 20 : (long)left + 1;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) && errno == EINTR) {
        }
    }
}

int llm_http_chat(stepd_llm_client *c, const llm_attempt_cfg *cfg, const char *body,
                  const stepd_llm_request *req, stepd_llm_result *out) {
    size_t n = strlen(cfg->url_base) + 32;
    char *url = malloc(n);
    struct curl_slist *headers = build_headers(cfg, req->stream);
    if (!url || !headers) {
        free(url);
        curl_slist_free_all(headers);
        return llm_set_error(out, STEPD_LLM_ERR_NETWORK, "out of memory");
    }
    snprintf(url, n, "%s/chat/completions", cfg->url_base);
    unsigned seed = (unsigned)(now_ms() * 1000) ^ (unsigned)(uintptr_t)out;
    int rc = 0, attempt;
    for (attempt = 0;; attempt++) {
        long retry_after = -1;
        int delivered = 0;
        out->attempts++;
        free(out->error);
        out->error = NULL;
        out->error_kind = STEPD_LLM_ERR_NONE;
        rc = attempt_once(c, cfg, url, headers, body, req, out, &retry_after, &delivered);
        if (rc == 0 || delivered || !llm_error_retryable(out->error_kind) ||
            attempt >= cfg->max_retries)
            break;
        long delay;
        if (retry_after >= 0) {
            delay = retry_after < cfg->retry_after_max_ms ? retry_after : cfg->retry_after_max_ms;
        } else {
            long d = cfg->backoff_ms;
            for (int i = 0; i < attempt && d < cfg->backoff_max_ms; i++)
                d *= 2;
            if (d > cfg->backoff_max_ms)
                d = cfg->backoff_max_ms;
            /* "equal jitter": half fixed, half random, so retries of many callers spread out */
            delay = d / 2 + (d > 1 ? (long)(rand_r(&seed) % (d / 2 + 1)) : 0);
        }
        if (sleep_cancellable(req, delay)) {
            rc = llm_set_error(out, STEPD_LLM_ERR_CANCELLED, "chat call cancelled");
            break;
        }
    }
    if (rc && attempt > 0 && out->error_kind != STEPD_LLM_ERR_CANCELLED) {
        char *prev = out->error;
        out->error = NULL;
        llm_set_error(out, out->error_kind, "%s (after %d attempts)", prev ? prev : "",
                      attempt + 1);
        free(prev);
    }
    free(url);
    curl_slist_free_all(headers);
    return rc;
}
