/*
 * state.h — the state adapter contract: JSON values under (group, key).
 *
 * Values cross this interface as JSON text (the adapter never parses them), so an adapter
 * is only storage: SQLite (sqlite_store.c, the default), memory (memory_store.c, for unit
 * tests) and later Redis implement the same vtable. All functions are thread-safe and may
 * block; a write has happened durably (per the adapter's durability setting) when it
 * returns 0. Errors are negative STEP_E* codes from <stepd/step.h>.
 */
#ifndef STEPD_STORE_STATE_H
#define STEPD_STORE_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct state_store state_store;

typedef struct state_item {
    char *key;   /* owned by the array */
    char *value; /* JSON text, owned by the array */
} state_item;

/* Atomic updates, reserved so the vtable keeps its shape when they land. */
typedef enum state_update_op {
    STATE_MERGE = 1,     /* shallow-merge a JSON object into the value */
    STATE_INCREMENT = 2, /* add a number */
    STATE_CAS = 3,       /* set only if the current value equals `expect` */
} state_update_op;

typedef struct state_ops {
    const char *name; /* "sqlite", "memory", ... */
    /* *value_out: malloc'ed NUL-terminated JSON text, caller frees. STEP_ENOTFOUND if absent. */
    int (*get)(state_store *s, const char *group, const char *key, char **value_out);
    /* value: JSON text of `len` bytes (not necessarily NUL-terminated); copied. */
    int (*set)(state_store *s, const char *group, const char *key, const char *value, size_t len);
    /* Deleting an absent key is not an error. */
    int (*del)(state_store *s, const char *group, const char *key);
    /* Every item of the group ordered by key; free with state_items_free(). n may be 0. */
    int (*get_group)(state_store *s, const char *group, state_item **items, size_t *n);
    int (*clear)(state_store *s, const char *group);
    /* Names of all non-empty groups, sorted; free with state_strings_free(). */
    int (*groups)(state_store *s, char ***names, size_t *n);
    /* Reserved: atomic update; STEP_EUNSUPPORTED until implemented. *result_out as get. */
    int (*update)(state_store *s, const char *group, const char *key, state_update_op op,
                  const char *arg, const char *expect, char **result_out);
    void (*close)(state_store *s); /* frees s; NULL-safe through state_close() */
} state_ops;

struct state_store {
    const state_ops *ops;
};

void state_items_free(state_item *items, size_t n);
void state_strings_free(char **names, size_t n);
/* close(NULL) is a harmless no-op. */
void state_close(state_store *s);

#endif
