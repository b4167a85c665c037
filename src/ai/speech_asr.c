/*
 * speech_asr.c — transcription: voice-activity detection, segment-by-segment recognition
 * through the recogniser vtable, the per-thread decoder cache and the transcript JSON.
 *
 * The detector works on 10 ms frames of 16 kHz mono audio. It tracks the noise floor (falls
 * at once, rises slowly while no one speaks) and opens a segment when two consecutive frames
 * are both loud (12 dB over the floor) and voiced (few zero crossings: white noise and hiss
 * cross zero on about half the samples, vowels far less), starting 300 ms earlier (pre-roll
 * ring). The segment closes after 300 ms below floor + 8 dB (a sentence pause), after 120 ms
 * once it is longer than 10 s, and at 30 s at most, so the recogniser never holds more than one
 * bounded utterance. Samples stream straight into the recogniser; the only buffers are the pre-roll
 * ring and a 100 ms batch, so an hour of input costs what a minute does. Silence and noise
 * never reach the recogniser and give a "no speech" transcript.
 *
 * The default engine (a NULL vtable) is $STEPD_SPEECH_ENGINE when set, else Moonshine (neural,
 * src/nn) when its model is installed, else pocketsphinx. Each thread that transcribes without
 * its own recogniser gets a default-engine recogniser from a pthread key, created on first
 * use, reused, and closed by the key's destructor at thread exit (or by
 * stepd_speech_thread_cleanup()).
 */
#include "ai/speech_asr_moonshine.h"
#include "ai/speech_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct stepd_speech_recognizer {
    const stepd_speech_recognizer_vtable *vt;
    void *self;
};

int stepd_speech_default_engine(const char *model_dir, const stepd_speech_recognizer_vtable **out,
                                char **err) {
    const char *e = getenv("STEPD_SPEECH_ENGINE");
    if (e && *e) {
        if (!strcmp(e, "pocketsphinx"))
            *out = &stepd_speech_pocketsphinx;
        else if (!strcmp(e, "moonshine"))
            *out = &stepd_speech_moonshine;
        else
            return speech_fail(err, STEP_EINVAL,
                               "STEPD_SPEECH_ENGINE is '%s': use pocketsphinx or moonshine", e);
        return 0;
    }
    *out = stepd_speech_moonshine_available(model_dir) ? &stepd_speech_moonshine
                                                       : &stepd_speech_pocketsphinx;
    return 0;
}

int stepd_speech_recognizer_open(const stepd_speech_recognizer_vtable *vt, const char *model_dir,
                                 stepd_speech_recognizer **out, char **err) {
    if (err)
        *err = NULL;
    if (!out)
        return speech_fail(err, STEP_EINVAL, "no output recogniser");
    if (!vt) {
        int rc = stepd_speech_default_engine(model_dir, &vt, err);
        if (rc)
            return rc;
    }
    stepd_speech_recognizer *r = calloc(1, sizeof(*r));
    if (!r)
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    r->vt = vt;
    int rc = vt->open(model_dir, &r->self, err);
    if (rc) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void stepd_speech_recognizer_close(stepd_speech_recognizer *r) {
    if (!r)
        return;
    r->vt->close(r->self);
    free(r);
}

/* ---- per-thread decoder ------------------------------------------------------------------- */

static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void tl_destroy(void *p) {
    stepd_speech_recognizer_close(p);
}

static void tl_setup(void) {
    pthread_key_create(&tl_key, tl_destroy);
}

static int thread_recognizer(stepd_speech_recognizer **out, char **err) {
    pthread_once(&tl_once, tl_setup);
    stepd_speech_recognizer *r = pthread_getspecific(tl_key);
    if (!r) {
        int rc = stepd_speech_recognizer_open(NULL, NULL, &r, err);
        if (rc)
            return rc;
        if (pthread_setspecific(tl_key, r) != 0) {
            stepd_speech_recognizer_close(r);
            return speech_fail(err, STEP_ENOMEM, "cannot keep the thread's decoder");
        }
    }
    *out = r;
    return 0;
}

void stepd_speech_thread_cleanup(void) {
    pthread_once(&tl_once, tl_setup);
    stepd_speech_recognizer *r = pthread_getspecific(tl_key);
    if (r) {
        pthread_setspecific(tl_key, NULL);
        stepd_speech_recognizer_close(r);
    }
}

/* ---- voice-activity detection and segmenting ---------------------------------------------- */

#define FRAME 160        /* 10 ms */
#define PREROLL 30       /* frames kept before an onset */
#define ONSET_FRAMES 2   /* consecutive loud voiced frames that open a segment */
#define HANGOVER 30      /* quiet frames that close a segment */
#define SOFT_MAX 1000    /* frames: after 10 s, a shorter pause closes the segment */
#define SOFT_HANGOVER 12 /* quiet frames that close a segment longer than SOFT_MAX */
#define HARD_MAX 3000    /* frames: 30 s, cut regardless */
#define MIN_VOICED 8     /* voiced frames a segment needs before it is worth decoding */
#define ONSET_DB 12.0
#define SUSTAIN_DB 8.0
#define ABS_MIN_DB -55.0 /* dBFS: quieter than this is never speech */
#define VOICED_ZCR 0.25
#define BATCH (10 * FRAME) /* samples handed to the recogniser at once */

struct stepd_speech_stream {
    stepd_speech_recognizer *rec;
    int16_t part[FRAME]; /* incomplete frame */
    size_t n_part;
    int16_t ring[PREROLL][FRAME];
    size_t ring_head, ring_len;
    int16_t batch[BATCH];
    size_t n_batch;
    double floor_db;
    int in_speech, onset_run, quiet_run;
    size_t seg_frames, seg_voiced, seg_start_frame, frame_no;
    size_t total_samples, speech_samples, n_segments;
    stepd_speech_word *words;
    size_t n_words;
    int error;
};

int stepd_speech_stream_open(stepd_speech_recognizer *rec, stepd_speech_stream **out, char **err) {
    if (err)
        *err = NULL;
    if (!out)
        return speech_fail(err, STEP_EINVAL, "no output stream");
    if (!rec) {
        int rc = thread_recognizer(&rec, err);
        if (rc)
            return rc;
    }
    stepd_speech_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    s->rec = rec;
    s->floor_db = -70;
    *out = s;
    return 0;
}

static void free_words(stepd_speech_word *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(w[i].word);
    free(w);
}

static void flush_batch(stepd_speech_stream *s) {
    if (s->n_batch && !s->error)
        s->error = s->rec->vt->feed(s->rec->self, s->batch, s->n_batch);
    s->n_batch = 0;
}

static void feed_frame(stepd_speech_stream *s, const int16_t *f) {
    if (s->n_batch + FRAME > BATCH)
        flush_batch(s);
    memcpy(s->batch + s->n_batch, f, FRAME * sizeof(int16_t));
    s->n_batch += FRAME;
    s->seg_frames++;
    s->speech_samples += FRAME;
}

static void end_segment(stepd_speech_stream *s) {
    flush_batch(s);
    stepd_speech_word *w = NULL;
    size_t n = 0;
    if (!s->error)
        s->error = s->rec->vt->result(s->rec->self, &w, &n);
    double off = s->seg_start_frame * (double)FRAME / SPEECH_RATE;
    if (!s->error && s->seg_voiced >= MIN_VOICED && n) {
        stepd_speech_word *t = realloc(s->words, (s->n_words + n) * sizeof(*t));
        if (!t) {
            s->error = STEP_ENOMEM;
        } else {
            s->words = t;
            for (size_t i = 0; i < n; i++) {
                w[i].start += off;
                w[i].end += off;
                t[s->n_words++] = w[i];
                w[i].word = NULL;
            }
        }
    }
    free_words(w, n);
    s->n_segments++;
    s->in_speech = 0;
    s->quiet_run = s->onset_run = 0;
    s->seg_frames = s->seg_voiced = 0;
}

static void process_frame(stepd_speech_stream *s, const int16_t *f) {
    double energy = 0;
    int zc = 0;
    for (int i = 0; i < FRAME; i++) {
        energy += (double)f[i] * f[i];
        if (i && ((f[i] >= 0) != (f[i - 1] >= 0)))
            zc++;
    }
    double db = 10 * log10(energy / FRAME / (32768.0 * 32768.0) + 1e-10);
    double zcr = (double)zc / FRAME;
    int loud = db > s->floor_db + ONSET_DB && db > ABS_MIN_DB;
    int voiced = loud && zcr < VOICED_ZCR;

    if (db < s->floor_db)
        s->floor_db = db < -90 ? -90 : db;
    else if (!s->in_speech)
        s->floor_db += 0.01 * (db - s->floor_db);

    if (!s->in_speech) {
        s->onset_run = voiced ? s->onset_run + 1 : 0;
        if (s->onset_run >= ONSET_FRAMES) {
            /* open: replay the pre-roll (which holds the onset frames before this one) */
            s->in_speech = 1;
            s->seg_start_frame = s->frame_no - s->ring_len;
            for (size_t i = 0; i < s->ring_len; i++)
                feed_frame(s, s->ring[(s->ring_head + PREROLL - s->ring_len + i) % PREROLL]);
            s->ring_len = 0;
            s->seg_voiced = (size_t)s->onset_run - 1;
        } else {
            memcpy(s->ring[s->ring_head], f, sizeof(s->ring[0]));
            s->ring_head = (s->ring_head + 1) % PREROLL;
            if (s->ring_len < PREROLL)
                s->ring_len++;
            s->frame_no++;
            return;
        }
    }
    feed_frame(s, f);
    s->frame_no++;
    if (voiced)
        s->seg_voiced++;
    int active = db > s->floor_db + SUSTAIN_DB && db > ABS_MIN_DB - 5;
    s->quiet_run = active ? 0 : s->quiet_run + 1;
    if (s->quiet_run >= HANGOVER || (s->seg_frames >= SOFT_MAX && s->quiet_run >= SOFT_HANGOVER) ||
        s->seg_frames >= HARD_MAX)
        end_segment(s);
}

int stepd_speech_stream_feed(stepd_speech_stream *s, const int16_t *samples, size_t n) {
    if (!s || (!samples && n))
        return STEP_EINVAL;
    s->total_samples += n;
    while (n && !s->error) {
        size_t take = FRAME - s->n_part < n ? FRAME - s->n_part : n;
        if (s->n_part == 0 && take == FRAME) {
            process_frame(s, samples);
        } else {
            memcpy(s->part + s->n_part, samples, take * sizeof(int16_t));
            s->n_part += take;
            if (s->n_part == FRAME) {
                process_frame(s, s->part);
                s->n_part = 0;
            }
        }
        samples += take;
        n -= take;
    }
    return s->error;
}

void stepd_speech_stream_abort(stepd_speech_stream *s) {
    if (!s)
        return;
    if (s->in_speech) { /* leave the recogniser ready for its next utterance */
        stepd_speech_word *w = NULL;
        size_t n = 0;
        s->n_batch = 0;
        s->rec->vt->result(s->rec->self, &w, &n);
        free_words(w, n);
    }
    free_words(s->words, s->n_words);
    free(s);
}

int stepd_speech_stream_finish(stepd_speech_stream *s, stepd_speech_transcript *out, char **err) {
    if (err)
        *err = NULL;
    if (!s || !out) {
        stepd_speech_stream_abort(s);
        return speech_fail(err, STEP_EINVAL, "no stream or output");
    }
    memset(out, 0, sizeof(*out));
    if (s->n_part && !s->error) { /* pad the last partial frame with silence */
        memset(s->part + s->n_part, 0, (FRAME - s->n_part) * sizeof(int16_t));
        process_frame(s, s->part);
        s->n_part = 0;
    }
    if (s->in_speech && !s->error)
        end_segment(s);
    if (s->error) {
        int rc = s->error;
        stepd_speech_stream_abort(s);
        return speech_fail(err, rc, "the %s recogniser failed: %s", "speech", step_strerror(rc));
    }
    size_t len = 1;
    for (size_t i = 0; i < s->n_words; i++)
        len += strlen(s->words[i].word) + 1;
    out->text = malloc(len);
    if (!out->text) {
        stepd_speech_stream_abort(s);
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    }
    char *p = out->text;
    *p = 0;
    for (size_t i = 0; i < s->n_words; i++)
        p += sprintf(p, "%s%s", i ? " " : "", s->words[i].word);
    out->words = s->words;
    out->n_words = s->n_words;
    s->words = NULL;
    s->n_words = 0;
    snprintf(out->language, sizeof(out->language), "%s", s->rec->vt->language);
    snprintf(out->format, sizeof(out->format), "pcm");
    out->duration_sec = (double)s->total_samples / SPEECH_RATE;
    out->speech_sec = (double)s->speech_samples / SPEECH_RATE;
    out->n_segments = s->n_segments;
    out->no_speech = out->n_words == 0;
    free(s);
    return 0;
}

void stepd_speech_transcript_free(stepd_speech_transcript *t) {
    if (!t)
        return;
    free(t->text);
    free_words(t->words, t->n_words);
    memset(t, 0, sizeof(*t));
}

static double round3(double v) {
    return round(v * 1000) / 1000;
}

json_t *stepd_speech_transcript_json(const stepd_speech_transcript *t) {
    if (!t)
        return NULL;
    json_t *words = json_array();
    for (size_t i = 0; words && i < t->n_words; i++)
        json_array_append_new(words,
                              json_pack("{s:s,s:f,s:f,s:f}", "word", t->words[i].word, "start",
                                        round3(t->words[i].start), "end", round3(t->words[i].end),
                                        "confidence", round3(t->words[i].confidence)));
    json_t *o = json_pack("{s:s,s:o,s:s,s:f,s:f,s:i,s:s,s:b}", "text", t->text ? t->text : "",
                          "words", words, "language", t->language, "durationSec",
                          round3(t->duration_sec), "speechSec", round3(t->speech_sec), "segments",
                          (json_int_t)t->n_segments, "format", t->format, "noSpeech", t->no_speech);
    if (o && t->no_speech)
        json_object_set_new(o, "message",
                            json_string(t->n_segments ? "no words recognised in the audio"
                                                      : "no speech detected (silence or noise)"));
    return o;
}

/* ---- whole-input transcription ------------------------------------------------------------ */

static int stream_pcm(void *user, const int16_t *samples, size_t n, int sr) {
    (void)sr;
    return stepd_speech_stream_feed(user, samples, n) != 0;
}

typedef enum { SRC_FILE, SRC_MEM, SRC_IO } src_kind;

static int transcribe(stepd_speech_recognizer *rec, src_kind kind, const char *path,
                      const void *data, size_t len, stepd_speech_read_fn rd, void *rd_user,
                      const char *name, stepd_speech_transcript *out, char **err) {
    if (err)
        *err = NULL;
    if (!out)
        return speech_fail(err, STEP_EINVAL, "no output transcript");
    memset(out, 0, sizeof(*out));
    stepd_speech_stream *s;
    int rc = stepd_speech_stream_open(rec, &s, err);
    if (rc)
        return rc;
    char format[16] = "";
    if (kind == SRC_FILE)
        rc = stepd_speech_decode_file(path, stream_pcm, s, format, err);
    else if (kind == SRC_MEM)
        rc = stepd_speech_decode_mem(data, len, name, stream_pcm, s, format, err);
    else
        rc = stepd_speech_decode_io(rd, rd_user, name, stream_pcm, s, format, err);
    if (rc == STEP_EFAILED && s->error) { /* the recogniser, not the decoder, stopped */
        if (err) {
            free(*err);
            *err = NULL;
        }
        rc = speech_fail(err, s->error, "speech recognition failed: %s", step_strerror(s->error));
    }
    if (rc) {
        stepd_speech_stream_abort(s);
        return rc;
    }
    rc = stepd_speech_stream_finish(s, out, err);
    if (!rc)
        snprintf(out->format, sizeof(out->format), "%s", format);
    return rc;
}

int stepd_speech_transcribe_file(stepd_speech_recognizer *rec, const char *path,
                                 stepd_speech_transcript *out, char **err) {
    return transcribe(rec, SRC_FILE, path, NULL, 0, NULL, NULL, path, out, err);
}

int stepd_speech_transcribe_mem(stepd_speech_recognizer *rec, const void *data, size_t len,
                                const char *name, stepd_speech_transcript *out, char **err) {
    return transcribe(rec, SRC_MEM, NULL, data, len, NULL, NULL, name, out, err);
}

int stepd_speech_transcribe_io(stepd_speech_recognizer *rec, stepd_speech_read_fn rd, void *rd_user,
                               const char *name, stepd_speech_transcript *out, char **err) {
    return transcribe(rec, SRC_IO, NULL, NULL, 0, rd, rd_user, name, out, err);
}
