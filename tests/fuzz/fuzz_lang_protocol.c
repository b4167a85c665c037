/* fuzz_lang_protocol.c — the core side of the worker protocol: whatever a worker writes on its
 * stdout goes through line framing (in arbitrary chunks) and message decoding. Nothing may
 * crash, leak or read out of bounds, and every accepted message has a JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lang/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    worker_linebuf lb = {.max = 4096};
    size_t off = 0;
    /* the first byte picks the chunk size, as the pipe would split the stream */
    size_t chunk = size ? (size_t)(data[0] % 64) + 1 : 1;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (worker_linebuf_feed(&lb, (const char *)data + off, n))
            break;
        off += n;
        const char *line;
        size_t len;
        while ((line = worker_linebuf_next(&lb, &len))) {
            worker_msg m;
            const char *why = NULL;
            if (worker_msg_decode(line, len, &m, &why) == 0) {
                if (!m.json || !json_is_object(m.json))
                    abort();
                worker_msg_clear(&m);
            } else if (!why || m.json) {
                abort();
            }
        }
    }
    worker_linebuf_free(&lb);
    return 0;
}
