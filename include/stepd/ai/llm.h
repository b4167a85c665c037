/* stepd/ai/llm.h — placeholder until the llm module lands. */
#ifndef STEPD_AI_LLM_H
#define STEPD_AI_LLM_H
#endif
