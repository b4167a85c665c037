/*
 * audio_store.h — where the speech example keeps audio: files under $STEPD_AUDIO_DIR (default
 * .stepd/audio in the project), named by id and format; metadata in state group "audio".
 * Shared by the example's steps (static inline: each step is its own shared object).
 */
#ifndef SPEECH_EXAMPLE_AUDIO_STORE_H
#define SPEECH_EXAMPLE_AUDIO_STORE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AUDIO_MAX_BYTES (25u << 20) /* uploads above this get 413 */

static inline const char *audio_dir(void) {
    const char *d = getenv("STEPD_AUDIO_DIR");
    if (d && *d)
        return d;
    mkdir(".stepd", 0755);
    return ".stepd/audio";
}

/* Writes `path` for audio `id` with extension `ext` (ids are 32 hex characters). */
static inline int audio_path(char *path, size_t cap, const char *id, const char *ext) {
    for (const char *p = id; *p; p++)
        if (!strchr("0123456789abcdef", *p))
            return -1; /* never let a path parameter walk the file system */
    const char *dir = audio_dir();
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    int n = snprintf(path, cap, "%s/%s.%s", dir, id, ext);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static inline int audio_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

#endif
