/*
 * stepd/ai.h — public API of stepd's native AI modules. Each module is a plain C library
 * with its own header under stepd/ai/; this header includes them all.
 */
#ifndef STEPD_AI_H
#define STEPD_AI_H

#include <stepd/ai/llm.h>
#include <stepd/ai/text.h>
#include <stepd/ai/recommend.h>
#include <stepd/ai/ocr.h>
#include <stepd/ai/speech.h>

#endif
