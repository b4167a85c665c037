/* fuzz_speech_http.c — the upload/serving helpers on arbitrary bytes: format sniffing, the
 * Range header parser and the multipart/form-data file extractor. The first line of the input
 * is the header (Range / Content-Type), the rest the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/ai/speech.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stepd_speech_sniff(data, size);
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *hdr = malloc(hlen + 1);
    if (!hdr)
        return 0;
    memcpy(hdr, data, hlen);
    hdr[hlen] = 0;
    uint64_t a, b;
    if (stepd_speech_http_range(hdr, size, &a, &b) == 1 && (a > b || b >= size))
        abort();
    stepd_speech_content_type(hdr);
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = (size_t)(data + size - body);
    const unsigned char *part;
    size_t plen;
    char *ct = NULL, *fn = NULL, *err = NULL;
    if (stepd_speech_multipart_file(hdr, body, blen, NULL, &part, &plen, &ct, &fn, &err) == 0 &&
        (part < body || part + plen > body + blen))
        abort();
    free(ct);
    free(fn);
    free(err);
    free(hdr);
    return 0;
}
