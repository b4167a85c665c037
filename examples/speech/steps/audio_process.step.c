/*
 * audio.process {id, action: "transcribe"} or {id, action: "synthesize", text, voice?, ...} —
 * the speech work, on a worker thread (each worker keeps its own recogniser, loaded once).
 * Transcribe: recognises the stored upload, saves the transcript in state "audio" and emits
 * speech.transcribed {id, text, words, durationSec}. Synthesize: renders the text to a WAV in
 * the audio store and emits speech.synthesized {id, url, durationSec}. Bad audio or an unknown
 * voice is the caller's mistake, not a transient failure: it is recorded as status "failed"
 * with the message and speech.failed is emitted, without retrying.
 */
#include <stepd/ai/speech.h>
#include <stepd/step.h>

#include "audio_store.h"

static int fail(step_ctx *ctx, const char *id, json_t *rec, const char *msg) {
    json_object_set_new(rec, "status", json_string("failed"));
    json_object_set_new(rec, "error", json_string(msg));
    int rc = step_state_set(ctx, "audio", id, rec);
    json_decref(rec);
    return rc ? rc
              : step_emit(ctx, "speech.failed", json_pack("{s:s,s:s}", "id", id, "error", msg));
}

static int process(step_ctx *ctx, json_t *in) {
    const char *id = json_string_value(json_object_get(in, "id"));
    const char *action = json_string_value(json_object_get(in, "action"));
    json_t *rec = NULL;
    int rc = step_state_get(ctx, "audio", id, &rec);
    if (rc)
        return rc == STEP_ENOTFOUND ? 0 : rc; /* deleted meanwhile: nothing to do */
    char path[512], url[64], *err = NULL;
    snprintf(url, sizeof(url), "/audio/%s", id);

    if (!strcmp(action, "transcribe")) {
        const char *format = json_string_value(json_object_get(rec, "format"));
        if (audio_path(path, sizeof(path), id, format ? format : "wav"))
            return fail(ctx, id, rec, "bad audio id");
        stepd_speech_transcript t;
        rc = stepd_speech_transcribe_file(NULL, path, &t, &err);
        if (rc) {
            rc = rc == STEP_ENOMEM || rc == STEP_EIO ? rc : fail(ctx, id, rec, err ? err : "?");
            free(err);
            return rc;
        }
        json_t *tj = stepd_speech_transcript_json(&t);
        stepd_speech_transcript_free(&t);
        json_object_set_new(rec, "status", json_string("transcribed"));
        json_object_set(rec, "transcript", tj);
        if ((rc = step_state_set(ctx, "audio", id, rec)) == 0) {
            json_object_set_new(tj, "id", json_string(id));
            rc = step_emit(ctx, "speech.transcribed", json_incref(tj));
        }
        json_decref(tj);
        json_decref(rec);
        return rc;
    }
    if (!strcmp(action, "synthesize")) {
        stepd_speech_synth_opts o = {
            .voice = json_string_value(json_object_get(in, "voice")),
            .engine = json_string_value(json_object_get(in, "engine")),
            .language = json_string_value(json_object_get(in, "language")),
            .rate = json_number_value(json_object_get(in, "rate")),
        };
        stepd_speech_audio a;
        rc = stepd_speech_synthesize(json_string_value(json_object_get(in, "text")), &o, &a, &err);
        if (rc == 0 && audio_path(path, sizeof(path), id, "wav") == 0)
            rc = stepd_speech_wav_write(&a, path, &err);
        if (rc) {
            rc = rc == STEP_ENOMEM || rc == STEP_EIO ? rc : fail(ctx, id, rec, err ? err : "?");
            free(err);
            stepd_speech_audio_free(&a);
            return rc;
        }
        json_object_set_new(rec, "status", json_string("synthesized"));
        json_object_set_new(rec, "format", json_string("wav"));
        json_object_set_new(rec, "durationSec", json_real(a.duration_sec));
        json_object_set_new(rec, "bytes", json_integer(44 + 2 * (json_int_t)a.n_samples));
        rc = step_state_set(ctx, "audio", id, rec);
        json_decref(rec);
        if (!rc)
            rc = step_emit(
                ctx, "speech.synthesized",
                json_pack("{s:s,s:s,s:f}", "id", id, "url", url, "durationSec", a.duration_sec));
        stepd_speech_audio_free(&a);
        return rc;
    }
    return fail(ctx, id, rec, "unknown action (use transcribe or synthesize)");
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "AudioProcess",
    .description = "Transcribes uploads and synthesises speech",
    .flows = STEP_LIST("speech"),
    .subscribes = STEP_LIST("audio.process"),
    .input_schema = "{\"type\":\"object\",\"required\":[\"id\",\"action\"],\"properties\":{"
                    "\"id\":{\"type\":\"string\"},\"action\":{\"enum\":[\"transcribe\","
                    "\"synthesize\"]}}}",
    .emits = STEP_LIST("speech.transcribed", "speech.synthesized", "speech.failed"),
    .on_event = process,
    .timeout_ms = 120000,
};
