/*
 * speech_asr_moonshine.h — the Moonshine recogniser (src/nn, issue 12) behind the speech
 * module's recogniser vtable. Pass &stepd_speech_moonshine to stepd_speech_recognizer_open().
 */
#ifndef STEPD_SPEECH_ASR_MOONSHINE_H
#define STEPD_SPEECH_ASR_MOONSHINE_H

#include <stepd/ai/speech.h>

extern const stepd_speech_recognizer_vtable stepd_speech_moonshine;

/* 1 when the Moonshine model is installed where the recogniser looks for it (model_dir
 * NULL: $STEPD_NN_MODEL_DIR, build-data/nn/moonshine-tiny, /var/lib/stepd/nn/...), so
 * callers can make it the default engine. */
int stepd_speech_moonshine_available(const char *model_dir);

/* The engine a NULL vtable stands for: $STEPD_SPEECH_ENGINE ("pocketsphinx" or "moonshine")
 * when set, else Moonshine when its model is installed in model_dir (NULL: its default
 * directories), else pocketsphinx. A pocketsphinx model directory thus keeps pocketsphinx.
 * Static vtable in *out; an unknown STEPD_SPEECH_ENGINE is STEP_EINVAL with *err set. */
int stepd_speech_default_engine(const char *model_dir, const stepd_speech_recognizer_vtable **out,
                                char **err);

#endif
