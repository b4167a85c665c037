/* fuzz_speech_synth.c — text to speech on arbitrary input: sentence splitting and flite's text
 * analysis (tokens, numbers, symbols, invalid UTF-8), every voice in turn. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stepd/ai/speech.h>

static int sink(void *user, const int16_t *s, size_t n, int sr) {
    (void)s;
    *(size_t *)user += n;
    return sr <= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *voices[] = {"slt", "rms", "awb", "kal16"};
    if (size > 120) /* flite's time grows with the text; short inputs explore more */
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    stepd_speech_synth_opts o = {.voice = voices[size % 4], .rate = 1 + (size % 3) * 0.5};
    size_t n = 0;
    char *err = NULL;
    stepd_speech_synthesize_stream(text, &o, sink, &n, NULL, &err);
    free(err);
    free(text);
    return 0;
}
