/*
 * http.h — the HTTP/1.1 server (h2o on the runtime's libuv loop).
 *
 * The loop thread parses (h2o), routes and copies each request into a job; a pool thread
 * builds the step_request, validates the body, runs middleware and the handler, and
 * serialises the response; the loop thread sends it. Admin endpoints for the CLI live under
 * /__stepd/ and answer loopback clients only.
 */
#ifndef STEPD_CORE_HTTP_H
#define STEPD_CORE_HTTP_H

typedef struct runtime runtime;
typedef struct registry registry;
typedef struct http_server http_server;

/* Binds cfg->host:cfg->port (port 0 picks a free one) and starts accepting. On failure
 * returns a negative code with a message in *err (caller frees). */
int http_server_start(runtime *rt, char **err);
int http_server_port(const http_server *s);
/* Loop thread only: serve new requests with `reg` (takes a reference). */
void http_server_set_registry(http_server *s, registry *reg);
/* Loop thread only: close the listening socket; in-flight requests still get answers. */
void http_server_stop_accepting(http_server *s);
/* After the loop stopped. NULL-safe. */
void http_server_free(http_server *s);

#endif
