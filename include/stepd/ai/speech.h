/*
 * stepd/ai/speech.h — offline speech synthesis and recognition.
 *
 * Synthesis: flite (voices slt, rms, awb, kal16) is the default English engine; espeak-ng
 * covers the other languages it knows and is used on request (engine "espeak"). Output is
 * 16-bit PCM mono at the engine's rate (flite 16 kHz, espeak-ng 22.05 kHz); long texts are
 * synthesised sentence by sentence into one stream.
 *
 * Recognition: audio (WAV, FLAC, OGG, MP3, ...) is decoded with ffmpeg's libraries, down-mixed
 * and resampled to 16 kHz mono, cut at silences by an energy/voicing detector and decoded
 * segment by segment by a recogniser behind a vtable (Moonshine when its model is installed,
 * else pocketsphinx; $STEPD_SPEECH_ENGINE picks). Memory stays bounded whatever the length
 * of the input. Each thread that transcribes gets its own decoder, created on first use and
 * reused (freed at thread exit or by stepd_speech_thread_cleanup()).
 *
 * Errors: functions return 0 or a negative STEP_E* code (<stepd/step.h>); when `err` is not
 * NULL, *err receives a message the user can act on (caller frees) or NULL on success.
 * Every function is thread-safe.
 */
#ifndef STEPD_AI_SPEECH_H
#define STEPD_AI_SPEECH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- audio buffers ------------------------------------------------------------------------ */

/* 16-bit PCM mono. Owned by whoever filled it; release with stepd_speech_audio_free(). */
typedef struct stepd_speech_audio {
    int16_t *samples;
    size_t n_samples;
    int sample_rate;     /* Hz */
    double duration_sec; /* n_samples / sample_rate */
} stepd_speech_audio;

void stepd_speech_audio_free(stepd_speech_audio *a); /* frees samples, zeroes *a; NULL ok */

/* Encodes `a` as a RIFF/WAVE file (PCM s16le mono). *out is malloc'ed, caller frees. */
int stepd_speech_wav_encode(const stepd_speech_audio *a, unsigned char **out, size_t *out_len);
/* Writes `a` as a WAV file at `path`. */
int stepd_speech_wav_write(const stepd_speech_audio *a, const char *path, char **err);

/* ---- synthesis ---------------------------------------------------------------------------- */

typedef struct stepd_speech_synth_opts {
    const char *engine;   /* "flite" | "espeak"; NULL: flite for English, espeak otherwise */
    const char *voice;    /* flite: slt (default), rms, awb, kal16; espeak: a voice or language
                             name such as "de", "fr", "en-us" (default: `language` or "en") */
    const char *language; /* "en", "de", ...; NULL or "en*" means English */
    double rate;          /* speaking-rate multiplier, 1.0 normal (0 = default); 0.25..4 */
    double pitch;         /* pitch multiplier, 1.0 normal (0 = default); 0.5..2 */
} stepd_speech_synth_opts;

/* Called with each chunk of synthesised samples, in order. Return non-zero to stop (the
 * synthesis then fails with STEP_EFAILED). `samples` is valid only during the call. */
typedef int (*stepd_speech_pcm_fn)(void *user, const int16_t *samples, size_t n, int sample_rate);

/* Synthesises `text` (UTF-8) sentence by sentence, handing each sentence's samples to `fn`.
 * *sample_rate (may be NULL) receives the rate. Empty or blank text is STEP_EINVAL. An unknown
 * engine, voice or language is STEP_ENOTFOUND with a message listing what is installed. */
int stepd_speech_synthesize_stream(const char *text, const stepd_speech_synth_opts *opts,
                                   stepd_speech_pcm_fn fn, void *user, int *sample_rate,
                                   char **err);
/* Same, collecting the whole result in *out (caller frees with stepd_speech_audio_free). */
int stepd_speech_synthesize(const char *text, const stepd_speech_synth_opts *opts,
                            stepd_speech_audio *out, char **err);

/* Installed voices: [{"engine":"flite","voice":"slt","language":"en","sampleRate":16000},...]
 * (espeak-ng: one entry per voice). New reference. */
int stepd_speech_voices(json_t **out);

/* ---- decoding ----------------------------------------------------------------------------- */

/* A byte source for streamed decoding: fill up to `cap` bytes, return the count, 0 at end of
 * input or a negative value on error. */
typedef long (*stepd_speech_read_fn)(void *user, unsigned char *buf, size_t cap);

/* Decodes any audio container/codec ffmpeg knows among the audio formats (wav, flac, ogg, mp3,
 * m4a/aac, webm/opus, aiff, au, ...), converts to 16 kHz mono s16 and hands the samples to
 * `fn` in chunks (bounded memory). The detected container name goes to `format` (may be
 * NULL, at least 16 bytes). Zero-byte, corrupt, truncated-to-nothing and non-audio input is
 * STEP_EPARSE with a message naming the problem (and `name`, used in messages only). */
int stepd_speech_decode_mem(const void *data, size_t len, const char *name, stepd_speech_pcm_fn fn,
                            void *user, char format[16], char **err);
int stepd_speech_decode_io(stepd_speech_read_fn rd, void *rd_user, const char *name,
                           stepd_speech_pcm_fn fn, void *user, char format[16], char **err);
int stepd_speech_decode_file(const char *path, stepd_speech_pcm_fn fn, void *user, char format[16],
                             char **err);

/* ---- recognisers (vtable) ----------------------------------------------------------------- */

typedef struct stepd_speech_word {
    char *word;
    double start, end; /* seconds from the start of the audio */
    double confidence; /* 0..1 */
} stepd_speech_word;

typedef struct stepd_speech_recognizer stepd_speech_recognizer;

/* A recognition engine. `feed` takes 16 kHz mono samples of one utterance (a segment cut at
 * silences); `result` finishes the utterance and appends its words to *words and *n_words (times
 * in seconds from the utterance start; realloc'ed array, word strings malloc'ed), leaving the
 * engine ready for the next utterance. One instance is used by one thread at a time. */
typedef struct stepd_speech_recognizer_vtable {
    const char *name;     /* "pocketsphinx" */
    const char *language; /* "en-US" */
    int (*open)(const char *model_dir, void **self, char **err);
    int (*feed)(void *self, const int16_t *samples, size_t n);
    int (*result)(void *self, stepd_speech_word **words, size_t *n_words);
    void (*close)(void *self);
} stepd_speech_recognizer_vtable;

extern const stepd_speech_recognizer_vtable stepd_speech_pocketsphinx;

/* Opens a recogniser of engine `vt` (NULL: the default engine) with its model in `model_dir` (NULL:
 * $STEPD_SPEECH_MODEL_DIR, else the engine's default). Caller closes. */
int stepd_speech_recognizer_open(const stepd_speech_recognizer_vtable *vt, const char *model_dir,
                                 stepd_speech_recognizer **out, char **err);
void stepd_speech_recognizer_close(stepd_speech_recognizer *r); /* NULL ok */

/* ---- transcription ------------------------------------------------------------------------ */

typedef struct stepd_speech_transcript {
    char *text;               /* words joined by spaces; "" when no speech */
    stepd_speech_word *words; /* n_words entries */
    size_t n_words;
    char language[16];   /* "en-US" */
    char format[16];     /* detected input container ("wav", "mp3", ...; "pcm" for raw) */
    double duration_sec; /* of the whole input */
    double speech_sec;   /* of the segments sent to the recogniser */
    size_t n_segments;   /* segments cut at silences */
    int no_speech;       /* 1 when nothing was recognised (silence, noise) */
} stepd_speech_transcript;

void stepd_speech_transcript_free(stepd_speech_transcript *t); /* NULL ok */
/* {"text","words":[{"word","start","end","confidence"}],"language","durationSec",
 *  "speechSec","segments","format","noSpeech"[, "message"]}. New reference. */
json_t *stepd_speech_transcript_json(const stepd_speech_transcript *t);

/* Incremental transcription of 16 kHz mono samples: the voice-activity detector and the
 * segment-by-segment decoding, usable on a live stream. `rec` NULL uses this thread's
 * pocketsphinx decoder. */
typedef struct stepd_speech_stream stepd_speech_stream;
int stepd_speech_stream_open(stepd_speech_recognizer *rec, stepd_speech_stream **out, char **err);
int stepd_speech_stream_feed(stepd_speech_stream *s, const int16_t *samples, size_t n);
/* Flushes the last segment and moves the result into *out (caller frees); closes `s`. */
int stepd_speech_stream_finish(stepd_speech_stream *s, stepd_speech_transcript *out, char **err);
void stepd_speech_stream_abort(stepd_speech_stream *s); /* NULL ok */

/* Decodes and transcribes a file / an in-memory file / a streamed file. `rec` NULL uses this
 * thread's recogniser of the default engine. Silence or noise is success with no_speech = 1. */
int stepd_speech_transcribe_file(stepd_speech_recognizer *rec, const char *path,
                                 stepd_speech_transcript *out, char **err);
int stepd_speech_transcribe_mem(stepd_speech_recognizer *rec, const void *data, size_t len,
                                const char *name, stepd_speech_transcript *out, char **err);
int stepd_speech_transcribe_io(stepd_speech_recognizer *rec, stepd_speech_read_fn rd, void *rd_user,
                               const char *name, stepd_speech_transcript *out, char **err);

/* Frees this thread's cached decoder now (it is also freed when the thread exits). */
void stepd_speech_thread_cleanup(void);

/* ---- HTTP helpers for the audio API (upload, GET /audio/:id) ------------------------------ */

/* Recognises an audio container from its first bytes: returns "wav", "flac", "ogg", "mp3",
 * "webm", "m4a", "aiff" or NULL. Static string. */
const char *stepd_speech_sniff(const void *data, size_t len);
/* Content type for a format name or file extension ("wav", ".mp3", "x.ogg"):
 * "audio/wav", "audio/mpeg", ...; "application/octet-stream" when unknown. Static string. */
const char *stepd_speech_content_type(const char *format_or_name);

/* Parses an HTTP Range header against a resource of `size` bytes (RFC 9110, one range).
 * Returns 0 to send the whole resource (no header, a malformed one, or several ranges),
 * 1 with [*first, *last] (inclusive) for a 206 answer, or STEP_EINVAL when the range cannot
 * be satisfied (answer 416 with "Content-Range: bytes * /size"). */
int stepd_speech_http_range(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

/* Finds the first file part (or the part named `field` when not NULL) of a multipart/form-data
 * body. `content_type` is the request's header (carries the boundary). On success *part and
 * *part_len point into `body` (borrowed); *part_type / *filename (may be NULL) receive
 * malloc'ed copies of the part's content type and file name, or NULL. */
int stepd_speech_multipart_file(const char *content_type, const void *body, size_t len,
                                const char *field, const unsigned char **part, size_t *part_len,
                                char **part_type, char **filename, char **err);

/* ---- JSON entry point (ctx.ai.* calls from JS/Python steps, stepd_speech_json) ----------- */

/* Runs one speech operation described in JSON; *out is a new reference.
 *   "speak":      {"text", "output": path of the WAV to write, "voice"?, "engine"?,
 *                  "language"?, "rate"?, "pitch"?} -> {"file","engine","sampleRate","samples",
 *                  "durationSec"}
 *   "transcribe": {"file": path} -> the transcript JSON (stepd_speech_transcript_json)
 *   "voices":     {} -> the stepd_speech_voices() array
 * Missing or mistyped fields are STEP_EINVAL with the field named in *err. */
int stepd_speech_json(const char *op, json_t *params, json_t **out, char **err);

#ifdef __cplusplus
}
#endif
#endif
