/* text_common.h — shared by the text example's steps: the loaded text model and the LLM
 * client, each created once per process. */
#ifndef TEXT_EXAMPLE_COMMON_H
#define TEXT_EXAMPLE_COMMON_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/ai/llm.h>
#include <stepd/ai/text.h>
#include <stepd/step.h>

#define TEXT_GROUP "text_analysis"
#define TEXT_SYNC_MAX (64 * 1024) /* POST /text/analyze answers inline up to this size */

static stepd_llm_client *text_llm;
static pthread_once_t text_llm_once = PTHREAD_ONCE_INIT;
static void text_llm_init(void) {
    char *err = NULL;
    if (stepd_llm_client_new(NULL, &text_llm, &err) < 0) {
        fprintf(stderr, "text example: no LLM client: %s\n", err ? err : "?");
        free(err);
        text_llm = NULL;
    }
}

/* The analysis of `text` as the flow stores it; abstractive asks the LLM for the summary. */
static inline int text_example_analyze(step_ctx *ctx, const char *text, int sentences,
                                       int abstractive, json_t **out, char **err) {
    const char *lerr = NULL;
    const stepd_text *tx = stepd_text_default(&lerr);
    if (!tx) {
        *err = strdup(lerr);
        return STEP_ECONFIG;
    }
    stepd_text_analyze_options o = {.summary_sentences = sentences};
    int rc = stepd_text_analyze(tx, text, strlen(text), &o, out, err);
    if (rc || !abstractive)
        return rc;
    pthread_once(&text_llm_once, text_llm_init);
    stepd_llm_hooks hooks = stepd_llm_step_hooks(ctx);
    json_t *sum = NULL;
    if (stepd_text_summarize(tx, text_llm, &hooks, text, strlen(text), sentences, &sum) == 0) {
        json_object_set(*out, "summary", json_object_get(sum, "summary"));
        json_object_set(*out, "summaryMethod", json_object_get(sum, "method"));
        if (json_object_get(sum, "note"))
            json_object_set(*out, "summaryNote", json_object_get(sum, "note"));
        json_decref(sum);
    }
    return 0;
}

#endif
