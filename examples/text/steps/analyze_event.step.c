/*
 * text.analyze {textId, text, summarySentences?, abstractive?}
 *   -> state text_analysis/textId = the analysis -> emits text.analysis.complete
 *      {textId, sentiment, language, entities, keyPhrases (top 3)}.
 * Bad input is not retried: the stored record says what was wrong.
 */
#include <stepd/ai/llm.h> /* the AI modules: stepd links libstepd-ai.so for this step */
#include <stepd/ai/text.h>

#include "text_common.h"

static int on_analyze(step_ctx *ctx, json_t *input) {
    const char *id = json_string_value(json_object_get(input, "textId"));
    const char *text = json_string_value(json_object_get(input, "text"));
    int sentences = (int)json_integer_value(json_object_get(input, "summarySentences"));
    int abstractive = json_is_true(json_object_get(input, "abstractive"));
    json_t *a = NULL;
    char *err = NULL;
    int rc = text_example_analyze(ctx, text ? text : "", sentences, abstractive, &a, &err);
    if (rc) {
        json_t *f =
            json_pack("{s:s,s:s}", "status", "failed", "error", err ? err : step_strerror(rc));
        step_log_error(ctx, "text analysis failed", f);
        free(err);
        if (rc == STEP_ENOMEM) {
            json_decref(f);
            return rc; /* retry later */
        }
        rc = step_state_set(ctx, TEXT_GROUP, id, f);
        json_decref(f);
        return rc;
    }
    json_object_set_new(a, "textId", json_string(id));
    json_object_set_new(a, "status", json_string("complete"));
    if ((rc = step_state_set(ctx, TEXT_GROUP, id, a)) != 0) {
        json_decref(a);
        return rc;
    }
    json_t *kp = json_array();
    for (size_t i = 0; i < 3 && i < json_array_size(json_object_get(a, "keyPhrases")); i++)
        json_array_append(
            kp, json_object_get(json_array_get(json_object_get(a, "keyPhrases"), i), "text"));
    json_t *done = json_pack(
        "{s:s,s:O,s:O,s:I,s:o}", "textId", id, "sentiment", json_object_get(a, "sentiment"),
        "language", json_object_get(a, "language"), "entities",
        (json_int_t)json_array_size(json_object_get(a, "entities")), "keyPhrases", kp);
    json_decref(a);
    return step_emit(ctx, "text.analysis.complete", done);
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "TextAnalyze",
    .description = "Analyse a text and store the result under text_analysis/textId",
    .flows = STEP_LIST("text"),
    .subscribes = STEP_LIST("text.analyze"),
    .input_schema = "{\"type\":\"object\",\"required\":[\"textId\",\"text\"],\"properties\":{"
                    "\"textId\":{\"type\":\"string\"},\"text\":{\"type\":\"string\"}}}",
    .emits = STEP_LIST("text.analysis.complete", "metrics.ai"),
    .on_event = on_analyze,
};
