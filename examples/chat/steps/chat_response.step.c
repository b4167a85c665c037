/*
 * ai.chat.request → asks the model, completes the chat record, emits ai.chat.complete.
 *
 * With OPENAI_API_KEY / OPENAI_BASE_URL (+ OPENAI_MODEL) set, the reply comes from that
 * OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM...), with retries, and a
 * `metrics.ai` event per call. Without a model, a stand-in reply says how to configure one.
 * A failed call makes the attempt fail (the runtime retries with backoff); on the last
 * attempt the chat is marked "failed" with the reason instead of staying "processing".
 *
 * The reply is streamed as it is generated: each token is published to the named stream
 * ("chat", chatId) that GET /ai/chat/:id/stream follows, then an "end" event with the outcome
 * (a retried attempt first publishes "reset", so a client starts its text over).
 */
#include <stepd/ai/llm.h>
#include <stepd/step.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS 3

static stepd_llm_client *client; /* one per process: it keeps the connections */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void client_init(void) {
    char *err = NULL;
    if (stepd_llm_client_new(NULL, &client, &err) < 0)
        client = NULL;
    free(err);
}

typedef struct tokens {
    step_ctx *ctx;
    const char *chat_id;
} tokens;

/* Each content delta from the model, as it arrives: one "token" event to the followers. */
static int on_token(void *ud, const char *delta, size_t len) {
    tokens *t = ud;
    char *text = strndup(delta, len);
    if (text)
        step_stream_publish(t->ctx, "chat", t->chat_id, "token", text);
    free(text);
    return 0; /* keep going */
}

static int finish(step_ctx *ctx, const char *chat_id, json_t *chat, const char *status,
                  const char *reply, const char *error) {
    json_t *end = json_pack("{s:s}", "status", status);
    if (reply)
        json_object_set_new(end, "response", json_string(reply));
    if (error)
        json_object_set_new(end, "error", json_string(error));
    char *end_text = json_dumps(end, JSON_COMPACT);
    json_decref(end);
    step_stream_publish(ctx, "chat", chat_id, "end", end_text ? end_text : "{}");
    free(end_text);
    json_object_set_new(chat, "status", json_string(status));
    if (reply)
        json_object_set_new(chat, "response", json_string(reply));
    if (error)
        json_object_set_new(chat, "error", json_string(error));
    int rc = step_state_set(ctx, "chats", chat_id, chat);
    if (rc)
        return rc;
    return step_emit(ctx, "ai.chat.complete",
                     json_pack("{s:s, s:s, s:s?, s:s?}", "chatId", chat_id, "status", status,
                               "response", reply, "error", error));
}

static int respond(step_ctx *ctx, json_t *input) {
    pthread_once(&once, client_init);
    const char *chat_id = json_string_value(json_object_get(input, "chatId"));
    const char *message = json_string_value(json_object_get(input, "message"));
    json_t *chat = NULL;
    int rc = step_state_get(ctx, "chats", chat_id, &chat);
    if (rc == STEP_ENOTFOUND) {
        step_log_warn(ctx, "chat record not found; nothing to do", NULL);
        return 0;
    }
    if (rc)
        return rc;
    if (!client || !stepd_llm_client_has_model(client)) {
        char reply[600];
        snprintf(reply, sizeof(reply), "You said: %.400s (no model configured: set "
                 "OPENAI_API_KEY or OPENAI_BASE_URL and OPENAI_MODEL)", message ? message : "");
        step_stream_publish(ctx, "chat", chat_id, "token", reply);
        rc = finish(ctx, chat_id, chat, "completed", reply, NULL);
        json_decref(chat);
        return rc;
    }
    json_t *msgs = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content",
                             "You are a helpful assistant.", "role", "user", "content",
                             message ? message : "");
    if (step_attempt(ctx) > 1) /* the tokens of a failed attempt were already published */
        step_stream_publish(ctx, "chat", chat_id, "reset", "{}");
    tokens tk = {.ctx = ctx, .chat_id = chat_id};
    stepd_llm_request req = {.messages = msgs, .stream = 1, .on_token = on_token, .token_ud = &tk};
    stepd_llm_hooks hooks = stepd_llm_step_hooks(ctx);
    stepd_llm_result res = {0};
    rc = stepd_llm_chat(client, &req, &hooks, &res);
    json_decref(msgs);
    if (rc == 0) {
        rc = finish(ctx, chat_id, chat, "completed", res.content ? res.content : "", NULL);
    } else if (step_attempt(ctx) >= MAX_ATTEMPTS) {
        json_t *f = json_pack("{s:s}", "error", res.error ? res.error : step_strerror(rc));
        step_log_error(ctx, "the model failed on the last attempt; chat marked failed", f);
        json_decref(f);
        rc = finish(ctx, chat_id, chat, "failed", NULL, res.error ? res.error : step_strerror(rc));
    } /* else: rc != 0 → the runtime retries with backoff */
    stepd_llm_result_free(&res);
    json_decref(chat);
    return rc;
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "ChatResponse",
    .description = "Produces the assistant's reply with the configured model",
    .flows = STEP_LIST("chat"),
    .subscribes = STEP_LIST("ai.chat.request"),
    .input_schema = "{\"type\":\"object\",\"required\":[\"chatId\",\"message\"]}",
    .emits = STEP_LIST("ai.chat.complete", "metrics.ai"),
    .on_event = respond,
    .max_attempts = MAX_ATTEMPTS,
    .timeout_ms = 120000,
};
