/*
 * walk.h — listing a project's source files, shared by the C step loader (cstep.c) and the
 * JS/Python steps (script.c).
 */
#ifndef STEPD_LANG_WALK_H
#define STEPD_LANG_WALK_H

typedef struct walk_list {
    char **v; /* paths relative to the project, owned */
    int n, cap;
} walk_list;

/* Whether a file with this base name is wanted. */
typedef int (*walk_filter)(const char *name, void *ud);

/* Appends every regular file under root/rel whose base name passes `want`, as "rel/.../name",
 * skipping hidden entries, node_modules and __pycache__, at most 16 levels deep. A missing
 * folder adds nothing. */
void walk_files(const char *root, const char *rel, walk_filter want, void *ud, walk_list *out);
void walk_sort(walk_list *l);
void walk_list_free(walk_list *l);
int walk_ends_with(const char *s, const char *suffix);

#endif
