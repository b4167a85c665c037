/*
 * text_cli.c — `stepd ai text [--file F | TEXT | -]`: prints the analysis of one text as JSON.
 * Extra modes used by the tests and benches: --sentiment (polarity/subjectivity only),
 * --tokens (Pattern's tokenization), --tags (tagged sentences), --lines (analyse each input
 * line separately, one JSON document per line).
 */
#include "ai/ai_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stepd/ai/text.h>
#include <stepd/step.h>

#include "ai/text_internal.h"

static void usage(FILE *o) {
    fprintf(o, "usage: stepd ai text [--file F | TEXT | -] [options]\n"
               "  Analyses English text and prints JSON: sentiment, entities, keyPhrases,\n"
               "  summary, language, readability, token and sentence counts.\n"
               "  --file F        read the text from F ('-' = stdin); also a lone '-'\n"
               "  --summary N     sentences in the summary (default 3)\n"
               "  --summary-chars N  bound the summary length in bytes\n"
               "  --key-phrases N number of key phrases (default 10)\n"
               "  --tokens        print Pattern-compatible tokens per sentence instead\n"
               "  --tags          print [token, POS tag] per sentence instead\n"
               "  --sentiment     print only {polarity, subjectivity}\n"
               "  --with-tokens   include the token list with tags in the analysis\n"
               "  --parse-only    only tokens, sentiment, tags, noun and key phrases\n"
               "  --lines         treat each input line as a separate document (JSON lines)\n"
               "  --bench N       time (CPU) N passes over the input lines (--sentiment or the\n"
               "                  full analysis) and print docs/s, excluding data loading\n"
               "  data: STEPD_PATTERN_DIR (python3-pattern), STEPD_TEXTCAT_DIR (libexttextcat)\n");
}

static int run_one(const stepd_text *tx, const char *mode, const char *s, size_t n,
                   const stepd_text_analyze_options *o, int pretty) {
    json_t *res = NULL;
    char *err = NULL;
    int rc;
    if (!strcmp(mode, "tokens")) {
        rc = stepd_text_tokenize(s, n, &res);
    } else if (!strcmp(mode, "tags")) {
        rc = stepd_text_tag(tx, s, n, &res);
    } else if (!strcmp(mode, "sentiment")) {
        double p, q;
        rc = stepd_text_sentiment(tx, s, n, &p, &q);
        if (!rc)
            res = json_pack("{s:f,s:f}", "polarity", p, "subjectivity", q);
    } else {
        rc = stepd_text_analyze(tx, s, n, o, &res, &err);
    }
    if (rc || !res) {
        fprintf(stderr, "stepd ai text: %s\n", err ? err : step_strerror(rc ? rc : STEP_ENOMEM));
        free(err);
        json_decref(res);
        return 1;
    }
    char *js = json_dumps(res, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(17));
    json_decref(res);
    if (!js)
        return 1;
    puts(js);
    free(js);
    return 0;
}

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine may be shared */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --bench: every line is a document; N passes; only the analysis is timed. */
static int bench(const stepd_text *tx, const char *mode, const char *src, size_t len, int passes,
                 const stepd_text_analyze_options *o) {
    size_t docs = 0;
    double t0 = now_sec();
    for (int p = 0; p < passes; p++) {
        const char *q = src, *end = src + len;
        while (q < end) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            const char *le = nl ? nl : end;
            if (!strcmp(mode, "sentiment")) {
                double a, b;
                if (stepd_text_sentiment(tx, q, (size_t)(le - q), &a, &b))
                    return 1;
            } else {
                json_t *r = NULL;
                if (stepd_text_analyze(tx, q, (size_t)(le - q), o, &r, NULL))
                    return 1;
                json_decref(r);
            }
            docs++;
            q = le + 1;
        }
    }
    double dt = now_sec() - t0;
    printf("{\"mode\":\"%s\",\"docs\":%zu,\"seconds\":%.6f,\"docsPerSec\":%.1f}\n", mode, docs, dt,
           dt > 0 ? (double)docs / dt : 0.0);
    return 0;
}

int ai_cli_text(int argc, char **argv) {
    const char *file = NULL, *text = NULL, *mode = "analyze";
    int lines = 0, passes = 0;
    stepd_text_analyze_options o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (!strcmp(a, "--summary") && i + 1 < argc) {
            o.summary_sentences = atoi(argv[++i]);
        } else if (!strcmp(a, "--summary-chars") && i + 1 < argc) {
            o.summary_max_chars = (size_t)atol(argv[++i]);
        } else if (!strcmp(a, "--key-phrases") && i + 1 < argc) {
            o.key_phrases = atoi(argv[++i]);
        } else if (!strcmp(a, "--tokens")) {
            mode = "tokens";
        } else if (!strcmp(a, "--tags")) {
            mode = "tags";
        } else if (!strcmp(a, "--sentiment")) {
            mode = "sentiment";
        } else if (!strcmp(a, "--parse-only")) {
            o.parse_only = 1;
        } else if (!strcmp(a, "--with-tokens")) {
            o.with_tokens = 1;
        } else if (!strcmp(a, "--lines")) {
            lines = 1;
        } else if (!strcmp(a, "--bench") && i + 1 < argc) {
            passes = atoi(argv[++i]);
            if (passes < 1) {
                fprintf(stderr, "stepd ai text: --bench needs a positive pass count\n");
                return 2;
            }
        } else if (!strcmp(a, "-")) {
            file = "-";
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "stepd ai text: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!text) {
            text = a;
        } else {
            fprintf(stderr, "stepd ai text: give one TEXT (quote it) or --file F\n");
            return 2;
        }
    }
    if (!text && !file) {
        usage(stderr);
        return 2;
    }
    char *buf = NULL;
    size_t len = 0;
    if (file) {
        if (!strcmp(file, "-")) {
            tbuf b = {0};
            char tmp[65536];
            size_t n;
            while ((n = fread(tmp, 1, sizeof(tmp), stdin)) > 0)
                tbuf_put(&b, tmp, n);
            if (b.oom) {
                tbuf_free(&b);
                fprintf(stderr, "stepd ai text: out of memory reading stdin\n");
                return 1;
            }
            buf = b.p ? b.p : strdup("");
            len = b.len;
        } else if (!(buf = text_read_file(file, &len))) {
            fprintf(stderr, "stepd ai text: cannot read %s\n", file);
            return 1;
        }
    } else {
        len = strlen(text);
    }
    const char *src = buf ? buf : text;
    const stepd_text *tx = NULL;
    if (strcmp(mode, "tokens")) {
        const char *err = NULL;
        tx = stepd_text_default(&err);
        if (!tx) {
            fprintf(stderr, "stepd ai text: %s\n", err);
            free(buf);
            return 1;
        }
    }
    int rc = 0;
    if (passes) {
        rc = bench(tx, mode, src, len, passes, &o);
    } else if (lines) {
        const char *p = src, *end = src + len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            if (run_one(tx, mode, p, (size_t)(le - p), &o, 0))
                rc = 1;
            p = le + 1;
        }
    } else {
        rc = run_one(tx, mode, src, len, &o, !strcmp(mode, "analyze"));
    }
    free(buf);
    return rc;
}
