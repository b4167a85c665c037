/*
 * stream.h — responses whose body is sent while it is produced: a handler's own stream
 * (step_respond_stream) and followers of named streams (step_respond_follow, the Workbench's
 * /__stepd/streams/STREAM/ID), both as h2o generators on the loop thread.
 *
 * Threads: handler threads queue bytes and published events under the hub's mutex and wake
 * the loop (the HTTP server's async handle); everything that touches h2o runs on the loop,
 * in stream_hub_run(), which the HTTP server calls before it finishes jobs, so a stream always
 * starts before the job that opened it is done.
 */
#ifndef STEPD_CORE_STREAM_H
#define STEPD_CORE_STREAM_H

#include <h2o.h>
#include <jansson.h>
#include <stepd/step.h>
#include <uv.h>

typedef struct stream_hub stream_hub;

/* Loop side of the HTTP server: sets status and headers on the request that `owner` (an HTTP
 * job) answers and returns it, or NULL when its client has gone. */
typedef h2o_req_t *(*stream_start_fn)(void *owner, int status, const char *content_type,
                                      json_t *headers);

stream_hub *stream_hub_new(uv_loop_t *loop, uv_async_t *wake, stream_start_fn start);
/* Loop: ends every follower (server shutdown); their connections finish cleanly. */
void stream_hub_shutdown(stream_hub *h);
void stream_hub_free(stream_hub *h);
/* Loop: applies what handler threads queued (starts, bytes, publications). */
void stream_hub_run(stream_hub *h);

/* Handler thread: a stream answering `owner`'s request; the loop starts it (headers) soon.
 * `headers` is stolen. */
step_stream *stream_open(stream_hub *h, void *owner, int status, const char *content_type,
                         json_t *headers);
/* Loop: the handler has returned; the response ends once the queued bytes are sent. */
void stream_handler_done(step_stream *s);

/* Handler thread: publish one event to (stream, id). */
int stream_publish(stream_hub *h, const char *stream, const char *id, const char *event,
                   const char *data);
/* Loop: answers req (status and headers already set) by following (stream, id). Returns 0 or
 * STEP_ENOMEM. */
int stream_follow(stream_hub *h, h2o_req_t *req, const char *stream, const char *id);

/* Formats one server-sent event (malloc'ed, length in *len), NULL when out of memory. */
char *stream_sse_format(const char *event, const char *data, size_t *len);

#endif
