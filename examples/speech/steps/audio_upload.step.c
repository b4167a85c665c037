/*
 * POST /audio — upload a voice message to transcribe: the raw audio as the body (any
 * Content-Type) or a multipart/form-data form with a file field. The format is recognised from
 * the bytes (a WAV called .mp3 is still a WAV; a text file called .wav is refused with 415).
 * Stores the file, records {status: "queued"} in state "audio", emits audio.process
 * {id, action: "transcribe"} and answers 202 {id, url}.
 */
#include <stepd/ai/speech.h>
#include <stepd/step.h>

#include "audio_store.h"

static int upload(step_ctx *ctx, step_request *req, step_response *res) {
    const unsigned char *data = (const unsigned char *)req->raw_body;
    size_t len = req->raw_body_len;
    const char *ctype = step_request_header(req, "content-type");
    char *filename = NULL, *err = NULL;
    if (ctype && !strncasecmp(ctype, "multipart/form-data", 19)) {
        if (stepd_speech_multipart_file(ctype, req->raw_body, req->raw_body_len, NULL, &data, &len,
                                        NULL, &filename, &err)) {
            json_t *body = json_pack("{s:s}", "error", err ? err : "bad multipart body");
            free(err);
            return step_respond(res, 400, body);
        }
    }
    if (len == 0)
        return step_respond(res, 400,
                            json_pack("{s:s}", "error",
                                      "empty upload: send the audio "
                                      "as the body or a form file"));
    if (len > AUDIO_MAX_BYTES)
        return free(filename), step_respond(res, 413,
                                            json_pack("{s:s,s:i}", "error", "audio too large",
                                                      "maxBytes", (int)AUDIO_MAX_BYTES));
    const char *format = stepd_speech_sniff(data, len);
    if (!format) {
        free(filename);
        return step_respond(res, 415,
                            json_pack("{s:s}", "error",
                                      "not a supported audio file (wav, flac, ogg, mp3, "
                                      "m4a, webm, aiff, au)"));
    }
    char id[33], path[512];
    step_new_id(id);
    if (audio_path(path, sizeof(path), id, format) || audio_write(path, data, len)) {
        free(filename);
        return STEP_EIO;
    }
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s?}", "id", id, "kind", "upload", "format",
                            format, "contentType", stepd_speech_content_type(format), "bytes",
                            (json_int_t)len, "status", "queued", "filename", filename);
    free(filename);
    int rc = step_state_set(ctx, "audio", id, rec);
    json_decref(rec);
    if (!rc)
        rc = step_emit(ctx, "audio.process",
                       json_pack("{s:s,s:s}", "id", id, "action", "transcribe"));
    if (rc)
        return rc;
    char url[64];
    snprintf(url, sizeof(url), "/audio/%s", id);
    return step_respond(res, 202,
                        json_pack("{s:s,s:s,s:s}", "id", id, "url", url, "status", "queued"));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "AudioUpload",
    .description = "Accepts a voice message (raw body or multipart) and queues its transcription",
    .flows = STEP_LIST("speech"),
    .method = "POST",
    .path = "/audio",
    .emits = STEP_LIST("audio.process"),
    .api = upload,
};
