/*
 * llm_fake_server.h — a small OpenAI-compatible chat server on 127.0.0.1 for tests.
 *
 * It speaks the real wire format: POST /v1/chat/completions with JSON or (for "stream": true)
 * server-sent events over chunked transfer encoding, tool calls, usage, keep-alive. Replies are
 * scripted: each request takes the next llm_fake_reply pushed by the test; with none queued it
 * answers "Echo: <last user message>", or follows the request's model name:
 *   fake-tool   a track_order tool call        fake-500   HTTP 500 every time
 *   fake-401    HTTP 401 invalid_api_key        fake-slow  waits 3 s before answering
 *   fake-say:TEXT  answers TEXT (e.g. a classifier's JSON)
 * A test fixture only: it is never a default of the product.
 */
#ifndef STEPD_TESTS_LLM_FAKE_SERVER_H
#define STEPD_TESTS_LLM_FAKE_SERVER_H

#include <jansson.h>

typedef struct llm_fake_server llm_fake_server;

typedef struct llm_fake_reply {
    int status;                /* 0 = 200 */
    const char *content;       /* assistant text; NULL = echo of the last user message */
    const char *tool_name;     /* adds one tool call */
    const char *tool_args;     /* its JSON arguments text */
    const char *finish_reason; /* default "stop" ("tool_calls" with a tool) */
    const char *body;          /* sent verbatim instead (errors, malformed JSON) */
    const char *content_type;  /* with body; default application/json */
    const char *retry_after;   /* Retry-After header value */
    int delay_ms;              /* before the response headers */
    int chunk_bytes;           /* stream: HTTP chunks of this many bytes (0 = one per event) */
    int chunk_delay_ms;        /* stream: pause between chunks */
    int stall_after;           /* stream: after this many chunks ... */
    int stall_ms;              /* ... pause this long once */
    int truncate;              /* stream: close the connection halfway, no [DONE] */
    int close_early;           /* close without answering */
    int no_usage;              /* omit usage */
} llm_fake_reply;

/* Starts the server on an ephemeral port, on its own threads. NULL on failure. */
llm_fake_server *llm_fake_start(void);
/* Stops it, closes every connection and joins its threads. NULL is a no-op. */
void llm_fake_stop(llm_fake_server *s);
int llm_fake_port(const llm_fake_server *s);
/* "http://127.0.0.1:PORT/v1" (borrowed, valid until stop). */
const char *llm_fake_url(const llm_fake_server *s);
/* Queues a reply (strings are copied). */
void llm_fake_push(llm_fake_server *s, const llm_fake_reply *r);
/* Requests answered and TCP connections accepted so far. */
int llm_fake_requests(llm_fake_server *s);
int llm_fake_connections(llm_fake_server *s);
/* The last request's JSON body (new reference, NULL if none or not JSON). */
json_t *llm_fake_last_body(llm_fake_server *s);
/* A header of the last request (lower-case name; caller frees), NULL when absent. */
char *llm_fake_last_header(llm_fake_server *s, const char *name);
/* Runs in the foreground until SIGTERM/SIGINT, printing "PORT\n" on stdout once listening
 * (for integration scripts). Returns 0 or 1. */
int llm_fake_serve_forever(void);

#endif
