/*
 * text.c — the text module's public API (include/stepd/ai/text.h): loads the data once and
 * runs the analysis pipeline on one document:
 *
 *   sanitise UTF-8 -> tokenize + sentences (text_token.c, Pattern-compatible)
 *     -> sentiment (text_sentiment.c) and readability over all tokens
 *     -> POS tags (text_tagger.c) -> noun/key phrases, summary (text_extract.c),
 *        entities (text_entities.c) over the first DEEP_LIMIT bytes
 *     -> language (text_lang.c) -> one JSON object.
 *
 * Long inputs are tokenized in segments cut at paragraph breaks (or, failing that, at a
 * sentence end or a space), so temporary memory stays proportional to a segment. A loaded
 * stepd_text is never written after stepd_text_open returns; every call allocates its own
 * working memory, so any number of threads may analyse at once.
 */
#include "ai/text_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/step.h>

#define SEGMENT (1u << 20)     /* tokenizer segment */
#define DEEP_LIMIT (2u << 20)  /* tagging, phrases, entities and summary */
#define MAX_INPUT (256u << 20) /* refuse beyond this */
#define DEFAULT_PATTERN_DIR "/usr/lib/python3/dist-packages/pattern/text/en"
#define DEFAULT_TEXTCAT_DIR "/usr/share/libexttextcat"

struct stepd_text {
    text_sentiment *sentiment;
    text_tagger *tagger;
    text_lang *lang;
    text_gazetteer *gaz;
    char *lang_error; /* language id is optional: why it is unavailable */
};

static const char *env_or(const char *opt, const char *env, const char *dflt) {
    if (opt && opt[0])
        return opt;
    const char *e = getenv(env);
    return e && e[0] ? e : dflt;
}

int stepd_text_open(const stepd_text_options *opt, stepd_text **out, char **err) {
    char *e = NULL;
    if (!out) {
        if (err)
            *err = text_errf("stepd_text_open: out is NULL");
        return STEP_EINVAL;
    }
    stepd_text_options none = {0};
    if (!opt)
        opt = &none;
    const char *pdir = env_or(opt->pattern_dir, "STEPD_PATTERN_DIR", DEFAULT_PATTERN_DIR);
    const char *tdir = env_or(opt->textcat_dir, "STEPD_TEXTCAT_DIR", DEFAULT_TEXTCAT_DIR);
    stepd_text *tx = calloc(1, sizeof(*tx));
    if (!tx)
        return STEP_ENOMEM;
    char path[4096];
    snprintf(path, sizeof(path), "%s/en-sentiment.xml", pdir);
    int rc = text_sentiment_load(path, &tx->sentiment, &e);
    if (!rc)
        rc = text_tagger_load(pdir, &tx->tagger, &e);
    if (!rc) {
        char *le = NULL;
        if (text_lang_load(tdir, &tx->lang, &le) != 0)
            tx->lang_error = le;
        rc = text_gazetteer_load(opt->iso_codes_dir, opt->zoneinfo_dir, &tx->gaz);
        if (rc)
            e = text_errf("out of memory loading gazetteers");
    }
    if (rc) {
        if (err)
            *err = e ? e : text_errf("%s", step_strerror(rc));
        else
            free(e);
        stepd_text_close(tx);
        return rc;
    }
    *out = tx;
    return 0;
}

void stepd_text_close(stepd_text *tx) {
    if (!tx)
        return;
    text_sentiment_free(tx->sentiment);
    text_tagger_free(tx->tagger);
    text_lang_free(tx->lang);
    text_gazetteer_free(tx->gaz);
    free(tx->lang_error);
    free(tx);
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static stepd_text *default_tx;
static char *default_err;

static void default_load(void) {
    if (stepd_text_open(NULL, &default_tx, &default_err) != 0)
        default_tx = NULL;
}

static void default_free(void) __attribute__((destructor));
static void default_free(void) {
    stepd_text_close(default_tx);
    free(default_err);
    default_tx = NULL;
    default_err = NULL;
}

const stepd_text *stepd_text_default(const char **err) {
    pthread_once(&default_once, default_load);
    if (!default_tx && err)
        *err = default_err ? default_err : "text data could not be loaded";
    return default_tx;
}

/* ---- tokenizing in segments ----------------------------------------------------------------- */

/* Where to end the segment starting at s (n bytes left): a paragraph break, else a sentence
 * end, else a space, else a character boundary. */
static size_t segment_end(const char *s, size_t n) {
    if (n <= SEGMENT)
        return n;
    size_t lo = SEGMENT / 2;
    for (size_t i = SEGMENT; i > lo; i--)
        if (s[i - 1] == '\n' && s[i - 2] == '\n')
            return i;
    for (size_t i = SEGMENT; i > lo; i--)
        if ((s[i - 1] == ' ' || s[i - 1] == '\n') && strchr(".!?", s[i - 2]))
            return i;
    for (size_t i = SEGMENT; i > lo; i--)
        if (s[i - 1] == ' ' || s[i - 1] == '\n')
            return i;
    size_t i = SEGMENT;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

static int tokenize_all(const char *s, size_t n, text_toks *t) {
    size_t off = 0;
    while (off < n) {
        size_t len = segment_end(s + off, n - off);
        text_toks seg = {0};
        int rc = text_tokenize(s + off, len, &seg);
        if (rc) {
            text_toks_free(t);
            return rc;
        }
        if (t->ntok == 0 && t->nsent == 0) {
            text_toks_free(t);
            *t = seg;
        } else if (seg.ntok) {
            size_t base = t->buf.len, tbase = t->ntok;
            tbuf_put(&t->buf, seg.buf.p, seg.buf.len);
            size_t *tk = realloc(t->tok, (t->ntok + seg.ntok) * sizeof(*tk));
            size_t *st = tk ? realloc(t->sent, (t->nsent + seg.nsent + 1) * sizeof(*st)) : NULL;
            if (tk)
                t->tok = tk;
            if (st)
                t->sent = st;
            if (!tk || !st || t->buf.oom) {
                text_toks_free(&seg);
                text_toks_free(t);
                return STEP_ENOMEM;
            }
            for (size_t k = 0; k < seg.ntok; k++)
                t->tok[t->ntok + k] = seg.tok[k] + base;
            for (size_t k = 0; k <= seg.nsent; k++)
                t->sent[t->nsent + k] = seg.sent[k] + tbase;
            t->ntok += seg.ntok;
            t->nsent += seg.nsent;
            t->captok = t->ntok;
            t->capsent = t->nsent + 1;
            text_toks_free(&seg);
        } else {
            text_toks_free(&seg);
        }
        off += len;
    }
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static int has_alnum(const char *w) {
    for (; *w; w++) {
        unsigned char c = (unsigned char)*w;
        if ((c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c >= 0xC0)
            return 1;
    }
    return 0;
}

static void readability_from(const text_toks *t, stepd_text_readability *r) {
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < t->ntok; i++) {
        const char *w = toks_at(t, i);
        if (!has_alnum(w))
            continue;
        r->words++;
        r->syllables += (size_t)text_syllables(w, strlen(w));
    }
    r->sentences = t->nsent;
    if (r->words == 0 || r->sentences == 0) {
        r->score = 0;
        r->grade = 0;
        r->level = "unknown";
        return;
    }
    double wps = (double)r->words / (double)r->sentences;
    double spw = (double)r->syllables / (double)r->words;
    r->score = 206.835 - 1.015 * wps - 84.6 * spw;
    r->grade = 0.39 * wps + 11.8 * spw - 15.59;
    r->level = r->score >= 60.0 ? "easy" : r->score >= 30.0 ? "moderate" : "difficult";
}

/* Byte offsets of tokens in src: tokens are substrings in order, except the few Pattern
 * rebuilds (":)" from ": )", "(!)"). */
static int locate_tokens(text_doc *d) {
    size_t n = d->toks.ntok;
    d->tok_start = malloc((n ? n : 1) * sizeof(size_t));
    d->sent_start = malloc((d->toks.nsent ? d->toks.nsent : 1) * sizeof(size_t));
    d->sent_end = malloc((d->toks.nsent ? d->toks.nsent : 1) * sizeof(size_t));
    if (!d->tok_start || !d->sent_start || !d->sent_end)
        return STEP_ENOMEM;
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = toks_at(&d->toks, i);
        size_t wl = strlen(w);
        size_t window = d->srclen - cur < 256 + wl ? d->srclen - cur : 256 + wl;
        const char *hit = memmem(d->src + cur, window, w, wl);
        if (hit) {
            d->tok_start[i] = (size_t)(hit - d->src);
            cur = d->tok_start[i] + wl;
        } else {
            d->tok_start[i] = SIZE_MAX;
        }
    }
    for (size_t s = 0; s < d->toks.nsent; s++) {
        size_t a = d->toks.sent[s], b = d->toks.sent[s + 1];
        size_t st = SIZE_MAX, en = 0;
        for (size_t i = a; i < b; i++)
            if (d->tok_start[i] != SIZE_MAX) {
                if (st == SIZE_MAX)
                    st = d->tok_start[i];
                en = d->tok_start[i] + strlen(toks_at(&d->toks, i));
            }
        d->sent_start[s] = st;
        d->sent_end[s] = st == SIZE_MAX ? SIZE_MAX : en;
    }
    return 0;
}

static void doc_free(text_doc *d) {
    text_toks_free(&d->toks);
    free(d->tags);
    free(d->tok_start);
    free(d->sent_start);
    free(d->sent_end);
}

static int tag_sentences(const stepd_text *tx, const text_toks *t, size_t ntok_limit,
                         const char **tags) {
    for (size_t s = 0; s < t->nsent; s++) {
        size_t a = t->sent[s], b = t->sent[s + 1];
        if (a >= ntok_limit)
            break;
        int rc = text_tagger_tag(tx->tagger, t, a, b - a, tags + a);
        if (rc)
            return rc;
    }
    return 0;
}

static json_t *classification(double polarity) {
    const char *label;
    double score;
    if (polarity >= 0.1)
        label = "POSITIVE", score = 0.5 + polarity / 2.0;
    else if (polarity <= -0.1)
        label = "NEGATIVE", score = 0.5 - polarity / 2.0;
    else
        label = "NEUTRAL", score = 1.0 - 5.0 * (polarity < 0 ? -polarity : polarity);
    return json_pack("{s:s,s:f}", "label", label, "score", score);
}

static const struct {
    const char *code, *name;
} LANG_NAMES[] = {
    {"en", "English"},   {"de", "German"},     {"fr", "French"},     {"es", "Spanish"},
    {"it", "Italian"},   {"pt", "Portuguese"}, {"nl", "Dutch"},      {"sv", "Swedish"},
    {"da", "Danish"},    {"nb", "Norwegian"},  {"fi", "Finnish"},    {"pl", "Polish"},
    {"cs", "Czech"},     {"sk", "Slovak"},     {"hu", "Hungarian"},  {"ro", "Romanian"},
    {"tr", "Turkish"},   {"ru", "Russian"},    {"uk", "Ukrainian"},  {"el", "Greek"},
    {"ar", "Arabic"},    {"he", "Hebrew"},     {"hi", "Hindi"},      {"ja", "Japanese"},
    {"zh", "Chinese"},   {"ko", "Korean"},     {"id", "Indonesian"}, {"ca", "Catalan"},
    {"et", "Estonian"},  {"lv", "Latvian"},    {"lt", "Lithuanian"}, {"sl", "Slovenian"},
    {"hr", "Croatian"},  {"bg", "Bulgarian"},  {"eu", "Basque"},     {"ga", "Irish"},
    {"is", "Icelandic"}, {"af", "Afrikaans"},  {"sw", "Swahili"},    {"vi", "Vietnamese"},
};

static const char *lang_name(const char *code) {
    for (size_t i = 0; i < sizeof(LANG_NAMES) / sizeof(LANG_NAMES[0]); i++)
        if (!strcmp(LANG_NAMES[i].code, code))
            return LANG_NAMES[i].name;
    return NULL;
}

/* ---- public API ------------------------------------------------------------------------------ */

int stepd_text_analyze(const stepd_text *tx, const char *text, size_t len,
                       const stepd_text_analyze_options *opt, json_t **out, char **err) {
    if (!tx || (!text && len) || !out) {
        if (err)
            *err = text_errf("stepd_text_analyze: %s is NULL", !tx    ? "the model"
                                                               : !out ? "out"
                                                                      : "text");
        return STEP_EINVAL;
    }
    if (len > MAX_INPUT) {
        if (err)
            *err = text_errf("text is %zu bytes; the limit is %u MiB", len, MAX_INPUT >> 20);
        return STEP_EINVAL;
    }
    stepd_text_analyze_options dflt = {0};
    if (!opt)
        opt = &dflt;
    text_doc d = {0};
    json_t *res = NULL;
    int rc = STEP_ENOMEM;
    size_t clean_len = 0;
    char *clean = utf8_sanitize(text ? text : "", len, &clean_len);
    if (!clean)
        goto fail;
    d.src = clean;
    d.srclen = clean_len;
    if ((rc = tokenize_all(clean, clean_len, &d.toks)) != 0)
        goto fail;
    double pol = 0, subj = 0;
    size_t nassess = 0;
    if ((rc = text_sentiment_score(tx->sentiment, &d.toks, &pol, &subj, &nassess)) != 0)
        goto fail;
    size_t words = 0;
    for (size_t i = 0; i < d.toks.ntok; i++)
        words += has_alnum(toks_at(&d.toks, i));
    rc = STEP_ENOMEM;
    json_t *sent =
        json_pack("{s:f,s:f,s:I,s:o}", "polarity", pol, "subjectivity", subj, "assessments",
                  (json_int_t)nassess, "classification", classification(pol));
    res = json_pack("{s:I,s:I,s:I,s:o}", "tokens", (json_int_t)d.toks.ntok, "sentences",
                    (json_int_t)d.toks.nsent, "words", (json_int_t)words, "sentiment", sent);
    if (!res)
        goto fail;
    if (opt->sentiment_only)
        goto done;

    stepd_text_readability r;
    if (opt->parse_only)
        goto deep;
    readability_from(&d.toks, &r);
    json_object_set_new(res, "readability",
                        json_pack("{s:f,s:f,s:s,s:I,s:I,s:I}", "score", r.score, "grade", r.grade,
                                  "level", r.level, "syllables", (json_int_t)r.syllables, "words",
                                  (json_int_t)r.words, "sentences", (json_int_t)r.sentences));

    char code[16];
    double conf;
    text_lang_identify(tx->lang, clean, clean_len, code, &conf);
    json_t *lang = json_pack("{s:s,s:f}", "code", code, "confidence", conf);
    if (lang && lang_name(code))
        json_object_set_new(lang, "name", json_string(lang_name(code)));
    if (lang && tx->lang_error)
        json_object_set_new(lang, "error", json_string(tx->lang_error));
    json_object_set_new(res, "language", lang);
deep:;

    /* deep analysis over the first DEEP_LIMIT bytes' sentences */
    size_t ntok_deep = d.toks.ntok;
    if (clean_len > DEEP_LIMIT) {
        json_object_set_new(res, "truncated", json_true());
        json_object_set_new(res, "analyzedBytes", json_integer(DEEP_LIMIT));
    }
    if ((rc = locate_tokens(&d)) != 0)
        goto fail;
    if (clean_len > DEEP_LIMIT) {
        size_t s = 0;
        while (s < d.toks.nsent && d.sent_start[s] != SIZE_MAX && d.sent_start[s] < DEEP_LIMIT)
            s++;
        ntok_deep = d.toks.sent[s];
        d.toks.nsent = s; /* later stages see only these sentences */
        d.toks.ntok = ntok_deep;
    }
    d.tags = calloc(ntok_deep ? ntok_deep : 1, sizeof(char *));
    if (!d.tags)
        goto fail;
    if ((rc = tag_sentences(tx, &d.toks, ntok_deep, d.tags)) != 0)
        goto fail;
    rc = STEP_ENOMEM;
    json_t *np = NULL, *kp = NULL, *ents = NULL, *sum = NULL, *sidx = NULL;
    if (text_phrases(&d, opt->key_phrases > 0 ? opt->key_phrases : 10, &np, &kp) != 0)
        goto fail;
    json_object_set_new(res, "keyPhrases", kp);
    json_object_set_new(res, "nounPhrases", np);
    if (opt->parse_only)
        goto tokens;
    if (text_entities(tx->gaz, &d, &ents) != 0)
        goto fail;
    json_object_set_new(res, "entities", ents);
    if (text_summary(&d, opt->summary_sentences > 0 ? opt->summary_sentences : 3,
                     opt->summary_max_chars, &sum, &sidx) != 0)
        goto fail;
    json_object_set_new(res, "summary", sum);
    json_object_set_new(res, "summarySentences", sidx);
tokens:
    if (opt->with_tokens) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < ntok_deep; i++)
            json_array_append_new(arr, json_pack("{s:s,s:s}", "text", toks_at(&d.toks, i), "pos",
                                                 d.tags[i] ? d.tags[i] : ""));
        json_object_set_new(res, "tokenList", arr);
    }
done:
    doc_free(&d);
    free(clean);
    *out = res;
    return 0;
fail:
    if (err && !*err)
        *err = text_errf("text analysis failed: %s", step_strerror(rc));
    json_decref(res);
    doc_free(&d);
    free(clean);
    return rc;
}

int stepd_text_sentiment(const stepd_text *tx, const char *text, size_t len, double *polarity,
                         double *subjectivity) {
    if (!tx || (!text && len) || !polarity || !subjectivity)
        return STEP_EINVAL;
    size_t cl = len;
    char *clean = NULL;
    const char *src = text ? text : "";
    if (!utf8_valid(src, len)) {
        if (!(clean = utf8_sanitize(src, len, &cl)))
            return STEP_ENOMEM;
        src = clean;
    }
    text_toks t = {0};
    int rc = tokenize_all(src, cl, &t);
    if (!rc)
        rc = text_sentiment_score(tx->sentiment, &t, polarity, subjectivity, NULL);
    text_toks_free(&t);
    free(clean);
    return rc;
}

static json_t *sentences_json(const text_toks *t, const char **tags) {
    json_t *all = json_array();
    for (size_t s = 0; all && s < t->nsent; s++) {
        json_t *sent = json_array();
        for (size_t i = t->sent[s]; sent && i < t->sent[s + 1]; i++)
            json_array_append_new(sent, tags ? json_pack("[s,s]", toks_at(t, i), tags[i])
                                             : json_string(toks_at(t, i)));
        if (!sent || json_array_append_new(all, sent)) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}

int stepd_text_tokenize(const char *text, size_t len, json_t **out) {
    if ((!text && len) || !out)
        return STEP_EINVAL;
    size_t cl;
    char *clean = utf8_sanitize(text ? text : "", len, &cl);
    if (!clean)
        return STEP_ENOMEM;
    text_toks t = {0};
    int rc = tokenize_all(clean, cl, &t);
    free(clean);
    if (rc)
        return rc;
    *out = sentences_json(&t, NULL);
    text_toks_free(&t);
    return *out ? 0 : STEP_ENOMEM;
}

int stepd_text_tag(const stepd_text *tx, const char *text, size_t len, json_t **out) {
    if (!tx || (!text && len) || !out)
        return STEP_EINVAL;
    size_t cl;
    char *clean = utf8_sanitize(text ? text : "", len, &cl);
    if (!clean)
        return STEP_ENOMEM;
    text_toks t = {0};
    int rc = tokenize_all(clean, cl, &t);
    free(clean);
    if (rc)
        return rc;
    const char **tags = calloc(t.ntok ? t.ntok : 1, sizeof(char *));
    rc = tags ? tag_sentences(tx, &t, t.ntok, tags) : STEP_ENOMEM;
    if (!rc) {
        *out = sentences_json(&t, tags);
        rc = *out ? 0 : STEP_ENOMEM;
    }
    free(tags);
    text_toks_free(&t);
    return rc;
}

int stepd_text_readability_of(const char *text, size_t len, stepd_text_readability *out) {
    if ((!text && len) || !out)
        return STEP_EINVAL;
    size_t cl;
    char *clean = utf8_sanitize(text ? text : "", len, &cl);
    if (!clean)
        return STEP_ENOMEM;
    text_toks t = {0};
    int rc = tokenize_all(clean, cl, &t);
    free(clean);
    if (rc)
        return rc;
    readability_from(&t, out);
    text_toks_free(&t);
    return 0;
}

int stepd_text_language(const stepd_text *tx, const char *text, size_t len, char code[16],
                        double *confidence) {
    if (!tx || (!text && len) || !code || !confidence)
        return STEP_EINVAL;
    if (!tx->lang)
        return STEP_EUNSUPPORTED;
    text_lang_identify(tx->lang, text ? text : "", len, code, confidence);
    return 0;
}
