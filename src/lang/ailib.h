/*
 * ailib.h — finding and loading libstepd-ai.so, the AI modules, on demand.
 * Search order: $STEPD_AI_LIB, next to the stepd binary, <exe>/../lib/stepd/.
 */
#ifndef STEPD_LANG_AILIB_H
#define STEPD_LANG_AILIB_H

#include <stddef.h>

/* Writes the library's absolute path; 0 or STEP_ENOTFOUND. */
int ailib_path(char *out, size_t size);
/* Loads it once (RTLD_GLOBAL) and returns the handle, or NULL with a message in err. */
void *ailib_open(char *err, size_t err_size);

#endif
