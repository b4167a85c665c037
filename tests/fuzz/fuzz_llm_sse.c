/* fuzz_llm_sse.c — the SSE parser must dispatch the same events however the stream is cut,
 * and the chunk/response decoders must survive any bytes. Input: 1 byte of split stride, then
 * the stream. */
#include <stepd/ai/llm.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ai/llm_internal.h"

typedef struct log {
    char *buf;
    size_t len, cap;
    llm_stream_acc acc;
    int feed_acc;
} log;

static int collect(void *ud, const char *event, const char *data, size_t len) {
    log *l = ud;
    size_t need = l->len + strlen(event) + len + 3;
    if (need > l->cap) {
        size_t cap = need * 2;
        char *b = realloc(l->buf, cap);
        if (!b)
            abort();
        l->buf = b;
        l->cap = cap;
    }
    l->len += (size_t)sprintf(l->buf + l->len, "%s", event);
    l->buf[l->len++] = '\x01';
    memcpy(l->buf + l->len, data, len);
    l->len += len;
    l->buf[l->len++] = '\x02';
    if (strlen(data) != len)
        abort(); /* data must be NUL-terminated at len */
    if (l->feed_acc)
        llm_stream_apply(&l->acc, data, len, NULL);
    return 0;
}

static int run(const uint8_t *data, size_t size, size_t stride, log *l) {
    stepd_sse_parser *p = stepd_sse_parser_new(1 << 16, collect, l);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0; off += stride)
        rc = stepd_sse_feed(p, (const char *)data + off, off + stride > size ? size - off : stride);
    stepd_sse_parser_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t stride = (data[0] % 17) + 1;
    data++;
    size--;
    if (memchr(data, 0, size))
        return 0; /* NUL bytes make strlen(data) != len by design; covered elsewhere */
    log whole = {.feed_acc = 1}, split = {0};
    int a = run(data, size, size ? size : 1, &whole);
    int b = run(data, size, stride, &split);
    if (a != b || whole.len != split.len || (whole.len && memcmp(whole.buf, split.buf, whole.len)))
        abort();
    /* format → parse gives the data back, line ends normalised to LF */
    size_t flen;
    char *ev = stepd_sse_format("e", "1", (const char *)data, size, &flen);
    if (ev) {
        log back = {0};
        stepd_sse_parser *p = stepd_sse_parser_new(0, collect, &back);
        if (stepd_sse_feed(p, ev, flen) != 0)
            abort();
        stepd_sse_parser_free(p);
        char *want = malloc(size + 4);
        size_t wn = 0;
        memcpy(want, "e\x01", 2);
        wn = 2;
        for (size_t i = 0; i < size; i++) {
            if (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n')
                continue;
            want[wn++] = data[i] == '\r' ? '\n' : (char)data[i];
        }
        want[wn++] = '\x02';
        if (back.len != wn || memcmp(back.buf, want, wn))
            abort();
        free(want);
        free(back.buf);
        free(ev);
    }
    stepd_llm_result r = {0};
    stepd_llm_parse_response((const char *)data, size, &r);
    json_t *j = stepd_llm_result_to_json(&r);
    json_decref(j);
    stepd_llm_result_free(&r);
    llm_stream_finish(&whole.acc, &r);
    stepd_llm_result_free(&r);
    llm_stream_acc_free(&whole.acc);
    free(whole.buf);
    free(split.buf);
    return 0;
}
