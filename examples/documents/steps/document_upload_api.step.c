/*
 * POST /documents[?type=invoice|receipt|id] — accepts a document as multipart/form-data (field
 * "file") or as the raw body (Content-Type image/png, application/pdf, ...), checks it cheaply
 * (type, size, pixel limits, PDF structure) so a bad upload is refused at once with the reason,
 * keeps the bytes and emits document.process. Answers 202 {"documentId", "pages"}.
 */
#include <stepd/ai.h>
#include <stepd/step.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "documents.h"

static int fail(step_response *res, int status, const char *msg) {
    return step_respond(res, status, json_pack("{s:s}", "error", msg ? msg : "unreadable"));
}

static int upload(step_ctx *ctx, step_request *req, step_response *res) {
    const char *ct = step_request_header(req, "content-type");
    const char *doc, *type = json_string_value(json_object_get(req->query_params, "type"));
    size_t len;
    char *mime = NULL, *err = NULL;
    int rc = ai_ocr_upload_document(ct, req->raw_body, req->raw_body_len, "file",
                                    DOCUMENTS_MAX_BYTES, &doc, &len, &mime, &err);
    if (rc < 0) {
        rc = fail(res, strstr(err ? err : "", "limit") ? 413 : 400, err);
        free(err);
        return rc;
    }
    ai_ocr_options o = ai_ocr_options_default();
    o.mime = mime;
    int pages = 0;
    rc = ai_ocr_probe(doc, len, &o, &pages, &err);
    if (rc < 0) {
        int status = rc == STEP_EUNSUPPORTED ? 415 : rc == STEP_EPARSE ? 422 : 413;
        if (rc == STEP_EINVAL && err && strstr(err, "declared"))
            status = 415;
        rc = fail(res, status, err);
        free(err);
        free(mime);
        return rc;
    }
    char id[33], path[4096];
    step_new_id(id);
    documents_path(path, sizeof(path), id);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(doc, 1, len, f) != len) {
        if (f)
            fclose(f);
        free(mime);
        json_t *lf = json_pack("{s:s}", "path", path);
        step_log_error(ctx, "cannot store the upload", lf); /* fields are borrowed */
        json_decref(lf);
        return STEP_EIO;
    }
    fclose(f);
    json_t *ev = json_pack("{s:s, s:s, s:I, s:i}", "documentId", id, "path", path, "bytes",
                           (json_int_t)len, "pages", pages);
    if (mime)
        json_object_set_new(ev, "mime", json_string(mime));
    if (type)
        json_object_set_new(ev, "type", json_string(type));
    free(mime);
    rc = step_emit(ctx, "document.process", ev);
    if (rc)
        return rc;
    return step_respond(res, 202, json_pack("{s:s, s:i}", "documentId", id, "pages", pages));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "DocumentUpload",
    .description = "Accepts a document upload (multipart or raw body) and queues it for OCR",
    .flows = STEP_LIST("documents"),
    .method = "POST",
    .path = "/documents",
    .emits = STEP_LIST("document.process"),
    .api = upload,
};
