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

/* Ids come from a per-thread xoshiro256** generator seeded once from getrandom(): unique
 * and unpredictable enough for event, request and trace ids without a syscall per id (they
 * are not meant as secrets). */
static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static atomic_int fork_generation = 1; /* bumped in a forked child: it must not repeat ids */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void on_fork_child(void) {
    atomic_fetch_add(&fork_generation, 1);
}
static void register_atfork(void) {
    pthread_atfork(NULL, NULL, on_fork_child);
}

static uint64_t id_random64(void) {
    static _Thread_local uint64_t st[4];
    static _Thread_local int seeded; /* the fork generation the state was seeded in */
    if (seeded != atomic_load(&fork_generation)) {
        pthread_once(&atfork_once, register_atfork);
        size_t got = 0;
        unsigned char *p = (unsigned char *)st;
        while (got < sizeof st) {
            ssize_t r = getrandom(p + got, sizeof st - got, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got < sizeof st)
            for (int i = 0; i < 4; i++)
                st[i] = fallback_random64();
        if (!(st[0] | st[1] | st[2] | st[3]))
            st[0] = 0x9E3779B97F4A7C15ull;
        seeded = atomic_load(&fork_generation);
    }
    uint64_t result = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    return result;
}

void queue_new_id(char buf[33]) {
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];
    uint64_t a = id_random64(), b = id_random64();
    for (int i = 0; i < 8; i++) {
        raw[i] = (unsigned char)(a >> (8 * i));
        raw[8 + i] = (unsigned char)(b >> (8 * i));
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[32] = '\0';
}
