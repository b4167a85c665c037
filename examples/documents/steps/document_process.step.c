/*
 * document.process → OCR, fields and entities → stored under document_extracts/<id>, then
 * document.extracted. A document that cannot be read (corrupt, unsupported) is stored as
 * failed with the reason and not retried; other failures are retried by the runtime.
 * Entities come from the text module (stepd/ai/text.h) through the ocr module's entities hook.
 * When no type was given, a chat model classifies the document if one is configured
 * (OPENAI_API_KEY, or OPENAI_BASE_URL + OPENAI_MODEL in stepd's environment; see docs/llm.md;
 * DOCUMENTS_NO_LLM=1 turns it off), keyword scoring otherwise or when the call fails — the
 * stored record says which in "classifiedBy", and a failed call is logged as a warning.
 */
#include <stepd/ai.h>
#include <stepd/step.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "documents.h"

static int text_entities(const char *text, json_t **out, void *user) {
    (void)user;
    const char *why = NULL;
    const stepd_text *tx = stepd_text_default(&why);
    json_t *res = NULL;
    if (!tx || stepd_text_analyze(tx, text, strlen(text), NULL, &res, NULL) != 0)
        return -1; /* the ocr module falls back to its built-in patterns */
    *out = json_incref(json_object_get(res, "entities"));
    json_decref(res);
    return *out ? 0 : -1;
}

/* One chat client per process (it keeps the connections), made on first use. */
static stepd_llm_client *llm;
static pthread_once_t llm_once = PTHREAD_ONCE_INIT;
static void llm_init(void) {
    const char *off = getenv("DOCUMENTS_NO_LLM");
    char *err = NULL;
    if ((off && *off && strcmp(off, "0")) || stepd_llm_client_new(NULL, &llm, &err) < 0) {
        if (err)
            fprintf(stderr, "documents: LLM classification off: %s\n", err);
        free(err);
        llm = NULL;
    }
}

static int process(step_ctx *ctx, json_t *input) {
    const char *id = json_string_value(json_object_get(input, "documentId"));
    const char *path = json_string_value(json_object_get(input, "path"));
    ai_ocr_options o = ai_ocr_options_default();
    o.type = json_string_value(json_object_get(input, "type"));
    o.mime = json_string_value(json_object_get(input, "mime"));
    o.words = 0;
    o.entities = text_entities;
    pthread_once(&llm_once, llm_init);
    ai_ocr_llm classifier = {.client = llm}; /* no hooks: no cache, no metrics.ai events */
    ai_ocr_options_use_llm(&o, &classifier);
    json_t *doc = NULL;
    char *err = NULL;
    int rc = ai_ocr_process_file(NULL, path, &o, &doc, &err);
    if (rc == STEP_EPARSE || rc == STEP_EUNSUPPORTED || rc == STEP_EINVAL ||
        rc == STEP_ENOTFOUND) {
        json_t *rec = json_pack("{s:s, s:s, s:s}", "documentId", id, "status", "failed", "error",
                                err ? err : step_strerror(rc));
        free(err);
        rc = step_state_set(ctx, "document_extracts", id, rec);
        json_decref(rec);
        if (rc == 0)
            unlink(path);
        return rc;
    }
    if (rc < 0) {
        json_t *f = json_pack("{s:s}", "error", err ? err : "");
        step_log_warn(ctx, "ocr failed; will retry", f); /* fields are borrowed */
        json_decref(f);
        free(err);
        return rc;
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(doc, "warnings"), i, w) {
        json_t *f = json_pack("{s:s, s:O}", "documentId", id, "warning", w);
        step_log_warn(ctx, "document type from keywords", f); /* fields are borrowed */
        json_decref(f);
    }
    json_object_set_new(doc, "documentId", json_string(id));
    json_object_set_new(doc, "status", json_string("done"));
    rc = step_state_set(ctx, "document_extracts", id, doc);
    if (rc == 0)
        rc = step_emit(ctx, "document.extracted",
                       json_pack("{s:s, s:O, s:O, s:O, s:O}", "documentId", id, "type",
                                 json_object_get(doc, "type"), "classifiedBy",
                                 json_object_get(doc, "classifiedBy"), "confidence",
                                 json_object_get(doc, "confidence"), "fields",
                                 json_object_get(doc, "fields")));
    json_decref(doc);
    if (rc == 0)
        unlink(path);
    return rc;
}

STEP_CONFIG = {
    .type = STEP_EVENT,
    .name = "DocumentProcess",
    .description = "OCRs a document, extracts its fields and entities, stores the result",
    .flows = STEP_LIST("documents"),
    .subscribes = STEP_LIST("document.process"),
    .input_schema = "{\"type\":\"object\",\"required\":[\"documentId\",\"path\"]}",
    .emits = STEP_LIST("document.extracted"),
    .on_event = process,
    .timeout_ms = 120000,
    .concurrency = 2,
};
