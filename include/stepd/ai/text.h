/* stepd/ai/text.h — placeholder until the text module lands. */
#ifndef STEPD_AI_TEXT_H
#define STEPD_AI_TEXT_H
#endif
