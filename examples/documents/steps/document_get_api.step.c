/* GET /documents/:id — the stored extract: 200 with the result, 202 while it is being read,
 * 404 for an unknown id. */
#include <stepd/step.h>

#include <stdio.h>
#include <sys/stat.h>

#include "documents.h"

static int get(step_ctx *ctx, step_request *req, step_response *res) {
    const char *id = json_string_value(json_object_get(req->path_params, "id"));
    json_t *doc = NULL;
    int rc = step_state_get(ctx, "document_extracts", id, &doc);
    if (rc == 0)
        return step_respond(res, 200, doc);
    if (rc != STEP_ENOTFOUND)
        return rc;
    char path[4096];
    struct stat st;
    documents_path(path, sizeof(path), id);
    if (stat(path, &st) == 0)
        return step_respond(res, 202, json_pack("{s:s, s:s}", "documentId", id, "status",
                                                "processing"));
    return step_respond(res, 404, json_pack("{s:s}", "error", "no such document"));
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "DocumentGet",
    .description = "Returns a document's extracted text, fields and entities",
    .flows = STEP_LIST("documents"),
    .method = "GET",
    .path = "/documents/:id",
    .api = get,
};
