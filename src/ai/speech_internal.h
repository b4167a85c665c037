/*
 * speech_internal.h — helpers shared by the speech module's files (speech.c synthesis,
 * speech_decode.c ffmpeg decoding, speech_asr.c recognition, speech_http.c HTTP helpers).
 * Not part of the public API.
 */
#ifndef STEPD_SPEECH_INTERNAL_H
#define STEPD_SPEECH_INTERNAL_H

#include <stepd/ai/speech.h>
#include <stepd/step.h>

/* Sets *err (when err is not NULL) to a malloc'ed formatted message; returns `code`. */
int speech_fail(char **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define SPEECH_RATE 16000 /* the recogniser's input rate */

#endif
