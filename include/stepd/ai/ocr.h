/*
 * stepd/ai/ocr.h — document processing: OCR, PDFs and field extraction.
 *
 * Turns a document held in memory (PNG, JPEG, TIFF incl. multi-page, BMP, GIF, WebP, PNM or a
 * PDF) into per-page text with word boxes and confidences, a document type, typed fields
 * (invoice, receipt, id) and entities. Images are decoded and cleaned up with leptonica and read
 * by tesseract; PDF pages are opened with poppler: a page with a text layer gives its embedded
 * text directly, a scanned page is rendered and OCRed. Pages are processed in parallel, one
 * tesseract instance per thread, and instances are kept by the engine and reused.
 *
 *     ai_ocr_options o = ai_ocr_options_default();
 *     o.type = "invoice";                    // or NULL: detect
 *     json_t *doc; char *err;
 *     if (ai_ocr_process(NULL, bytes, len, &o, &doc, &err) < 0) { ...err...; free(err); }
 *     json_t *total = json_object_get(json_object_get(doc, "fields"), "total");
 *
 * Result (a jansson object, caller owns it):
 *     {"type": "invoice", "type_scores": {...}, "classifiedBy": "keywords", "text": "...",
 *      "confidence": 0.93,
 *      "fields": {"total": {"value": 1234.5, "text": "$1,234.50", "confidence": 0.9,
 *                           "page": 1, "box": [x, y, w, h]}, ...},
 *      "entities": [{"type": "email", "text": "a@b.c", "start": 10, "end": 15}],
 *      "pages": [{"page": 1, "source": "ocr"|"text", "width": 1240, "height": 1754,
 *                 "confidence": 0.93, "skew": -1.5, "text": "...",
 *                 "words": [{"text": "Total", "conf": 0.96, "box": [x, y, w, h]}]}]}
 * "classifiedBy" says what decided the type: "given" (ai_ocr_options.type), "llm" (the classify
 * hook; "typeConfidence" then holds its confidence when it gave one) or "keywords". "warnings",
 * present only when something degraded, is an array of messages (e.g. why the LLM classifier
 * failed and keywords decided instead).
 * Boxes are in pixels of the page as OCRed (after upscaling) for images, in PDF points for
 * text-layer pages. Field confidences are in [0, 1]: OCR confidence of the words the value came
 * from times how specific the pattern that found it is.
 *
 * Errors: functions return 0 or a negative STEP_E* code (<stepd/step.h>) and, when `err` is not
 * NULL, a malloc'ed message the caller frees naming what failed ("PDF is corrupt: ...",
 * "image is 10000x10000 (100 megapixels); the limit is 40", "declared image/png but the data is
 * a PDF"). STEP_EUNSUPPORTED: not a document type we read; STEP_EPARSE: corrupt or truncated
 * data; STEP_EINVAL: bad options or a limit exceeded; STEP_ENOTFOUND: language data missing.
 *
 * Threads: every function is thread-safe. tesseract links OpenMP; stepd runs each OCR call with
 * one OpenMP thread and parallelises over pages instead.
 */
#ifndef STEPD_AI_OCR_H
#define STEPD_AI_OCR_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Image clean-up before OCR (flags for ai_ocr_options.preprocess). */
enum {
    AI_OCR_PRE_GRAY = 1 << 0,     /* convert to 8-bit grayscale */
    AI_OCR_PRE_UPSCALE = 1 << 1,  /* enlarge scans whose text is small (< 16 px), up to 4x */
    AI_OCR_PRE_DESKEW = 1 << 2,   /* detect and undo rotation up to about 7 degrees */
    AI_OCR_PRE_DENOISE = 1 << 3,  /* 3x3 median filter (speckle noise), always */
    AI_OCR_PRE_BINARIZE = 1 << 4, /* Otsu threshold to black and white */
    AI_OCR_PRE_AUTODENOISE = 1 << 5, /* median filter only when the page is speckled */
    AI_OCR_PRE_DEFAULT =
        AI_OCR_PRE_GRAY | AI_OCR_PRE_UPSCALE | AI_OCR_PRE_DESKEW | AI_OCR_PRE_AUTODENOISE,
};

/* Optional hooks. Both run on the calling thread and must be thread-safe.
 * classify: given the document text, fill *out and return 0: out->type "invoice", "receipt",
 *   "id" or "other" (a static string), out->confidence in [0, 1] or -1 when it gives none.
 *   Called whenever ai_ocr_options.type is NULL and the text is not blank. On failure return a
 *   negative STEP_E* code and set out->warning to a malloc'ed reason (the library frees it); a
 *   failure or a type outside the four falls back to keyword scoring, and the reason is added
 *   to the result's "warnings". ai_ocr_classify_llm below is the LLM classifier.
 * entities: given the text, return a new JSON array of entities in *out; a negative return
 *   falls back to the built-in patterns (email, url, phone, date, money). */
typedef struct ai_ocr_class {
    const char *type;
    double confidence;
    char *warning;
} ai_ocr_class;
typedef int (*ai_ocr_classify_fn)(const char *text, ai_ocr_class *out, void *user);
typedef int (*ai_ocr_entities_fn)(const char *text, json_t **out, void *user);

typedef struct ai_ocr_options {
    const char *type;     /* "invoice" | "receipt" | "id" | NULL (detect) */
    const char *lang;     /* tesseract languages, "eng", "eng+deu"; NULL = "eng" */
    const char *mime;     /* declared MIME type to check against the data, or NULL */
    unsigned preprocess;  /* AI_OCR_PRE_* flags */
    int threads;          /* pages OCRed at once; 0 = number of CPUs (at most 8) */
    int dpi;              /* PDF render resolution for scanned pages (default 300) */
    int force_ocr;        /* OCR PDF pages even when they have a text layer */
    int words;            /* include per-word boxes in "pages" (default 1) */
    size_t max_bytes;     /* input size limit (default 64 MiB) */
    long long max_pixels; /* per page, after decoding/rendering (default 40 megapixels) */
    int max_pages;        /* pages read at most; later ones are ignored (default 50) */
    ai_ocr_classify_fn classify;
    void *classify_user;
    ai_ocr_entities_fn entities;
    void *entities_user;
} ai_ocr_options;

/* Defaults as documented above. */
ai_ocr_options ai_ocr_options_default(void);

/* An engine owns the reusable tesseract instances (one per thread that uses it, per language).
 * max_instances bounds them (0 = 8). Caller frees with ai_ocr_engine_free (NULL is a no-op); the
 * engine must outlive every call that uses it. */
typedef struct ai_ocr_engine ai_ocr_engine;
int ai_ocr_engine_new(int max_instances, ai_ocr_engine **out, char **err);
void ai_ocr_engine_free(ai_ocr_engine *engine);
/* The process-wide engine, created on first use and never freed. */
ai_ocr_engine *ai_ocr_default_engine(void);

/* Reads one document. `engine` NULL = the default engine; `opts` NULL = defaults. *out is a new
 * reference (see the result shape above). `data` is borrowed. */
int ai_ocr_process(ai_ocr_engine *engine, const void *data, size_t len, const ai_ocr_options *opts,
                   json_t **out, char **err);

/* Convenience: reads a file (same limits) and processes it. */
int ai_ocr_process_file(ai_ocr_engine *engine, const char *path, const ai_ocr_options *opts,
                        json_t **out, char **err);

/* What the bytes are, from their magic: "image/png", "image/jpeg", "image/tiff", "image/bmp",
 * "image/gif", "image/webp", "image/x-portable-anymap", "application/pdf", or NULL. */
const char *ai_ocr_sniff(const void *data, size_t len);

/* Checks that a document can be read without OCRing it: type, size and pixel limits, PDF
 * structure, image headers. Sets *pages to the page count. Cheap; the fuzz entry point. */
int ai_ocr_probe(const void *data, size_t len, const ai_ocr_options *opts, int *pages,
                 char **err);

/* Field extraction on plain text (no boxes; confidences from the patterns only). `type` NULL
 * detects it. *out is a new object {"type", "type_scores", "fields"}. */
int ai_ocr_extract_fields(const char *text, const char *type, json_t **out, char **err);

/* Document type from keywords and layout: "invoice", "receipt", "id" or "other". `scores` may be
 * NULL; otherwise a new object {"invoice": 3.5, ...}. */
const char *ai_ocr_detect_type(const char *text, json_t **scores);

/* ---- LLM document classification (src/ai/ocr_classify.c) ---------------------------------- */

struct stepd_llm_client;
struct stepd_llm_hooks;

/* What ai_ocr_classify_llm needs; pass a pointer to it as ai_ocr_options.classify_user. */
typedef struct ai_ocr_llm {
    struct stepd_llm_client *client;     /* borrowed; see <stepd/ai/llm.h> */
    const struct stepd_llm_hooks *hooks; /* borrowed, may be NULL (then no cache, no metrics) */
    size_t max_chars;                    /* text sent at most, in bytes (0 = 2000) */
    long timeout_ms;                     /* per attempt; 0 = 30000 */
    int max_retries;                     /* 0 = 1 retry, -1 = none */
    long cache_ttl_s;                    /* > 0: answers cached in state (needs hooks) */
} ai_ocr_llm;

/* An ai_ocr_classify_fn: sends the start of the text (cut at a UTF-8 boundary) with an
 * instruction listing the four types and reads the reply strictly: a JSON object
 * {"type": "...", "confidence": 0..1} (confidence optional) or a bare type word, either
 * optionally inside one ``` code fence; anything else fails with a warning. Fails with
 * STEP_ECONFIG when the client has no model. `user` is an ai_ocr_llm *. */
int ai_ocr_classify_llm(const char *text, ai_ocr_class *out, void *user);

/* Parses a classifier reply as above. Returns 0 with *type (static string) and *confidence
 * (-1 when absent), or STEP_EPARSE. Exposed for tests and the fuzzer. */
int ai_ocr_class_parse(const char *reply, size_t len, const char **type, double *confidence);

/* Sets o->classify to ai_ocr_classify_llm with `llm` (borrowed: it must outlive the calls) when
 * llm->client has a model; returns 1 when it did, 0 when no model is configured (options
 * unchanged: keyword scoring). */
int ai_ocr_options_use_llm(ai_ocr_options *o, ai_ocr_llm *llm);

/* Installed tesseract languages as a new JSON array of strings ("eng", "osd", ...). */
int ai_ocr_languages(json_t **out, char **err);

/* ---- uploads (src/ai/ocr_upload.c) ------------------------------------------------------- */

/* One part of a multipart/form-data body. Every pointer points into the body passed to
 * ai_ocr_multipart_parse (borrowed, valid while the body is); strings are not NUL-terminated,
 * hence the lengths. */
typedef struct ai_ocr_part {
    const char *name, *filename, *content_type;
    size_t name_len, filename_len, content_type_len;
    const char *data;
    size_t len;
} ai_ocr_part;

/* Splits a multipart/form-data body. `content_type` is the request's Content-Type header (it
 * carries the boundary). Fills up to max_parts parts; *nparts is how many. Fails with
 * STEP_EPARSE on a malformed body, STEP_EINVAL when a part exceeds max_part_bytes (0 = no limit)
 * or there are more than max_parts parts. */
int ai_ocr_multipart_parse(const char *content_type, const char *body, size_t len,
                           size_t max_part_bytes, ai_ocr_part *parts, size_t max_parts,
                           size_t *nparts, char **err);

/* The document of an upload request: for multipart/form-data the part named `field` (NULL =
 * "file", else the first part with a filename); for any other content type the raw body.
 * *doc and *doc_len point into `body`; *mime is the part's or the request's declared type (a
 * malloc'ed string, caller frees; NULL when none). Enforces max_bytes (0 = 64 MiB). */
int ai_ocr_upload_document(const char *content_type, const char *body, size_t len,
                           const char *field, size_t max_bytes, const char **doc, size_t *doc_len,
                           char **mime, char **err);

#ifdef __cplusplus
}
#endif
#endif
