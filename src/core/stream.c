/*
 * stream.c — see stream.h. Bytes travel as reference-counted chunks: a handler's write is one
 * chunk; a published event is one chunk shared by the topic's recent-events log and every
 * follower's send queue. Chunk and queue references are only counted on the loop thread.
 * A stream is freed when both the handler (stream_handler_done) and the loop (the request's
 * memory pool, disposed by h2o when the response is over or the client has gone) let go.
 */
#include "core/stream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC_BUCKETS 1024
#define LOG_MAX_EVENTS 256
#define LOG_MAX_BYTES (256 * 1024)
#define ENDED_KEEP_MS 60000     /* an ended topic answers late followers this long */
#define IDLE_KEEP_MS (10 * 60000) /* a topic nobody publishes to or follows is dropped */

typedef struct chunk {
    int refs; /* loop only (1 while a handler thread builds it) */
    size_t len;
    char data[];
} chunk;

typedef struct qnode {
    struct qnode *next;
    chunk *c;
} qnode;

typedef struct topic topic;

struct step_stream {
    h2o_generator_t gen; /* first: h2o hands it back to proceed/stop */
    stream_hub *hub;
    atomic_int refs;   /* the handler (until stream_handler_done) and the loop */
    atomic_int closed; /* the client has gone: writes fail */
    /* under hub->mu: what a handler wrote and the loop has not taken yet */
    qnode *in_head, *in_tail;
    int in_ready;
    step_stream *ready_next;
    /* loop only */
    void *owner;
    int status, start_wanted, started, headers_sent, sending, finished, final_sent;
    char *ctype;
    json_t *headers;
    h2o_req_t *req;
    qnode *out_head, *out_tail; /* to send */
    qnode *inflight;            /* handed to h2o; freed on proceed */
    h2o_iovec_t *vec;
    size_t veccap;
    topic *topic; /* followed topic */
    step_stream *fnext, *fprev;
};

struct topic {
    topic *next;
    char *stream, *id;
    qnode *log_head, *log_tail;
    size_t nlog, bytes;
    step_stream *followers;
    int ended;
    uint64_t touched_ms;
};

typedef struct pub {
    struct pub *next;
    char *stream, *id;
    int end;
    chunk *c;
} pub;

struct stream_hub {
    uv_loop_t *loop;
    uv_async_t *wake;
    stream_start_fn start;
    pthread_mutex_t mu;
    step_stream *ready; /* under mu */
    pub *pubs_head, *pubs_tail; /* under mu */
    topic *buckets[TOPIC_BUCKETS];
    uv_timer_t sweep;
    int closing;
};

/* ---- chunks and queues (loop) ------------------------------------------------------------ */

static chunk *chunk_new(const void *data, size_t len) {
    chunk *c = malloc(sizeof(*c) + len);
    if (!c)
        return NULL;
    c->refs = 1;
    c->len = len;
    if (len)
        memcpy(c->data, data, len);
    return c;
}

static void chunk_unref(chunk *c) {
    if (c && --c->refs == 0)
        free(c);
}

static void nodes_free(qnode *n) {
    while (n) {
        qnode *next = n->next;
        chunk_unref(n->c);
        free(n);
        n = next;
    }
}

/* Appends a reference to c to the list; returns 0 or -1 (out of memory). */
static int push_ref(qnode **head, qnode **tail, chunk *c) {
    qnode *n = malloc(sizeof(*n));
    if (!n)
        return -1;
    c->refs++;
    n->c = c;
    n->next = NULL;
    if (*tail)
        (*tail)->next = n;
    else
        *head = n;
    *tail = n;
    return 0;
}

/* ---- streams (loop) ------------------------------------------------------------------------ */

static void stream_release(step_stream *s) {
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    nodes_free(s->in_head);
    nodes_free(s->out_head);
    nodes_free(s->inflight);
    free(s->vec);
    free(s->ctype);
    json_decref(s->headers);
    free(s);
}

static void follower_unlink(step_stream *s) {
    topic *t = s->topic;
    if (!t)
        return;
    if (s->fprev)
        s->fprev->fnext = s->fnext;
    else
        t->followers = s->fnext;
    if (s->fnext)
        s->fnext->fprev = s->fprev;
    s->fnext = s->fprev = NULL;
    s->topic = NULL;
}

/* Moves what the handler wrote to the send queue. */
static void take_input(step_stream *s) {
    stream_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    qnode *head = s->in_head, *tail = s->in_tail;
    s->in_head = s->in_tail = NULL;
    pthread_mutex_unlock(&h->mu);
    if (!head)
        return;
    if (s->out_tail)
        s->out_tail->next = head;
    else
        s->out_head = head;
    s->out_tail = tail;
}

static void try_send(step_stream *s) {
    take_input(s);
    if (!s->req || s->sending || s->final_sent)
        return;
    size_t n = 0;
    for (qnode *q = s->out_head; q; q = q->next)
        n++;
    if (n == 0 && !s->finished && s->headers_sent)
        return;
    if (n > s->veccap) {
        size_t cap = n < 16 ? 16 : n * 2;
        h2o_iovec_t *v = realloc(s->vec, cap * sizeof(*v));
        if (!v)
            return; /* try again on the next write */
        s->vec = v;
        s->veccap = cap;
    }
    size_t i = 0;
    for (qnode *q = s->out_head; q; q = q->next)
        s->vec[i++] = h2o_iovec_init(q->c->data, q->c->len);
    /* the bytes stay alive until h2o asks for more (proceed) or the request is disposed */
    if (s->out_tail) {
        s->out_tail->next = s->inflight;
        s->inflight = s->out_head;
    }
    s->out_head = s->out_tail = NULL;
    s->headers_sent = 1;
    h2o_send_state_t state = s->finished ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
    if (s->finished)
        s->final_sent = 1;
    else
        s->sending = 1;
    h2o_send(s->req, n ? s->vec : NULL, n, state);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req) {
    (void)req;
    step_stream *s = (step_stream *)g;
    nodes_free(s->inflight);
    s->inflight = NULL;
    s->sending = 0;
    try_send(s);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req) {
    (void)req;
    step_stream *s = (step_stream *)g;
    atomic_store(&s->closed, 1);
}

/* The request's memory is going away (response over or client gone): the loop lets go. */
static void on_req_dispose(void *p) {
    step_stream *s = *(step_stream **)p;
    atomic_store(&s->closed, 1);
    s->req = NULL;
    follower_unlink(s);
    nodes_free(s->out_head);
    nodes_free(s->inflight);
    s->out_head = s->out_tail = s->inflight = NULL;
    stream_release(s);
}

static void attach(step_stream *s, h2o_req_t *req) {
    step_stream **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_req_dispose);
    *slot = s;
    s->req = req;
    s->gen.proceed = on_proceed;
    s->gen.stop = on_stop;
    h2o_start_response(req, &s->gen);
}

/* ---- topics (loop) ------------------------------------------------------------------------- */

static uint64_t now_ms(stream_hub *h) {
    return uv_now(h->loop);
}

static size_t bucket(const char *stream, const char *id) {
    uint64_t x = 1469598103934665603ULL;
    for (const char *p = stream; *p; p++)
        x = (x ^ (unsigned char)*p) * 1099511628211ULL;
    x = (x ^ 0xff) * 1099511628211ULL;
    for (const char *p = id; *p; p++)
        x = (x ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(x % TOPIC_BUCKETS);
}

static topic *topic_get(stream_hub *h, const char *stream, const char *id, int create) {
    size_t b = bucket(stream, id);
    for (topic *t = h->buckets[b]; t; t = t->next)
        if (!strcmp(t->stream, stream) && !strcmp(t->id, id))
            return t;
    if (!create)
        return NULL;
    topic *t = calloc(1, sizeof(*t));
    if (!t || !(t->stream = strdup(stream)) || !(t->id = strdup(id))) {
        if (t)
            free(t->stream);
        free(t);
        return NULL;
    }
    t->next = h->buckets[b];
    h->buckets[b] = t;
    t->touched_ms = now_ms(h);
    return t;
}

static void topic_free(topic *t) {
    nodes_free(t->log_head);
    free(t->stream);
    free(t->id);
    free(t);
}

static void log_append(topic *t, chunk *c) {
    if (push_ref(&t->log_head, &t->log_tail, c))
        return;
    t->nlog++;
    t->bytes += c->len;
    while (t->log_head && t->log_head != t->log_tail &&
           (t->nlog > LOG_MAX_EVENTS || t->bytes > LOG_MAX_BYTES)) {
        qnode *old = t->log_head;
        t->log_head = old->next;
        t->nlog--;
        t->bytes -= old->c->len;
        old->next = NULL;
        nodes_free(old);
    }
}

static void end_followers(topic *t) {
    while (t->followers) {
        step_stream *s = t->followers;
        follower_unlink(s);
        s->finished = 1;
        try_send(s);
    }
}

static void deliver(stream_hub *h, pub *p) {
    topic *t = topic_get(h, p->stream, p->id, 1);
    if (!t)
        return;
    if (t->ended) { /* a new run of the same id starts a fresh log */
        nodes_free(t->log_head);
        t->log_head = t->log_tail = NULL;
        t->nlog = t->bytes = 0;
        t->ended = 0;
    }
    t->touched_ms = now_ms(h);
    log_append(t, p->c);
    for (step_stream *s = t->followers; s; s = s->fnext) {
        push_ref(&s->out_head, &s->out_tail, p->c);
        try_send(s);
    }
    if (p->end) {
        t->ended = 1;
        end_followers(t);
    }
}

static void on_sweep(uv_timer_t *timer) {
    stream_hub *h = timer->data;
    uint64_t now = now_ms(h);
    for (size_t b = 0; b < TOPIC_BUCKETS; b++) {
        topic **pp = &h->buckets[b];
        while (*pp) {
            topic *t = *pp;
            uint64_t idle = now - t->touched_ms;
            if (!t->followers && ((t->ended && idle > ENDED_KEEP_MS) || idle > IDLE_KEEP_MS)) {
                *pp = t->next;
                topic_free(t);
            } else {
                pp = &t->next;
            }
        }
    }
}

/* ---- hub ------------------------------------------------------------------------------------- */

static void free_hub_after_close(uv_handle_t *timer) {
    stream_hub *h = timer->data;
    pthread_mutex_destroy(&h->mu);
    free(h);
}

stream_hub *stream_hub_new(uv_loop_t *loop, uv_async_t *wake, stream_start_fn start) {
    stream_hub *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->loop = loop;
    h->wake = wake;
    h->start = start;
    pthread_mutex_init(&h->mu, NULL);
    uv_timer_init(loop, &h->sweep);
    h->sweep.data = h;
    uv_timer_start(&h->sweep, on_sweep, 10000, 10000);
    uv_unref((uv_handle_t *)&h->sweep);
    return h;
}

void stream_hub_run(stream_hub *h) {
    pthread_mutex_lock(&h->mu);
    step_stream *ready = h->ready;
    h->ready = NULL;
    for (step_stream *s = ready; s; s = s->ready_next)
        s->in_ready = 0;
    pub *pubs = h->pubs_head;
    h->pubs_head = h->pubs_tail = NULL;
    pthread_mutex_unlock(&h->mu);
    while (ready) {
        step_stream *s = ready;
        ready = s->ready_next;
        s->ready_next = NULL;
        if (s->start_wanted && !s->started) {
            s->started = 1;
            h2o_req_t *req = h->start(s->owner, s->status, s->ctype, s->headers);
            s->headers = NULL; /* stolen by start */
            if (req) {
                attach(s, req);
            } else {
                atomic_store(&s->closed, 1);
                stream_release(s); /* the loop's reference: there is no request to answer */
            }
        }
        if (atomic_load(&s->closed) && !s->req) {
            pthread_mutex_lock(&h->mu);
            qnode *drop = s->in_head;
            s->in_head = s->in_tail = NULL;
            pthread_mutex_unlock(&h->mu);
            nodes_free(drop);
            continue;
        }
        try_send(s);
    }
    while (pubs) {
        pub *p = pubs;
        pubs = p->next;
        if (!h->closing)
            deliver(h, p);
        chunk_unref(p->c);
        free(p->stream);
        free(p->id);
        free(p);
    }
}

void stream_hub_shutdown(stream_hub *h) {
    h->closing = 1;
    for (size_t b = 0; b < TOPIC_BUCKETS; b++)
        for (topic *t = h->buckets[b]; t; t = t->next)
            end_followers(t);
}

void stream_hub_free(stream_hub *h) {
    if (!h)
        return;
    stream_hub_run(h); /* frees what is still queued */
    for (size_t b = 0; b < TOPIC_BUCKETS; b++) {
        while (h->buckets[b]) {
            topic *t = h->buckets[b];
            h->buckets[b] = t->next;
            while (t->followers)
                follower_unlink(t->followers);
            topic_free(t);
        }
    }
    uv_timer_stop(&h->sweep);
    uv_close((uv_handle_t *)&h->sweep, free_hub_after_close);
}

/* ---- handler threads ------------------------------------------------------------------------ */

static void make_ready(stream_hub *h, step_stream *s) {
    if (!s->in_ready) {
        s->in_ready = 1;
        s->ready_next = h->ready;
        h->ready = s;
    }
}

step_stream *stream_open(stream_hub *h, void *owner, int status, const char *content_type,
                         json_t *headers) {
    step_stream *s = calloc(1, sizeof(*s));
    char *ct = strdup(content_type);
    if (!s || !ct) {
        free(s);
        free(ct);
        json_decref(headers);
        return NULL;
    }
    s->hub = h;
    atomic_init(&s->refs, 2);
    atomic_init(&s->closed, 0);
    s->owner = owner;
    s->status = status;
    s->ctype = ct;
    s->headers = headers;
    s->start_wanted = 1;
    pthread_mutex_lock(&h->mu);
    make_ready(h, s);
    pthread_mutex_unlock(&h->mu);
    uv_async_send(h->wake);
    return s;
}

void stream_handler_done(step_stream *s) {
    take_input(s);
    s->finished = 1;
    s->owner = NULL;
    if (s->req)
        try_send(s);
    stream_release(s);
}

int step_stream_write(step_stream *s, const void *data, size_t len) {
    if (!s || (!data && len))
        return STEP_EINVAL;
    if (atomic_load(&s->closed))
        return STEP_ECLOSED;
    if (len == 0)
        return 0;
    qnode *n = malloc(sizeof(*n));
    chunk *c = chunk_new(data, len);
    if (!n || !c) {
        free(n);
        free(c);
        return STEP_ENOMEM;
    }
    n->c = c;
    n->next = NULL;
    stream_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    if (s->in_tail)
        s->in_tail->next = n;
    else
        s->in_head = n;
    s->in_tail = n;
    make_ready(h, s);
    pthread_mutex_unlock(&h->mu);
    uv_async_send(h->wake);
    return 0;
}

char *stream_sse_format(const char *event, const char *data, size_t *len) {
    size_t elen = event ? strlen(event) : 0, dlen = data ? strlen(data) : 0, lines = 1;
    for (size_t i = 0; i < dlen; i++)
        lines += data[i] == '\n';
    char *out = malloc(elen + 8 + dlen + lines * 7 + 2);
    if (!out)
        return NULL;
    char *p = out;
    if (event) {
        memcpy(p, "event: ", 7);
        p += 7;
        for (size_t i = 0; i < elen; i++)
            if (event[i] != '\r' && event[i] != '\n')
                *p++ = event[i];
        *p++ = '\n';
    }
    const char *line = data ? data : "";
    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        if (l && line[l - 1] == '\r')
            l--;
        memcpy(p, "data: ", 6);
        p += 6;
        memcpy(p, line, l);
        p += l;
        *p++ = '\n';
        if (!nl)
            break;
        line = nl + 1;
    }
    *p++ = '\n';
    *len = (size_t)(p - out);
    *p = '\0';
    return out;
}

int step_stream_event(step_stream *s, const char *event, const char *data) {
    if (!s)
        return STEP_EINVAL;
    size_t len;
    char *text = stream_sse_format(event, data, &len);
    if (!text)
        return STEP_ENOMEM;
    int rc = step_stream_write(s, text, len);
    free(text);
    return rc;
}

int stream_publish(stream_hub *h, const char *stream, const char *id, const char *event,
                   const char *data) {
    size_t len;
    char *text = stream_sse_format(event, data, &len);
    pub *p = calloc(1, sizeof(*p));
    chunk *c = text ? chunk_new(text, len) : NULL;
    free(text);
    if (!p || !c || !(p->stream = strdup(stream)) || !(p->id = strdup(id))) {
        if (p) {
            free(p->stream);
            free(p);
        }
        free(c);
        return STEP_ENOMEM;
    }
    p->c = c;
    p->end = event && !strcmp(event, "end");
    pthread_mutex_lock(&h->mu);
    if (h->pubs_tail)
        h->pubs_tail->next = p;
    else
        h->pubs_head = p;
    h->pubs_tail = p;
    pthread_mutex_unlock(&h->mu);
    uv_async_send(h->wake);
    return 0;
}

int stream_follow(stream_hub *h, h2o_req_t *req, const char *stream, const char *id) {
    topic *t = h->closing ? NULL : topic_get(h, stream, id, 1);
    step_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return STEP_ENOMEM;
    s->hub = h;
    atomic_init(&s->refs, 1); /* the loop's only */
    atomic_init(&s->closed, 0);
    s->started = 1;
    attach(s, req);
    if (t) {
        t->touched_ms = now_ms(h);
        for (qnode *q = t->log_head; q; q = q->next)
            push_ref(&s->out_head, &s->out_tail, q->c);
    }
    if (!t || t->ended) {
        s->finished = 1;
    } else {
        s->topic = t;
        s->fnext = t->followers;
        if (t->followers)
            t->followers->fprev = s;
        t->followers = s;
    }
    try_send(s);
    return 0;
}
