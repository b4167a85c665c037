/*
 * ocr_internal.h — what the ocr module's files share: pages of words with boxes, the
 * text-offset map the field extractor uses to find a value's source box, the PDF reader and
 * error helpers. Not a public API (see include/stepd/ai/ocr.h).
 */
#ifndef STEPD_AI_OCR_INTERNAL_H
#define STEPD_AI_OCR_INTERNAL_H

#include <stepd/ai/ocr.h>
#include <stepd/step.h>

#include <stddef.h>

/* A recognised word. Box in page pixels (x, y = top left). start/end: byte offsets of the word
 * in its page's text, set by ocr_page_layout. */
typedef struct ocr_word {
    char *text;
    int x, y, w, h;
    float conf; /* 0..1 */
    int line;   /* tesseract text line of the word, -1 when unknown */
    size_t start, end;
} ocr_word;

typedef struct ocr_page {
    int number;      /* 1-based */
    int text_layer;  /* 1: words from a PDF text layer, 0: OCR */
    int width, height;
    double skew;     /* degrees corrected by deskew */
    double slope;    /* remaining text slope (dy/dx) from tesseract's baselines, for layout */
    int line;        /* line id given to the next added word (-1 = none) */
    ocr_word *words; /* owned */
    size_t nwords, cap;
    char *text;      /* owned; built from words by ocr_page_layout */
    size_t text_len;
    float conf;      /* mean word confidence, 0..1 (1 for text layers) */
    int rc;          /* 0 or STEP_E* when this page failed */
    char *err;       /* owned message when rc != 0 */
} ocr_page;

/* Appends a word (copies `text`, `len` bytes). Returns 0 or STEP_ENOMEM. */
int ocr_page_add_word(ocr_page *p, const char *text, size_t len, int x, int y, int w, int h,
                      float conf);
/* Orders the words into lines by geometry (rows by vertical overlap, then left to right) and
 * builds p->text with each word's offsets. Tesseract and PDF reading order both split columns
 * into blocks; a label and its value are on one line here. Returns 0 or STEP_ENOMEM. */
int ocr_page_layout(ocr_page *p);
void ocr_page_clear(ocr_page *p);

/* Maps byte offsets of the document text (pages joined by '\f') back to pages and words. */
typedef struct ocr_textmap {
    const ocr_page *pages;
    size_t npages;
    const size_t *page_off; /* offset of each page's text in the document text */
} ocr_textmap;

/* Source of the text in [start, end): page number (0 when unknown), the union box of the words
 * it overlaps, their mean confidence (1 when map is NULL). box may be all zero. */
void ocr_textmap_locate(const ocr_textmap *map, size_t start, size_t end, int *page, int box[4],
                        float *conf);

/* Fields of `type` (or detected) from the document text. Adds "type", "type_scores" and "fields"
 * to `out`. map may be NULL. classify: see ai_ocr_options. */
int ocr_fields_run(const char *text, size_t len, const ocr_textmap *map, const char *type,
                   ai_ocr_classify_fn classify, void *classify_user, json_t *out, char **err);

/* ---- string values (ocr_values.c) ---- */
/* "1,234.56", "1.234,56", "-12,5" -> number; 0 when it is not one. */
int ocr_amount_parse(const char *s, size_t n, double *out);
/* "$" -> "USD", "eur" -> "EUR"; NULL when unknown. Static strings. */
const char *ocr_currency_code(const char *s, size_t n);
/* Narrows [*s, *e) of t past quotes, dashes, dots and a trailing lower-case fragment. */
void ocr_trim_span(const char *t, size_t *s, size_t *e);
/* A person's name as JSON, with punctuation between letters turned into spaces. */
json_t *ocr_name_value(const char *t, size_t n);
/* A document number as JSON, with 'l' read as 'I' in an otherwise upper-case code. */
json_t *ocr_code_value(const char *t, size_t n);

/* Built-in entities (email, url, phone, date) as a new array. */
json_t *ocr_entities_builtin(const char *text, size_t len);

/* ---- PDF (ocr_pdf.c) ---- */
typedef struct ocr_pdf ocr_pdf;
/* Opens a PDF held in memory (borrowed; must outlive the handle). */
int ocr_pdf_open(const void *data, size_t len, ocr_pdf **out, char **err);
int ocr_pdf_pages(const ocr_pdf *pdf);
/* Words of page `index` (0-based) from the text layer into p; *has_text = 0 when the page has
 * (almost) no text layer and must be OCRed. Not thread-safe per document: callers serialise. */
int ocr_pdf_page_text(ocr_pdf *pdf, int index, ocr_page *p, int *has_text, char **err);
/* Renders page `index` to an 8-bit gray PIX at `dpi`, lowered when needed to stay within
 * max_pixels. *out is a leptonica PIX (struct Pix *) the caller destroys. */
int ocr_pdf_render(ocr_pdf *pdf, int index, int dpi, long long max_pixels, void **out,
                   int *used_dpi, char **err);
void ocr_pdf_close(ocr_pdf *pdf);

/* ---- engine (ocr_engine.c) ---- */
/* Once per process: OpenMP for child processes, leptonica's messages off. */
void ocr_global_init(void);
/* Every part of "eng+deu" must be installed; the error names what to install. */
int ocr_lang_check(const char *lang, char **err);
/* Borrows a tesseract instance initialised for `lang` (blocks while all are busy). */
int ocr_engine_acquire(ai_ocr_engine *e, const char *lang, int *slot, char **err);
void ocr_engine_release(ai_ocr_engine *e, int slot);
int ocr_engine_capacity(const ai_ocr_engine *e);
/* Recognises a prepared leptonica PIX (borrowed) at `ppi` into pg's words, confidence and text
 * slope, with OpenMP held to one thread on the calling thread. */
int ocr_engine_recognize(ai_ocr_engine *e, int slot, void *pix, int ppi, ocr_page *pg,
                         char **err);

/* ---- image clean-up (ocr_image.c) ---- */
/* Returns a new PIX (caller destroys) cleaned up per AI_OCR_PRE_* flags; *ppi follows the
 * scale, *skew is the corrected angle in degrees. */
void *ocr_image_prepare(void *pix, unsigned flags, long long max_pixels, int *ppi, double *skew);

/* ---- helpers ---- */
/* Sets *err (when err != NULL) to a malloc'ed printf-formatted message; returns rc. */
int ocr_fail(char **err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
