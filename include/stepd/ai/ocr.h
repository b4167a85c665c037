/* stepd/ai/ocr.h — placeholder until the ocr module lands. */
#ifndef STEPD_AI_OCR_H
#define STEPD_AI_OCR_H
#endif
