/*
 * ocr_cli.c — `stepd ai ocr FILE [--type invoice|receipt|id]`: reads one document and prints
 * {type, classifiedBy, text, fields, entities, confidence, pages} as JSON on stdout. FILE "-"
 * reads stdin. Without --type, an LLM classifies the document when one is configured (OPENAI_*,
 * see docs/llm.md; --no-llm turns it off), keyword scoring otherwise or when the call fails
 * (the reason goes to stderr as a warning). Exit 0 ok, 1 the document could not be read
 * (message on stderr), 2 bad usage.
 */
#include "ai/ai_cli.h"

#include <stepd/ai/llm.h>
#include <stepd/ai/ocr.h>
#include <stepd/step.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ocr_usage(FILE *out) {
    fprintf(out,
            "usage: stepd ai ocr FILE [options]      (FILE - reads stdin)\n"
            "  reads a PNG/JPEG/TIFF/WebP/BMP/PNM image or a PDF and prints JSON:\n"
            "  {type, classifiedBy, text, fields, entities, confidence, pages}\n\n"
            "options:\n"
            "  --type invoice|receipt|id|other   document type (default: detect: an LLM when\n"
            "                    OPENAI_API_KEY or OPENAI_BASE_URL+OPENAI_MODEL are set, else\n"
            "                    keyword scoring)\n"
            "  --no-llm          detect the type by keywords only, never call a model\n"
            "  --lang L          tesseract languages, e.g. eng or eng+deu (default eng)\n"
            "  --languages       list installed languages and exit\n"
            "  --words           include word boxes in pages[]\n"
            "  --force-ocr       OCR PDF pages even when they have a text layer\n"
            "  --denoise         median filter before OCR (speckled scans)\n"
            "  --binarize        Otsu threshold before OCR\n"
            "  --no-deskew, --no-upscale, --no-gray   turn default clean-up steps off\n"
            "  --threads N       pages in parallel (default: CPUs)\n"
            "  --dpi N           PDF render resolution for scanned pages (default 300)\n"
            "  --max-pixels N    per-page pixel limit (default 40000000)\n"
            "  --max-pages N     pages read at most (default 50)\n"
            "  --mime TYPE       declared MIME type to check the data against\n"
            "  --pretty          indent the JSON\n");
}

static int read_all(FILE *f, size_t max, unsigned char **out, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return STEP_ENOMEM;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                free(buf);
                return STEP_EINVAL;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return STEP_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (n > max) {
        free(buf);
        return STEP_EINVAL;
    }
    *out = buf;
    *len = n;
    return 0;
}

int ai_cli_ocr(int argc, char **argv) {
    ai_ocr_options o = ai_ocr_options_default();
    o.words = 0;
    const char *file = NULL;
    int pretty = 0, use_llm = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                                                                    \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "stepd ai ocr: %s needs a value\n", a);                                \
            return 2;                                                                              \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            ocr_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--languages")) {
            json_t *langs;
            char *err = NULL;
            if (ai_ocr_languages(&langs, &err) < 0) {
                fprintf(stderr, "stepd ai ocr: %s\n", err ? err : "no languages");
                free(err);
                return 1;
            }
            json_dumpf(langs, stdout, JSON_COMPACT);
            fputc('\n', stdout);
            json_decref(langs);
            return 0;
        } else if (!strcmp(a, "--type")) {
            NEEDV();
            o.type = v;
        } else if (!strcmp(a, "--lang")) {
            NEEDV();
            o.lang = v;
        } else if (!strcmp(a, "--mime")) {
            NEEDV();
            o.mime = v;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--dpi") || !strcmp(a, "--max-pages") ||
                   !strcmp(a, "--max-pixels")) {
            NEEDV();
            char *end;
            long long n = strtoll(v, &end, 10);
            if (*end || n <= 0) {
                fprintf(stderr, "stepd ai ocr: %s wants a positive number (got '%s')\n", a, v);
                return 2;
            }
            if (!strcmp(a, "--threads"))
                o.threads = n > 64 ? 64 : (int)n;
            else if (!strcmp(a, "--dpi"))
                o.dpi = n > 100000 ? 100000 : (int)n;
            else if (!strcmp(a, "--max-pages"))
                o.max_pages = n > 100000 ? 100000 : (int)n;
            else
                o.max_pixels = n;
        } else if (!strcmp(a, "--words")) {
            o.words = 1;
        } else if (!strcmp(a, "--force-ocr")) {
            o.force_ocr = 1;
        } else if (!strcmp(a, "--denoise")) {
            o.preprocess |= AI_OCR_PRE_DENOISE;
        } else if (!strcmp(a, "--binarize")) {
            o.preprocess |= AI_OCR_PRE_BINARIZE;
        } else if (!strcmp(a, "--no-deskew")) {
            o.preprocess &= ~(unsigned)AI_OCR_PRE_DESKEW;
        } else if (!strcmp(a, "--no-upscale")) {
            o.preprocess &= ~(unsigned)AI_OCR_PRE_UPSCALE;
        } else if (!strcmp(a, "--no-gray")) {
            o.preprocess &= ~(unsigned)AI_OCR_PRE_GRAY;
        } else if (!strcmp(a, "--no-llm")) {
            use_llm = 0;
        } else if (!strcmp(a, "--pretty")) {
            pretty = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stepd ai ocr: unknown option %s\n", a);
            ocr_usage(stderr);
            return 2;
        } else if (file) {
            fprintf(stderr, "stepd ai ocr: one FILE only (got '%s' and '%s')\n", file, a);
            return 2;
        } else {
            file = a;
        }
#undef NEEDV
    }
    if (!file) {
        ocr_usage(stderr);
        return 2;
    }
    json_t *doc = NULL;
    char *err = NULL;
    int rc;
    stepd_llm_client *llm = NULL;
    ai_ocr_llm classifier = {0};
    if (use_llm && !o.type) {
        if (stepd_llm_client_new(NULL, &llm, &err) < 0) {
            fprintf(stderr, "stepd ai ocr: warning: %s; document type from keywords\n",
                    err ? err : "LLM configuration failed");
            free(err);
            err = NULL;
        } else {
            classifier.client = llm;
            ai_ocr_options_use_llm(&o, &classifier);
        }
    }
    if (!strcmp(file, "-")) {
        unsigned char *buf = NULL;
        size_t len = 0;
        rc = read_all(stdin, o.max_bytes, &buf, &len);
        if (rc == STEP_EINVAL) {
            fprintf(stderr, "stepd ai ocr: stdin is larger than %zu bytes\n", o.max_bytes);
            stepd_llm_client_free(llm);
            return 1;
        }
        if (rc == 0)
            rc = ai_ocr_process(NULL, buf, len, &o, &doc, &err);
        free(buf);
    } else {
        rc = ai_ocr_process_file(NULL, file, &o, &doc, &err);
    }
    stepd_llm_client_free(llm);
    if (rc < 0) {
        fprintf(stderr, "stepd ai ocr: %s\n", err ? err : step_strerror(rc));
        free(err);
        return 1;
    }
    size_t wi;
    json_t *w;
    json_array_foreach(json_object_get(doc, "warnings"), wi, w) {
        fprintf(stderr, "stepd ai ocr: warning: %s\n", json_string_value(w));
    }
    /* the CLI prints the documented keys in a stable order */
    json_t *outj = json_pack(
        "{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "type", json_object_get(doc, "type"), "classifiedBy",
        json_object_get(doc, "classifiedBy"), "text", json_object_get(doc, "text"), "fields",
        json_object_get(doc, "fields"), "entities", json_object_get(doc, "entities"), "confidence",
        json_object_get(doc, "confidence"), "pages", json_object_get(doc, "pages"));
    json_decref(doc);
    if (!outj) {
        fprintf(stderr, "stepd ai ocr: out of memory\n");
        return 1;
    }
    json_dumpf(outj, stdout,
               JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10) | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
    fputc('\n', stdout);
    json_decref(outj);
    return 0;
}
