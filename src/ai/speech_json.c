/*
 * speech_json.c — stepd_speech_json(): the speech operations with JSON in and out, so the
 * core can answer ctx.ai.* calls from JS and Python steps (and any other JSON caller) with
 * the same native code the C API uses. Validates each field and names the bad one.
 */
#include "ai/speech_internal.h"

#include <stdlib.h>
#include <string.h>

/* Reads an optional string field; STEP_EINVAL when present but not a string. */
static int opt_str(json_t *p, const char *key, const char **out, char **err) {
    json_t *v = json_object_get(p, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return speech_fail(err, STEP_EINVAL, "field \"%s\" must be a string", key);
    *out = json_string_value(v);
    return 0;
}

static int opt_num(json_t *p, const char *key, double *out, char **err) {
    json_t *v = json_object_get(p, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v) || json_number_value(v) <= 0)
        return speech_fail(err, STEP_EINVAL, "field \"%s\" must be a positive number", key);
    *out = json_number_value(v);
    return 0;
}

static int op_speak(json_t *p, json_t **out, char **err) {
    const char *text, *output;
    stepd_speech_synth_opts o = {0};
    int rc;
    if ((rc = opt_str(p, "text", &text, err)) || (rc = opt_str(p, "output", &output, err)) ||
        (rc = opt_str(p, "voice", &o.voice, err)) || (rc = opt_str(p, "engine", &o.engine, err)) ||
        (rc = opt_str(p, "language", &o.language, err)) ||
        (rc = opt_num(p, "rate", &o.rate, err)) || (rc = opt_num(p, "pitch", &o.pitch, err)))
        return rc;
    if (!text)
        return speech_fail(err, STEP_EINVAL, "field \"text\" is required");
    if (!output || !*output)
        return speech_fail(err, STEP_EINVAL, "field \"output\" (the WAV path) is required");
    stepd_speech_audio a;
    if ((rc = stepd_speech_synthesize(text, &o, &a, err)))
        return rc;
    if ((rc = stepd_speech_wav_write(&a, output, err))) {
        stepd_speech_audio_free(&a);
        return rc;
    }
    int espeak = o.engine ? !strncasecmp(o.engine, "espeak", 6)
                          : o.language && strncasecmp(o.language, "en", 2) != 0;
    *out = json_pack("{s:s,s:s,s:i,s:I,s:f}", "file", output, "engine", espeak ? "espeak" : "flite",
                     "sampleRate", a.sample_rate, "samples", (json_int_t)a.n_samples, "durationSec",
                     a.duration_sec);
    stepd_speech_audio_free(&a);
    return *out ? 0 : speech_fail(err, STEP_ENOMEM, "out of memory");
}

static int op_transcribe(json_t *p, json_t **out, char **err) {
    const char *file;
    int rc = opt_str(p, "file", &file, err);
    if (rc)
        return rc;
    if (!file)
        return speech_fail(err, STEP_EINVAL, "field \"file\" is required");
    stepd_speech_transcript t;
    if ((rc = stepd_speech_transcribe_file(NULL, file, &t, err)))
        return rc;
    *out = stepd_speech_transcript_json(&t);
    stepd_speech_transcript_free(&t);
    return *out ? 0 : speech_fail(err, STEP_ENOMEM, "out of memory");
}

int stepd_speech_json(const char *op, json_t *params, json_t **out, char **err) {
    if (err)
        *err = NULL;
    if (!out)
        return speech_fail(err, STEP_EINVAL, "no output");
    *out = NULL;
    if (params && !json_is_object(params))
        return speech_fail(err, STEP_EINVAL, "parameters must be a JSON object");
    if (!op)
        op = "";
    if (!strcmp(op, "speak") || !strcmp(op, "synthesize"))
        return op_speak(params, out, err);
    if (!strcmp(op, "transcribe"))
        return op_transcribe(params, out, err);
    if (!strcmp(op, "voices"))
        return stepd_speech_voices(out);
    return speech_fail(err, STEP_ENOTFOUND,
                       "unknown speech operation '%s' (speak, transcribe, voices)", op);
}
