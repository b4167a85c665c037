/*
 * speech_asr_ps.c — the pocketsphinx recogniser behind stepd_speech_recognizer_vtable.
 *
 * Debian 12 ships pocketsphinx 5prealpha (cmd_ln_t configuration, sphinxbase), with the US
 * English acoustic model, language model and dictionary in /usr/share/pocketsphinx/model/
 * en-us. One instance is one ps_decoder_t: an utterance starts on the first feed, and
 * result() ends it and reads the best path's words, their frames (100 per second) and
 * posterior probabilities. Filler tokens (<s>, <sil>, [NOISE]) are dropped and alternate
 * pronunciation marks ("read(2)") stripped. pocketsphinx's own silence removal is off: the
 * caller's detector has already cut the audio, and removed frames would shift word times. Loading a
 * model goes through one mutex because sphinxbase's logging setup is global; decoding runs in
 * parallel on separate instances.
 */
#include "ai/speech_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <err.h> /* sphinxbase's err.h (this file alone gets its include path) */
#include <pocketsphinx.h>

#define PS_DEFAULT_MODEL "/usr/share/pocketsphinx/model/en-us"

typedef struct ps_rec {
    ps_decoder_t *ps;
    int in_utt;
    double frate;
} ps_rec;

static pthread_mutex_t ps_init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ps_log_once = PTHREAD_ONCE_INIT;

static void ps_quiet(void) {
    err_set_logfp(NULL); /* sphinxbase logs every setting at init otherwise */
}

static int ps_open(const char *model_dir, void **self, char **err) {
    const char *dir = model_dir && *model_dir ? model_dir : getenv("STEPD_SPEECH_MODEL_DIR");
    if (!dir || !*dir)
        dir = PS_DEFAULT_MODEL;
    size_t n = strlen(dir) + 32;
    char *hmm = malloc(n), *lm = malloc(n), *dict = malloc(n);
    ps_rec *r = calloc(1, sizeof(*r));
    int rc = 0;
    if (!hmm || !lm || !dict || !r) {
        rc = speech_fail(err, STEP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(hmm, n, "%s/en-us", dir);
    snprintf(lm, n, "%s/en-us.lm.bin", dir);
    snprintf(dict, n, "%s/cmudict-en-us.dict", dir);
    const char *need[] = {hmm, lm, dict};
    for (int i = 0; i < 3; i++)
        if (access(need[i], R_OK) != 0) {
            rc = speech_fail(err, STEP_ENOTFOUND,
                             "pocketsphinx model not found: %s is missing (install "
                             "pocketsphinx-en-us or set STEPD_SPEECH_MODEL_DIR)",
                             need[i]);
            goto out;
        }
    pthread_once(&ps_log_once, ps_quiet);
    pthread_mutex_lock(&ps_init_lock);
    cmd_ln_t *cfg = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
                                "-samprate", "16000", "-remove_silence", "no",
                                /* a third less CPU than the defaults, same words on our
                                 * round-trip set (bench/speech.sh compares) */
                                "-maxhmmpf", "3000", "-maxwpf", "10", NULL);
    if (cfg) {
        r->ps = ps_init(cfg);
        r->frate = cmd_ln_int32_r(cfg, "-frate");
        cmd_ln_free_r(cfg);
    }
    pthread_mutex_unlock(&ps_init_lock);
    if (!r->ps) {
        rc = speech_fail(err, STEP_EFAILED, "pocketsphinx could not load the model in %s", dir);
        goto out;
    }
    if (r->frate <= 0)
        r->frate = 100;
    *self = r;
    r = NULL;
out:
    free(hmm);
    free(lm);
    free(dict);
    free(r);
    return rc;
}

static int ps_feed(void *self, const int16_t *samples, size_t n) {
    ps_rec *r = self;
    if (!r->in_utt) {
        if (ps_start_utt(r->ps) < 0)
            return STEP_EFAILED;
        r->in_utt = 1;
    }
    return ps_process_raw(r->ps, samples, n, FALSE, FALSE) < 0 ? STEP_EFAILED : 0;
}

static int push_word(stepd_speech_word **words, size_t *n, const char *w, double s, double e,
                     double conf) {
    stepd_speech_word *t = realloc(*words, (*n + 1) * sizeof(**words));
    if (!t)
        return STEP_ENOMEM;
    *words = t;
    size_t len = strcspn(w, "(");
    char *copy = strndup(w, len);
    if (!copy)
        return STEP_ENOMEM;
    t[*n] = (stepd_speech_word){copy, s, e, conf};
    (*n)++;
    return 0;
}

static int ps_result(void *self, stepd_speech_word **words, size_t *n_words) {
    ps_rec *r = self;
    if (!r->in_utt)
        return 0;
    r->in_utt = 0;
    if (ps_end_utt(r->ps) < 0)
        return STEP_EFAILED;
    logmath_t *lmath = ps_get_logmath(r->ps);
    int rc = 0, base = -1;
    for (ps_seg_t *seg = ps_seg_iter(r->ps); seg; seg = ps_seg_next(seg)) {
        const char *w = ps_seg_word(seg);
        int sf, ef;
        int32 ascr, lscr, lback;
        ps_seg_frames(seg, &sf, &ef);
        /* This pocketsphinx numbers frames across utterances (not from the utterance start);
         * the sentence-start token <s> opens every utterance, so it marks frame 0. */
        if (base < 0)
            base = w && !strcmp(w, "<s>") ? sf : 0;
        sf -= base;
        ef -= base;
        if (rc || !w || !*w || w[0] == '<' || w[0] == '[')
            continue;
        double conf = logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
        if (conf > 1)
            conf = 1;
        if (conf < 0)
            conf = 0;
        rc = push_word(words, n_words, w, sf / r->frate, (ef + 1) / r->frate, conf);
    }
    return rc;
}

static void ps_close(void *self) {
    ps_rec *r = self;
    if (!r)
        return;
    ps_free(r->ps);
    free(r);
}

const stepd_speech_recognizer_vtable stepd_speech_pocketsphinx = {
    .name = "pocketsphinx",
    .language = "en-US",
    .open = ps_open,
    .feed = ps_feed,
    .result = ps_result,
    .close = ps_close,
};
