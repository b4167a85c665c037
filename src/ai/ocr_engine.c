/*
 * ocr_engine.c — the tesseract side of the ocr module: process-wide setup (OpenMP, leptonica
 * messages), the engine's pool of reusable tesseract instances, installed languages, and
 * recognising one prepared page into words with boxes.
 *
 * An engine holds up to `max` slots. A slot is a TessBaseAPI initialised for one language; a
 * caller borrows an idle slot for its language, else an empty one (initialised outside the lock,
 * ~0.3 s), else re-initialises an idle slot of another language, else waits. Debian's tesseract
 * uses OpenMP: libgomp reads OMP_THREAD_LIMIT when it is loaded, before any of our code, and
 * tesseract asks for explicit num_threads(N); max-active-levels 0 on the calling thread is what
 * makes its parallel regions run on one thread, so pages can be parallelised over our threads
 * without 2 x N OpenMP workers fighting over the cores.
 */
#include "ai/ocr_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <leptonica/allheaders.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

/* ---- process-wide setup ------------------------------------------------------------------- */

static void (*omp_set_levels)(int);
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void) {
    /* no setenv("OMP_THREAD_LIMIT"): too late for this process (see the top of the file) and
     * not safe while other threads may be reading the environment */
    *(void **)&omp_set_levels = dlsym(RTLD_DEFAULT, "omp_set_max_active_levels");
    if (!getenv("LEPT_MSG_SEVERITY"))
        setMsgSeverity(L_SEVERITY_NONE);
}

/* ---- engine: reusable tesseract instances -------------------------------------------------- */

typedef struct tess_slot {
    TessBaseAPI *api;
    char *lang;
    int busy;
} tess_slot;

struct ai_ocr_engine {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int max;
    tess_slot *slots;
};

int ai_ocr_engine_new(int max_instances, ai_ocr_engine **out, char **err) {
    ocr_global_init();
    *out = NULL;
    if (max_instances < 0 || max_instances > 256)
        return ocr_fail(err, STEP_EINVAL, "max_instances must be 0..256 (got %d)", max_instances);
    ai_ocr_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return STEP_ENOMEM;
    e->max = max_instances ? max_instances : 8;
    e->slots = calloc((size_t)e->max, sizeof(tess_slot));
    if (!e->slots) {
        free(e);
        return STEP_ENOMEM;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    *out = e;
    return 0;
}

void ai_ocr_engine_free(ai_ocr_engine *e) {
    if (!e)
        return;
    for (int i = 0; i < e->max; i++) {
        if (e->slots[i].api) {
            TessBaseAPIEnd(e->slots[i].api);
            TessBaseAPIDelete(e->slots[i].api);
        }
        free(e->slots[i].lang);
    }
    free(e->slots);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}

void ocr_global_init(void) { pthread_once(&global_once, global_init_once); }

int ocr_engine_capacity(const ai_ocr_engine *e) { return e->max; }

static ai_ocr_engine *default_engine;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static void default_engine_init(void) { ai_ocr_engine_new(0, &default_engine, NULL); }

ai_ocr_engine *ai_ocr_default_engine(void) {
    pthread_once(&default_once, default_engine_init);
    return default_engine;
}

static int tess_start(tess_slot *s, const char *lang, char **err) {
    if (s->api) {
        TessBaseAPIEnd(s->api);
        TessBaseAPIDelete(s->api);
        s->api = NULL;
    }
    free(s->lang);
    s->lang = strdup(lang);
    TessBaseAPI *api = TessBaseAPICreate();
    if (!api || !s->lang) {
        if (api)
            TessBaseAPIDelete(api);
        return STEP_ENOMEM;
    }
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    if (TessBaseAPIInit3(api, NULL, lang) != 0) {
        TessBaseAPIDelete(api);
        return ocr_fail(err, STEP_ENOTFOUND, "tesseract cannot load language data '%s'", lang);
    }
    TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    TessBaseAPISetPageSegMode(api, PSM_AUTO);
    s->api = api;
    return 0;
}

/* Borrows an instance initialised for `lang`; blocks while all are busy. */
int ocr_engine_acquire(ai_ocr_engine *e, const char *lang, int *slot, char **err) {
    pthread_mutex_lock(&e->mu);
    for (;;) {
        int pick = -1, fresh = 0;
        for (int i = 0; i < e->max && pick < 0; i++)
            if (!e->slots[i].busy && e->slots[i].api && !strcmp(e->slots[i].lang, lang))
                pick = i;
        for (int i = 0; i < e->max && pick < 0; i++)
            if (!e->slots[i].busy && !e->slots[i].api)
                pick = i, fresh = 1;
        for (int i = 0; i < e->max && pick < 0; i++)
            if (!e->slots[i].busy)
                pick = i, fresh = 1;
        if (pick >= 0) {
            e->slots[pick].busy = 1;
            pthread_mutex_unlock(&e->mu);
            int rc = fresh ? tess_start(&e->slots[pick], lang, err) : 0;
            if (rc < 0) {
                pthread_mutex_lock(&e->mu);
                e->slots[pick].busy = 0;
                pthread_cond_signal(&e->cv);
                pthread_mutex_unlock(&e->mu);
                return rc;
            }
            *slot = pick;
            return 0;
        }
        pthread_cond_wait(&e->cv, &e->mu);
    }
}

void ocr_engine_release(ai_ocr_engine *e, int slot) {
    pthread_mutex_lock(&e->mu);
    e->slots[slot].busy = 0;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* ---- languages ---------------------------------------------------------------------------- */

static int lang_dir(char *buf, size_t cap) {
    const char *env = getenv("TESSDATA_PREFIX");
    const char *cands[] = {env, env, "/usr/share/tesseract-ocr/5/tessdata",
                           "/usr/share/tesseract-ocr/4.00/tessdata", "/usr/share/tessdata"};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        if (!cands[i])
            continue;
        snprintf(buf, cap, i == 1 ? "%s/tessdata" : "%s", cands[i]);
        char probe[4096];
        snprintf(probe, sizeof(probe), "%s/eng.traineddata", buf);
        DIR *d = opendir(buf);
        if (d) {
            struct dirent *de;
            int any = 0;
            while ((de = readdir(d)) && !any)
                any = strstr(de->d_name, ".traineddata") != NULL;
            closedir(d);
            if (any)
                return 0;
        }
    }
    return STEP_ENOTFOUND;
}

int ai_ocr_languages(json_t **out, char **err) {
    *out = NULL;
    char dir[2048];
    if (lang_dir(dir, sizeof(dir)) < 0)
        return ocr_fail(err, STEP_ENOTFOUND,
                        "no tesseract language data found (install tesseract-ocr-eng or set "
                        "TESSDATA_PREFIX)");
    DIR *d = opendir(dir);
    if (!d)
        return ocr_fail(err, STEP_EIO, "%s: %s", dir, strerror(errno));
    json_t *arr = json_array();
    struct dirent *de;
    while (arr && (de = readdir(d))) {
        const char *dot = strstr(de->d_name, ".traineddata");
        if (dot && dot[12] == '\0' && dot > de->d_name)
            json_array_append_new(arr, json_stringn(de->d_name, (size_t)(dot - de->d_name)));
    }
    closedir(d);
    if (!arr)
        return STEP_ENOMEM;
    *out = arr;
    return 0;
}

/* "eng+deu": every part must be installed. */
int ocr_lang_check(const char *lang, char **err) {
    size_t n = strlen(lang);
    if (n == 0 || n > 200 || strspn(lang, "abcdefghijklmnopqrstuvwxyz_+ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
        return ocr_fail(err, STEP_EINVAL, "invalid language '%s' (use names like eng or eng+deu)",
                        lang);
    json_t *have;
    int rc = ai_ocr_languages(&have, err);
    if (rc < 0)
        return rc;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", lang);
    char *save = NULL;
    for (char *tok = strtok_r(buf, "+", &save); tok && rc == 0; tok = strtok_r(NULL, "+", &save)) {
        int found = 0;
        size_t i;
        json_t *v;
        json_array_foreach(have, i, v) found |= !strcmp(json_string_value(v), tok);
        if (!found) {
            char *list = json_dumps(have, JSON_COMPACT);
            rc = ocr_fail(err, STEP_ENOTFOUND,
                          "tesseract language '%s' is not installed (installed: %s); install "
                          "tesseract-ocr-%s",
                          tok, list ? list : "?", tok);
            free(list);
        }
    }
    json_decref(have);
    return rc;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ocr_engine_recognize(ai_ocr_engine *e, int slot, void *image, int ppi, ocr_page *pg,
                         char **err) {
    TessBaseAPI *api = e->slots[slot].api;
    PIX *pix = image;
    if (omp_set_levels)
        omp_set_levels(0);
    TessBaseAPISetImage2(api, pix);
    TessBaseAPISetSourceResolution(api, ppi > 0 ? ppi : 300);
    if (TessBaseAPIRecognize(api, NULL) != 0) {
        TessBaseAPIClear(api);
        return ocr_fail(err, STEP_EFAILED, "tesseract failed to recognise page %d", pg->number);
    }
    TessResultIterator *ri = TessBaseAPIGetIterator(api);
    int rc = 0;
    double sum = 0;
    double slopes[64];
    int nslopes = 0;
    if (ri) {
        const TessPageIterator *pi = TessResultIteratorGetPageIterator(ri);
        do {
            if (TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE)) {
                pg->line++;
                int x1, y1, x2, y2;
                if (nslopes < 64 && TessPageIteratorBaseline(pi, RIL_TEXTLINE, &x1, &y1, &x2, &y2) &&
                    x2 - x1 > 100)
                    slopes[nslopes++] = (double)(y2 - y1) / (x2 - x1);
            }
            char *w = TessResultIteratorGetUTF8Text(ri, RIL_WORD);
            if (!w)
                continue;
            int l, t, r, b;
            float conf = TessResultIteratorConfidence(ri, RIL_WORD) / 100.0f;
            size_t wl = strlen(w);
            while (wl && isspace((unsigned char)w[wl - 1]))
                wl--;
            if (wl && TessPageIteratorBoundingBox(pi, RIL_WORD, &l, &t, &r, &b)) {
                rc = ocr_page_add_word(pg, w, wl, l, t, r - l, b - t, conf);
                sum += conf < 0 ? 0 : conf;
            }
            TessDeleteText(w);
        } while (rc == 0 && TessResultIteratorNext(ri, RIL_WORD));
        TessResultIteratorDelete(ri);
    }
    TessBaseAPIClear(api);
    pg->conf = pg->nwords ? (float)(sum / pg->nwords) : 0.0f;
    if (nslopes > 0) {
        qsort(slopes, (size_t)nslopes, sizeof(double), dbl_cmp);
        pg->slope = slopes[nslopes / 2];
    }
    return rc;
}
