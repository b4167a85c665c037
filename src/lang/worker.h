/*
 * worker.h — pools of long-lived language worker processes (node, python3) and the core side
 * of the newline-delimited JSON protocol they speak on stdin/stdout (docs/protocol.md).
 *
 * A pool owns N processes started from one command line (interpreter + runner script). Any
 * thread may call worker_invoke(): it picks a process, sends one `invoke` line and blocks until
 * the matching `result` arrives, serving the worker's back-calls (emit, state, log) for that
 * invocation on the calling thread in the order they were sent. A back-call without a call id
 * (fire and forget: emit, state writes) gets no reply; if it fails, the invocation fails with
 * that error when its result arrives. Many invocations are in flight
 * per process at once, told apart by their id. A reader thread per process splits lines and
 * routes them; a process that exits, writes a line that is not a protocol message, or lets an
 * invocation run past its timeout is killed, every invocation it held fails, and the next call
 * starts a fresh process, which loads the pool's files again before it serves anything.
 */
#ifndef STEPD_LANG_WORKER_H
#define STEPD_LANG_WORKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ---- protocol codec (pure functions; fuzzed) ------------------------------------------- */

typedef enum worker_msg_type {
    WMSG_LOADED = 1, /* answer to `load`: {"t":"loaded","id":N,"steps":[...],"errors":[...]} */
    WMSG_RESULT,     /* {"t":"result","id":N,"ok":true,"value":V} or "ok":false,"error":{...} */
    WMSG_CALL,       /* {"t":"call","id":N,"call":C,"op":"emit","args":{...}}: reply to C;
                        without "call" (0) no reply, and a failure fails the invocation */
    WMSG_LOG,        /* {"t":"log","id":N,"level":"info","msg":"...","fields":{...}} */
} worker_msg_type;

typedef struct worker_msg {
    worker_msg_type type;
    uint64_t id;   /* invocation id (0: not tied to an invocation, e.g. a log at load time) */
    uint64_t call; /* WMSG_CALL: the back-call id to echo in the reply */
    json_t *json;  /* the whole message, owned by the worker_msg */
} worker_msg;

/* Decodes one line (without its '\n'). Returns 0, or STEP_EPARSE with a reason in *why (a
 * static string) for anything that is not a well-formed worker message. */
int worker_msg_decode(const char *line, size_t len, worker_msg *out, const char **why);
void worker_msg_clear(worker_msg *m);

/* Line framing: bytes in, complete lines out. A line longer than `max` is an error. */
typedef struct worker_linebuf {
    char *buf;
    size_t len, cap, start, max;
} worker_linebuf;

/* Appends bytes; returns 0 or STEP_ENOMEM / STEP_EPARSE (line over the limit). */
int worker_linebuf_feed(worker_linebuf *lb, const char *data, size_t len);
/* Next complete line (borrowed, valid until the next feed), or NULL. */
const char *worker_linebuf_next(worker_linebuf *lb, size_t *len);
void worker_linebuf_free(worker_linebuf *lb);

/* ---- pools --------------------------------------------------------------------------------- */

typedef struct worker_pool worker_pool;

typedef struct worker_pool_opts {
    const char *lang;  /* "node", "python": used in logs */
    char *const *argv; /* command line, NULL-terminated (copied) */
    int processes;     /* >= 1 */
    const char *dir;   /* working directory of the processes (the project) */
    int pack;          /* invocations in flight on a process before the next process gets any
                          (0: WORKER_PACK_DEFAULT; 1: spread evenly) */
} worker_pool_opts;

enum { WORKER_PACK_DEFAULT = 4 };

/* Creates the pool; processes start on first use. Returns 0 or STEP_EINVAL / STEP_ENOMEM. */
int worker_pool_new(const worker_pool_opts *o, worker_pool **out);
/* Stops the pool: kills every process, so calls waiting on one fail now, and refuses new
 * calls (STEP_ECLOSED). For shutdown, before the threads that may be waiting are joined.
 * NULL-safe; worker_pool_free still has to be called. */
void worker_pool_close(worker_pool *p);
/* Kills every process and waits for the reader threads. NULL-safe. No call may be running. */
void worker_pool_free(worker_pool *p);

/* Loads `files` (JSON array of absolute paths, borrowed) into every process of the pool. On
 * success the pool remembers them (a replacement process loads them) and *loaded is the first
 * process's `loaded` message (new reference; its "errors" array may be non-empty, in which
 * case the processes keep what they had and the pool keeps its previous files). Returns 0 or
 * a negative code with a message in *err (caller frees). */
int worker_pool_load(worker_pool *p, json_t *files, int timeout_ms, json_t **loaded, char **err);

/* Serves one back-call or log of an invocation. For WMSG_CALL return 0 and set *value (new
 * reference, NULL means null) or return non-zero and set *error (caller frees); for WMSG_LOG
 * the return value is ignored. */
typedef int (*worker_serve_fn)(void *arg, const worker_msg *m, json_t **value, char **error);

/* Sends `msg` (an object with "t":"invoke" and the invocation fields; borrowed: this sets its
 * "id") and waits for its result, calling serve() for its back-calls. On "ok":true returns 0
 * with *value (new reference), unless a fire-and-forget back-call failed: then STEP_EFAILED
 * with *error {"message"} naming it. On a handler error returns STEP_EFAILED with *error set to the
 * worker's error object (new reference: {"message","stack"}); on a dead or garbling worker also
 * STEP_EFAILED with *error {"message"}; on a hung one (past timeout_ms, killed) STEP_ETIMEOUT. */
int worker_invoke(worker_pool *p, json_t *msg, int timeout_ms, worker_serve_fn serve, void *arg,
                  json_t **value, json_t **error);

/* Counters for tests and the workbench. */
typedef struct worker_pool_stats {
    uint64_t spawned, died, invocations;
} worker_pool_stats;
void worker_pool_get_stats(worker_pool *p, worker_pool_stats *out);

#endif
