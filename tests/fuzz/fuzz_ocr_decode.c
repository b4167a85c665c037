/* fuzz_ocr_decode.c — the document decoders' entry points: type sniffing, limits, image headers
 * (leptonica) and PDF structure (poppler) through ai_ocr_probe; inputs that pass as a small image
 * are then decoded the way ai_ocr_process does (OCR itself is left out: too slow to fuzz). */
#include <stepd/ai/ocr.h>

#include <leptonica/allheaders.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ai_ocr_options o = ai_ocr_options_default();
    o.max_pixels = 4000000;
    o.max_pages = 4;
    int pages = 0;
    char *err = NULL;
    int rc = ai_ocr_probe(data, size, &o, &pages, &err);
    free(err);
    const char *mime = ai_ocr_sniff(data, size);
    if (rc == 0 && mime && strncmp(mime, "image/", 6) == 0) {
        PIX *pix = pixReadMem(data, size);
        pixDestroy(&pix);
    }
    return 0;
}
