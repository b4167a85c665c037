/*
 * walk.c — see walk.h. A plain recursive readdir; results are sorted by the caller so that
 * loading order (and so error order and registry order) does not depend on the file system.
 */
#include "lang/walk.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int walk_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static void list_add(walk_list *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, (size_t)cap * sizeof(char *));
        if (!nv)
            return;
        l->v = nv;
        l->cap = cap;
    }
    if ((l->v[l->n] = strdup(s)))
        l->n++;
}

static void walk_dir(const char *root, const char *rel, walk_filter want, void *ud,
                     walk_list *out, int depth) {
    if (depth > 16)
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "node_modules") ||
            !strcmp(e->d_name, "__pycache__"))
            continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name);
        char full[PATH_MAX * 2];
        snprintf(full, sizeof(full), "%s/%s", root, sub);
        struct stat st;
        if (stat(full, &st))
            continue;
        if (S_ISDIR(st.st_mode))
            walk_dir(root, sub, want, ud, out, depth + 1);
        else if (S_ISREG(st.st_mode) && want(e->d_name, ud))
            list_add(out, sub);
    }
    closedir(d);
}

void walk_files(const char *root, const char *rel, walk_filter want, void *ud, walk_list *out) {
    walk_dir(root, rel, want, ud, out, 0);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void walk_sort(walk_list *l) {
    if (l->n)
        qsort(l->v, (size_t)l->n, sizeof(char *), cmp_str);
}

void walk_list_free(walk_list *l) {
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
