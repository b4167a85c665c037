/*
 * cstep.c — see cstep.h. The compiler runs as a child process (fork + execvp) with its
 * stderr captured, so a compile error becomes a message naming the file and line instead of
 * noise on the console. Modules are dlopen'ed RTLD_NOW | RTLD_LOCAL: a step's symbols do
 * not leak into other steps, and it resolves the step API (and jansson) against the stepd
 * binary, which exports them.
 */
#include "lang/cstep.h"

#include "lang/ailib.h"
#include "lang/walk.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

int cstep_find_include_dir(char *out, size_t size) {
    const char *env = getenv("STEPD_INCLUDE");
    char probe[PATH_MAX + 32];
    if (env && *env) {
        snprintf(probe, sizeof(probe), "%s/stepd/step.h", env);
        if (file_exists(probe)) {
            snprintf(out, size, "%s", env);
            return 0;
        }
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        const char *rel[] = {"/../include", "/../../include", "/include"};
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            char dir[PATH_MAX + 32], real[PATH_MAX];
            snprintf(dir, sizeof(dir), "%s%s", exe, rel[i]);
            snprintf(probe, sizeof(probe), "%s/stepd/step.h", dir);
            if (file_exists(probe) && realpath(dir, real)) {
                snprintf(out, size, "%s", real);
                return 0;
            }
        }
    }
    const char *sys[] = {"/usr/local/include", "/usr/include"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(probe, sizeof(probe), "%s/stepd/step.h", sys[i]);
        if (file_exists(probe)) {
            snprintf(out, size, "%s", sys[i]);
            return 0;
        }
    }
    return STEP_ENOTFOUND;
}


static int is_c_step(const char *name, void *ud) {
    (void)ud;
    return walk_ends_with(name, ".step.c") || walk_ends_with(name, ".middleware.c");
}

int cstep_scan(const char *project_dir, char ***files, int *n) {
    walk_list l = {0};
    walk_files(project_dir, "steps", is_c_step, NULL, &l);
    walk_files(project_dir, "middleware", is_c_step, NULL, &l);
    walk_sort(&l);
    *files = l.v;
    *n = l.n;
    return 0;
}

void cstep_files_free(char **files, int n) {
    for (int i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

static uint64_t fnv(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t cstep_hash(const cstep_opts *o, const char *rel) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", o->project_dir, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t h = 1469598103934665603ULL;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        h = fnv(h, buf, (size_t)n);
    close(fd);
    /* local headers next to the step (shared code of a flow): a change rebuilds the step */
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!walk_ends_with(e->d_name, ".h"))
            continue;
        char hp[PATH_MAX * 2];
        snprintf(hp, sizeof(hp), "%s/%s", dir, e->d_name);
        struct stat hs;
        if (stat(hp, &hs) == 0) {
            h = fnv(h, e->d_name, strlen(e->d_name));
            h = fnv(h, &hs.st_mtime, sizeof(hs.st_mtime));
            h = fnv(h, &hs.st_size, sizeof(hs.st_size));
        }
    }
    if (d)
        closedir(d);
    const char *parts[] = {o->cc, o->cflags, o->include_dir, STEPD_VERSION};
    for (size_t i = 0; i < 4; i++)
        h = fnv(h, parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) + 1 : 1);
    int abi = STEPD_ABI;
    h = fnv(h, &abi, sizeof(abi));
    /* the header itself: a changed step.h must rebuild every step */
    char hdr[PATH_MAX + 32];
    snprintf(hdr, sizeof(hdr), "%s/stepd/step.h", o->include_dir ? o->include_dir : "");
    struct stat st;
    if (!stat(hdr, &st)) {
        h = fnv(h, &st.st_mtime, sizeof(st.st_mtime));
        h = fnv(h, &st.st_size, sizeof(st.st_size));
    }
    return h ? h : 1;
}

static int file_includes_ai(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, "#include") && strstr(line, "stepd/ai");
    fclose(f);
    return found;
}

/* Whether the step's source, or a local header next to it, includes the AI API
 * (<stepd/ai.h> or <stepd/ai/...>). */
static int uses_ai(const cstep_opts *o, const char *rel) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", o->project_dir, rel);
    if (file_includes_ai(path))
        return 1;
    char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    DIR *d = opendir(path);
    struct dirent *e;
    int found = 0;
    while (!found && d && (e = readdir(d))) {
        if (!walk_ends_with(e->d_name, ".h"))
            continue;
        char hp[PATH_MAX * 2];
        snprintf(hp, sizeof(hp), "%s/%s", path, e->d_name);
        found = file_includes_ai(hp);
    }
    if (d)
        closedir(d);
    return found;
}

/* Runs argv in `cwd`, capturing stdout+stderr into *output. Returns the exit status or -1. */
static int run_capture(char *const argv[], const char *cwd, char **output) {
    int pipefd[2];
    *output = NULL;
    if (pipe2(pipefd, O_CLOEXEC))
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        if (cwd && chdir(cwd))
            _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t n;
    while (buf && (n = read(pipefd[0], buf + len, cap - len - 1)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t)n;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    close(pipefd[0]);
    if (buf)
        buf[len] = '\0';
    *output = buf;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void set_error(char **errors, const char *fmt, const char *a, const char *b) {
    if (asprintf(errors, fmt, a, b ? b : "") < 0)
        *errors = NULL;
}

int cstep_load(const cstep_opts *o, const char *rel, cmodule **out, char **errors) {
    *out = NULL;
    *errors = NULL;
    uint64_t h = cstep_hash(o, rel);
    if (!h) {
        set_error(errors, "%s: cannot read the file%s", rel, NULL);
        return STEP_ECONFIG;
    }
    char build_dir[PATH_MAX], so[PATH_MAX + 128], tmp[PATH_MAX + 160];
    snprintf(build_dir, sizeof(build_dir), "%s/.stepd/build", o->project_dir);
    char mangled[PATH_MAX];
    snprintf(mangled, sizeof(mangled), "%s", rel);
    for (char *c = mangled; *c; c++)
        if (*c == '/')
            *c = '_';
    snprintf(so, sizeof(so), "%s/%s.%016llx.so", build_dir, mangled, (unsigned long long)h);
    if (!file_exists(so)) {
        char stepd_dir[PATH_MAX];
        snprintf(stepd_dir, sizeof(stepd_dir), "%s/.stepd", o->project_dir);
        mkdir(stepd_dir, 0755);
        mkdir(build_dir, 0755);
        snprintf(tmp, sizeof(tmp), "%s.%d.tmp", so, (int)getpid());
        char inc[PATH_MAX + 8];
        snprintf(inc, sizeof(inc), "-I%s", o->include_dir);
        char *argv[64];
        int ac = 0;
        argv[ac++] = (char *)o->cc;
        argv[ac++] = "-std=gnu11";
        argv[ac++] = "-D_GNU_SOURCE"; /* steps may use any glibc/Linux function */
        argv[ac++] = "-fPIC";
        argv[ac++] = "-shared";
        argv[ac++] = "-Wall";
        argv[ac++] = "-Werror=implicit-function-declaration"; /* would truncate pointers */
        argv[ac++] = "-fdiagnostics-color=never";
        char *flags = strdup(o->cflags ? o->cflags : "");
        char *save = NULL;
        for (char *t = flags ? strtok_r(flags, " \t", &save) : NULL; t && ac < 50;
             t = strtok_r(NULL, " \t", &save))
            argv[ac++] = t;
        argv[ac++] = inc;
        argv[ac++] = "-o";
        argv[ac++] = tmp;
        argv[ac++] = (char *)rel;
        /* a step that includes <stepd/ai.h> links the AI modules, loaded with it */
        char ai_path[PATH_MAX], rpath[PATH_MAX + 32];
        if (uses_ai(o, rel) && ailib_path(ai_path, sizeof(ai_path)) == 0) {
            char *slash = strrchr(ai_path, '/');
            snprintf(rpath, sizeof(rpath), "-Wl,-rpath,%.*s", (int)(slash - ai_path), ai_path);
            argv[ac++] = ai_path;
            argv[ac++] = rpath;
        }
        argv[ac] = NULL;
        char *output = NULL;
        int st = run_capture(argv, o->project_dir, &output);
        free(flags);
        if (st != 0) {
            unlink(tmp);
            if (st == 127)
                set_error(errors, "%s: cannot run the C compiler: %s", rel, output);
            else
                set_error(errors, "%s: compilation failed:\n%s", rel, output);
            free(output);
            return STEP_ECOMPILE;
        }
        free(output);
        if (rename(tmp, so)) {
            unlink(tmp);
            set_error(errors, "%s: cannot write %s", rel, so);
            return STEP_ECOMPILE;
        }
    }
    void *handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        set_error(errors, "%s: cannot load the compiled step: %s", rel, dlerror());
        return STEP_ECONFIG;
    }
    const step_config *cfg = dlsym(handle, "stepd_step_config");
    const int *abi = dlsym(handle, "stepd_step_abi");
    int is_mw = walk_ends_with(rel, ".middleware.c");
    if (!is_mw && !cfg) {
        dlclose(handle);
        set_error(errors, "%s: no STEP_CONFIG found (declare `STEP_CONFIG = { ... };`)%s", rel,
                  NULL);
        return STEP_ECONFIG;
    }
    if (cfg && (!abi || *abi != STEPD_ABI)) {
        dlclose(handle);
        set_error(errors, "%s: built against another version of stepd/step.h%s", rel, NULL);
        return STEP_ECONFIG;
    }
    cmodule *m = calloc(1, sizeof(*m));
    if (!m || !(m->file = strdup(rel)) || !(m->so_path = strdup(so))) {
        if (m) {
            free(m->file);
            free(m);
        }
        dlclose(handle);
        return STEP_ENOMEM;
    }
    atomic_init(&m->refs, 1);
    m->handle = handle;
    m->config = cfg;
    m->hash = h;
    *out = m;
    return 0;
}

cmodule *cmodule_ref(cmodule *m) {
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

void cmodule_unref(cmodule *m) {
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->handle)
        dlclose(m->handle);
    free(m->file);
    free(m->so_path);
    free(m);
}

void *cmodule_sym(const cmodule *m, const char *name) {
    return m && m->handle ? dlsym(m->handle, name) : NULL;
}
