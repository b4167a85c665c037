/*
 * llm_test_hooks.h — an in-memory stepd_llm_hooks for tests: state as a JSON object of groups,
 * emitted events appended to an array. Thread-safe.
 */
#ifndef STEPD_TESTS_LLM_TEST_HOOKS_H
#define STEPD_TESTS_LLM_TEST_HOOKS_H

#include <pthread.h>
#include <stepd/ai/llm.h>

typedef struct llm_test_hooks {
    pthread_mutex_t mu;
    json_t *state;  /* {"group": {"key": value}} */
    json_t *events; /* [{"topic": ..., "data": ...}] in emit order */
    int sets;       /* state_set calls */
} llm_test_hooks;

void llm_test_hooks_init(llm_test_hooks *t);
void llm_test_hooks_free(llm_test_hooks *t);
/* Hooks bound to t. */
stepd_llm_hooks llm_test_hooks_get(llm_test_hooks *t);
/* Borrowed value stored under (group, key), or NULL; the test may modify it in place. */
json_t *llm_test_hooks_peek(llm_test_hooks *t, const char *group, const char *key);

#endif
