/*
 * ailib.c — see ailib.h. The AI modules pull in tesseract, poppler, ffmpeg, flite and more;
 * keeping them in a separate shared object keeps the runtime small (a project that uses no
 * AI never maps them) while `stepd ai` and AI-using steps get them with one dlopen.
 */
#include "lang/ailib.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stepd/step.h>

int ailib_path(char *out, size_t size) {
    const char *env = getenv("STEPD_AI_LIB");
    if (env && *env && access(env, R_OK) == 0) {
        if (!realpath(env, out) && snprintf(out, size, "%s", env) < 0)
            return STEP_ENOTFOUND;
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return STEP_ENOTFOUND;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *rel[] = {"/libstepd-ai.so", "/../lib/stepd/libstepd-ai.so"};
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        char p[PATH_MAX + 64], real[PATH_MAX];
        snprintf(p, sizeof(p), "%s%s", exe, rel[i]);
        if (access(p, R_OK) == 0 && realpath(p, real)) {
            snprintf(out, size, "%s", real);
            return 0;
        }
    }
    return STEP_ENOTFOUND;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *handle;

void *ailib_open(char *err, size_t err_size) {
    pthread_mutex_lock(&mu);
    if (!handle) {
        char path[PATH_MAX];
        if (ailib_path(path, sizeof(path))) {
            snprintf(err, err_size,
                     "libstepd-ai.so not found next to the stepd binary (build it with `make`, "
                     "or set STEPD_AI_LIB)");
        } else if (!(handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL))) {
            snprintf(err, err_size, "cannot load %s: %s", path, dlerror());
        }
    }
    void *h = handle;
    pthread_mutex_unlock(&mu);
    return h;
}
