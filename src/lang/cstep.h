/*
 * cstep.h — C steps: find them, compile them with the system compiler, load them.
 *
 * Every `*.step.c` and `*.middleware.c` under the project's steps/ and middleware/ folders is
 * compiled into DIR/.stepd/build/<name>.<hash>.so, where the hash covers the source, the
 * compiler command and the step API version: an unchanged file is not recompiled, and a
 * changed one gets a new file name, so the old and new versions can be loaded side by side
 * during a hot reload.
 */
#ifndef STEPD_LANG_CSTEP_H
#define STEPD_LANG_CSTEP_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <stepd/step.h>

typedef struct cmodule {
    atomic_int refs;
    char *file;    /* relative to the project */
    char *so_path; /* absolute */
    void *handle;
    const step_config *config; /* NULL for *.middleware.c */
    uint64_t hash;
} cmodule;

typedef struct cstep_opts {
    const char *project_dir; /* absolute */
    const char *cc;          /* "cc" */
    const char *cflags;      /* extra flags, split on spaces */
    const char *include_dir; /* directory holding stepd/step.h */
} cstep_opts;

/* Finds the directory that holds stepd/step.h: $STEPD_INCLUDE, then next to the binary
 * (<exe>/../include, <exe>/../../include), then /usr/local/include, /usr/include.
 * Returns 0 or STEP_ENOTFOUND. */
int cstep_find_include_dir(char *out, size_t size);

/* Lists step source files (relative paths, sorted). Caller frees with cstep_files_free. */
int cstep_scan(const char *project_dir, char ***files, int *n);
void cstep_files_free(char **files, int n);

/* Content hash of a file plus the build settings; 0 if unreadable. */
uint64_t cstep_hash(const cstep_opts *o, const char *rel);

/* Compiles (unless cached) and loads one file. On failure returns STEP_ECOMPILE (compiler
 * output, with file:line, in *errors) or STEP_ECONFIG (bad module: reason in *errors);
 * the caller frees *errors. */
int cstep_load(const cstep_opts *o, const char *rel, cmodule **out, char **errors);

cmodule *cmodule_ref(cmodule *m);
void cmodule_unref(cmodule *m); /* NULL-safe; unloads with the last reference */
void *cmodule_sym(const cmodule *m, const char *name);

#endif
