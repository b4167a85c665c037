/*
 * ocr_gen.c — writes generated test documents (tests/support/ocr_docgen.c) to a directory, for
 * bench/ocr.sh and tests/integration/ocr_cli.sh:
 *     ocr_gen DIR N     page_00.png .. page_{N-1}.png (invoice, receipt, id in turn, 144 dpi),
 *                       pages.tif (the same pages, one multi-page TIFF), invoice.pdf (text
 *                       layer), scan.pdf (image-only receipt), truth.json (fields per file)
 */
#include "support/ocr_docgen.h"

#include <leptonica/allheaders.h>
#include <stdio.h>
#include <stdlib.h>

static int write_file(const char *dir, const char *name, const unsigned char *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f);
}

static json_t *truth_json(const ocr_gen_doc *d) {
    const ocr_gen_truth *t = &d->truth;
    if (t->type[0] == 'i' && t->type[1] == 'n')
        return json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:s, s:s}", "type", t->type,
                         "number", t->number, "date", t->date, "due_date", t->due_date, "total",
                         t->total, "subtotal", t->subtotal, "tax", t->tax, "currency",
                         t->currency, "vendor", t->vendor);
    if (t->type[0] == 'r')
        return json_pack("{s:s, s:s, s:s, s:f, s:i}", "type", t->type, "merchant", t->merchant,
                         "date", t->date, "total", t->total, "items", t->nitems);
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", t->type, "name", t->name,
                     "document_number", t->document_number, "date_of_birth", t->date_of_birth,
                     "date_of_expiry", t->date_of_expiry);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: ocr_gen DIR N\n");
        return 2;
    }
    const char *dir = argv[1];
    int n = atoi(argv[2]);
    json_t *truth = json_object();
    char tif[4096];
    snprintf(tif, sizeof(tif), "%s/pages.tif", dir);
    for (int i = 0; i < n; i++) {
        ocr_gen_doc d;
        if (i % 3 == 0)
            ocr_gen_invoice((unsigned)i + 100, &d);
        else if (i % 3 == 1)
            ocr_gen_receipt((unsigned)i + 100, &d);
        else
            ocr_gen_id((unsigned)i + 100, &d);
        unsigned char *png;
        size_t len;
        char name[64];
        snprintf(name, sizeof(name), "page_%02d.png", i);
        if (ocr_gen_png(&d, 2.0, 0, 0, 0, &png, &len) || write_file(dir, name, png, len))
            return 1;
        PIX *p = pixReadMem(png, len), *g = p ? pixConvertTo8(p, 0) : NULL;
        if (!g || pixWriteTiff(tif, g, IFF_TIFF_ZIP, i == 0 ? "w" : "a"))
            return 1;
        pixDestroy(&p);
        pixDestroy(&g);
        free(png);
        json_object_set_new(truth, name, truth_json(&d));
    }
    ocr_gen_doc d;
    unsigned char *buf;
    size_t len;
    ocr_gen_invoice(7, &d);
    if (ocr_gen_pdf(&d, 1, &buf, &len) || write_file(dir, "invoice.pdf", buf, len))
        return 1;
    free(buf);
    json_object_set_new(truth, "invoice.pdf", truth_json(&d));
    ocr_gen_receipt(9, &d);
    if (ocr_gen_pdf_scanned(&d, 2.5, &buf, &len) || write_file(dir, "scan.pdf", buf, len))
        return 1;
    free(buf);
    json_object_set_new(truth, "scan.pdf", truth_json(&d));
    char path[4096];
    snprintf(path, sizeof(path), "%s/truth.json", dir);
    if (json_dump_file(truth, path, JSON_INDENT(1) | JSON_SORT_KEYS))
        return 1;
    json_decref(truth);
    return 0;
}
