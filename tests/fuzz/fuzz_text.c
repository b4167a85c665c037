/* fuzz_text.c — libFuzzer target: the whole text analysis (tokenizer, sentiment, tagger,
 * phrases, entities, summary, readability, language) on arbitrary bytes, and the calls that
 * take raw bytes without the analysis' clean-up (language id, sentiment). */
#include <stdint.h>
#include <stdlib.h>

#include <stepd/ai/text.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const stepd_text *tx = stepd_text_default(NULL);
    if (!tx)
        return 0;
    json_t *out = NULL;
    char *err = NULL;
    if (stepd_text_analyze(tx, (const char *)data, size, NULL, &out, &err) == 0)
        json_decref(out);
    free(err);
    char code[16];
    double a, b;
    stepd_text_language(tx, (const char *)data, size, code, &a);
    stepd_text_sentiment(tx, (const char *)data, size, &a, &b);
    json_t *tok = NULL;
    if (stepd_text_tokenize((const char *)data, size, &tok) == 0)
        json_decref(tok);
    return 0;
}
