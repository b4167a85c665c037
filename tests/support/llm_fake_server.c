/*
 * llm_fake_server.c — the OpenAI-compatible test server (see llm_fake_server.h).
 *
 * Plain sockets: one accept thread polls the listening socket and a stop pipe; each
 * connection gets a thread that reads HTTP/1.1 requests (Content-Length bodies, keep-alive),
 * takes the next scripted reply and writes it — a JSON completion, or SSE events in chunked
 * transfer encoding cut into arbitrary pieces. All waits poll the stop pipe, so stop() returns
 * promptly even in the middle of a "slow" reply, and every thread is joined.
 */
#include "support/llm_fake_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LLM_FAKE_MAX_CONN 256
#define LLM_FAKE_MAX_QUEUE 64

typedef struct fake_conn {
    llm_fake_server *srv;
    int fd;
    int done; /* the thread has finished (under srv->mu) */
    pthread_t thread;
} fake_conn;

struct llm_fake_server {
    int listen_fd;
    int stop_pipe[2];
    int port;
    char url[64];
    pthread_t accept_thread;
    pthread_mutex_t mu;
    llm_fake_reply queue[LLM_FAKE_MAX_QUEUE];
    int q_head, q_len;
    fake_conn *conns[LLM_FAKE_MAX_CONN];
    int n_conns;
    int accepted;
    int requests;
    char *last_body;
    char *last_headers;
};

static char *fake_dup(const char *s) {
    return s ? strdup(s) : NULL;
}

static void reply_free(llm_fake_reply *r) {
    free((char *)r->content);
    free((char *)r->tool_name);
    free((char *)r->tool_args);
    free((char *)r->finish_reason);
    free((char *)r->body);
    free((char *)r->content_type);
    free((char *)r->retry_after);
    memset(r, 0, sizeof(*r));
}

void llm_fake_push(llm_fake_server *s, const llm_fake_reply *r) {
    pthread_mutex_lock(&s->mu);
    if (s->q_len < LLM_FAKE_MAX_QUEUE) {
        llm_fake_reply *d = &s->queue[(s->q_head + s->q_len++) % LLM_FAKE_MAX_QUEUE];
        *d = *r;
        d->content = fake_dup(r->content);
        d->tool_name = fake_dup(r->tool_name);
        d->tool_args = fake_dup(r->tool_args);
        d->finish_reason = fake_dup(r->finish_reason);
        d->body = fake_dup(r->body);
        d->content_type = fake_dup(r->content_type);
        d->retry_after = fake_dup(r->retry_after);
    }
    pthread_mutex_unlock(&s->mu);
}

static int fake_pop(llm_fake_server *s, llm_fake_reply *out) {
    int got = 0;
    pthread_mutex_lock(&s->mu);
    if (s->q_len) {
        *out = s->queue[s->q_head];
        memset(&s->queue[s->q_head], 0, sizeof(*out));
        s->q_head = (s->q_head + 1) % LLM_FAKE_MAX_QUEUE;
        s->q_len--;
        got = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return got;
}

int llm_fake_port(const llm_fake_server *s) {
    return s->port;
}
const char *llm_fake_url(const llm_fake_server *s) {
    return s->url;
}

int llm_fake_requests(llm_fake_server *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

int llm_fake_connections(llm_fake_server *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->accepted;
    pthread_mutex_unlock(&s->mu);
    return n;
}

json_t *llm_fake_last_body(llm_fake_server *s) {
    pthread_mutex_lock(&s->mu);
    json_t *j = s->last_body ? json_loads(s->last_body, 0, NULL) : NULL;
    pthread_mutex_unlock(&s->mu);
    return j;
}

char *llm_fake_last_header(llm_fake_server *s, const char *name) {
    char *val = NULL;
    size_t n = strlen(name);
    pthread_mutex_lock(&s->mu);
    for (char *line = s->last_headers; line && *line;) {
        char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > n && line[n] == ':' && !strncasecmp(line, name, n)) {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            val = strndup(v, len - (size_t)(v - line));
            break;
        }
        line = end ? end + 2 : NULL;
    }
    pthread_mutex_unlock(&s->mu);
    return val;
}

/* ---- socket helpers that give up when the server stops ------------------------------------- */

/* Waits until fd is ready for `events` or the server stops. Returns 1 ready, 0 stopping. */
static int fake_wait(llm_fake_server *s, int fd, short events, int timeout_ms) {
    struct pollfd p[2] = {{fd, events, 0}, {s->stop_pipe[0], POLLIN, 0}};
    for (;;) {
        int rc = poll(p, 2, timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0 || p[1].revents)
            return 0;
        return 1;
    }
}

static int fake_sleep(llm_fake_server *s, int ms) {
    struct pollfd p = {s->stop_pipe[0], POLLIN, 0};
    return ms <= 0 || poll(&p, 1, ms) == 0; /* 1: slept the whole time */
}

static int fake_send(llm_fake_server *s, int fd, const char *buf, size_t len) {
    while (len) {
        if (!fake_wait(s, fd, POLLOUT, 5000))
            return -1;
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- building replies ---------------------------------------------------------------------- */

static int count_words(const char *t) {
    int n = 0, in = 0;
    for (; t && *t; t++) {
        int sp = *t == ' ' || *t == '\n' || *t == '\t';
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

static char *last_user_text(json_t *body, int *prompt_words) {
    json_t *msgs = json_object_get(body, "messages"), *m;
    size_t i;
    const char *last = "";
    *prompt_words = 0;
    json_array_foreach(msgs, i, m) {
        const char *c = json_string_value(json_object_get(m, "content"));
        *prompt_words += count_words(c);
        if (c && !strcmp(json_string_value(json_object_get(m, "role")) ?: "", "user"))
            last = c;
    }
    size_t n = strlen(last) + 8;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "Echo: %s", last);
    return out;
}

static json_t *tool_call_json(const llm_fake_reply *r) {
    return json_pack("[{s:s,s:s,s:{s:s,s:s}}]", "id", "call_fake_1", "type", "function", "function",
                     "name", r->tool_name, "arguments", r->tool_args ? r->tool_args : "{}");
}

static char *json_reply(const llm_fake_reply *r, const char *content, const char *model,
                        int prompt_words, int n) {
    json_t *msg = json_pack("{s:s}", "role", "assistant");
    json_object_set_new(msg, "content",
                        r->tool_name && !r->content ? json_null() : json_string(content));
    if (r->tool_name)
        json_object_set_new(msg, "tool_calls", tool_call_json(r));
    const char *fr = r->finish_reason ? r->finish_reason : r->tool_name ? "tool_calls" : "stop";
    char id[40];
    snprintf(id, sizeof(id), "chatcmpl-fake-%d", n);
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s}]}", "id", id, "object",
                          "chat.completion", "created", (json_int_t)time(NULL), "model", model,
                          "choices", "index", 0, "message", msg, "finish_reason", fr);
    int out_words = count_words(content);
    if (!r->no_usage)
        json_object_set_new(o, "usage",
                            json_pack("{s:i,s:i,s:i}", "prompt_tokens", prompt_words,
                                      "completion_tokens", out_words, "total_tokens",
                                      prompt_words + out_words));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static void sse_add(char **buf, size_t *len, json_t *chunk) {
    char *t = json_dumps(chunk, JSON_COMPACT);
    json_decref(chunk);
    if (!t)
        return;
    size_t n = strlen(t) + 10;
    char *b = realloc(*buf, *len + n);
    if (b) {
        *buf = b;
        *len += (size_t)snprintf(b + *len, n, "data: %s\n\n", t);
    }
    free(t);
}

/* The SSE byte stream of a streamed reply. */
static char *sse_reply(const llm_fake_reply *r, const char *content, const char *model,
                       int prompt_words, int n, int with_usage, size_t *len_out) {
    char *buf = NULL;
    size_t len = 0;
    char id[40];
    snprintf(id, sizeof(id), "chatcmpl-fake-%d", n);
#define CHUNK(delta, fr)                                                                           \
    json_pack("{s:s,s:s,s:s,s:[{s:i,s:o,s:o}]}", "id", id, "object", "chat.completion.chunk",      \
              "model", model, "choices", "index", 0, "delta", (delta), "finish_reason", (fr))
    sse_add(&buf, &len,
            CHUNK(json_pack("{s:s,s:s}", "role", "assistant", "content", ""), json_null()));
    if (!(r->tool_name && !r->content)) {
        /* one token per word, spaces attached to the front like real tokenisers do */
        const char *p = content;
        while (*p) {
            const char *q = p + 1;
            while (*q && *q != ' ')
                q++;
            char *tok = strndup(p, (size_t)(q - p));
            sse_add(&buf, &len, CHUNK(json_pack("{s:s}", "content", tok), json_null()));
            free(tok);
            p = q;
        }
    }
    if (r->tool_name) {
        const char *args = r->tool_args ? r->tool_args : "{}";
        size_t half = strlen(args) / 2;
        char *a1 = strndup(args, half);
        sse_add(&buf, &len,
                CHUNK(json_pack("{s:[{s:i,s:s,s:s,s:{s:s,s:s}}]}", "tool_calls", "index", 0, "id",
                                "call_fake_1", "type", "function", "function", "name", r->tool_name,
                                "arguments", a1),
                      json_null()));
        sse_add(&buf, &len,
                CHUNK(json_pack("{s:[{s:i,s:{s:s}}]}", "tool_calls", "index", 0, "function",
                                "arguments", args + half),
                      json_null()));
        free(a1);
    }
    const char *fr = r->finish_reason ? r->finish_reason : r->tool_name ? "tool_calls" : "stop";
    sse_add(&buf, &len, CHUNK(json_object(), json_string(fr)));
#undef CHUNK
    if (with_usage && !r->no_usage) {
        int out_words = count_words(content);
        sse_add(&buf, &len,
                json_pack("{s:s,s:s,s:s,s:[],s:{s:i,s:i,s:i}}", "id", id, "object",
                          "chat.completion.chunk", "model", model, "choices", "usage",
                          "prompt_tokens", prompt_words, "completion_tokens", out_words,
                          "total_tokens", prompt_words + out_words));
    }
    const char *done = "data: [DONE]\n\n";
    char *b = realloc(buf, len + strlen(done) + 1);
    if (!b) {
        free(buf);
        return NULL;
    }
    memcpy(b + len, done, strlen(done) + 1);
    *len_out = len + strlen(done);
    return b;
}

static const char *status_text(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    }
    return "Status";
}

static int send_simple(llm_fake_server *s, int fd, int status, const char *ctype,
                       const char *retry_after, const char *body) {
    char head[512];
    char ra[96] = "";
    if (retry_after)
        snprintf(ra, sizeof(ra), "Retry-After: %s\r\n", retry_after);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: keep-alive\r\n\r\n",
                     status, status_text(status), ctype, strlen(body), ra);
    if (fake_send(s, fd, head, (size_t)n) < 0)
        return -1;
    return fake_send(s, fd, body, strlen(body));
}

/* Answers one request. Returns 0 to keep the connection, -1 to close it. */
static int fake_answer(llm_fake_server *s, int fd, const char *path, const char *body) {
    llm_fake_reply r = {0};
    int scripted = fake_pop(s, &r);
    int n;
    pthread_mutex_lock(&s->mu);
    n = ++s->requests;
    pthread_mutex_unlock(&s->mu);
    json_t *req = json_loads(body, 0, NULL);
    const char *model = json_string_value(json_object_get(req, "model"));
    if (!model)
        model = "fake-model";
    if (!scripted) {
        if (!strcmp(model, "fake-tool")) {
            r.tool_name = strdup("track_order");
            r.tool_args = strdup("{\"order_number\":\"A12345\"}");
        } else if (!strcmp(model, "fake-500")) {
            r.status = 500;
            r.body =
                strdup("{\"error\":{\"message\":\"fake server error\",\"type\":\"server_error\"}}");
        } else if (!strcmp(model, "fake-401")) {
            r.status = 401;
            r.body = strdup("{\"error\":{\"message\":\"Incorrect API key provided\","
                            "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
        } else if (!strcmp(model, "fake-slow")) {
            r.delay_ms = 3000;
        } else if (!strncmp(model, "fake-say:", 9)) {
            r.content = strdup(model + 9);
        }
    }
    int rc = 0;
    if (!fake_sleep(s, r.delay_ms) || r.close_early) {
        rc = -1;
        goto out;
    }
    if (strcmp(path, "/v1/chat/completions") && strcmp(path, "/chat/completions")) {
        rc = send_simple(
            s, fd, 404, "application/json", NULL,
            "{\"error\":{\"message\":\"unknown path\",\"type\":\"invalid_request_error\"}}");
        goto out;
    }
    if (r.body || r.status) {
        char err[160];
        snprintf(err, sizeof(err), "{\"error\":{\"message\":\"fake HTTP %d\",\"type\":\"%s\"}}",
                 r.status, r.status == 429 ? "rate_limit_exceeded" : "server_error");
        rc = send_simple(s, fd, r.status ? r.status : 200,
                         r.content_type ? r.content_type : "application/json", r.retry_after,
                         r.body ? r.body : err);
        goto out;
    }
    if (!req) {
        rc = send_simple(
            s, fd, 400, "application/json", NULL,
            "{\"error\":{\"message\":\"body is not JSON\",\"type\":\"invalid_request_error\"}}");
        goto out;
    }
    int prompt_words;
    char *echo = last_user_text(req, &prompt_words);
    const char *content = r.content ? r.content : echo ? echo : "";
    if (!json_is_true(json_object_get(req, "stream"))) {
        char *text = json_reply(&r, content, model, prompt_words, n);
        rc = text ? send_simple(s, fd, 200, "application/json", NULL, text) : -1;
        free(text);
        free(echo);
        goto out;
    }
    int with_usage =
        json_is_true(json_object_get(json_object_get(req, "stream_options"), "include_usage"));
    size_t len = 0;
    char *sse = sse_reply(&r, content, model, prompt_words, n, with_usage, &len);
    free(echo);
    if (!sse) {
        rc = -1;
        goto out;
    }
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
                       "Connection: keep-alive\r\n\r\n";
    rc = fake_send(s, fd, head, strlen(head));
    size_t limit = r.truncate ? len / 2 : len;
    for (size_t off = 0; rc == 0 && off < limit;) {
        size_t take;
        if (r.chunk_bytes > 0) {
            take = (size_t)r.chunk_bytes;
        } else { /* up to and including the next blank line: one event per chunk */
            const char *e = strstr(sse + off, "\n\n");
            take = e ? (size_t)(e - (sse + off)) + 2 : len - off;
        }
        if (take > limit - off)
            take = limit - off;
        char hdr[32];
        int hn = snprintf(hdr, sizeof(hdr), "%zx\r\n", take);
        if (fake_send(s, fd, hdr, (size_t)hn) < 0 || fake_send(s, fd, sse + off, take) < 0 ||
            fake_send(s, fd, "\r\n", 2) < 0)
            rc = -1;
        off += take;
        if (rc == 0 && off < limit && !fake_sleep(s, r.chunk_delay_ms))
            rc = -1;
        if (rc == 0 && r.stall_ms && --r.stall_after == 0 && !fake_sleep(s, r.stall_ms))
            rc = -1;
    }
    if (rc == 0 && r.truncate)
        rc = -1; /* close mid-stream */
    else if (rc == 0)
        rc = fake_send(s, fd, "0\r\n\r\n", 5);
    free(sse);
out:
    json_decref(req);
    reply_free(&r);
    return rc;
}

/* ---- connections --------------------------------------------------------------------------- */

static void *fake_conn_main(void *arg) {
    fake_conn *c = arg;
    llm_fake_server *s = c->srv;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        char *end = NULL;
        size_t head_len = 0, body_len = 0;
        /* read until the header block is complete and the body has arrived */
        for (;;) {
            buf[len] = '\0';
            end = strstr(buf, "\r\n\r\n");
            if (end) {
                head_len = (size_t)(end - buf) + 4;
                const char *cl = strcasestr(buf, "\r\ncontent-length:");
                body_len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
                if (len >= head_len + body_len)
                    break;
            }
            if (len == cap) {
                char *b = cap < (64u << 20) ? realloc(buf, cap * 2 + 1) : NULL;
                if (!b)
                    goto done;
                buf = b;
                cap *= 2;
            }
            if (!fake_wait(s, c->fd, POLLIN, -1))
                goto done;
            ssize_t n = recv(c->fd, buf + len, cap - len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto done;
            len += (size_t)n;
        }
        char method[16] = "", path[256] = "";
        sscanf(buf, "%15s %255s", method, path);
        char *body = strndup(buf + head_len, body_len);
        pthread_mutex_lock(&s->mu);
        free(s->last_body);
        free(s->last_headers);
        s->last_body = body ? strdup(body) : NULL; /* other connections replace it */
        char *first_eol = strstr(buf, "\r\n");
        s->last_headers = strndup(first_eol + 2, (size_t)(end - first_eol));
        pthread_mutex_unlock(&s->mu);
        int rc = fake_answer(s, c->fd, path, body ? body : "");
        free(body);
        memmove(buf, buf + head_len + body_len, len - head_len - body_len);
        len -= head_len + body_len;
        if (rc < 0)
            break;
    }
done:
    free(buf);
    shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_lock(&s->mu);
    c->done = 1;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *fake_accept_main(void *arg) {
    llm_fake_server *s = arg;
    while (fake_wait(s, s->listen_fd, POLLIN, -1)) {
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fake_conn *c = calloc(1, sizeof(*c));
        pthread_mutex_lock(&s->mu);
        /* reap finished connections so a long-running server never runs out of slots */
        int kept = 0;
        for (int i = 0; i < s->n_conns; i++) {
            fake_conn *o = s->conns[i];
            if (o->done) {
                pthread_join(o->thread, NULL);
                close(o->fd);
                free(o);
            } else {
                s->conns[kept++] = o;
            }
        }
        s->n_conns = kept;
        s->accepted++;
        int room = s->n_conns < LLM_FAKE_MAX_CONN;
        if (c && room) {
            c->srv = s;
            c->fd = fd;
            s->conns[s->n_conns++] = c;
        }
        pthread_mutex_unlock(&s->mu);
        if (!c || !room || pthread_create(&c->thread, NULL, fake_conn_main, c)) {
            close(fd);
            if (c && room) {
                c->fd = -1;
                c->thread = pthread_self(); /* marks "no thread" */
            } else {
                free(c);
            }
        }
    }
    return NULL;
}

llm_fake_server *llm_fake_start(void) {
    llm_fake_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->listen_fd = -1;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    if (pipe(s->stop_pipe))
        goto err;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        goto err;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(s->listen_fd, 64) ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &alen))
        goto err;
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/v1", s->port);
    if (pthread_create(&s->accept_thread, NULL, fake_accept_main, s))
        goto err;
    return s;
err:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->stop_pipe[0] >= 0) {
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

void llm_fake_stop(llm_fake_server *s) {
    if (!s)
        return;
    if (write(s->stop_pipe[1], "x", 1) < 0) {
        /* the pipe is ours and empty: cannot fail in practice */
    }
    pthread_join(s->accept_thread, NULL);
    for (int i = 0; i < s->n_conns; i++) {
        fake_conn *c = s->conns[i];
        if (c->fd >= 0) {
            pthread_join(c->thread, NULL);
            close(c->fd);
        }
        free(c);
    }
    for (int i = 0; i < s->q_len; i++)
        reply_free(&s->queue[(s->q_head + i) % LLM_FAKE_MAX_QUEUE]);
    close(s->listen_fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    free(s->last_body);
    free(s->last_headers);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static volatile sig_atomic_t fake_quit;
static void fake_on_signal(int sig) {
    (void)sig;
    fake_quit = 1;
}

int llm_fake_serve_forever(void) {
    llm_fake_server *s = llm_fake_start();
    if (!s)
        return 1;
    struct sigaction sa = {0};
    sa.sa_handler = fake_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("%d\n", s->port);
    fflush(stdout);
    while (!fake_quit)
        pause();
    llm_fake_stop(s);
    return 0;
}
