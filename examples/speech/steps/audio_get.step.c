/*
 * GET /audio/:id — the stored audio with its content type (audio/wav, audio/mpeg, ...) and
 * Range support (206 with Content-Range, 416 when unsatisfiable, Accept-Ranges: bytes), so
 * browsers and players can seek. Range parsing is stepd_speech_http_range().
 *
 * The bytes go out with step_respond_bytes() (announced by STEP_HAS_RESPOND_BYTES; built
 * against an older step.h, this answers 501 and says so).
 */
#include <stepd/ai/speech.h>
#include <stepd/step.h>

#include "audio_store.h"

static int get_audio(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    json_t *rec = NULL;
    int rc = step_state_get(ctx, "audio", id, &rec);
    if (rc == STEP_ENOTFOUND)
        return step_respond(res, 404, json_pack("{s:s}", "error", "audio not found"));
    if (rc)
        return rc;
    const char *format = json_string_value(json_object_get(rec, "format"));
    const char *status = json_string_value(json_object_get(rec, "status"));
    char path[512];
    struct stat sb;
    if (!format || audio_path(path, sizeof(path), id, format) || stat(path, &sb) != 0) {
        json_t *body =
            json_pack("{s:s,s:s}", "error", "audio not ready", "status", status ? status : "?");
        json_decref(rec);
        return step_respond(res, 409, body);
    }
    const char *ctype = stepd_speech_content_type(format);
    json_decref(rec);
    uint64_t size = (uint64_t)sb.st_size, first = 0, last = size ? size - 1 : 0;
    int partial = stepd_speech_http_range(step_request_header(req, "range"), size, &first, &last);
    char buf[96];
    step_response_header(res, "accept-ranges", "bytes");
    if (partial < 0) {
        snprintf(buf, sizeof(buf), "bytes */%llu", (unsigned long long)size);
        step_response_header(res, "content-range", buf);
        return step_respond(res, 416, json_pack("{s:s}", "error", "range not satisfiable"));
    }
    if (partial) {
        snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu", (unsigned long long)first,
                 (unsigned long long)last, (unsigned long long)size);
        step_response_header(res, "content-range", buf);
    }
#ifdef STEP_HAS_RESPOND_BYTES
    size_t n = size ? (size_t)(last - first + 1) : 0;
    unsigned char *data = malloc(n ? n : 1);
    FILE *f = fopen(path, "rb");
    if (!data || !f || fseeko(f, (off_t)first, SEEK_SET) || fread(data, 1, n, f) != n) {
        free(data);
        if (f)
            fclose(f);
        return STEP_EIO;
    }
    fclose(f);
    rc = step_respond_bytes(res, partial ? 206 : 200, ctype, data, n);
    free(data);
    return rc;
#else
    (void)ctx;
    return step_respond(res, 501,
                        json_pack("{s:s,s:s,s:I,s:b}", "error",
                                  "this stepd cannot send binary bodies yet", "contentType", ctype,
                                  "bytes", (json_int_t)size, "partial", partial));
#endif
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "AudioGet",
    .description = "Serves stored audio with Range support",
    .flows = STEP_LIST("speech"),
    .method = "GET",
    .path = "/audio/:id",
    .api = get_audio,
};
