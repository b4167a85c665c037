/*
 * speech.c — text to speech. flite (voices slt, rms, awb, kal16, linked statically) is the
 * default English engine; espeak-ng speaks the other languages and English on request.
 *
 * Text is cut into sentences (and over-long sentences at spaces) and each sentence is
 * synthesised separately, its samples handed to the caller's callback: memory stays bounded
 * by the longest sentence, and a long text becomes one continuous stream. Rate and pitch are
 * set per utterance on flite (duration_stretch, f0_shift / int_f0_target_mean), so flite calls
 * do not disturb each other's settings; espeak-ng keeps global state, so every espeak call
 * holds one mutex. Voices are registered once (pthread_once). Also here: WAV encoding and the
 * list of installed voices.
 */
#include "ai/speech_internal.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>
#include <flite/flite.h>

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);
cst_voice *register_cmu_us_kal16(const char *voxdir);

int speech_fail(char **err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
            msg = NULL;
        va_end(ap);
        *err = msg;
    }
    return code;
}

void stepd_speech_audio_free(stepd_speech_audio *a) {
    if (!a)
        return;
    free(a->samples);
    memset(a, 0, sizeof(*a));
}

/* ---- WAV ---------------------------------------------------------------------------------- */

static void put_le(unsigned char *p, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int stepd_speech_wav_encode(const stepd_speech_audio *a, unsigned char **out, size_t *out_len) {
    if (!a || !out || !out_len || a->sample_rate <= 0 || (a->n_samples && !a->samples) ||
        a->n_samples > (UINT32_MAX - 44) / 2)
        return STEP_EINVAL;
    size_t data = a->n_samples * 2, len = 44 + data;
    unsigned char *b = malloc(len);
    if (!b)
        return STEP_ENOMEM;
    memcpy(b, "RIFF", 4);
    put_le(b + 4, (uint32_t)(len - 8), 4);
    memcpy(b + 8, "WAVEfmt ", 8);
    put_le(b + 16, 16, 4);
    put_le(b + 20, 1, 2); /* PCM */
    put_le(b + 22, 1, 2); /* mono */
    put_le(b + 24, (uint32_t)a->sample_rate, 4);
    put_le(b + 28, (uint32_t)a->sample_rate * 2, 4);
    put_le(b + 32, 2, 2);
    put_le(b + 34, 16, 2);
    memcpy(b + 36, "data", 4);
    put_le(b + 40, (uint32_t)data, 4);
    for (size_t i = 0; i < a->n_samples; i++)
        put_le(b + 44 + 2 * i, (uint16_t)a->samples[i], 2);
    *out = b;
    *out_len = len;
    return 0;
}

int stepd_speech_wav_write(const stepd_speech_audio *a, const char *path, char **err) {
    if (err)
        *err = NULL;
    if (!path)
        return speech_fail(err, STEP_EINVAL, "no output path");
    unsigned char *buf;
    size_t len;
    int rc = stepd_speech_wav_encode(a, &buf, &len);
    if (rc)
        return speech_fail(err, rc, "cannot encode WAV: %s", step_strerror(rc));
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return speech_fail(err, STEP_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    size_t w = fwrite(buf, 1, len, f);
    free(buf);
    if (fclose(f) != 0 || w != len)
        return speech_fail(err, STEP_EIO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- sentences ---------------------------------------------------------------------------- */

#define SENTENCE_MAX 600 /* bytes; longer sentences are cut at a space */

/* Finds the next sentence in text[*pos..]: returns its start and sets *len (0 at the end). */
static const char *next_sentence(const char *text, size_t *pos, size_t *len) {
    size_t i = *pos;
    while (text[i] && isspace((unsigned char)text[i]))
        i++;
    size_t start = i, last_space = 0;
    while (text[i]) {
        char c = text[i];
        if (c == '\n' && text[i + 1] == '\n')
            break;
        if ((c == '.' || c == '!' || c == '?' || c == ';') &&
            (text[i + 1] == 0 || isspace((unsigned char)text[i + 1]))) {
            i++;
            break;
        }
        if (isspace((unsigned char)c))
            last_space = i;
        if (i - start >= SENTENCE_MAX && last_space > start) {
            i = last_space;
            break;
        }
        i++;
    }
    *len = i - start;
    *pos = i;
    return text + start;
}

static int has_letters_or_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (isalnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            return 1;
    return 0;
}

/* ---- flite -------------------------------------------------------------------------------- */

typedef struct flite_voice_def {
    const char *name;
    cst_voice *(*reg)(const char *);
    cst_voice *voice;
} flite_voice_def;

static flite_voice_def flite_voices[] = {
    {"slt", register_cmu_us_slt, NULL},
    {"rms", register_cmu_us_rms, NULL},
    {"awb", register_cmu_us_awb, NULL},
    {"kal16", register_cmu_us_kal16, NULL},
};
#define N_FLITE (sizeof(flite_voices) / sizeof(flite_voices[0]))
static pthread_once_t flite_once = PTHREAD_ONCE_INIT;

static void flite_setup(void) {
    flite_init();
    for (size_t i = 0; i < N_FLITE; i++)
        flite_voices[i].voice = flite_voices[i].reg(NULL);
}

static cst_voice *flite_voice(const char *name) {
    pthread_once(&flite_once, flite_setup);
    if (!name || !*name)
        name = "slt";
    if (!strncmp(name, "cmu_us_", 7))
        name += 7;
    for (size_t i = 0; i < N_FLITE; i++)
        if (!strcasecmp(name, flite_voices[i].name))
            return flite_voices[i].voice;
    return NULL;
}

/* flite's shared voice data is not documented as safe for concurrent synthesis; a sentence
 * takes a few milliseconds, so calls are serialised rather than risking it. */
static pthread_mutex_t flite_lock = PTHREAD_MUTEX_INITIALIZER;

static int flite_say(cst_voice *v, const char *sentence, double rate, double pitch,
                     stepd_speech_pcm_fn fn, void *user, int *sr) {
    pthread_mutex_lock(&flite_lock);
    cst_utterance *u = new_utterance();
    utt_set_input_text(u, sentence);
    utt_init(u, v);
    feat_set_float(u->features, "duration_stretch", (float)(1.0 / rate));
    if (pitch != 1.0) {
        feat_set_float(u->features, "f0_shift", (float)pitch);
        float mean = get_param_float(v->features, "int_f0_target_mean", 100.0f);
        feat_set_float(u->features, "int_f0_target_mean", (float)(mean * pitch));
    }
    int rc = 0;
    cst_wave *w = utt_synth(u) ? utt_wave(u) : NULL;
    if (!w) {
        delete_utterance(u);
        pthread_mutex_unlock(&flite_lock);
        return STEP_EFAILED;
    }
    /* The callback runs outside the lock, on the utterance we still own. */
    pthread_mutex_unlock(&flite_lock);
    if (w->num_samples > 0) {
        *sr = w->sample_rate;
        if (fn(user, w->samples, (size_t)w->num_samples, w->sample_rate))
            rc = STEP_EFAILED;
    }
    pthread_mutex_lock(&flite_lock);
    delete_utterance(u);
    pthread_mutex_unlock(&flite_lock);
    return rc;
}

/* ---- espeak-ng ---------------------------------------------------------------------------- */

static pthread_mutex_t espeak_lock = PTHREAD_MUTEX_INITIALIZER;
static int espeak_state; /* 0 not tried, 1 ready, -1 failed */
static int espeak_rate = 22050;

typedef struct espeak_call {
    stepd_speech_pcm_fn fn;
    void *user;
    int stopped;
} espeak_call;

static int espeak_cb(short *wav, int n, espeak_EVENT *ev) {
    espeak_call *c = ev ? ev->user_data : NULL;
    if (!c || c->stopped)
        return 1;
    if (wav && n > 0 && c->fn(c->user, wav, (size_t)n, espeak_rate)) {
        c->stopped = 1;
        return 1;
    }
    return 0;
}

/* Caller holds espeak_lock. */
static int espeak_ready(void) {
    if (espeak_state == 0) {
        espeak_ng_InitializePath(NULL);
        espeak_ng_ERROR_CONTEXT ctx = NULL;
        espeak_state = -1;
        if (espeak_ng_Initialize(&ctx) == ENS_OK &&
            espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL) == ENS_OK) {
            espeak_SetSynthCallback(espeak_cb);
            espeak_rate = espeak_ng_GetSampleRate();
            espeak_state = 1;
        }
        if (ctx)
            espeak_ng_ClearErrorContext(&ctx);
    }
    return espeak_state == 1;
}

/* Appends the language codes of espeak-ng's voices to a malloc'ed, comma-separated list.
 * Caller holds espeak_lock. */
static char *espeak_language_list(void) {
    const espeak_VOICE **vs = espeak_ListVoices(NULL);
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = 0;
    for (size_t i = 0; vs && vs[i]; i++) {
        const char *lang = vs[i]->languages ? vs[i]->languages + 1 : vs[i]->name;
        size_t n = strlen(lang);
        if (len + n + 3 > cap) {
            char *t = realloc(s, cap * 2);
            if (!t)
                break;
            s = t;
            cap *= 2;
        }
        len += (size_t)sprintf(s + len, "%s%s", len ? ", " : "", lang);
    }
    return s;
}

/* ---- synthesis entry points --------------------------------------------------------------- */

static int is_english(const char *lang) {
    return !lang || !*lang || !strncasecmp(lang, "en", 2);
}

static double clampd(double v, double lo, double hi, double dflt) {
    if (v == 0 || v != v)
        return dflt;
    return v < lo ? lo : v > hi ? hi : v;
}

int stepd_speech_synthesize_stream(const char *text, const stepd_speech_synth_opts *opts,
                                   stepd_speech_pcm_fn fn, void *user, int *sample_rate,
                                   char **err) {
    if (err)
        *err = NULL;
    stepd_speech_synth_opts o = {0};
    if (opts)
        o = *opts;
    if (!fn)
        return speech_fail(err, STEP_EINVAL, "no sample callback");
    if (!text || !has_letters_or_digits(text, strlen(text)))
        return speech_fail(err, STEP_EINVAL, "nothing to say: the text is empty or blank");
    double rate = clampd(o.rate, 0.25, 4.0, 1.0), pitch = clampd(o.pitch, 0.5, 2.0, 1.0);
    int use_espeak;
    if (!o.engine || !*o.engine)
        use_espeak = !is_english(o.language);
    else if (!strcasecmp(o.engine, "flite"))
        use_espeak = 0;
    else if (!strcasecmp(o.engine, "espeak") || !strcasecmp(o.engine, "espeak-ng"))
        use_espeak = 1;
    else
        return speech_fail(err, STEP_ENOTFOUND,
                           "unknown speech engine '%s'; installed: flite, espeak", o.engine);
    size_t tlen = strlen(text);
    char *sentence = malloc(tlen + 1);
    if (!sentence)
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    int rc = 0, sr = 0;

    if (!use_espeak) {
        if (!is_english(o.language)) {
            free(sentence);
            return speech_fail(err, STEP_ENOTFOUND,
                               "flite speaks English only, not '%s'; use engine \"espeak\" "
                               "for other languages",
                               o.language);
        }
        cst_voice *v = flite_voice(o.voice);
        if (!v) {
            free(sentence);
            return speech_fail(err, STEP_ENOTFOUND,
                               "flite voice '%s' is not installed; installed: slt, rms, awb, "
                               "kal16",
                               o.voice);
        }
        size_t pos = 0, n;
        const char *s;
        while (!rc && (s = next_sentence(text, &pos, &n), n > 0)) {
            if (!has_letters_or_digits(s, n))
                continue;
            memcpy(sentence, s, n);
            sentence[n] = 0;
            rc = flite_say(v, sentence, rate, pitch, fn, user, &sr);
        }
        if (rc)
            speech_fail(err, rc, "flite synthesis %s",
                        rc == STEP_EFAILED ? "stopped or failed" : "failed");
    } else {
        pthread_mutex_lock(&espeak_lock);
        if (!espeak_ready()) {
            rc = speech_fail(err, STEP_EUNSUPPORTED,
                             "espeak-ng could not start (is espeak-ng-data installed?)");
        } else {
            const char *vname = o.voice && *o.voice ? o.voice : o.language ? o.language : "en";
            if (espeak_ng_SetVoiceByName(vname) != ENS_OK) {
                char *list = espeak_language_list();
                rc = speech_fail(err, STEP_ENOTFOUND,
                                 "espeak-ng voice or language '%s' is not installed; installed: "
                                 "%s",
                                 vname, list ? list : "?");
                free(list);
            }
        }
        if (!rc) {
            int wpm = (int)(175 * rate), p = (int)(50 * pitch);
            espeak_ng_SetParameter(espeakRATE, wpm < 80 ? 80 : wpm > 450 ? 450 : wpm, 0);
            espeak_ng_SetParameter(espeakPITCH, p > 100 ? 100 : p, 0);
            espeak_call call = {fn, user, 0};
            size_t pos = 0, n;
            const char *s;
            sr = espeak_rate;
            while (!rc && (s = next_sentence(text, &pos, &n), n > 0)) {
                if (!has_letters_or_digits(s, n))
                    continue;
                memcpy(sentence, s, n);
                sentence[n] = 0;
                espeak_ng_STATUS st = espeak_ng_Synthesize(sentence, n + 1, 0, POS_CHARACTER, 0,
                                                           espeakCHARS_UTF8, NULL, &call);
                if (call.stopped)
                    rc = speech_fail(err, STEP_EFAILED, "espeak-ng synthesis stopped");
                else if (st != ENS_OK)
                    rc = speech_fail(err, STEP_EFAILED, "espeak-ng synthesis failed (status %d)",
                                     (int)st);
            }
        }
        pthread_mutex_unlock(&espeak_lock);
    }
    free(sentence);
    if (!rc && sample_rate)
        *sample_rate = sr ? sr : use_espeak ? espeak_rate : 16000;
    return rc;
}

typedef struct collect {
    stepd_speech_audio *a;
    size_t cap;
} collect;

static int collect_pcm(void *user, const int16_t *s, size_t n, int sr) {
    collect *c = user;
    if (c->a->n_samples + n > c->cap) {
        size_t cap = c->cap ? c->cap : 16000;
        while (cap < c->a->n_samples + n)
            cap *= 2;
        int16_t *t = realloc(c->a->samples, cap * sizeof(int16_t));
        if (!t)
            return 1;
        c->a->samples = t;
        c->cap = cap;
    }
    memcpy(c->a->samples + c->a->n_samples, s, n * sizeof(int16_t));
    c->a->n_samples += n;
    c->a->sample_rate = sr;
    return 0;
}

int stepd_speech_synthesize(const char *text, const stepd_speech_synth_opts *opts,
                            stepd_speech_audio *out, char **err) {
    if (err)
        *err = NULL;
    if (!out)
        return speech_fail(err, STEP_EINVAL, "no output audio");
    memset(out, 0, sizeof(*out));
    collect c = {out, 0};
    int sr = 0;
    int rc = stepd_speech_synthesize_stream(text, opts, collect_pcm, &c, &sr, err);
    if (rc) {
        stepd_speech_audio_free(out);
        return rc;
    }
    out->sample_rate = sr;
    out->duration_sec = sr > 0 ? (double)out->n_samples / sr : 0;
    return 0;
}

int stepd_speech_voices(json_t **out) {
    if (!out)
        return STEP_EINVAL;
    json_t *arr = json_array();
    if (!arr)
        return STEP_ENOMEM;
    pthread_once(&flite_once, flite_setup);
    for (size_t i = 0; i < N_FLITE; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:i}", "engine", "flite", "voice",
                                             flite_voices[i].name, "language", "en", "sampleRate",
                                             16000));
    pthread_mutex_lock(&espeak_lock);
    if (espeak_ready()) {
        const espeak_VOICE **vs = espeak_ListVoices(NULL);
        for (size_t i = 0; vs && vs[i]; i++)
            json_array_append_new(
                arr, json_pack("{s:s,s:s,s:s,s:s,s:i}", "engine", "espeak", "voice",
                               vs[i]->languages ? vs[i]->languages + 1 : vs[i]->name, "language",
                               vs[i]->languages ? vs[i]->languages + 1 : "", "name",
                               vs[i]->name ? vs[i]->name : "", "sampleRate", espeak_rate));
    }
    pthread_mutex_unlock(&espeak_lock);
    *out = arr;
    return 0;
}
