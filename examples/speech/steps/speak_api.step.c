/*
 * POST /speech {"text", "voice"?, "engine"?, "language"?, "rate"?} — queue a spoken reply:
 * records {status: "queued"} in state "audio", emits audio.process {action: "synthesize"} and
 * answers 202 {id, url}; GET /audio/:id serves the WAV once speech.synthesized has fired.
 */
#include <stdio.h>
#include <stepd/step.h>

static int speak(step_ctx *ctx, step_request *req, step_response *res) {
    char id[33], url[64];
    step_new_id(id);
    snprintf(url, sizeof(url), "/audio/%s", id);
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "kind", "speech", "status", "queued",
                            "contentType", "audio/wav");
    int rc = step_state_set(ctx, "audio", id, rec);
    json_decref(rec);
    if (rc)
        return rc;
    json_t *ev = json_deep_copy(req->body);
    json_object_set_new(ev, "id", json_string(id));
    json_object_set_new(ev, "action", json_string("synthesize"));
    if ((rc = step_emit(ctx, "audio.process", ev)))
        return rc;
    return step_respond(res, 202,
                        json_pack("{s:s,s:s,s:s}", "id", id, "url", url, "status", "queued"));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "SpeakApi",
    .description = "Queues text to be spoken",
    .flows = STEP_LIST("speech"),
    .method = "POST",
    .path = "/speech",
    .body_schema = "{\"type\":\"object\",\"required\":[\"text\"],\"properties\":{"
                   "\"text\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":20000},"
                   "\"voice\":{\"type\":\"string\"},\"engine\":{\"type\":\"string\"},"
                   "\"language\":{\"type\":\"string\"},\"rate\":{\"type\":\"number\"}}}",
    .emits = STEP_LIST("audio.process"),
    .api = speak,
};
