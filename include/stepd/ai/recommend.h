/* stepd/ai/recommend.h — placeholder until the recommend module lands. */
#ifndef STEPD_AI_RECOMMEND_H
#define STEPD_AI_RECOMMEND_H
#endif
