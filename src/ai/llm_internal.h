/*
 * llm_internal.h — what the llm_*.c files share and nobody else sees.
 */
#ifndef STEPD_AI_LLM_INTERNAL_H
#define STEPD_AI_LLM_INTERNAL_H

#include <stepd/ai/llm.h>

#include <stdarg.h>

/* One HTTP attempt plan: the endpoint and settings the transport uses. */
typedef struct llm_attempt_cfg {
    const char *url_base;
    const char *api_key;
    const char *organization;
    long timeout_ms;
    long connect_timeout_ms;
    long idle_timeout_ms;
    int max_retries;
    long backoff_ms, backoff_max_ms, retry_after_max_ms;
} llm_attempt_cfg;

/* llm_http.c: posts `body` to base/chat/completions with retries. Fills out (content, usage,
 * tool calls, errors, attempts += n, http_status). Returns 0 or a negative STEP_E* code. */
int llm_http_chat(stepd_llm_client *c, const llm_attempt_cfg *cfg, const char *body,
                  const stepd_llm_request *req, stepd_llm_result *out);
void *llm_client_share(stepd_llm_client *c); /* the CURLSH of the client */

/* llm_wire.c */
int llm_set_error(stepd_llm_result *out, stepd_llm_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int llm_error_code(stepd_llm_error_kind kind);
int llm_error_retryable(stepd_llm_error_kind kind);
void llm_result_reset(stepd_llm_result *r); /* frees fields, keeps nothing */
char *llm_strdup(const char *s);            /* NULL-safe */
void llm_sha256_hex(const void *data, size_t len, char out[65]);

/* Streaming accumulation: content deltas, tool-call deltas, usage. */
typedef struct llm_stream_acc {
    char *content;
    size_t len, cap;
    json_t *tool_calls; /* array being assembled, by index */
    char *finish_reason;
    char *model, *id;
    long prompt_tokens, completion_tokens, total_tokens;
    int done;         /* saw [DONE] */
    size_t delivered; /* content bytes handed to on_token */
    stepd_llm_error_kind error_kind;
    char *error;
} llm_stream_acc;

/* Applies one SSE data payload. Returns 0, 1 when the token callback asked to stop, or a
 * negative code (STEP_EPARSE for malformed chunks, server error objects set error). */
int llm_stream_apply(llm_stream_acc *a, const char *data, size_t len, const stepd_llm_request *req);
/* Moves the accumulated answer into out. */
void llm_stream_finish(llm_stream_acc *a, stepd_llm_result *out);
void llm_stream_acc_free(llm_stream_acc *a);

/* Server error bodies: {"error":{"message","type","code"}} → kind + message. */
stepd_llm_error_kind llm_classify_http(long status, const char *body, size_t len, char **msg);

#endif
