/* fuzz_ocr_class.c — the parser of a model's document-type answer (outside input). */
#include <stepd/ai/ocr.h>

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *type = NULL;
    double confidence = 0;
    if (ai_ocr_class_parse((const char *)data, size, &type, &confidence) == 0) {
        /* an accepted answer is one of the allowed types, with a confidence in range or none */
        if (!type || (strcmp(type, "invoice") && strcmp(type, "receipt") && strcmp(type, "id") &&
                      strcmp(type, "other")))
            __builtin_trap();
        if (confidence != -1 && (confidence < 0 || confidence > 1))
            __builtin_trap();
    }
    return 0;
}
