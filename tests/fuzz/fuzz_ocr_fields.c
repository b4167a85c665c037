/* fuzz_ocr_fields.c — field extraction and type detection on arbitrary (OCR-like) text. */
#include <stepd/ai/ocr.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const char *types[] = {NULL, "invoice", "receipt", "id"};
    for (int i = 0; i < 4; i++) {
        json_t *out = NULL;
        char *err = NULL;
        ai_ocr_extract_fields(text, types[i], &out, &err);
        json_decref(out);
        free(err);
    }
    free(text);
    return 0;
}
