/*
 * POST /text/analyze {text, textId?, summarySentences?, abstractive?}
 * Short texts (up to TEXT_SYNC_MAX bytes) are analysed here and the analysis is returned
 * (200), and also stored under text_analysis/textId when a textId is given. Longer texts are
 * queued as a text.analyze event (202 {textId}); GET /text/analysis/:id returns the result.
 */
#include <stepd/ai/llm.h> /* the AI modules: stepd links libstepd-ai.so for this step */
#include <stepd/ai/text.h>

#include "text_common.h"

static int analyze_api(step_ctx *ctx, step_request *req, step_response *res) {
    json_t *body = req->body;
    const char *text = json_string_value(json_object_get(body, "text"));
    if (!text)
        return step_respond(res, 400, json_pack("{s:s}", "error", "body.text must be a string"));
    const char *id = json_string_value(json_object_get(body, "textId"));
    int sentences = (int)json_integer_value(json_object_get(body, "summarySentences"));
    int abstractive = json_is_true(json_object_get(body, "abstractive"));
    if (strlen(text) > TEXT_SYNC_MAX) {
        char gen[64];
        if (!id) {
            snprintf(gen, sizeof(gen), "t-%s", step_trace_id(ctx));
            id = gen;
        }
        json_t *ev = json_pack("{s:s,s:s,s:i,s:b}", "textId", id, "text", text, "summarySentences",
                               sentences, "abstractive", abstractive);
        int rc = step_emit(ctx, "text.analyze", ev);
        if (rc)
            return rc;
        return step_respond(res, 202, json_pack("{s:s,s:s}", "textId", id, "status", "queued"));
    }
    json_t *a = NULL;
    char *err = NULL;
    int rc = text_example_analyze(ctx, text, sentences, abstractive, &a, &err);
    if (rc) {
        json_t *e = json_pack("{s:s}", "error", err ? err : step_strerror(rc));
        free(err);
        return step_respond(res, rc == STEP_EINVAL ? 400 : 503, e);
    }
    if (id) {
        json_object_set_new(a, "textId", json_string(id));
        if ((rc = step_state_set(ctx, TEXT_GROUP, id, a)) != 0) {
            json_decref(a);
            return rc;
        }
    }
    return step_respond(res, 200, a);
}

STEP_CONFIG = {
    .type = STEP_API,
    .name = "TextAnalyzeApi",
    .description = "Analyse a text now (short texts) or queue it (long texts)",
    .flows = STEP_LIST("text"),
    .method = "POST",
    .path = "/text/analyze",
    .body_schema = "{\"type\":\"object\",\"required\":[\"text\"],\"properties\":{"
                   "\"text\":{\"type\":\"string\"},\"textId\":{\"type\":\"string\"},"
                   "\"summarySentences\":{\"type\":\"integer\"},"
                   "\"abstractive\":{\"type\":\"boolean\"}}}",
    .emits = STEP_LIST("text.analyze", "metrics.ai"),
    .api = analyze_api,
};
