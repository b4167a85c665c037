/*
 * llm_test_hooks.c — the in-memory fake of the runtime's state and emit (llm_test_hooks.h),
 * with the same ownership rules as step.h: get returns a new reference, set borrows, emit
 * steals.
 */
#include "support/llm_test_hooks.h"

#include <string.h>

static int fake_state_get(void *ud, const char *group, const char *key, json_t **out) {
    llm_test_hooks *t = ud;
    pthread_mutex_lock(&t->mu);
    json_t *v = json_object_get(json_object_get(t->state, group), key);
    *out = v ? json_deep_copy(v) : NULL;
    pthread_mutex_unlock(&t->mu);
    return v ? 0 : STEP_ENOTFOUND;
}

static int fake_state_set(void *ud, const char *group, const char *key, json_t *value) {
    llm_test_hooks *t = ud;
    pthread_mutex_lock(&t->mu);
    json_t *g = json_object_get(t->state, group);
    if (!g) {
        g = json_object();
        json_object_set_new(t->state, group, g);
    }
    json_object_set_new(g, key, json_deep_copy(value));
    t->sets++;
    pthread_mutex_unlock(&t->mu);
    return 0;
}

static int fake_emit(void *ud, const char *topic, json_t *data) {
    llm_test_hooks *t = ud;
    pthread_mutex_lock(&t->mu);
    json_array_append_new(
        t->events, json_pack("{s:s,s:o}", "topic", topic, "data", data ? data : json_object()));
    pthread_mutex_unlock(&t->mu);
    return 0;
}

void llm_test_hooks_init(llm_test_hooks *t) {
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    t->state = json_object();
    t->events = json_array();
}

void llm_test_hooks_free(llm_test_hooks *t) {
    json_decref(t->state);
    json_decref(t->events);
    pthread_mutex_destroy(&t->mu);
}

stepd_llm_hooks llm_test_hooks_get(llm_test_hooks *t) {
    return (stepd_llm_hooks){
        .ud = t, .state_get = fake_state_get, .state_set = fake_state_set, .emit = fake_emit};
}

json_t *llm_test_hooks_peek(llm_test_hooks *t, const char *group, const char *key) {
    return json_object_get(json_object_get(t->state, group), key);
}
