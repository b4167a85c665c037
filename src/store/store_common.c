/*
 * store_common.c — the helpers every state/queue adapter shares: freeing the arrays adapters
 * hand out, NULL-safe close wrappers, message ids and the wall clock.
 *
 * Message ids are 128 random bits in hex from getrandom(2), which is thread-safe and never
 * blocks once the kernel pool is initialised; if it fails (very old kernels, seccomp) a
 * per-thread xorshift seeded from the clock, the thread and a counter takes over.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "store/queue.h"
#include "store/state.h"

void state_items_free(state_item *items, size_t n) {
    if (!items)
        return;
    for (size_t i = 0; i < n; i++) {
        free(items[i].key);
        free(items[i].value);
    }
    free(items);
}

void state_strings_free(char **names, size_t n) {
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void state_close(state_store *s) {
    if (s)
        s->ops->close(s);
}

void queue_msg_clear(queue_msg *m) {
    if (!m)
        return;
    free(m->id);
    free(m->event_id);
    free(m->topic);
    free(m->step);
    free(m->data);
    free(m->trace_id);
    free(m->group_key);
    free(m->idem_key);
    free(m->last_error);
    *m = (queue_msg){0};
}

void queue_msgs_free(queue_msg *msgs, size_t n) {
    if (!msgs)
        return;
    for (size_t i = 0; i < n; i++)
        queue_msg_clear(&msgs[i]);
    free(msgs);
}

void queue_close(queue *q) {
    if (q)
        q->ops->close(q);
}

int64_t queue_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fallback_random64(void) {
    static _Thread_local uint64_t s;
    static atomic_uint_fast64_t counter;
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&s ^
            (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull);
        if (s == 0)
            s = 0x9E3779B97F4A7C15ull;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

void queue_new_id(char buf[33]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t r = getrandom(raw + got, sizeof raw - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got < sizeof raw) {
        uint64_t a = fallback_random64(), b = fallback_random64();
        for (int i = 0; i < 8; i++) {
            raw[i] = (unsigned char)(a >> (8 * i));
            raw[8 + i] = (unsigned char)(b >> (8 * i));
        }
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[32] = '\0';
}
