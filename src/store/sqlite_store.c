/* sqlite_store.c — placeholder until the SQLite adapter lands (next commit). */
#include <stepd/step.h>

#include "store/stores.h"

int sqlite_store_open(const sqlite_store_opts *opts, state_store **state, queue **q) {
    (void)opts;
    if (state)
        *state = NULL;
    if (q)
        *q = NULL;
    return STEP_EUNSUPPORTED;
}
