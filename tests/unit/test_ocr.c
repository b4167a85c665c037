/*
 * test_ocr.c — the ocr module on documents generated at test time (tests/support/ocr_docgen.c):
 * field accuracy on clean and noisy/rotated/low-resolution scans (printed, and held to >= 95%
 * and >= 85%), PDFs with a text layer and scanned PDFs, multi-page parallel OCR, and clear
 * errors for empty, truncated, corrupt, oversized and mislabelled inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <leptonica/allheaders.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stepd/ai/ocr.h>
#include <stepd/step.h>

#include "support/ocr_docgen.h"

#if defined(__SANITIZE_ADDRESS__)
#define OCR_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OCR_SANITIZED 1
#endif
#endif
#ifndef OCR_SANITIZED
#define OCR_SANITIZED 0
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_t *process(const void *data, size_t len, const ai_ocr_options *o, int *rc, char **err) {
    json_t *doc = NULL;
    *err = NULL;
    *rc = ai_ocr_process(NULL, data, len, o, &doc, err);
    return doc;
}

/* Expects failure with `code` and a message containing `needle`. */
static void expect_error(const void *data, size_t len, const ai_ocr_options *o, int code,
                         const char *needle) {
    int rc;
    char *err;
    json_t *doc = process(data, len, o, &rc, &err);
    print_message("  error: %s\n", err ? err : "(none)");
    assert_null(doc);
    assert_int_equal(rc, code);
    assert_non_null(err);
    assert_non_null(strstr(err, needle));
    free(err);
}

static void test_bad_inputs_fail_clearly(void **state) {
    (void)state;
    ai_ocr_options o = ai_ocr_options_default();
    expect_error("", 0, &o, STEP_EINVAL, "empty");
    expect_error("hello, this is not a document", 29, &o, STEP_EUNSUPPORTED, "not a document");
    expect_error("%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage", 44, &o, STEP_EPARSE, "PDF");

    ocr_gen_doc d;
    ocr_gen_invoice(1, &d);
    unsigned char *png;
    size_t len;
    assert_int_equal(ocr_gen_png(&d, 1.0, 0, 0, 1, &png, &len), 0);
    expect_error(png, 20, &o, STEP_EPARSE, "PNG image is corrupt");    /* truncated header */
    expect_error(png, len / 2, &o, STEP_EPARSE, "corrupt or truncated"); /* truncated data */
    o.mime = "application/pdf";
    expect_error(png, len, &o, STEP_EINVAL, "declared application/pdf but the data is image/png");
    o.mime = "text/plain";
    expect_error(png, len, &o, STEP_EUNSUPPORTED, "unsupported document type text/plain");
    o.mime = "image/png; charset=binary";
    o.max_bytes = 100;
    expect_error(png, len, &o, STEP_EINVAL, "max_bytes");
    o = ai_ocr_options_default();
    o.lang = "xyz";
    expect_error(png, len, &o, STEP_ENOTFOUND, "language 'xyz' is not installed");
    o = ai_ocr_options_default();
    o.type = "passport-ish";
    expect_error(png, len, &o, STEP_EINVAL, "unknown document type");
    free(png);

    /* a truncated PDF */
    unsigned char *pdf;
    assert_int_equal(ocr_gen_pdf(&d, 1, &pdf, &len), 0);
    o = ai_ocr_options_default();
    expect_error(pdf, len / 3, &o, STEP_EPARSE, "PDF");
    free(pdf);
}

static void test_100_megapixel_inputs_are_refused_before_decoding(void **state) {
    (void)state;
    PIX *big = pixCreate(10000, 10000, 1); /* 100 megapixels, a few KB as PNG or TIFF G4 */
    assert_non_null(big);
    l_uint8 *data;
    size_t len;
    assert_int_equal(pixWriteMemPng(&data, &len, big, 0), 0);
    ai_ocr_options o = ai_ocr_options_default();
    double t0 = now();
    expect_error(data, len, &o, STEP_EINVAL, "100.0 megapixels");
    lept_free(data);
    assert_int_equal(pixWriteMemTiff(&data, &len, big, IFF_TIFF_G4), 0);
    expect_error(data, len, &o, STEP_EINVAL, "limit is 40.0 megapixels");
    assert_true(now() - t0 < 2.0);
    lept_free(data);
    pixDestroy(&big);

    /* a scanned PDF page of 200x200 inches cannot be rendered under the limit */
    ocr_gen_doc d;
    ocr_gen_id(3, &d);
    d.w = d.h = 14400;
    unsigned char *pdf;
    assert_int_equal(ocr_gen_pdf_scanned(&d, 0.01, &pdf, &len), 0);
    expect_error(pdf, len, &o, STEP_EINVAL, "too large to render");
    free(pdf);
}

static void test_fields_from_noisy_text(void **state) {
    (void)state;
    const char *text = "Globex Corporation   INVOICE\n"
                       "42 Market Street\n"
                       "lnvoice No:   INV-2O24-0007   Bill To:\n"
                       "Invoice Date:   03/04/2024\n"
                       "Due Date:   April 3, 2024\n"
                       "Subtota1   $1,2O4.50\n"
                       "VAT (20%)   $240.90\n"
                       "T0tal Due   $1,445.40\n";
    json_t *r;
    char *err = NULL;
    assert_int_equal(ai_ocr_extract_fields(text, NULL, &r, &err), 0);
    json_t *f = json_object_get(r, "fields");
    char *dump = json_dumps(f, JSON_COMPACT);
    print_message("  %s\n", dump);
    free(dump);
    assert_string_equal(json_string_value(json_object_get(r, "type")), "invoice");
#define V(name) json_object_get(json_object_get(f, name), "value")
    assert_string_equal(json_string_value(V("number")), "INV-2O24-0007");
    assert_string_equal(json_string_value(V("date")), "2024-03-04"); /* dollars: month first */
    assert_string_equal(json_string_value(V("due_date")), "2024-04-03");
    assert_true(json_real_value(V("subtotal")) == 1204.50);
    assert_true(json_real_value(V("tax")) == 240.90);
    assert_true(json_real_value(V("total")) == 1445.40);
    assert_string_equal(json_string_value(V("currency")), "USD");
    assert_string_equal(json_string_value(V("vendor")), "Globex Corporation");
    json_decref(r);

    const char *euro = "Rechnung Acme GmbH\nInvoice # 2024/118\nDate: 03.04.2024\n"
                       "Total   1.234,56 €\n";
    assert_int_equal(ai_ocr_extract_fields(euro, "invoice", &r, &err), 0);
    f = json_object_get(r, "fields");
    assert_string_equal(json_string_value(V("date")), "2024-04-03"); /* euros: day first */
    assert_true(json_real_value(V("total")) == 1234.56);
    assert_string_equal(json_string_value(V("currency")), "EUR");
    assert_string_equal(json_string_value(V("number")), "2024/118");
    json_decref(r);

    const char *rcpt = "Corner Cafe\n1 High Street\nDate: 15/03/2024 09:12\nLatte   3.50\n"
                       "2 x Bagel   5.00\nSUBTOTAL   8.50\nTAX 8%   0.68\nTOTAL   £9.18\n"
                       "CASH   10.00\nCHANGE   0.82\n";
    assert_int_equal(ai_ocr_extract_fields(rcpt, NULL, &r, &err), 0);
    assert_string_equal(json_string_value(json_object_get(r, "type")), "receipt");
    f = json_object_get(r, "fields");
    assert_string_equal(json_string_value(V("merchant")), "Corner Cafe");
    assert_string_equal(json_string_value(V("date")), "2024-03-15");
    assert_true(json_real_value(V("total")) == 9.18);
    json_t *items = json_object_get(f, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "name")),
                        "Bagel");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "qty")), 2);
    json_decref(r);

    const char *id = "IDENTITY CARD\nSurname: Tanaka\nGiven names: Aiko\n"
                     "Date of Birth: 12 Mar 1985\nDocument No: XK1234567\n"
                     "Date of Expiry: 2031-05-01\n";
    assert_int_equal(ai_ocr_extract_fields(id, NULL, &r, &err), 0);
    assert_string_equal(json_string_value(json_object_get(r, "type")), "id");
    f = json_object_get(r, "fields");
    assert_string_equal(json_string_value(V("name")), "Aiko Tanaka");
    assert_string_equal(json_string_value(V("document_number")), "XK1234567");
    assert_string_equal(json_string_value(V("date_of_birth")), "1985-03-12");
    assert_string_equal(json_string_value(V("date_of_expiry")), "2031-05-01");
    json_decref(r);

    assert_string_equal(ai_ocr_detect_type("hello world, nothing to see", NULL), "other");
    assert_int_equal(ai_ocr_extract_fields("x", "nope", &r, &err), STEP_EINVAL);
    free(err);
#undef V
}

/* OCR a set of generated documents; returns accuracy in percent. */
static double run_set(const char *label, int n, double scale, double rotate, double noise,
                      int *fields_total) {
    int ok = 0, tot = 0;
    double t0 = now();
    for (int i = 0; i < n; i++) {
        ocr_gen_doc d;
        int kind = i % 3;
        if (kind == 0)
            ocr_gen_invoice((unsigned)i + 11, &d);
        else if (kind == 1)
            ocr_gen_receipt((unsigned)i + 11, &d);
        else
            ocr_gen_id((unsigned)i + 11, &d);
        unsigned char *png;
        size_t len;
        assert_int_equal(ocr_gen_png(&d, scale, rotate * (i % 2 ? 1 : -1), noise, (unsigned)i,
                                     &png, &len),
                         0);
        ai_ocr_options o = ai_ocr_options_default();
        o.words = 0;
        int rc;
        char *err;
        json_t *doc = process(png, len, &o, &rc, &err);
        free(png);
        if (rc < 0)
            print_message("  %s doc %d: %s\n", label, i, err ? err : "?");
        assert_int_equal(rc, 0);
        int before = ok;
        int btot = tot;
        char misses[1024] = "";
        const char *type = json_string_value(json_object_get(doc, "type"));
        tot += 1; /* the detected type is a field too */
        if (type && !strcmp(type, d.truth.type))
            ok++;
        else
            snprintf(misses, sizeof(misses), "type=%s (want %s); ", type ? type : "?",
                     d.truth.type);
        ocr_gen_score(&d, json_object_get(doc, "fields"), &ok, &tot, misses + strlen(misses),
                      sizeof(misses) - strlen(misses));
        if (ok - before != tot - btot)
            print_message("  %s %s #%d: %s\n", label, d.truth.type, i, misses);
        json_decref(doc);
    }
    double acc = tot ? 100.0 * ok / tot : 0;
    print_message("ocr accuracy %-28s %5.1f%% (%d/%d fields, %d documents, %.1fs)\n", label, acc,
                  ok, tot, n, now() - t0);
    *fields_total = tot;
    return acc;
}

static int set_size(void) {
    if (OCR_SANITIZED) {
        print_message("note: sanitizer build: accuracy sets cut to 3 documents each "
                      "(the release build runs 9)\n");
        return 3;
    }
    return 9;
}

static void test_accuracy_clean(void **state) {
    (void)state;
    int tot;
    double acc = run_set("clean (PNG, 144 dpi)", set_size(), 2.0, 0, 0, &tot);
    assert_true(tot > 0);
    assert_true(acc >= 95.0);
}

static void test_accuracy_noisy(void **state) {
    (void)state;
    int n = set_size(), tot1, tot2, tot3;
    double a1 = run_set("noisy (grain + speckles)", n, 2.0, 0, 1.0, &tot1);
    double a2 = run_set("rotated 2.5 degrees", n, 2.0, 2.5, 0.3, &tot2);
    double a3 = run_set("low resolution (90 dpi)", n, 1.25, 0, 0.3, &tot3);
    double all = (a1 * tot1 + a2 * tot2 + a3 * tot3) / (tot1 + tot2 + tot3);
    print_message("ocr accuracy %-28s %5.1f%%\n", "noisy variants overall", all);
    assert_true(a1 >= 85.0);
    assert_true(a2 >= 85.0);
    assert_true(a3 >= 85.0);
}

static void test_pdf_text_layer_is_used_directly(void **state) {
    (void)state;
    ocr_gen_doc d;
    ocr_gen_invoice(5, &d);
    unsigned char *pdf;
    size_t len;
    assert_int_equal(ocr_gen_pdf(&d, 2, &pdf, &len), 0);
    ai_ocr_options o = ai_ocr_options_default();
    o.mime = "application/pdf";
    int rc;
    char *err;
    double t0 = now();
    json_t *doc = process(pdf, len, &o, &rc, &err);
    print_message("  text-layer PDF: 2 pages in %.3fs\n", now() - t0);
    assert_int_equal(rc, 0);
    json_t *pages = json_object_get(doc, "pages");
    assert_int_equal(json_array_size(pages), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pages, 0), "source")),
                        "text");
    assert_true(json_array_size(json_object_get(json_array_get(pages, 1), "words")) > 20);
    int ok = 0, tot = 0;
    char misses[512] = "";
    ocr_gen_score(&d, json_object_get(doc, "fields"), &ok, &tot, misses, sizeof(misses));
    print_message("  text-layer PDF fields: %d/%d %s\n", ok, tot, misses);
    assert_int_equal(ok, tot);
    json_t *total = json_object_get(json_object_get(doc, "fields"), "total");
    assert_int_equal(json_integer_value(json_object_get(total, "page")), 1);
    json_t *box = json_object_get(total, "box");
    assert_true(json_integer_value(json_array_get(box, 2)) > 0);
    assert_true(json_integer_value(json_array_get(box, 0)) > 200); /* right-aligned column */
    assert_true(json_real_value(json_object_get(total, "confidence")) > 0.9);
    assert_non_null(strchr(json_string_value(json_object_get(doc, "text")), '\f'));
    json_t *ents = json_object_get(doc, "entities");
    int email = 0;
    size_t i;
    json_t *e;
    json_array_foreach(ents, i, e) email |=
        !strcmp(json_string_value(json_object_get(e, "type")), "email");
    assert_true(email);
    json_decref(doc);
    free(pdf);
}

static void test_scanned_pdf_is_ocred(void **state) {
    (void)state;
    ocr_gen_doc d;
    ocr_gen_receipt(8, &d);
    unsigned char *pdf;
    size_t len;
    assert_int_equal(ocr_gen_pdf_scanned(&d, 2.5, &pdf, &len), 0);
    ai_ocr_options o = ai_ocr_options_default();
    o.dpi = 200;
    int rc;
    char *err;
    json_t *doc = process(pdf, len, &o, &rc, &err);
    if (rc < 0)
        print_message("  %s\n", err);
    assert_int_equal(rc, 0);
    json_t *p0 = json_array_get(json_object_get(doc, "pages"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "source")), "ocr");
    assert_true(json_real_value(json_object_get(doc, "confidence")) > 0.5);
    int ok = 0, tot = 0;
    char misses[512] = "";
    ocr_gen_score(&d, json_object_get(doc, "fields"), &ok, &tot, misses, sizeof(misses));
    print_message("  scanned PDF receipt fields: %d/%d %s\n", ok, tot, misses);
    assert_true(ok * 100 >= tot * 85);
    json_decref(doc);
    free(pdf);
}

static void test_multipage_tiff_in_parallel_matches_serial(void **state) {
    (void)state;
    int n = OCR_SANITIZED ? 2 : 4;
    PIXA *pixa = pixaCreate(n);
    ocr_gen_doc docs[4];
    for (int i = 0; i < n; i++) {
        ocr_gen_id((unsigned)i + 40, &docs[i]);
        unsigned char *png;
        size_t len;
        assert_int_equal(ocr_gen_png(&docs[i], 2.5, 0, 0, 0, &png, &len), 0);
        PIX *p = pixReadMem(png, len);
        free(png);
        PIX *g = pixConvertTo8(p, 0);
        pixaAddPix(pixa, g, L_INSERT);
        pixDestroy(&p);
    }
    /* a multi-page TIFF: write each page and append (leptonica's multipage writer is file-based) */
    char path[] = "/tmp/stepd-ocr-XXXXXX.tif";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    for (int i = 0; i < n; i++) {
        PIX *page = pixaGetPix(pixa, i, L_CLONE);
        assert_int_equal(pixWriteTiff(path, page, IFF_TIFF_ZIP, i == 0 ? "w" : "a"), 0);
        pixDestroy(&page);
    }
    pixaDestroy(&pixa);

    ai_ocr_options o = ai_ocr_options_default();
    o.threads = 1;
    json_t *serial, *parallel;
    char *err = NULL;
    double t0 = now();
    assert_int_equal(ai_ocr_process_file(NULL, path, &o, &serial, &err), 0);
    double t1 = now();
    o.threads = 2;
    assert_int_equal(ai_ocr_process_file(NULL, path, &o, &parallel, &err), 0);
    double t2 = now();
    print_message("  %d-page TIFF: 1 thread %.2fs, 2 threads %.2fs\n", n, t1 - t0, t2 - t1);
    unlink(path);
    assert_int_equal(json_array_size(json_object_get(parallel, "pages")), n);
    assert_string_equal(json_string_value(json_object_get(serial, "text")),
                        json_string_value(json_object_get(parallel, "text")));
    /* fields come from the first page that has them */
    json_t *num = json_object_get(json_object_get(parallel, "fields"), "document_number");
    assert_string_equal(json_string_value(json_object_get(num, "value")),
                        docs[0].truth.document_number);
    for (int i = 1; i < n; i++)
        assert_non_null(strstr(json_string_value(json_object_get(parallel, "text")),
                               docs[i].truth.document_number));
    json_decref(serial);
    json_decref(parallel);
}

static void test_languages_and_probe(void **state) {
    (void)state;
    json_t *langs;
    char *err = NULL;
    assert_int_equal(ai_ocr_languages(&langs, &err), 0);
    int eng = 0;
    size_t i;
    json_t *v;
    json_array_foreach(langs, i, v) eng |= !strcmp(json_string_value(v), "eng");
    assert_true(eng);
    json_decref(langs);

    ocr_gen_doc d;
    ocr_gen_invoice(2, &d);
    unsigned char *pdf;
    size_t len;
    assert_int_equal(ocr_gen_pdf(&d, 3, &pdf, &len), 0);
    int pages = 0;
    assert_int_equal(ai_ocr_probe(pdf, len, NULL, &pages, &err), 0);
    assert_int_equal(pages, 3);
    assert_string_equal(ai_ocr_sniff(pdf, len), "application/pdf");
    ai_ocr_options o = ai_ocr_options_default();
    o.max_pages = 2;
    assert_int_equal(ai_ocr_probe(pdf, len, &o, &pages, &err), 0);
    assert_int_equal(pages, 2);
    free(pdf);
}

static int classify_calls;
static int fake_classify(const char *text, ai_ocr_class *out, void *user) {
    (void)text;
    classify_calls++;
    out->type = user;
    return 0;
}

static int fake_entities(const char *text, json_t **out, void *user) {
    (void)user;
    *out = json_pack("[{s:s, s:s}]", "type", "custom", "text", strstr(text, "Total") ? "t" : "?");
    return 0;
}

static void test_hooks_classify_and_entities(void **state) {
    (void)state;
    ocr_gen_doc d;
    ocr_gen_invoice(3, &d);
    unsigned char *pdf;
    size_t len;
    assert_int_equal(ocr_gen_pdf(&d, 1, &pdf, &len), 0);
    ai_ocr_options o = ai_ocr_options_default();
    o.classify = fake_classify;
    o.classify_user = "receipt";
    o.entities = fake_entities;
    int rc;
    char *err;
    json_t *doc = process(pdf, len, &o, &rc, &err);
    assert_int_equal(rc, 0);
    /* the classifier decides whenever the type is not given, even over clear keywords */
    assert_int_equal(classify_calls, 1);
    assert_string_equal(json_string_value(json_object_get(doc, "type")), "receipt");
    assert_string_equal(json_string_value(json_object_get(doc, "classifiedBy")), "llm");
    assert_true(json_real_value(json_object_get(json_object_get(doc, "type_scores"), "invoice")) >
                json_real_value(json_object_get(json_object_get(doc, "type_scores"), "receipt")));
    json_t *e0 = json_array_get(json_object_get(doc, "entities"), 0);
    assert_string_equal(json_string_value(json_object_get(e0, "type")), "custom");
    json_decref(doc);
    free(pdf);

    /* ambiguous text: the classifier decides, and its type picks the fields */
    memset(&d, 0, sizeof(d));
    d.w = 300, d.h = 120, d.font = "DejaVu Sans";
    d.nops = 2;
    d.ops[0] = (ocr_gen_op){.x = 20, .y = 40, .size = 12};
    strcpy(d.ops[0].text, "Order 7781 from Corner Cafe");
    d.ops[1] = (ocr_gen_op){.x = 20, .y = 70, .size = 12};
    strcpy(d.ops[1].text, "Total 12.00");
    assert_int_equal(ocr_gen_pdf(&d, 1, &pdf, &len), 0);
    doc = process(pdf, len, &o, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(classify_calls, 2);
    assert_string_equal(json_string_value(json_object_get(doc, "type")), "receipt");
    json_t *total = json_object_get(json_object_get(doc, "fields"), "total");
    assert_true(json_real_value(json_object_get(total, "value")) == 12.0);
    assert_non_null(json_object_get(json_object_get(doc, "fields"), "items"));
    json_decref(doc);
    free(pdf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_inputs_fail_clearly),
        cmocka_unit_test(test_100_megapixel_inputs_are_refused_before_decoding),
        cmocka_unit_test(test_fields_from_noisy_text),
        cmocka_unit_test(test_languages_and_probe),
        cmocka_unit_test(test_hooks_classify_and_entities),
        cmocka_unit_test(test_pdf_text_layer_is_used_directly),
        cmocka_unit_test(test_scanned_pdf_is_ocred),
        cmocka_unit_test(test_multipage_tiff_in_parallel_matches_serial),
        cmocka_unit_test(test_accuracy_clean),
        cmocka_unit_test(test_accuracy_noisy),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    /* the document generator's fonts: release cairo's and fontconfig's caches for LeakSanitizer */
    cairo_debug_reset_static_data();
    FcFini();
    return failed;
}
