/*
 * write.c — building, running and finishing asynchronous writes (see write.h). Each write is
 * one allocation: the struct, then every string it carries, so an adapter never copies.
 */
#include "store/write.h"

#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

/* A bump allocator over the tail of one store_write allocation. */
typedef struct arena {
    char *p;
} arena;

static size_t slen(const char *s) {
    return s ? strlen(s) + 1 : 0;
}

static const char *put(arena *a, const char *s, size_t len) {
    if (!s)
        return NULL;
    char *d = a->p;
    memcpy(d, s, len);
    d[len] = '\0';
    a->p += len + 1;
    return d;
}

static const char *put_str(arena *a, const char *s) {
    return s ? put(a, s, strlen(s)) : NULL;
}

static store_write *alloc(size_t extra, arena *a) {
    store_write *w = calloc(1, sizeof(*w) + extra);
    if (w)
        a->p = (char *)(w + 1);
    return w;
}

store_write *store_write_state(store_write_op op, const char *group, const char *key,
                               const char *value, size_t len) {
    arena a;
    store_write *w = alloc(slen(group) + slen(key) + (value ? len + 1 : 0), &a);
    if (!w)
        return NULL;
    w->op = op;
    w->group = put_str(&a, group);
    w->key = put_str(&a, key);
    w->value = value ? put(&a, value, len) : NULL;
    w->len = value ? len : 0;
    return w;
}

store_write *store_write_push(const queue_msg *msgs, size_t n) {
    size_t extra = n * sizeof(queue_msg) + _Alignof(queue_msg);
    for (size_t i = 0; i < n; i++) {
        const queue_msg *m = &msgs[i];
        extra += slen(m->id) + slen(m->event_id) + slen(m->topic) + slen(m->step) +
                 slen(m->data) + slen(m->trace_id) + slen(m->group_key) + slen(m->idem_key) +
                 slen(m->last_error);
    }
    arena a;
    store_write *w = alloc(extra, &a);
    if (!w)
        return NULL;
    w->op = SW_PUSH;
    w->n = n;
    w->msgs = (queue_msg *)(w + 1); /* store_write's alignment suits queue_msg */
    a.p = (char *)(w->msgs + n);
    for (size_t i = 0; i < n; i++) {
        const queue_msg *m = &msgs[i];
        w->msgs[i] = (queue_msg){
            .id = (char *)put_str(&a, m->id),
            .event_id = (char *)put_str(&a, m->event_id),
            .topic = (char *)put_str(&a, m->topic),
            .step = (char *)put_str(&a, m->step),
            .data = (char *)put_str(&a, m->data),
            .trace_id = (char *)put_str(&a, m->trace_id),
            .attempt = m->attempt,
            .due_ms = m->due_ms,
            .created_ms = m->created_ms,
            .group_key = (char *)put_str(&a, m->group_key),
            .idem_key = (char *)put_str(&a, m->idem_key),
            .last_error = (char *)put_str(&a, m->last_error),
        };
    }
    return w;
}

store_write *store_write_end(store_write_op op, const char *id, store_write_op fallback,
                             int64_t due_ms, const char *error) {
    arena a;
    store_write *w = alloc(slen(id) + slen(error), &a);
    if (!w)
        return NULL;
    w->op = op;
    w->id = put_str(&a, id);
    w->error = put_str(&a, error);
    w->due_ms = due_ms;
    w->fallback = fallback;
    return w;
}

store_write *store_write_mark(void) {
    arena a;
    store_write *w = alloc(0, &a);
    if (w)
        w->op = SW_MARK;
    return w;
}

void store_write_free(store_write *w) {
    free(w);
}

void store_write_failed(store_write *w, int rc) {
    if (rc && w->failed) {
        int zero = 0;
        atomic_compare_exchange_strong(w->failed, &zero, rc);
    }
}

void store_write_finish(store_write *w, int rc) {
    store_write_failed(w, rc);
    if (w->done)
        w->done(w, rc);
    store_write_free(w);
}

int store_write_apply(state_store *s, queue *q, store_write *w) {
    int rc = 0;
    store_write_op op = w->op;
    if (op == SW_ACK && w->failed && atomic_load(w->failed))
        op = w->fallback;
    switch (op) {
    case SW_SET:
        rc = s->ops->set(s, w->group, w->key, w->value, w->len);
        break;
    case SW_DEL:
        rc = s->ops->del(s, w->group, w->key);
        break;
    case SW_CLEAR:
        rc = s->ops->clear(s, w->group);
        break;
    case SW_PUSH:
        rc = q->ops->push(q, w->msgs, w->n);
        break;
    case SW_ACK:
        rc = q->ops->ack(q, w->id);
        break;
    case SW_RETRY:
        rc = q->ops->retry(q, w->id, w->due_ms, w->error);
        break;
    case SW_BURY:
        rc = q->ops->bury(q, w->id, w->error);
        break;
    case SW_MARK:
        break;
    }
    /* a delivery that is already gone (a timeout re-queued it) is not a handler failure */
    if (rc == STEP_ENOTFOUND && (op == SW_ACK || op == SW_RETRY || op == SW_BURY))
        rc = 0;
    store_write_finish(w, rc);
    return rc;
}
