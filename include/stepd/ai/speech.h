/* stepd/ai/speech.h — placeholder until the speech module lands. */
#ifndef STEPD_AI_SPEECH_H
#define STEPD_AI_SPEECH_H
#endif
