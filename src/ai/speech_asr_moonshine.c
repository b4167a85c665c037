/*
 * speech_asr_moonshine.c — the Moonshine recogniser (neural, src/nn/moonshine.c) behind the
 * speech module's vtable. The model pair and vocabulary are loaded once per process (per
 * model directory) and shared; each recogniser instance has its own sessions. feed()
 * collects one utterance as float samples; result() decodes it — cutting anything over 25 s
 * at its quietest 300 ms, since the model degrades past ~30 s — and returns words. Moonshine
 * gives text, not word times: each word gets a share of the utterance's voiced span (lead-in
 * and trailing pause trimmed) proportional to its length, and the confidence of its tokens'
 * mean probability. Old spellings the model learnt from books (to-morrow) are modernised.
 */
#include "ai/speech_asr_moonshine.h"
#include "ai/speech_internal.h"
#include "nn/moonshine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_PIECE (NN_MOONSHINE_RATE * 25)

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static nn_moonshine *shared; /* loaded once, kept for the life of the process */
static char shared_dir[1024];

typedef struct ms_rec {
    nn_moonshine_run *run;
    float *x;
    size_t n, cap;
} ms_rec;

int stepd_speech_moonshine_available(const char *model_dir) {
    char p[1200];
    snprintf(p, sizeof p, "%s/encoder_model.onnx", nn_moonshine_default_dir(model_dir));
    return access(p, R_OK) == 0;
}

static int ms_open(const char *model_dir, void **self, char **err) {
    *self = NULL;
    const char *dir = nn_moonshine_default_dir(model_dir);
    pthread_mutex_lock(&shared_mu);
    int rc = 0;
    if (shared && strcmp(shared_dir, dir) != 0) {
        rc = speech_fail(err, STEP_EINVAL,
                         "Moonshine is already loaded from %s (one model directory "
                         "per process)",
                         shared_dir);
    } else if (!shared) {
        rc = nn_moonshine_load(dir, &shared, err);
        if (rc == 0)
            snprintf(shared_dir, sizeof shared_dir, "%s", dir);
    }
    pthread_mutex_unlock(&shared_mu);
    if (rc < 0)
        return rc;
    ms_rec *r = calloc(1, sizeof *r);
    if (!r)
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    if ((rc = nn_moonshine_run_new(shared, 0, &r->run, err)) < 0) {
        free(r);
        return rc;
    }
    *self = r;
    return 0;
}

static int ms_feed(void *self, const int16_t *s, size_t n) {
    ms_rec *r = self;
    if (r->n + n > r->cap) {
        size_t cap = r->cap ? r->cap : NN_MOONSHINE_RATE * 4;
        while (cap < r->n + n)
            cap *= 2;
        float *x = realloc(r->x, cap * sizeof *x);
        if (!x)
            return STEP_ENOMEM;
        r->x = x;
        r->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        r->x[r->n + i] = (float)s[i] / 32768.0f;
    r->n += n;
    return 0;
}

/* Moonshine learnt from old books: "to-morrow", "to-night", "to-day". Writes today's spelling
 * over `w` in place (only ever shorter). */
static void modern_spelling(char *w) {
    static const char *const tails[] = {"morrow", "night", "day"};
    if (strncasecmp(w, "to-", 3) != 0)
        return;
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++)
        if (strncasecmp(w + 3, tails[i], strlen(tails[i])) == 0) {
            memmove(w + 2, w + 3, strlen(w + 3) + 1);
            return;
        }
}

/* The part of x[0..n) that holds the speech: from the first to the last 10 ms frame within
 * 30 dB of the loudest one. The silence detector hands over segments with 300 ms of lead-in
 * and a pause at the end; word times spread over the whole segment would start too early. */
static void voiced_span(const float *x, size_t n, size_t *from, size_t *to) {
    const size_t fr = NN_MOONSHINE_RATE / 100;
    double peak = 0;
    for (size_t i = 0; i + fr <= n; i += fr) {
        double e = 0;
        for (size_t k = i; k < i + fr; k++)
            e += (double)x[k] * x[k];
        if (e > peak)
            peak = e;
    }
    *from = 0;
    *to = n;
    if (peak <= 0)
        return;
    size_t first = n, last = 0;
    for (size_t i = 0; i + fr <= n; i += fr) {
        double e = 0;
        for (size_t k = i; k < i + fr; k++)
            e += (double)x[k] * x[k];
        if (e >= peak * 1e-3) {
            if (first == n)
                first = i;
            last = i + fr;
        }
    }
    if (first < last) {
        *from = first;
        *to = last;
    }
}

/* Appends the words of `text` spread over [t0, t1] seconds. */
static int add_words(const char *text, double t0, double t1, double conf, stepd_speech_word **words,
                     size_t *n_words) {
    size_t chars = 0, nw = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        chars += len + 1;
        nw++;
        p += len;
    }
    if (!nw)
        return 0;
    stepd_speech_word *w = realloc(*words, (*n_words + nw) * sizeof *w);
    if (!w)
        return STEP_ENOMEM;
    *words = w;
    double per = (t1 - t0) / (double)chars, t = t0;
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        stepd_speech_word *o = &w[(*n_words)++];
        o->word = strndup(p, len);
        if (!o->word) {
            (*n_words)--;
            return STEP_ENOMEM;
        }
        modern_spelling(o->word);
        o->start = t;
        o->end = t + per * (double)len;
        o->confidence = conf;
        t += per * (double)(len + 1);
        p += len;
    }
    return 0;
}

static int ms_result(void *self, stepd_speech_word **words, size_t *n_words) {
    ms_rec *r = self;
    int rc = 0;
    for (size_t off = 0; off < r->n && rc == 0;) {
        size_t len = nn_moonshine_cut_point(r->x + off, r->n - off, MAX_PIECE);
        nn_moonshine_result res;
        char *err = NULL;
        rc = nn_moonshine_transcribe(r->run, r->x + off, len, &res, &err);
        free(err);
        if (rc == 0) {
            double conf = 0;
            for (int i = 0; i < res.n_tokens; i++)
                conf += res.probs[i];
            conf = res.n_tokens ? conf / res.n_tokens : 0;
            size_t from, to;
            voiced_span(r->x + off, len, &from, &to);
            rc = add_words(res.text, (double)(off + from) / NN_MOONSHINE_RATE,
                           (double)(off + to) / NN_MOONSHINE_RATE, conf, words, n_words);
            nn_moonshine_result_free(&res);
        }
        off += len;
    }
    r->n = 0;
    return rc;
}

static void ms_close(void *self) {
    ms_rec *r = self;
    if (!r)
        return;
    nn_moonshine_run_free(r->run);
    free(r->x);
    free(r);
}

const stepd_speech_recognizer_vtable stepd_speech_moonshine = {
    .name = "moonshine",
    .language = "en",
    .open = ms_open,
    .feed = ms_feed,
    .result = ms_result,
    .close = ms_close,
};
