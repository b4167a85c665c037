/*
 * stepd/ai/text.h — native text analysis: tokens and sentences, sentiment (Pattern/TextBlob
 * compatible), part-of-speech tags, noun and key phrases, entities, extractive summary,
 * language id and readability, as one JSON document from one call.
 *
 * Data comes from Debian packages and is loaded once: Pattern's English lexicons
 * (python3-pattern; directory from STEPD_PATTERN_DIR or the option below) and the language
 * fingerprints of libexttextcat-data. A loaded stepd_text is immutable and may be shared by any
 * number of threads.
 *
 *     stepd_text *tx;  char *err = NULL;  json_t *res;
 *     if (stepd_text_open(NULL, &tx, &err) != 0) { fprintf(stderr, "%s\n", err); free(err); }
 *     if (stepd_text_analyze(tx, "Great movie!", 12, NULL, &res, &err) == 0) ... json_decref(res);
 *     stepd_text_close(tx);
 */
#ifndef STEPD_AI_TEXT_H
#define STEPD_AI_TEXT_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stepd_text stepd_text; /* opaque, immutable after open */

typedef struct stepd_text_options {
    const char *pattern_dir;   /* en-*.txt/xml/slp; NULL: $STEPD_PATTERN_DIR or Debian path */
    const char *textcat_dir;   /* *.lm + fpdb.conf; NULL: $STEPD_TEXTCAT_DIR or Debian path */
    const char *iso_codes_dir; /* iso-codes JSON; NULL: Debian path (optional data) */
    const char *zoneinfo_dir;  /* tzdata zone1970.tab; NULL: /usr/share/zoneinfo (optional) */
} stepd_text_options;

/* Loads the data. opt may be NULL. On failure returns a negative STEP_E* code and, when err is
 * not NULL, a message naming the missing file (caller frees). */
int stepd_text_open(const stepd_text_options *opt, stepd_text **out, char **err);
/* Frees everything; NULL is a no-op. */
void stepd_text_close(stepd_text *tx);
/* The process-wide instance with default options, loaded on first use (thread-safe).
 * Returns NULL and sets *err (static string, do not free) when loading failed. */
const stepd_text *stepd_text_default(const char **err);

/* What stepd_text_analyze computes; zero-initialised means everything, 3 summary sentences. */
typedef struct stepd_text_analyze_options {
    int summary_sentences;    /* max sentences in the summary (0: 3) */
    size_t summary_max_chars; /* 0: no character bound */
    int key_phrases;          /* max key phrases (0: 10) */
    int with_tokens;          /* also return the token list with POS tags */
    int sentiment_only;       /* skip everything but tokens, sentences and sentiment */
    int parse_only;           /* tokens, sentiment, tags, noun and key phrases: no language,
                                 readability, entities or summary */
} stepd_text_analyze_options;

/* Analyses UTF-8 text (invalid sequences are replaced by U+FFFD, NULs too). *out (new
 * reference) is an object:
 *   {"tokens": N, "sentences": N, "words": N,
 *    "sentiment": {"polarity", "subjectivity", "assessments",
 *                  "classification": {"label": "POSITIVE|NEGATIVE|NEUTRAL", "score"}},
 *    "language": {"code", "name", "confidence"},
 *    "readability": {"score", "grade", "level", "syllables", "words", "sentences"},
 *    "keyPhrases": [{"text", "score", "count"}], "nounPhrases": [...],
 *    "entities": [{"text", "type", "start", "end"}]  (byte offsets into the input;
 *                  into its U+FFFD-sanitised copy when the input is not valid UTF-8),
 *    "summary": "...", "summarySentences": [index, ...]}
 * plus "tokenList" [{"text", "pos"}] with opt->with_tokens, and "truncated": true with
 * "analyzedBytes" when tags, phrases, entities and summary covered only the first 2 MiB.
 * Returns 0, STEP_EINVAL (NULL arguments) or STEP_ENOMEM; err (optional) explains. */
int stepd_text_analyze(const stepd_text *tx, const char *text, size_t len,
                       const stepd_text_analyze_options *opt, json_t **out, char **err);

/* Summary for `text`: abstractive through the LLM module when `llm` has a model (hooks may be
 * NULL; see stepd/ai/llm.h), else — or when the call fails — the extractive summary. *out (new
 * reference): {"summary", "method": "abstractive"|"extractive", "model"?, "note"?}. */
struct stepd_llm_client;
struct stepd_llm_hooks;
int stepd_text_summarize(const stepd_text *tx, struct stepd_llm_client *llm,
                         const struct stepd_llm_hooks *hooks, const char *text, size_t len,
                         int sentences, json_t **out);

/* Pattern's sentiment: polarity -1..1, subjectivity 0..1 (equal to pattern.en.sentiment). */
int stepd_text_sentiment(const stepd_text *tx, const char *text, size_t len, double *polarity,
                         double *subjectivity);

/* Pattern's tokenizer: *out is an array of sentences, each an array of token strings. */
int stepd_text_tokenize(const char *text, size_t len, json_t **out);

/* Pattern's tagger: *out is an array of sentences, each an array of [token, tag] pairs,
 * equal to pattern.en.parse(text, chunks=False) (Penn Treebank tags, NNP-PERS/-ORG/-LOC). */
int stepd_text_tag(const stepd_text *tx, const char *text, size_t len, json_t **out);

/* Flesch reading ease and Flesch-Kincaid grade with real syllable counts. */
typedef struct stepd_text_readability {
    double score, grade;
    const char *level; /* "easy" (score >= 60), "moderate" (>= 30), "difficult"; static */
    size_t words, sentences, syllables;
} stepd_text_readability;
int stepd_text_readability_of(const char *text, size_t len, stepd_text_readability *out);
/* Syllables in one English word (vowel groups with silent-e, -le, -ed, -es rules). */
int stepd_text_syllables(const char *word, size_t len);

/* Language id: ISO 639 code ("und" when unknown or too short) and confidence 0..1. */
int stepd_text_language(const stepd_text *tx, const char *text, size_t len, char code[16],
                        double *confidence);

#ifdef __cplusplus
}
#endif
#endif
