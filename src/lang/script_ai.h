/*
 * script_ai.h — AI calls from JavaScript and Python steps (ctx.ai.chat), served on the
 * handler's thread with its step context. See script_ai.c.
 */
#ifndef STEPD_LANG_SCRIPT_AI_H
#define STEPD_LANG_SCRIPT_AI_H

#include <jansson.h>
#include <stepd/step.h>

/* One chat completion described by `args` (borrowed; stepd_llm_request_from_json's keys plus
 * "streamTo"). Returns 0 with *result (new reference: stepd_llm_result_to_json), or a negative
 * STEP_E* code with *err (caller frees) saying what failed. */
int script_ai_chat(step_ctx *ctx, json_t *args, json_t **result, char **err);

#endif
