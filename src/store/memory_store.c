/*
 * memory_store.c — the in-memory state and queue adapters, for unit tests of the runtime.
 *
 * Both live in one `mem_db` behind one mutex: state is an array of (group, key, value) kept
 * sorted by group then key (binary search; get_group is one contiguous run), the queue is an
 * array of messages in push order (FIFO by position) and the dead letters another array.
 * A message is leased while lease_until > now; expired leases are simply ready again, which
 * is the whole of lease recovery. Nothing here is tuned: correctness and the exact semantics
 * of the contract in state.h / queue.h are the point. The db is freed with the last handle.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

#include "store/stores.h"

typedef struct mem_entry {
    char *group, *key, *value;
} mem_entry;

typedef struct mem_msg {
    queue_msg m;
    int64_t lease_until; /* leased while > now */
    int claims;          /* deliveries started (see queue.h) */
    int64_t failed_ms;   /* dead letters only */
} mem_msg;

typedef struct mem_db {
    pthread_mutex_t mu;
    int refs;
    state_store state;
    queue queue;
    mem_entry *kv;
    size_t nkv, capkv;
    mem_msg *q;
    size_t nq, capq;
    mem_msg *dead;
    size_t ndead, capdead;
} mem_db;

#define DB_OF_STATE(s) ((mem_db *)((char *)(s)-offsetof(mem_db, state)))
#define DB_OF_QUEUE(x) ((mem_db *)((char *)(x)-offsetof(mem_db, queue)))

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* NULL stays NULL; *ok turns 0 when an allocation fails. */
static char *dup_opt(const char *s, int *ok) {
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = 0;
    return d;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return STEP_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

static void db_unref(mem_db *db) {
    pthread_mutex_lock(&db->mu);
    int last = --db->refs == 0;
    pthread_mutex_unlock(&db->mu);
    if (!last)
        return;
    for (size_t i = 0; i < db->nkv; i++) {
        free(db->kv[i].group);
        free(db->kv[i].key);
        free(db->kv[i].value);
    }
    for (size_t i = 0; i < db->nq; i++)
        queue_msg_clear(&db->q[i].m);
    for (size_t i = 0; i < db->ndead; i++)
        queue_msg_clear(&db->dead[i].m);
    free(db->kv);
    free(db->q);
    free(db->dead);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

/* ---- state -------------------------------------------------------------------------------- */

static int entry_cmp(const mem_entry *e, const char *group, const char *key) {
    int c = strcmp(e->group, group);
    return c ? c : strcmp(e->key, key);
}

/* Index of the first entry >= (group, key); *found when it is equal. Caller holds mu. */
static size_t kv_lower(mem_db *db, const char *group, const char *key, int *found) {
    size_t lo = 0, hi = db->nkv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_cmp(&db->kv[mid], group, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found)
        *found = lo < db->nkv && entry_cmp(&db->kv[lo], group, key) == 0;
    return lo;
}

static int mem_get(state_store *s, const char *group, const char *key, char **value_out) {
    if (!group || !key || !value_out)
        return STEP_EINVAL;
    *value_out = NULL;
    mem_db *db = DB_OF_STATE(s);
    int found, rc = STEP_ENOTFOUND;
    pthread_mutex_lock(&db->mu);
    size_t i = kv_lower(db, group, key, &found);
    if (found) {
        *value_out = strdup(db->kv[i].value);
        rc = *value_out ? 0 : STEP_ENOMEM;
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

static int mem_set(state_store *s, const char *group, const char *key, const char *value,
                   size_t len) {
    if (!group || !key || (!value && len))
        return STEP_EINVAL;
    mem_db *db = DB_OF_STATE(s);
    char *v = dup_n(value ? value : "", len);
    if (!v)
        return STEP_ENOMEM;
    int found, rc = 0;
    pthread_mutex_lock(&db->mu);
    size_t i = kv_lower(db, group, key, &found);
    if (found) {
        free(db->kv[i].value);
        db->kv[i].value = v;
        v = NULL;
    } else {
        char *g = strdup(group), *k = strdup(key);
        if (!g || !k || grow((void **)&db->kv, &db->capkv, db->nkv + 1, sizeof *db->kv)) {
            free(g);
            free(k);
            rc = STEP_ENOMEM;
        } else {
            memmove(&db->kv[i + 1], &db->kv[i], (db->nkv - i) * sizeof *db->kv);
            db->kv[i] = (mem_entry){g, k, v};
            db->nkv++;
            v = NULL;
        }
    }
    pthread_mutex_unlock(&db->mu);
    free(v);
    return rc;
}

static void kv_remove(mem_db *db, size_t i, size_t n) {
    for (size_t j = i; j < i + n; j++) {
        free(db->kv[j].group);
        free(db->kv[j].key);
        free(db->kv[j].value);
    }
    memmove(&db->kv[i], &db->kv[i + n], (db->nkv - i - n) * sizeof *db->kv);
    db->nkv -= n;
}

static int mem_del(state_store *s, const char *group, const char *key) {
    if (!group || !key)
        return STEP_EINVAL;
    mem_db *db = DB_OF_STATE(s);
    int found;
    pthread_mutex_lock(&db->mu);
    size_t i = kv_lower(db, group, key, &found);
    if (found)
        kv_remove(db, i, 1);
    pthread_mutex_unlock(&db->mu);
    return 0;
}

/* The run of entries of `group`: [*first, *first + return). Caller holds mu. */
static size_t group_run(mem_db *db, const char *group, size_t *first) {
    size_t i = kv_lower(db, group, "", NULL), j = i;
    while (j < db->nkv && strcmp(db->kv[j].group, group) == 0)
        j++;
    *first = i;
    return j - i;
}

static int mem_get_group(state_store *s, const char *group, state_item **items, size_t *n) {
    if (!group || !items || !n)
        return STEP_EINVAL;
    *items = NULL;
    *n = 0;
    mem_db *db = DB_OF_STATE(s);
    int rc = 0;
    pthread_mutex_lock(&db->mu);
    size_t first, cnt = group_run(db, group, &first);
    state_item *out = cnt ? calloc(cnt, sizeof *out) : NULL;
    if (cnt && !out)
        rc = STEP_ENOMEM;
    for (size_t j = 0; out && j < cnt; j++) {
        out[j].key = strdup(db->kv[first + j].key);
        out[j].value = strdup(db->kv[first + j].value);
        if (!out[j].key || !out[j].value) {
            state_items_free(out, j + 1);
            out = NULL;
            rc = STEP_ENOMEM;
        }
    }
    pthread_mutex_unlock(&db->mu);
    if (rc == 0) {
        *items = out;
        *n = cnt;
    }
    return rc;
}

static int mem_clear(state_store *s, const char *group) {
    if (!group)
        return STEP_EINVAL;
    mem_db *db = DB_OF_STATE(s);
    pthread_mutex_lock(&db->mu);
    size_t first, cnt = group_run(db, group, &first);
    kv_remove(db, first, cnt);
    pthread_mutex_unlock(&db->mu);
    return 0;
}

static int mem_groups(state_store *s, char ***names, size_t *n) {
    if (!names || !n)
        return STEP_EINVAL;
    *names = NULL;
    *n = 0;
    mem_db *db = DB_OF_STATE(s);
    int rc = 0;
    size_t cnt = 0;
    char **out = NULL;
    pthread_mutex_lock(&db->mu);
    if (db->nkv && !(out = calloc(db->nkv, sizeof *out)))
        rc = STEP_ENOMEM;
    for (size_t i = 0; out && i < db->nkv; i++) {
        if (cnt && strcmp(out[cnt - 1], db->kv[i].group) == 0)
            continue;
        if (!(out[cnt++] = strdup(db->kv[i].group))) {
            state_strings_free(out, cnt);
            out = NULL;
            rc = STEP_ENOMEM;
        }
    }
    pthread_mutex_unlock(&db->mu);
    if (rc == 0) {
        *names = out;
        *n = cnt;
    }
    return rc;
}

static int mem_update(state_store *s, const char *group, const char *key, state_update_op op,
                      const char *arg, const char *expect, char **result_out) {
    (void)s, (void)group, (void)key, (void)op, (void)arg, (void)expect;
    if (result_out)
        *result_out = NULL;
    return STEP_EUNSUPPORTED;
}

static void mem_state_close(state_store *s) {
    if (s)
        db_unref(DB_OF_STATE(s));
}

static const state_ops mem_state_ops = {
    .name = "memory",
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .get_group = mem_get_group,
    .clear = mem_clear,
    .groups = mem_groups,
    .update = mem_update,
    .close = mem_state_close,
};

/* ---- queue -------------------------------------------------------------------------------- */

/* Deep copy of src into dst (all strings); 0 or STEP_ENOMEM with dst cleared. */
static int msg_copy(queue_msg *dst, const queue_msg *src) {
    int ok = 1;
    *dst = *src;
    dst->id = dup_opt(src->id, &ok);
    dst->event_id = dup_opt(src->event_id, &ok);
    dst->topic = dup_opt(src->topic, &ok);
    dst->step = dup_opt(src->step, &ok);
    dst->data = dup_opt(src->data, &ok);
    dst->trace_id = dup_opt(src->trace_id, &ok);
    dst->group_key = dup_opt(src->group_key, &ok);
    dst->idem_key = dup_opt(src->idem_key, &ok);
    dst->last_error = dup_opt(src->last_error, &ok);
    if (!ok) {
        queue_msg_clear(dst);
        return STEP_ENOMEM;
    }
    return 0;
}

/* Index of message `id` in arr[0..n) or -1. */
static long find_msg(const mem_msg *arr, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i].m.id, id) == 0)
            return (long)i;
    return -1;
}

static int mem_push(queue *qq, const queue_msg *msgs, size_t n) {
    if (n && !msgs)
        return STEP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].topic || !msgs[i].step)
            return STEP_EINVAL;
    mem_db *db = DB_OF_QUEUE(qq);
    int64_t now = queue_now_ms();
    int rc = 0;
    pthread_mutex_lock(&db->mu);
    size_t base = db->nq, done = 0;
    if (grow((void **)&db->q, &db->capq, db->nq + n, sizeof *db->q))
        rc = STEP_ENOMEM;
    for (; rc == 0 && done < n; done++) {
        const queue_msg *src = &msgs[done];
        if (src->id && (find_msg(db->q, db->nq, src->id) >= 0)) {
            rc = STEP_ECONFLICT;
            break;
        }
        mem_msg *dst = &db->q[db->nq];
        *dst = (mem_msg){0};
        if ((rc = msg_copy(&dst->m, src)))
            break;
        if (!dst->m.id) {
            char id[33];
            queue_new_id(id);
            if (!(dst->m.id = strdup(id))) {
                queue_msg_clear(&dst->m);
                rc = STEP_ENOMEM;
                break;
            }
        }
        if (!dst->m.data && !(dst->m.data = strdup("{}"))) {
            queue_msg_clear(&dst->m);
            rc = STEP_ENOMEM;
            break;
        }
        if (dst->m.created_ms == 0)
            dst->m.created_ms = now;
        if (dst->m.due_ms == 0)
            dst->m.due_ms = now; /* eligible from now: claim order is (due_ms, push order) */
        db->nq++;
    }
    if (rc) { /* all or none */
        for (size_t i = base; i < db->nq; i++)
            queue_msg_clear(&db->q[i].m);
        db->nq = base;
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

static int mem_claim(queue *qq, const char *step, int64_t now_ms, int64_t lease_ms, size_t max,
                     queue_msg **out, size_t *n) {
    if (!step || !out || !n)
        return STEP_EINVAL;
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    mem_db *db = DB_OF_QUEUE(qq);
    int rc = 0;
    size_t cnt = 0;
    queue_msg *res = NULL;
    mem_msg **pick = NULL;
    pthread_mutex_lock(&db->mu);
    /* the `max` ready messages with the smallest (due_ms, position): selection, no sort */
    for (size_t i = 0; i < db->nq; i++) {
        mem_msg *e = &db->q[i];
        if (e->lease_until > now_ms || e->m.due_ms > now_ms || strcmp(e->m.step, step) != 0)
            continue;
        if (!pick && !(pick = malloc((max < db->nq ? max : db->nq) * sizeof *pick))) {
            rc = STEP_ENOMEM;
            break;
        }
        size_t j = cnt < max ? cnt++ : max;
        if (j == max && e->m.due_ms >= pick[max - 1]->m.due_ms)
            continue; /* not among the first max */
        if (j == max)
            j = max - 1;
        while (j > 0 && pick[j - 1]->m.due_ms > e->m.due_ms) {
            pick[j] = pick[j - 1];
            j--;
        }
        pick[j] = e;
    }
    if (rc == 0 && cnt && !(res = calloc(cnt, sizeof *res)))
        rc = STEP_ENOMEM;
    for (size_t j = 0; rc == 0 && j < cnt; j++) { /* a run lost with the process: failed */
        mem_msg *e = pick[j];
        if (e->claims > e->m.attempt) {
            char *why = strdup(QUEUE_LOST_RUN);
            if (!why) {
                rc = STEP_ENOMEM;
                break;
            }
            free(e->m.last_error);
            e->m.last_error = why;
            e->m.attempt = e->claims;
        }
    }
    for (size_t j = 0; rc == 0 && j < cnt; j++) {
        if ((rc = msg_copy(&res[j], &pick[j]->m))) {
            queue_msgs_free(res, j);
            res = NULL;
        }
    }
    if (rc == 0) {
        for (size_t j = 0; j < cnt; j++) {
            pick[j]->lease_until = now_ms + lease_ms;
            pick[j]->claims++;
        }
    } else {
        cnt = 0;
    }
    pthread_mutex_unlock(&db->mu);
    free(pick);
    *out = res;
    *n = cnt;
    return rc;
}

static int mem_ack(queue *qq, const char *id) {
    if (!id)
        return STEP_EINVAL;
    mem_db *db = DB_OF_QUEUE(qq);
    int rc = STEP_ENOTFOUND;
    pthread_mutex_lock(&db->mu);
    long i = find_msg(db->q, db->nq, id);
    if (i >= 0) {
        queue_msg_clear(&db->q[i].m);
        memmove(&db->q[i], &db->q[i + 1], (db->nq - (size_t)i - 1) * sizeof *db->q);
        db->nq--;
        rc = 0;
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

static int mem_retry(queue *qq, const char *id, int64_t due_ms, const char *error) {
    if (!id)
        return STEP_EINVAL;
    mem_db *db = DB_OF_QUEUE(qq);
    int ok = 1;
    char *err = dup_opt(error, &ok);
    if (!ok)
        return STEP_ENOMEM;
    int rc = STEP_ENOTFOUND;
    pthread_mutex_lock(&db->mu);
    long i = find_msg(db->q, db->nq, id);
    if (i >= 0) {
        mem_msg *e = &db->q[i];
        e->m.attempt++;
        e->m.due_ms = due_ms;
        e->lease_until = 0;
        free(e->m.last_error);
        e->m.last_error = err;
        err = NULL;
        rc = 0;
    }
    pthread_mutex_unlock(&db->mu);
    free(err);
    return rc;
}

static int mem_bury(queue *qq, const char *id, const char *error) {
    if (!id)
        return STEP_EINVAL;
    mem_db *db = DB_OF_QUEUE(qq);
    int ok = 1;
    char *err = dup_opt(error, &ok);
    if (!ok)
        return STEP_ENOMEM;
    int rc = STEP_ENOTFOUND;
    pthread_mutex_lock(&db->mu);
    long i = find_msg(db->q, db->nq, id);
    if (i >= 0 && grow((void **)&db->dead, &db->capdead, db->ndead + 1, sizeof *db->dead)) {
        rc = STEP_ENOMEM;
    } else if (i >= 0) {
        mem_msg e = db->q[i];
        memmove(&db->q[i], &db->q[i + 1], (db->nq - (size_t)i - 1) * sizeof *db->q);
        db->nq--;
        e.m.attempt++;
        free(e.m.last_error);
        e.m.last_error = err;
        err = NULL;
        e.lease_until = 0;
        e.failed_ms = queue_now_ms();
        db->dead[db->ndead++] = e;
        rc = 0;
    }
    pthread_mutex_unlock(&db->mu);
    free(err);
    return rc;
}

static int mem_release(queue *qq, const char *id) {
    if (!id)
        return STEP_EINVAL;
    mem_db *db = DB_OF_QUEUE(qq);
    int rc = STEP_ENOTFOUND;
    pthread_mutex_lock(&db->mu);
    long i = find_msg(db->q, db->nq, id);
    if (i >= 0) {
        db->q[i].lease_until = 0;
        if (db->q[i].claims > 0)
            db->q[i].claims--;
        rc = 0;
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

static int mem_next_due(queue *qq, const char *step, int64_t *due_ms) {
    if (!due_ms)
        return STEP_EINVAL;
    mem_db *db = DB_OF_QUEUE(qq);
    int64_t now = queue_now_ms(), best = 0;
    int rc = STEP_ENOTFOUND;
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < db->nq; i++) {
        mem_msg *e = &db->q[i];
        if (e->lease_until > now || (step && strcmp(e->m.step, step) != 0))
            continue;
        if (rc != 0 || e->m.due_ms < best)
            best = e->m.due_ms;
        rc = 0;
    }
    pthread_mutex_unlock(&db->mu);
    if (rc == 0)
        *due_ms = best;
    return rc;
}

static int mem_dlq_list(queue *qq, queue_msg **out, size_t *n) {
    if (!out || !n)
        return STEP_EINVAL;
    *out = NULL;
    *n = 0;
    mem_db *db = DB_OF_QUEUE(qq);
    int rc = 0;
    pthread_mutex_lock(&db->mu);
    size_t cnt = db->ndead;
    queue_msg *res = cnt ? calloc(cnt, sizeof *res) : NULL;
    if (cnt && !res)
        rc = STEP_ENOMEM;
    for (size_t i = 0; res && i < cnt; i++) {
        if ((rc = msg_copy(&res[i], &db->dead[i].m))) {
            queue_msgs_free(res, i);
            res = NULL;
        }
    }
    pthread_mutex_unlock(&db->mu);
    if (rc == 0) {
        *out = res;
        *n = cnt;
    }
    return rc;
}

static int mem_dlq_replay(queue *qq, const char *id, size_t *replayed) {
    mem_db *db = DB_OF_QUEUE(qq);
    size_t cnt = 0;
    int rc = 0;
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < db->ndead;) {
        if (id && strcmp(db->dead[i].m.id, id) != 0) {
            i++;
            continue;
        }
        if (find_msg(db->q, db->nq, db->dead[i].m.id) >= 0) {
            rc = STEP_ECONFLICT;
            break;
        }
        if (grow((void **)&db->q, &db->capq, db->nq + 1, sizeof *db->q)) {
            rc = STEP_ENOMEM;
            break;
        }
        mem_msg e = db->dead[i];
        memmove(&db->dead[i], &db->dead[i + 1], (db->ndead - i - 1) * sizeof *db->dead);
        db->ndead--;
        e.m.attempt = 0;
        e.claims = 0;
        e.m.due_ms = queue_now_ms();
        e.lease_until = 0;
        e.failed_ms = 0;
        db->q[db->nq++] = e;
        cnt++;
    }
    pthread_mutex_unlock(&db->mu);
    if (rc == 0 && id && cnt == 0)
        rc = STEP_ENOTFOUND;
    if (replayed)
        *replayed = cnt;
    return rc;
}

static int mem_counts(queue *qq, queue_counts *c) {
    if (!c)
        return STEP_EINVAL;
    mem_db *db = DB_OF_QUEUE(qq);
    int64_t now = queue_now_ms();
    *c = (queue_counts){0};
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < db->nq; i++) {
        if (db->q[i].lease_until > now)
            c->leased++;
        else
            c->ready++;
    }
    c->dead = db->ndead;
    pthread_mutex_unlock(&db->mu);
    return 0;
}

static void mem_queue_close(queue *qq) {
    if (qq)
        db_unref(DB_OF_QUEUE(qq));
}

static const queue_ops mem_queue_ops = {
    .name = "memory",
    .push = mem_push,
    .claim = mem_claim,
    .ack = mem_ack,
    .retry = mem_retry,
    .bury = mem_bury,
    .release = mem_release,
    .next_due = mem_next_due,
    .dlq_list = mem_dlq_list,
    .dlq_replay = mem_dlq_replay,
    .counts = mem_counts,
    .close = mem_queue_close,
};

int memory_store_open(state_store **state, queue **q) {
    if (state)
        *state = NULL;
    if (q)
        *q = NULL;
    if (!state && !q)
        return STEP_EINVAL;
    mem_db *db = calloc(1, sizeof *db);
    if (!db)
        return STEP_ENOMEM;
    pthread_mutex_init(&db->mu, NULL);
    db->state.ops = &mem_state_ops;
    db->queue.ops = &mem_queue_ops;
    db->refs = (state ? 1 : 0) + (q ? 1 : 0);
    if (state)
        *state = &db->state;
    if (q)
        *q = &db->queue;
    return 0;
}
