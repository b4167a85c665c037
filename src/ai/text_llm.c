/*
 * text_llm.c — abstractive summaries through the LLM module: when a caller asks for one and
 * an LLM is configured, the text (bounded to MAX_PROMPT_BYTES, cut at a sentence end) is sent
 * with an instruction to summarise it in at most N sentences; if there is no model or the call
 * fails, the extractive TextRank summary is returned instead, with the reason, so a step
 * always gets a summary.
 */
#include "ai/text_internal.h"

#include <stdlib.h>
#include <string.h>

#include <stepd/ai/llm.h>
#include <stepd/step.h>

#define MAX_PROMPT_BYTES 24000

int stepd_text_summarize(const stepd_text *tx, stepd_llm_client *llm, const stepd_llm_hooks *hooks,
                         const char *text, size_t len, int sentences, json_t **out) {
    if (!tx || (!text && len) || !out)
        return STEP_EINVAL;
    if (sentences <= 0)
        sentences = 3;
    *out = NULL;
    char *why = NULL;
    if (llm && stepd_llm_client_has_model(llm)) {
        size_t cut = len;
        if (cut > MAX_PROMPT_BYTES) {
            cut = MAX_PROMPT_BYTES;
            while (cut > MAX_PROMPT_BYTES / 2 && !strchr(".!?\n", text[cut - 1]))
                cut--;
            while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
                cut--;
        }
        char sys[256];
        snprintf(sys, sizeof(sys),
                 "Summarise the user's text in at most %d sentences. Keep names, numbers and "
                 "dates exact. Answer with the summary only.",
                 sentences);
        size_t cl;
        char *clean = utf8_sanitize(text ? text : "", cut, &cl);
        json_t *msgs =
            clean ? json_pack("[{s:s,s:s%}]", "role", "user", "content", clean, cl) : NULL;
        free(clean);
        if (!msgs)
            return STEP_ENOMEM;
        stepd_llm_request req = {.messages = msgs,
                                 .system = sys,
                                 .temperature = 0.2,
                                 .has_temperature = 1,
                                 .no_metrics = !hooks || !hooks->emit};
        stepd_llm_result res;
        int rc = stepd_llm_chat(llm, &req, hooks, &res);
        json_decref(msgs);
        if (rc == 0 && res.content && res.content[0]) {
            *out = json_pack("{s:s,s:s,s:s?}", "summary", res.content, "method", "abstractive",
                             "model", res.model);
            stepd_llm_result_free(&res);
            return *out ? 0 : STEP_ENOMEM;
        }
        why = text_errf("LLM summary failed (%s); extractive summary instead",
                        res.error ? res.error : step_strerror(rc ? rc : STEP_EFAILED));
        stepd_llm_result_free(&res);
    } else {
        why = text_errf("no LLM configured; extractive summary");
    }
    stepd_text_analyze_options o = {.summary_sentences = sentences};
    json_t *a = NULL;
    char *err = NULL;
    int rc = stepd_text_analyze(tx, text, len, &o, &a, &err);
    if (rc) {
        free(why);
        free(err);
        return rc;
    }
    *out = json_pack("{s:O,s:s,s:s}", "summary", json_object_get(a, "summary"), "method",
                     "extractive", "note", why ? why : "");
    free(why);
    json_decref(a);
    return *out ? 0 : STEP_ENOMEM;
}
