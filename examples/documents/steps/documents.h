/* documents.h — what the document steps share: where uploads wait for the event step. */
#ifndef EXAMPLES_DOCUMENTS_H
#define EXAMPLES_DOCUMENTS_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define DOCUMENTS_MAX_BYTES (20u << 20)

/* Uploads are kept as files (events carry JSON, not megabytes of base64) in $DOCUMENTS_DIR,
 * default .stepd/uploads under the project directory stepd runs in. */
static inline const char *documents_dir(void) {
    const char *d = getenv("DOCUMENTS_DIR");
    if (!d || !*d) {
        mkdir(".stepd", 0755);
        d = ".stepd/uploads";
    }
    mkdir(d, 0755);
    return d;
}

static inline void documents_path(char *out, size_t cap, const char *id) {
    snprintf(out, cap, "%s/%s", documents_dir(), id);
}

#endif
