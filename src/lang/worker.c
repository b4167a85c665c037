/*
 * worker.c — see worker.h. Locking: each process has `mu` (its state and the list of
 * invocations waiting on it, each with a semaphore) and `wmu` (its stdin: lines from many
 * threads are combined into one write). Order: mu before wmu; nobody takes mu while holding
 * wmu. The reader decodes a whole read without the lock, routes it under `mu` and posts each
 * invocation that got messages once, after releasing `mu`: the per-call cost is dominated by
 * thread wake-ups, so there is one per invocation and batch, and the woken thread does not
 * queue on a lock the reader still holds. Only the reader
 * thread tears a process down (after EOF or garbage); a timed-out caller just kills the pid,
 * which makes the reader see EOF. A dead process is respawned by the next caller, which first
 * joins the old reader, so at most one reader per process slot exists at any time.
 */
#include "lang/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stepd/step.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

extern char **environ;

/* ---- codec ------------------------------------------------------------------------------- */

static int get_id(json_t *j, const char *key, uint64_t *out) {
    json_t *v = json_object_get(j, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int worker_msg_decode(const char *line, size_t len, worker_msg *out, const char **why) {
    memset(out, 0, sizeof(*out));
    *why = NULL;
    json_error_t je;
    json_t *j = json_loadb(line, len, 0, &je);
    if (!j) {
        *why = "not JSON";
        return STEP_EPARSE;
    }
    const char *t = json_string_value(json_object_get(j, "t"));
    if (!json_is_object(j) || !t) {
        *why = "not an object with a \"t\" field";
        goto bad;
    }
    if (!strcmp(t, "result")) {
        out->type = WMSG_RESULT;
        if (get_id(j, "id", &out->id) || !json_is_boolean(json_object_get(j, "ok"))) {
            *why = "result without an integer \"id\" and a boolean \"ok\"";
            goto bad;
        }
    } else if (!strcmp(t, "call")) {
        out->type = WMSG_CALL;
        json_t *args = json_object_get(j, "args");
        /* no "call" (or 0): the worker does not wait for a reply */
        if (get_id(j, "id", &out->id) ||
            (json_object_get(j, "call") && get_id(j, "call", &out->call)) ||
            !json_is_string(json_object_get(j, "op")) || (args && !json_is_object(args))) {
            *why = "call without integer \"id\" (and \"call\"), a string \"op\" and object "
                   "\"args\"";
            goto bad;
        }
    } else if (!strcmp(t, "log")) {
        out->type = WMSG_LOG;
        json_t *f = json_object_get(j, "fields");
        if (json_object_get(j, "id") && get_id(j, "id", &out->id)) {
            *why = "log with a bad \"id\"";
            goto bad;
        }
        if (!json_is_string(json_object_get(j, "msg")) ||
            (f && !json_is_object(f) && !json_is_null(f))) {
            *why = "log without a string \"msg\" (and object \"fields\")";
            goto bad;
        }
    } else if (!strcmp(t, "loaded")) {
        out->type = WMSG_LOADED;
        json_t *s = json_object_get(j, "steps"), *e = json_object_get(j, "errors");
        if (get_id(j, "id", &out->id) || !json_is_array(s) || (e && !json_is_array(e))) {
            *why = "loaded without an integer \"id\" and a \"steps\" array";
            goto bad;
        }
    } else {
        *why = "unknown message type";
        goto bad;
    }
    out->json = j;
    return 0;
bad:
    json_decref(j);
    return STEP_EPARSE;
}

void worker_msg_clear(worker_msg *m) {
    if (!m)
        return;
    json_decref(m->json);
    m->json = NULL;
}

int worker_linebuf_feed(worker_linebuf *lb, const char *data, size_t len) {
    if (lb->start > 0 && lb->start == lb->len) {
        lb->start = lb->len = 0;
    } else if (lb->start > 0 && lb->start >= lb->cap / 2) {
        memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
        lb->len -= lb->start;
        lb->start = 0;
    }
    if (lb->len + len + 1 > lb->cap) {
        size_t cap = lb->cap ? lb->cap : 65536;
        while (cap < lb->len + len + 1)
            cap *= 2;
        char *nb = realloc(lb->buf, cap);
        if (!nb)
            return STEP_ENOMEM;
        lb->buf = nb;
        lb->cap = cap;
    }
    memcpy(lb->buf + lb->len, data, len);
    size_t old = lb->len;
    lb->len += len;
    size_t max = lb->max ? lb->max : (64u << 20);
    /* the pending partial line must stay under the limit */
    const char *nl = memchr(lb->buf + old, '\n', len);
    if (!nl && lb->len - lb->start > max)
        return STEP_EPARSE;
    return 0;
}

const char *worker_linebuf_next(worker_linebuf *lb, size_t *len) {
    if (lb->start >= lb->len)
        return NULL;
    char *s = lb->buf + lb->start;
    char *nl = memchr(s, '\n', lb->len - lb->start);
    if (!nl)
        return NULL;
    *nl = '\0';
    *len = (size_t)(nl - s);
    lb->start = (size_t)(nl - lb->buf) + 1;
    return s;
}

void worker_linebuf_free(worker_linebuf *lb) {
    free(lb->buf);
    memset(lb, 0, sizeof(*lb));
}

/* ---- processes --------------------------------------------------------------------------- */

/* On the heap, shared by the waiting thread and (briefly, to post `sem` after dropping the
 * process lock) the reader: the last of them to let go frees it. */
typedef struct invocation {
    uint64_t id;
    sem_t sem;        /* posted when messages arrive or the invocation fails */
    atomic_int refs;  /* the waiting thread + readers about to post */
    worker_msg *q; /* messages for this invocation, in arrival order */
    size_t qhead, qlen, qcap;
    int failed;
    int wake; /* has messages the waiting thread was not signalled for yet */
    char why[256];
    struct invocation *prev, *next;
} invocation;

typedef struct wproc {
    worker_pool *pool;
    int idx;
    pthread_mutex_t mu, wmu;
    pid_t pid;
    int in_fd, out_fd;
    pthread_cond_t write_cv; /* with wmu: signalled when `writing` drops to 0 */
    int writing;             /* a thread is writing to in_fd (without wmu held) */
    char *out;               /* lines waiting for the writing thread (with wmu) */
    size_t out_len, out_cap;
    int alive;
    int killed;             /* we killed it; the reader has not noticed yet */
    pthread_cond_t dead_cv; /* signalled when the reader marks the process dead */
    int reader_started;
    pthread_t reader;
    invocation *inv;
    atomic_int inflight; /* changed with mu held; read without it to pick a process */
    atomic_int_fast64_t heard_ms; /* last message from the process, or work given to an idle one */
    int64_t spawned_ms;
    int quick_deaths; /* consecutive deaths within a second of spawning */
} wproc;

struct worker_pool {
    char *lang, *dir;
    char **argv;
    int n;
    wproc *procs;
    pthread_mutex_t mu; /* files */
    json_t *files;
    atomic_uint_fast64_t next_id;
    atomic_uint rr;
    int pack; /* in-flight invocations a process takes before the next one gets any */
    atomic_uint_fast64_t spawned, died, invocations;
    atomic_int closing;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return STEP_EIO;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Lines from many threads are combined: a thread that finds a write under way appends its
 * line to `out` and returns; the writing thread sends whatever has piled up when its write
 * ends, so a burst of invocations costs the worker one wake-up. A failed write of a line that
 * someone else's thread carried surfaces when the reader sees the process die. */
static int proc_write(wproc *w, const char *s, size_t n) {
    pthread_mutex_lock(&w->wmu);
    if (w->in_fd < 0) {
        pthread_mutex_unlock(&w->wmu);
        return STEP_EIO;
    }
    if (w->writing) {
        if (w->out_len + n > w->out_cap) {
            size_t cap = w->out_cap ? w->out_cap : 65536;
            while (cap < w->out_len + n)
                cap *= 2;
            char *nb = realloc(w->out, cap);
            if (!nb) {
                pthread_mutex_unlock(&w->wmu);
                return STEP_ENOMEM;
            }
            w->out = nb;
            w->out_cap = cap;
        }
        memcpy(w->out + w->out_len, s, n);
        w->out_len += n;
        pthread_mutex_unlock(&w->wmu);
        return 0;
    }
    w->writing = 1;
    int fd = w->in_fd;
    pthread_mutex_unlock(&w->wmu);
    int rc = write_all(fd, s, n);
    char *mine = NULL;
    size_t mine_cap = 0;
    pthread_mutex_lock(&w->wmu);
    while (!rc && w->out_len > 0 && w->in_fd == fd) {
        /* swap buffers so others can append while this thread writes */
        char *pending = w->out;
        size_t len = w->out_len, pending_cap = w->out_cap;
        w->out = mine;
        w->out_cap = mine_cap;
        w->out_len = 0;
        pthread_mutex_unlock(&w->wmu);
        rc = write_all(fd, pending, len);
        mine = pending;
        mine_cap = pending_cap;
        pthread_mutex_lock(&w->wmu);
    }
    if (rc)
        w->out_len = 0; /* the process is dying: what is left goes nowhere */
    if (!w->out) {
        w->out = mine;
        w->out_cap = mine_cap;
        mine = NULL;
    }
    w->writing = 0;
    pthread_cond_broadcast(&w->write_cv);
    pthread_mutex_unlock(&w->wmu);
    free(mine);
    return rc;
}

/* Closes the process's stdin once no thread is writing to it (the fd must not be reused
 * under a writer's feet). Kill the process first, so a write blocked on a full pipe ends. */
static void proc_close_stdin(wproc *w) {
    pthread_mutex_lock(&w->wmu);
    while (w->writing)
        pthread_cond_wait(&w->write_cv, &w->wmu);
    if (w->in_fd >= 0)
        close(w->in_fd);
    w->in_fd = -1;
    w->out_len = 0;
    pthread_mutex_unlock(&w->wmu);
}

static int proc_send(wproc *w, json_t *msg) {
    char *text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return STEP_ENOMEM;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return STEP_ENOMEM;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    int rc = proc_write(w, line, n + 1);
    free(line);
    return rc;
}

static void log_loaded_errors(worker_pool *p, json_t *msg) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(msg, "errors"), i, e) {
        json_t *f = json_pack("{s:s, s:O?}", "lang", p->lang, "error", e);
        log_write(STEP_LOG_ERROR, NULL, NULL, "a replacement worker failed to load a step", f);
        json_decref(f);
    }
}

static void log_orphan(worker_pool *p, worker_msg *m) {
    if (m->type == WMSG_LOADED) {
        log_loaded_errors(p, m->json);
    } else if (m->type == WMSG_LOG) {
        const char *lvl = json_string_value(json_object_get(m->json, "level"));
        int l = log_level_parse(lvl ? lvl : "info");
        log_write(l < 0 ? STEP_LOG_INFO : (step_log_level)l, NULL, NULL,
                  json_string_value(json_object_get(m->json, "msg")),
                  json_object_get(m->json, "fields"));
    }
}

/* Reader side, mu held: hands the message to its invocation (takes ownership). */
static void route(wproc *w, worker_msg *m) {
    invocation *inv = w->inv;
    while (inv && inv->id != m->id)
        inv = inv->next;
    if (!inv || !m->id) {
        log_orphan(w->pool, m);
        worker_msg_clear(m);
        return;
    }
    if (inv->qlen == inv->qcap) {
        if (inv->qhead > 0) {
            memmove(inv->q, inv->q + inv->qhead, (inv->qlen - inv->qhead) * sizeof(worker_msg));
            inv->qlen -= inv->qhead;
            inv->qhead = 0;
        }
        if (inv->qlen == inv->qcap) {
            size_t cap = inv->qcap ? inv->qcap * 2 : 4;
            worker_msg *nq = realloc(inv->q, cap * sizeof(worker_msg));
            if (!nq) {
                worker_msg_clear(m);
                inv->failed = 1;
                snprintf(inv->why, sizeof(inv->why), "out of memory");
                inv->wake = 1;
                return;
            }
            inv->q = nq;
            inv->qcap = cap;
        }
    }
    inv->q[inv->qlen++] = *m;
    inv->wake = 1; /* posted once per batch, by the reader */
}

static void inv_unref(invocation *inv) {
    if (atomic_fetch_sub(&inv->refs, 1) == 1) {
        sem_destroy(&inv->sem);
        free(inv);
    }
}

enum { WAKE_MAX = 64, STALL_MS = 20 };

/* Reader side, mu held: collects (and pins) the invocations that got messages from the last
 * batch, so they are posted after mu is released: a thread woken while the reader still
 * held mu would go straight back to sleep on it. */
static size_t collect_routed(wproc *w, invocation **wake) {
    size_t n = 0;
    for (invocation *inv = w->inv; inv; inv = inv->next) {
        if (!inv->wake)
            continue;
        inv->wake = 0;
        if (n < WAKE_MAX) {
            atomic_fetch_add(&inv->refs, 1);
            wake[n++] = inv;
        } else {
            sem_post(&inv->sem); /* safe under mu: the waiter unlinks under mu */
        }
    }
    return n;
}

static void *reader_main(void *arg) {
    wproc *w = arg;
    worker_pool *p = w->pool;
    pthread_mutex_lock(&w->mu);
    int fd = w->out_fd;
    pid_t pid = w->pid;
    pthread_mutex_unlock(&w->mu);
    worker_linebuf lb = {.max = 64u << 20};
    worker_msg *batch = NULL;
    size_t batch_cap = 0;
    char buf[65536], why[256] = "the worker process exited";
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (worker_linebuf_feed(&lb, buf, (size_t)n)) {
            snprintf(why, sizeof(why), "the worker wrote a line over %zu bytes", lb.max);
            break;
        }
        /* decode the whole batch without the lock, then route it and wake each waiting
         * thread once: one hand-off per invocation and read, not one per message */
        const char *line;
        size_t len, nb = 0;
        int bad = 0;
        while (!bad && (line = worker_linebuf_next(&lb, &len))) {
            if (len == 0)
                continue;
            const char *mwhy;
            if (nb == batch_cap) {
                size_t cap = batch_cap ? batch_cap * 2 : 64;
                worker_msg *nbuf = realloc(batch, cap * sizeof(*batch));
                if (!nbuf) {
                    snprintf(why, sizeof(why), "out of memory reading from the worker");
                    bad = 1;
                    break;
                }
                batch = nbuf;
                batch_cap = cap;
            }
            if (worker_msg_decode(line, len, &batch[nb], &mwhy)) {
                snprintf(why, sizeof(why),
                         "the worker wrote a line that is not a protocol message (%s): %.80s", mwhy,
                         line);
                bad = 1;
                break;
            }
            nb++;
        }
        invocation *wake[WAKE_MAX];
        atomic_store(&w->heard_ms, now_ms());
        pthread_mutex_lock(&w->mu);
        for (size_t i = 0; i < nb; i++)
            route(w, &batch[i]);
        size_t nw = collect_routed(w, wake);
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; i < nw; i++) {
            sem_post(&wake[i]->sem);
            inv_unref(wake[i]);
        }
        if (bad)
            break;
    }
    worker_linebuf_free(&lb);
    free(batch);
    kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    atomic_fetch_add(&p->died, 1);
    if (!strcmp(why, "the worker process exited")) {
        if (WIFEXITED(status))
            snprintf(why, sizeof(why), "the %s worker process exited with status %d%s", p->lang,
                     WEXITSTATUS(status),
                     WEXITSTATUS(status) == 127 ? " (its command was not found)" : "");
        else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
            snprintf(why, sizeof(why), "the %s worker process died of signal %d", p->lang,
                     WTERMSIG(status));
    }
    pthread_mutex_lock(&w->mu);
    w->alive = 0;
    pthread_cond_broadcast(&w->dead_cv);
    int quick = now_ms() - w->spawned_ms < 1000;
    w->quick_deaths = quick ? w->quick_deaths + 1 : 0;
    int busy = w->inflight;
    for (invocation *inv = w->inv; inv; inv = inv->next) {
        if (!inv->failed) {
            inv->failed = 1;
            snprintf(inv->why, sizeof(inv->why), "%s", why);
        }
        sem_post(&inv->sem);
    }
    pthread_mutex_unlock(&w->mu);
    proc_close_stdin(w);
    close(fd);
    if (!atomic_load(&p->closing)) {
        json_t *f = json_pack(
            "{s:s, s:i, s:s, s:i, s:i}", "lang", p->lang, "pid", (int)pid, "reason", why, "status",
            WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), "inflight", busy);
        log_write(STEP_LOG_WARN, NULL, NULL, "worker process stopped; it will be replaced", f);
        json_decref(f);
    }
    return NULL;
}

/* mu held: starts a process in slot w (after the previous one's reader finished). */
static int proc_start(wproc *w, char *err, size_t errlen) {
    worker_pool *p = w->pool;
    if (w->reader_started) {
        pthread_join(w->reader, NULL);
        w->reader_started = 0;
    }
    if (w->quick_deaths > 2) {
        /* a worker that dies at start-up must not turn into a fork storm */
        int64_t wait = 200LL * (w->quick_deaths > 10 ? 10 : w->quick_deaths);
        int64_t left = w->spawned_ms + wait - now_ms();
        if (left > 0)
            usleep((useconds_t)left * 1000);
    }
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        snprintf(err, errlen, "cannot create pipes for the %s worker: %s", p->lang,
                 strerror(errno));
        goto fail;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (p->dir)
        posix_spawn_file_actions_addchdir_np(&fa, p->dir);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    posix_spawnattr_setsigdefault(&at, &def);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    /* own process group: Ctrl-C in `stepd dev` reaches stepd, which then drains and stops us */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawnp(&pid, p->argv[0], &fa, &at, p->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc) {
        snprintf(err, errlen, "cannot start the %s worker \"%s\": %s", p->lang, p->argv[0],
                 strerror(rc));
        goto fail;
    }
    close(in[0]);
    close(out[1]);
    pthread_mutex_lock(&w->wmu);
    w->in_fd = in[1];
    pthread_mutex_unlock(&w->wmu);
    w->out_fd = out[0];
    w->pid = pid;
    w->alive = 1;
    w->killed = 0;
    w->spawned_ms = now_ms();
    atomic_fetch_add(&p->spawned, 1);
    if (pthread_create(&w->reader, NULL, reader_main, w)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        proc_close_stdin(w);
        close(w->out_fd);
        w->alive = 0;
        snprintf(err, errlen, "cannot start a reader thread for the %s worker", p->lang);
        return STEP_ENOMEM;
    }
    w->reader_started = 1;
    /* a replacement loads what the pool serves before anything else reaches it */
    pthread_mutex_lock(&p->mu);
    json_t *files = json_incref(p->files);
    pthread_mutex_unlock(&p->mu);
    if (files && json_array_size(files)) {
        json_t *msg = json_pack("{s:s, s:I, s:O}", "t", "load", "id",
                                (json_int_t)atomic_fetch_add(&p->next_id, 1), "files", files);
        if (msg)
            proc_send(w, msg);
        json_decref(msg);
    }
    json_decref(files);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    return STEP_EIO;
}

static json_t *error_obj(const char *msg) {
    return json_pack("{s:s}", "message", msg);
}

static void inv_unlink(wproc *w, invocation *inv) {
    if (inv->prev)
        inv->prev->next = inv->next;
    else
        w->inv = inv->next;
    if (inv->next)
        inv->next->prev = inv->prev;
    w->inflight--;
}

static int invoke_on(wproc *w, json_t *msg, int timeout_ms, worker_serve_fn serve, void *arg,
                     json_t **value, json_t **error) {
    worker_pool *p = w->pool;
    invocation *inv = calloc(1, sizeof(*inv));
    if (!inv) {
        *error = error_obj("out of memory");
        return STEP_ENOMEM;
    }
    inv->id = atomic_fetch_add(&p->next_id, 1);
    atomic_init(&inv->refs, 1);
    sem_init(&inv->sem, 0, 0);
    atomic_fetch_add(&p->invocations, 1);
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    if (atomic_load(&p->closing)) {
        pthread_mutex_unlock(&w->mu);
        inv_unref(inv);
        *error = error_obj("stepd is shutting down");
        return STEP_ECLOSED;
    }
    /* a process we just killed takes nothing new: wait for its reader to bury it */
    while (w->alive && w->killed)
        pthread_cond_wait(&w->dead_cv, &w->mu);
    if (!w->alive) {
        char err[512];
        rc = proc_start(w, err, sizeof(err));
        if (rc) {
            pthread_mutex_unlock(&w->mu);
            inv_unref(inv);
            *error = error_obj(err);
            return rc;
        }
    }
    pid_t pid = w->pid;
    inv->next = w->inv;
    if (w->inv)
        w->inv->prev = inv;
    w->inv = inv;
    if (w->inflight++ == 0)
        atomic_store(&w->heard_ms, now_ms());
    pthread_mutex_unlock(&w->mu);

    json_object_set_new(msg, "id", json_integer((json_int_t)inv->id));
    if (proc_send(w, msg)) {
        pthread_mutex_lock(&w->mu);
        if (!inv->failed) {
            inv->failed = 1;
            snprintf(inv->why, sizeof(inv->why), "cannot write to the %s worker", p->lang);
        }
        pthread_mutex_unlock(&w->mu);
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = (int64_t)dl.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
    dl.tv_sec += timeout_ms / 1000 + ns / 1000000000;
    dl.tv_nsec = (long)(ns % 1000000000);

    char *ff_error = NULL; /* first failure of a back-call sent without a call id */
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (inv->qhead < inv->qlen) {
            worker_msg m = inv->q[inv->qhead++];
            pthread_mutex_unlock(&w->mu);
            if (m.type == WMSG_RESULT || m.type == WMSG_LOADED) {
                json_t *j = m.json;
                if (m.type == WMSG_RESULT && ff_error && json_is_true(json_object_get(j, "ok"))) {
                    /* the handler finished, but a write it did not wait for failed */
                    *error = error_obj(ff_error);
                    rc = STEP_EFAILED;
                } else if (m.type == WMSG_LOADED || json_is_true(json_object_get(j, "ok"))) {
                    json_t *v = m.type == WMSG_LOADED ? j : json_object_get(j, "value");
                    *value = json_incref(v ? v : json_null());
                    rc = 0;
                } else {
                    json_t *e = json_object_get(j, "error");
                    *error = json_is_object(e)   ? json_incref(e)
                             : json_is_string(e) ? json_pack("{s:O}", "message", e)
                                                 : error_obj("handler failed");
                    rc = STEP_EFAILED;
                }
                worker_msg_clear(&m);
                pthread_mutex_lock(&w->mu);
                break;
            }
            json_t *val = NULL;
            char *err = NULL;
            int src = serve ? serve(arg, &m, &val, &err) : STEP_EUNSUPPORTED;
            if (m.type == WMSG_CALL && !m.call) {
                if (src && !ff_error) {
                    ff_error = err ? err : strdup(step_strerror(src));
                    err = NULL;
                }
            } else if (m.type == WMSG_CALL) {
                json_t *reply =
                    src ? json_pack("{s:s, s:I, s:b, s:s}", "t", "reply", "call",
                                    (json_int_t)m.call, "ok", 0, "error",
                                    err ? err : step_strerror(src))
                        : json_pack("{s:s, s:I, s:b, s:o}", "t", "reply", "call",
                                    (json_int_t)m.call, "ok", 1, "value", val ? val : json_null());
                val = NULL;
                if (reply)
                    proc_send(w, reply);
                json_decref(reply);
            }
            json_decref(val);
            free(err);
            worker_msg_clear(&m);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (inv->failed) {
            *error = error_obj(inv->why);
            rc = STEP_EFAILED;
            break;
        }
        pthread_mutex_unlock(&w->mu);
        int wr;
        while ((wr = sem_clockwait(&inv->sem, CLOCK_MONOTONIC, &dl)) != 0 && errno == EINTR)
            ;
        int timed_out = wr != 0 && errno == ETIMEDOUT;
        pthread_mutex_lock(&w->mu);
        if (timed_out && inv->qhead == inv->qlen && !inv->failed) {
            char why[200];
            snprintf(why, sizeof(why), "the %s worker did not answer within %d ms; it was killed",
                     p->lang, timeout_ms);
            *error = error_obj(why);
            rc = STEP_ETIMEOUT;
            if (w->alive && w->pid == pid) {
                json_t *f = json_pack("{s:s, s:i, s:i}", "lang", p->lang, "pid", (int)pid,
                                      "timeoutMs", timeout_ms);
                log_write(STEP_LOG_WARN, NULL, NULL,
                          "worker hung past the step timeout; killing it", f);
                json_decref(f);
                kill(pid, SIGKILL);
                w->killed = 1;
            }
            break;
        }
    }
    inv_unlink(w, inv);
    pthread_mutex_unlock(&w->mu);
    free(ff_error);
    for (size_t i = inv->qhead; i < inv->qlen; i++)
        worker_msg_clear(&inv->q[i]);
    free(inv->q);
    inv->q = NULL;
    inv_unref(inv);
    return rc;
}

int worker_invoke(worker_pool *p, json_t *msg, int timeout_ms, worker_serve_fn serve, void *arg,
                  json_t **value, json_t **error) {
    *value = NULL;
    *error = NULL;
    if (!p || !json_is_object(msg) || timeout_ms <= 0)
        return STEP_EINVAL;
    /* Pack, then spread: the first process with fewer than PACK invocations in flight, else
     * the least busy. A worker's cost is mostly per wake-up, so invocations that share one
     * (arrive together, answer in one write) are cheaper than the same spread over several
     * processes; a process that falls behind (a CPU-bound or hung handler) fills up and the
     * next one takes the overflow. A process that holds work but has said nothing for
     * STALL_MS (a hung or CPU-bound handler) takes no more while another can. pack 1 spreads
     * evenly. */
    int pack = p->pack;
    int64_t now = now_ms();
    wproc *best = NULL;
    int best_load = 0;
    unsigned start = pack > 1 ? 0 : atomic_fetch_add(&p->rr, 1);
    for (int k = 0; k < p->n; k++) {
        wproc *w = &p->procs[(start + (unsigned)k) % (unsigned)p->n];
        int load = atomic_load(&w->inflight);
        if (load < pack && (load == 0 || now - atomic_load(&w->heard_ms) < STALL_MS)) {
            best = w;
            break;
        }
        if (!best || load < best_load) {
            best = w;
            best_load = load;
        }
    }
    return invoke_on(best, msg, timeout_ms, serve, arg, value, error);
}

int worker_pool_load(worker_pool *p, json_t *files, int timeout_ms, json_t **loaded, char **err) {
    *loaded = NULL;
    *err = NULL;
    if (!p || !json_is_array(files))
        return STEP_EINVAL;
    json_t *first = NULL;
    int has_errors = 0;
    for (int i = 0; i < p->n; i++) {
        json_t *msg = json_pack("{s:s, s:O}", "t", "load", "files", files);
        json_t *v = NULL, *e = NULL;
        int rc = msg ? invoke_on(&p->procs[i], msg, timeout_ms, NULL, NULL, &v, &e) : STEP_ENOMEM;
        json_decref(msg);
        if (rc) {
            const char *m = json_string_value(json_object_get(e, "message"));
            if (asprintf(err, "the %s worker could not load the steps: %s", p->lang,
                         m ? m : step_strerror(rc)) < 0)
                *err = NULL;
            json_decref(e);
            json_decref(first);
            return rc;
        }
        if (json_array_size(json_object_get(v, "errors")))
            has_errors = 1;
        if (!first)
            first = v;
        else
            json_decref(v);
    }
    if (!has_errors) {
        pthread_mutex_lock(&p->mu);
        json_decref(p->files);
        p->files = json_deep_copy(files);
        pthread_mutex_unlock(&p->mu);
    }
    *loaded = first;
    return 0;
}

int worker_pool_new(const worker_pool_opts *o, worker_pool **out) {
    *out = NULL;
    if (!o || !o->argv || !o->argv[0] || o->processes < 1)
        return STEP_EINVAL;
    /* a write to a worker that just died must fail with EPIPE, not kill stepd */
    signal(SIGPIPE, SIG_IGN);
    worker_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return STEP_ENOMEM;
    int argc = 0;
    while (o->argv[argc])
        argc++;
    p->argv = calloc((size_t)argc + 1, sizeof(char *));
    p->procs = calloc((size_t)o->processes, sizeof(wproc));
    p->lang = strdup(o->lang ? o->lang : "worker");
    p->dir = o->dir ? strdup(o->dir) : NULL;
    p->files = json_array();
    pthread_mutex_init(&p->mu, NULL);
    atomic_init(&p->next_id, 1);
    int ok = p->argv && p->procs && p->lang && p->files && (!o->dir || p->dir);
    for (int i = 0; ok && i < argc; i++)
        ok = (p->argv[i] = strdup(o->argv[i])) != NULL;
    if (!ok) {
        p->n = 0;
        worker_pool_free(p);
        return STEP_ENOMEM;
    }
    p->n = o->processes;
    p->pack = o->pack > 0 ? o->pack : WORKER_PACK_DEFAULT;
    for (int i = 0; i < p->n; i++) {
        wproc *w = &p->procs[i];
        w->pool = p;
        w->idx = i;
        w->in_fd = w->out_fd = -1;
        pthread_mutex_init(&w->mu, NULL);
        pthread_mutex_init(&w->wmu, NULL);
        pthread_cond_init(&w->dead_cv, NULL);
        pthread_cond_init(&w->write_cv, NULL);
    }
    *out = p;
    return 0;
}

void worker_pool_close(worker_pool *p) {
    if (!p)
        return;
    atomic_store(&p->closing, 1);
    for (int i = 0; i < p->n; i++) {
        wproc *w = &p->procs[i];
        pthread_mutex_lock(&w->mu);
        if (w->alive && !w->killed) {
            kill(w->pid, SIGKILL);
            w->killed = 1;
        }
        pthread_mutex_unlock(&w->mu);
    }
}

void worker_pool_free(worker_pool *p) {
    if (!p)
        return;
    atomic_store(&p->closing, 1); /* reader: a stop we asked for is not worth a warning */
    for (int i = 0; i < p->n; i++) {
        wproc *w = &p->procs[i];
        pthread_mutex_lock(&w->mu);
        if (w->alive && !w->killed) {
            kill(w->pid, SIGKILL);
            proc_close_stdin(w);
        }
        int started = w->reader_started;
        pthread_mutex_unlock(&w->mu);
        if (started)
            pthread_join(w->reader, NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->wmu);
        pthread_cond_destroy(&w->dead_cv);
        pthread_cond_destroy(&w->write_cv);
        free(w->out);
    }
    for (int i = 0; p->argv && p->argv[i]; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->procs);
    free(p->lang);
    free(p->dir);
    json_decref(p->files);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void worker_pool_get_stats(worker_pool *p, worker_pool_stats *out) {
    out->spawned = atomic_load(&p->spawned);
    out->died = atomic_load(&p->died);
    out->invocations = atomic_load(&p->invocations);
}
