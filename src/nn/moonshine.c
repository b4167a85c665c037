/*
 * moonshine.c — Moonshine-tiny speech recognition on the nn engine (see moonshine.h).
 *
 * Encoder: input_values [1, N] -> last_hidden_state [1, T, 288].
 * Decoder (merged, with an If on use_cache_branch): one token per step. Step 0 feeds the
 * start token (1), use_cache_branch = false and empty past_key_values ([1, 8, 0, 36]); it
 * returns the cross-attention K/V (present.*.encoder.*), fed back unchanged from then on,
 * and the self-attention K/V (present.*.decoder.*), which grow by one per step and are moved
 * (not copied) from the outputs to the next step's inputs. Greedy argmax; stop at the end
 * token (2) or after trunc(seconds x 6) steps, as moonshine-js does.
 */
#include "nn/moonshine.h"
#include "nn/nn.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stepd/step.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VOCAB 32768
#define LAYERS 6
#define HEADS 8
#define HEAD_DIM 36
#define TOK_START 1
#define TOK_END 2

struct nn_moonshine {
    nn_model *enc, *dec;
    char **pieces; /* VOCAB entries, NULL when unknown */
    char dir[1024];
};

struct nn_moonshine_run {
    const nn_moonshine *m;
    nn_session *enc, *dec;
    nn_tensor *ids, *hidden, *use_cache;
    nn_tensor *past[LAYERS][4]; /* decoder.key, decoder.value, encoder.key, encoder.value */
    char present[LAYERS][4][48];
};

static const char *KV[4] = {"decoder.key", "decoder.value", "encoder.key", "encoder.value"};

const char *nn_moonshine_default_dir(const char *dir) {
    static char buf[1100];
    if (dir && *dir)
        return dir;
    const char *e = getenv("STEPD_NN_MODEL_DIR");
    if (e && *e)
        return e;
    const char *root = getenv("STEPD_ROOT");
    snprintf(buf, sizeof buf, "%s/build-data/nn/moonshine-tiny", root && *root ? root : ".");
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/encoder_model.onnx", buf);
    if (access(probe, R_OK) == 0)
        return buf;
    if (access("/var/lib/stepd/nn/moonshine-tiny/encoder_model.onnx", R_OK) == 0)
        return "/var/lib/stepd/nn/moonshine-tiny";
    return buf;
}

static int load_vocab(nn_moonshine *m, const char *path, char **err) {
    FILE *f = fopen(path, "r");
    if (!f)
        return nn_fail(err, STEP_ENOTFOUND, "%s: %s (install the model with %s)", path,
                       strerror(errno), NN_MOONSHINE_INSTALL);
    m->pieces = calloc(VOCAB, sizeof *m->pieces);
    if (!m->pieces) {
        fclose(f);
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        long id = strtol(line, NULL, 10);
        if (id < 0 || id >= VOCAB || m->pieces[id])
            continue;
        char *p = tab + 1, *o = p;
        for (; *p && *p != '\n'; p++) {
            if (*p == '\\' && (p[1] == '\\' || p[1] == 't')) {
                *o++ = p[1] == 't' ? '\t' : '\\';
                p++;
            } else
                *o++ = *p;
        }
        *o = 0;
        if (!(m->pieces[id] = strdup(tab + 1))) {
            fclose(f);
            return nn_fail(err, STEP_ENOMEM, "out of memory");
        }
        n++;
    }
    fclose(f);
    if (n < 1000)
        return nn_fail(err, STEP_EPARSE, "%s: only %d vocabulary entries (reinstall with %s)", path,
                       n, NN_MOONSHINE_INSTALL);
    return 0;
}

int nn_moonshine_load(const char *dir, nn_moonshine **out, char **err) {
    *out = NULL;
    dir = nn_moonshine_default_dir(dir);
    nn_moonshine *m = calloc(1, sizeof *m);
    if (!m)
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    char p[1200];
    int rc;
    snprintf(p, sizeof p, "%s/encoder_model.onnx", dir);
    if (access(p, R_OK) != 0) {
        rc = nn_fail(err, STEP_ENOTFOUND,
                     "the Moonshine model is not installed (%s missing): run %s, or set "
                     "STEPD_NN_MODEL_DIR",
                     p, NN_MOONSHINE_INSTALL);
        goto fail;
    }
    if ((rc = nn_onnx_load_file(p, 0, &m->enc, err)) < 0)
        goto fail;
    snprintf(p, sizeof p, "%s/decoder_model_merged.onnx", dir);
    if ((rc = nn_onnx_load_file(p, 0, &m->dec, err)) < 0)
        goto fail;
    snprintf(p, sizeof p, "%s/tokenizer.txt", dir);
    if ((rc = load_vocab(m, p, err)) < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    nn_moonshine_free(m);
    return rc;
}

void nn_moonshine_free(nn_moonshine *m) {
    if (!m)
        return;
    nn_model_free(m->enc);
    nn_model_free(m->dec);
    if (m->pieces)
        for (int i = 0; i < VOCAB; i++)
            free(m->pieces[i]);
    free(m->pieces);
    free(m);
}

int nn_moonshine_run_new(const nn_moonshine *m, int nthreads, nn_moonshine_run **out, char **err) {
    *out = NULL;
    nn_moonshine_run *r = calloc(1, sizeof *r);
    if (!r)
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    r->m = m;
    int rc;
    if ((rc = nn_session_new(m->enc, nthreads, &r->enc, err)) < 0 ||
        (rc = nn_session_new(m->dec, nthreads, &r->dec, err)) < 0)
        goto fail;
    r->ids = nn_session_input(r->dec, "input_ids");
    r->hidden = nn_session_input(r->dec, "encoder_hidden_states");
    r->use_cache = nn_session_input(r->dec, "use_cache_branch");
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 4; k++) {
            char name[64];
            snprintf(name, sizeof name, "past_key_values.%d.%s", l, KV[k]);
            r->past[l][k] = nn_session_input(r->dec, name);
            snprintf(r->present[l][k], sizeof r->present[l][k], "present.%d.%s", l, KV[k]);
            if (!r->past[l][k] || !nn_session_output(r->dec, r->present[l][k])) {
                rc = nn_fail(err, STEP_EPARSE,
                             "decoder model has no %s / %s: not a Moonshine decoder", name,
                             r->present[l][k]);
                goto fail;
            }
        }
    if (!r->ids || !r->hidden || !r->use_cache || !nn_session_input(r->enc, "input_values")) {
        rc = nn_fail(err, STEP_EPARSE,
                     "the models lack Moonshine's inputs (input_values, "
                     "input_ids, encoder_hidden_states, use_cache_branch)");
        goto fail;
    }
    *out = r;
    return 0;
fail:
    nn_moonshine_run_free(r);
    return rc;
}

void nn_moonshine_run_free(nn_moonshine_run *r) {
    if (!r)
        return;
    nn_session_free(r->enc);
    nn_session_free(r->dec);
    free(r);
}

size_t nn_moonshine_run_allocs(const nn_moonshine_run *r) {
    return nn_session_pool_allocs(r->enc) + nn_session_pool_allocs(r->dec);
}

void nn_moonshine_result_free(nn_moonshine_result *r) {
    if (!r)
        return;
    free(r->text);
    free(r->tokens);
    free(r->probs);
    memset(r, 0, sizeof *r);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

char *nn_moonshine_detokenize(const nn_moonshine *m, const int *ids, int n) {
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    for (int i = 0; i < n; i++) {
        const char *p = ids[i] >= 0 && ids[i] < VOCAB ? m->pieces[ids[i]] : NULL;
        if (!p || ids[i] < 3)
            continue;
        char tmp[8];
        unsigned bv;
        if (strlen(p) == 6 && sscanf(p, "<0x%2X>", &bv) == 1) {
            tmp[0] = (char)bv;
            tmp[1] = 0;
            p = tmp;
        }
        size_t pl = strlen(p);
        if (len + pl * 2 + 2 > cap) {
            while (len + pl * 2 + 2 > cap)
                cap *= 2;
            char *t = realloc(s, cap);
            if (!t) {
                free(s);
                return NULL;
            }
            s = t;
        }
        for (size_t k = 0; k < pl; k++) {
            if ((unsigned char)p[k] == 0xe2 && (unsigned char)p[k + 1] == 0x96 &&
                (unsigned char)p[k + 2] == 0x81) { /* U+2581 */
                s[len++] = ' ';
                k += 2;
            } else
                s[len++] = p[k];
        }
    }
    s[len] = 0;
    /* trim */
    size_t a = 0;
    while (s[a] == ' ')
        a++;
    while (len > a && s[len - 1] == ' ')
        s[--len] = 0;
    memmove(s, s + a, len - a + 1);
    return s;
}

/* Step 0's past: empty [1, 8, 0, 36] tensors (no buffer needed). The previous utterance's
 * cache buffers go back to the decoder's pool first, so the next one reuses them. */
static void set_empty_past(nn_moonshine_run *r) {
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 4; k++) {
            nn_tensor *t = r->past[l][k];
            nn_session_recycle(r->dec, t);
            *t = (nn_tensor){.dtype = NN_F32, .ndim = 4, .dims = {1, HEADS, 0, HEAD_DIM}};
        }
}

int nn_moonshine_transcribe(nn_moonshine_run *r, const float *samples, size_t n,
                            nn_moonshine_result *out, char **err) {
    memset(out, 0, sizeof *out);
    if (n < NN_MOONSHINE_RATE / 10) {
        out->text = strdup("");
        return out->text ? 0 : nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    if (n > (size_t)NN_MOONSHINE_RATE * 600)
        return nn_fail(err, STEP_EINVAL,
                       "%.0f s of audio in one piece: cut it first (at most 600 s)",
                       (double)n / NN_MOONSHINE_RATE);
    double t0 = now_ms();
    /* the last utterance's encoder output and cache go back to the pools they came from */
    nn_session_recycle(r->enc, r->hidden);
    set_empty_past(r);
    nn_tensor *in = nn_session_input(r->enc, "input_values");
    int rc = nn_tensor_alloc(in, NN_F32, 2, (int64_t[]){1, (int64_t)n});
    if (rc < 0)
        return nn_fail(err, rc, "out of memory");
    memcpy(in->data, samples, n * sizeof *samples);
    if ((rc = nn_session_run(r->enc, err)) < 0)
        return rc;
    if ((rc = nn_session_take(r->enc, "last_hidden_state", r->hidden)) < 0)
        return nn_fail(err, rc, "encoder output missing");
    double t1 = now_ms();
    out->encode_ms = t1 - t0;

    int max_len = (int)((double)n / NN_MOONSHINE_RATE * 6.0);
    if (max_len < 1)
        max_len = 1;
    out->tokens = malloc((size_t)(max_len + 1) * sizeof *out->tokens);
    out->probs = malloc((size_t)(max_len + 1) * sizeof *out->probs);
    if (!out->tokens || !out->probs) {
        nn_moonshine_result_free(out);
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    if ((rc = nn_tensor_alloc(r->ids, NN_I64, 2, (int64_t[]){1, 1})) < 0 ||
        (rc = nn_tensor_alloc(r->use_cache, NN_BOOL, 1, (int64_t[]){1})) < 0) {
        nn_moonshine_result_free(out);
        return nn_fail(err, rc, "out of memory");
    }
    int64_t tok = TOK_START;
    out->hit_max_len = 1;
    for (int step = 0; step < max_len; step++) {
        *(int64_t *)r->ids->data = tok;
        *(uint8_t *)r->use_cache->data = step > 0;
        if ((rc = nn_session_run(r->dec, err)) < 0) {
            nn_moonshine_result_free(out);
            return rc;
        }
        const nn_tensor *lg = nn_session_output(r->dec, "logits");
        int64_t V = lg->dims[lg->ndim - 1];
        const float *z = lg->data;
        int64_t best = 0;
        for (int64_t v = 1; v < V; v++)
            if (z[v] > z[best])
                best = v;
        double sum = 0;
        for (int64_t v = 0; v < V; v++)
            sum += exp((double)(z[v] - z[best]));
        if (best == TOK_END) {
            out->hit_max_len = 0;
            break;
        }
        out->tokens[out->n_tokens] = (int)best;
        out->probs[out->n_tokens++] = (float)(1.0 / sum);
        tok = best;
        for (int l = 0; l < LAYERS; l++)
            for (int k = 0; k < (step == 0 ? 4 : 2); k++)
                if ((rc = nn_session_take(r->dec, r->present[l][k], r->past[l][k])) < 0) {
                    nn_moonshine_result_free(out);
                    return nn_fail(err, rc, "decoder output %s missing", r->present[l][k]);
                }
    }
    out->decode_ms = now_ms() - t1;
    out->text = nn_moonshine_detokenize(r->m, out->tokens, out->n_tokens);
    if (!out->text) {
        nn_moonshine_result_free(out);
        return nn_fail(err, STEP_ENOMEM, "out of memory");
    }
    return 0;
}

size_t nn_moonshine_cut_point(const float *x, size_t n, size_t max_samples) {
    if (n <= max_samples)
        return n;
    size_t win = NN_MOONSHINE_RATE * 3 / 10, lo = max_samples / 2, best = max_samples;
    double best_e = INFINITY;
    for (size_t s = lo; s + win <= max_samples; s += NN_MOONSHINE_RATE / 100) {
        double e = 0;
        for (size_t i = s; i < s + win; i++)
            e += (double)x[i] * x[i];
        if (e < best_e) {
            best_e = e;
            best = s + win / 2;
        }
    }
    return best ? best : max_samples;
}
