/* fuzz_ocr_upload.c — the multipart/form-data parser on arbitrary bodies. The first input line
 * is the Content-Type header, the rest the body. */
#include <stepd/ai/ocr.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    char *ct = strndup((const char *)data, (size_t)(nl - data));
    size_t blen = size - (size_t)(nl - data) - 1;
    char *body = malloc(blen ? blen : 1); /* exact size so overreads are caught */
    if (!ct || !body) {
        free(ct);
        free(body);
        return 0;
    }
    memcpy(body, nl + 1, blen);
    ai_ocr_part parts[8];
    size_t n = 0;
    char *err = NULL;
    if (ai_ocr_multipart_parse(ct, body, blen, 1 << 20, parts, 8, &n, &err) == 0)
        for (size_t i = 0; i < n; i++)
            if (parts[i].len && (parts[i].data < body || parts[i].data + parts[i].len > body + blen))
                abort();
    free(err);
    err = NULL;
    const char *doc;
    size_t dlen;
    char *mime = NULL;
    if (ai_ocr_upload_document(ct, body, blen, NULL, 1 << 20, &doc, &dlen, &mime, &err) == 0 &&
        (doc < body || doc + dlen > body + blen))
        abort();
    free(mime);
    free(err);
    free(ct);
    free(body);
    return 0;
}
