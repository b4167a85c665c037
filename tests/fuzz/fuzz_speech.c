/* fuzz_speech.c — the audio decoding entry point (stepd_speech_decode_mem: container probing
 * over the demuxer whitelist, codec decoding, down-mix and resampling) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <libavutil/log.h>
#include <stepd/ai/speech.h>

static int sink(void *user, const int16_t *s, size_t n, int sr) {
    long *acc = user;
    for (size_t i = 0; i < n; i++)
        *acc += s[i];
    return sr != 16000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) {
        av_log_set_level(AV_LOG_QUIET);
        quiet = 1;
    }
    long acc = 0;
    char fmt[16], *err = NULL;
    stepd_speech_decode_mem(data, size, "fuzz", sink, &acc, fmt, &err);
    free(err);
    return 0;
}
