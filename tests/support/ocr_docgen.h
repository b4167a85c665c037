/*
 * ocr_docgen.h — test documents with known fields, rendered at test time with cairo: invoices,
 * receipts and ID cards as PNG (with noise, rotation and low-resolution variants), as PDFs with
 * a real text layer and as image-only ("scanned") PDFs. Used by tests/unit/test_ocr*.c and
 * bench/ocr.sh; nothing here is committed as data.
 */
#ifndef STEPD_TESTS_OCR_DOCGEN_H
#define STEPD_TESTS_OCR_DOCGEN_H

#include <jansson.h>
#include <stddef.h>

typedef struct ocr_gen_item {
    char name[48];
    int qty;
    double price;
} ocr_gen_item;

typedef struct ocr_gen_truth {
    char type[12];
    /* invoice */
    char number[32], date[16], due_date[16], vendor[64], currency[8];
    double total, subtotal, tax;
    /* receipt (also date, total, currency) */
    char merchant[64];
    ocr_gen_item items[8];
    int nitems;
    /* id */
    char name[64], document_number[32], date_of_birth[16], date_of_expiry[16];
} ocr_gen_truth;

typedef struct ocr_gen_op {
    double x, y, size; /* points; y is the baseline */
    int bold;
    int right; /* x is the right edge */
    char text[100];
} ocr_gen_op;

typedef struct ocr_gen_doc {
    double w, h; /* points */
    const char *font;
    ocr_gen_op ops[80];
    int nops;
    ocr_gen_truth truth;
} ocr_gen_doc;

/* Deterministic documents from a seed. */
void ocr_gen_invoice(unsigned seed, ocr_gen_doc *d);
void ocr_gen_receipt(unsigned seed, ocr_gen_doc *d);
void ocr_gen_id(unsigned seed, ocr_gen_doc *d);

/* Renders to PNG bytes (malloc'ed, caller frees). scale: pixels per point; rotate: degrees;
 * noise: 0 clean, ~1 heavy (gaussian grain + speckles), seeded. Returns 0 or -1. */
int ocr_gen_png(const ocr_gen_doc *d, double scale, double rotate, double noise, unsigned seed,
                unsigned char **out, size_t *len);
/* PDF with a text layer; `copies` pages of the same document. */
int ocr_gen_pdf(const ocr_gen_doc *d, int copies, unsigned char **out, size_t *len);
/* Image-only PDF: the page rendered at `scale` and embedded as a picture. */
int ocr_gen_pdf_scanned(const ocr_gen_doc *d, double scale, unsigned char **out, size_t *len);

/* Compares extracted fields with the truth: adds to *correct and *total, appends the names of
 * wrong fields ("total=12.5 (want 12.50)") to misses. */
void ocr_gen_score(const ocr_gen_doc *d, json_t *fields, int *correct, int *total, char *misses,
                   size_t cap);

#endif
