/*
 * ocr.c — reads documents: detects what the bytes are, checks limits, decodes or renders each
 * page, cleans the image up, runs tesseract and assembles the JSON result with fields and
 * entities.
 *
 * Work is split by page. A call starts up to `threads` workers (the caller's thread is one);
 * each takes the next page index from a shared counter and, when it needs OCR, borrows a
 * tesseract instance from the engine for the rest of the call. The engine keeps instances
 * initialised per language and hands idle ones out again, so the ~0.3 s model load happens once
 * per thread, not once per page. Poppler is serialised per document (its page objects share
 * state); decoding, clean-up and OCR run concurrently. Limits (bytes, pixels per page, pages)
 * are checked from headers before anything is decoded, so a 100-megapixel PNG or a huge PDF
 * page is refused without allocating it.
 */
#include "ai/ocr_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <leptonica/allheaders.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tesseract/capi.h>
#include <unistd.h>

#define OCR_DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define OCR_DEFAULT_MAX_PIXELS 40000000LL
#define OCR_DEFAULT_MAX_PAGES 50

ai_ocr_options ai_ocr_options_default(void) {
    return (ai_ocr_options){
        .preprocess = AI_OCR_PRE_DEFAULT,
        .dpi = 300,
        .words = 1,
        .max_bytes = OCR_DEFAULT_MAX_BYTES,
        .max_pixels = OCR_DEFAULT_MAX_PIXELS,
        .max_pages = OCR_DEFAULT_MAX_PAGES,
    };
}

/* ---- process-wide setup ------------------------------------------------------------------- */

static void (*omp_set_levels)(int);
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void) {
    /* libgomp reads OMP_THREAD_LIMIT when it is loaded, i.e. before we run, and tesseract asks
     * for explicit num_threads(N), which omp_set_num_threads cannot override. The variable
     * helps child processes only; in-process, max-active-levels 0 makes every parallel region
     * inactive (one thread), set on each of our threads before tesseract runs. */
    setenv("OMP_THREAD_LIMIT", "1", 0);
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
    pthread_once(&global_once, global_init);
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
static int engine_acquire(ai_ocr_engine *e, const char *lang, int *slot, char **err) {
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

static void engine_release(ai_ocr_engine *e, int slot) {
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
static int lang_check(const char *lang, char **err) {
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

/* ---- what the bytes are ------------------------------------------------------------------- */

const char *ai_ocr_sniff(const void *data, size_t len) {
    const unsigned char *d = data;
    if (!d || len < 4)
        return NULL;
    if (len >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return "image/jpeg";
    if (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))
        return "image/tiff";
    if (len >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
        return "image/webp";
    if (d[0] == 'B' && d[1] == 'M' && len >= 26)
        return "image/bmp";
    if (d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && isspace(d[2]))
        return "image/x-portable-anymap";
    /* PDF: "%PDF-" within the first KiB (some producers put junk first) */
    size_t lim = len < 1024 ? len : 1024;
    for (size_t i = 0; i + 5 <= lim; i++)
        if (d[i] == '%' && !memcmp(d + i, "%PDF-", 5))
            return "application/pdf";
    return NULL;
}

static const char *mime_alias(const char *m) {
    if (!strcmp(m, "image/jpg") || !strcmp(m, "image/pjpeg"))
        return "image/jpeg";
    if (!strcmp(m, "image/tif"))
        return "image/tiff";
    if (!strcmp(m, "application/x-pdf"))
        return "application/pdf";
    if (!strcmp(m, "image/x-ms-bmp"))
        return "image/bmp";
    if (!strcmp(m, "image/x-portable-graymap") || !strcmp(m, "image/x-portable-pixmap") ||
        !strcmp(m, "image/x-portable-bitmap"))
        return "image/x-portable-anymap";
    return m;
}

static int mime_check(const char *declared, const char *sniffed, char **err) {
    char m[128];
    size_t n = 0;
    for (const char *c = declared; *c && *c != ';' && n + 1 < sizeof(m); c++)
        if (!isspace((unsigned char)*c))
            m[n++] = (char)tolower((unsigned char)*c);
    m[n] = '\0';
    if (!n || !strcmp(m, "application/octet-stream") || !strcmp(m, "binary/octet-stream"))
        return 0;
    const char *want = mime_alias(m);
    static const char *known[] = {"image/png",  "image/jpeg", "image/tiff",
                                  "image/webp", "image/bmp",  "image/x-portable-anymap",
                                  "application/pdf"};
    int ok = 0;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        ok |= !strcmp(want, known[i]);
    if (!ok)
        return ocr_fail(err, STEP_EUNSUPPORTED,
                        "unsupported document type %s: send PNG, JPEG, TIFF, WebP, BMP, PNM or "
                        "PDF",
                        m);
    if (strcmp(want, sniffed))
        return ocr_fail(err, STEP_EINVAL, "declared %s but the data is %s", m, sniffed);
    return 0;
}

enum { KIND_IMAGE, KIND_TIFF, KIND_PDF };

/* "PNG" for image/png, for messages. */
static const char *mime_name(const char *mime) {
    static const char *const names[][2] = {{"image/png", "PNG"},   {"image/jpeg", "JPEG"},
                                           {"image/tiff", "TIFF"}, {"image/webp", "WebP"},
                                           {"image/bmp", "BMP"},   {"image/x-portable-anymap", "PNM"},
                                           {"application/pdf", "PDF"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(mime, names[i][0]))
            return names[i][1];
    return mime;
}

static int pixels_check(long long w, long long h, long long max, const char *what, int page,
                        char **err) {
    char where[48];
    if (page > 0)
        snprintf(where, sizeof(where), "%s page %d", what, page);
    else
        snprintf(where, sizeof(where), "%s image", what);
    if (w <= 0 || h <= 0)
        return ocr_fail(err, STEP_EPARSE, "%s has an invalid size %lldx%lld", where, w, h);
    if (w * h > max)
        return ocr_fail(err, STEP_EINVAL,
                        "%s is %lldx%lld (%.1f megapixels); the limit is %.1f megapixels "
                        "(max_pixels)",
                        where, w, h, (double)(w * h) / 1e6, (double)max / 1e6);
    return 0;
}

/* Type, limits and headers. For PDFs *pdf is the open document (caller closes). */
static int probe(const unsigned char *d, size_t len, const ai_ocr_options *o, int *kind,
                 int *pages, int *total, ocr_pdf **pdf, char **err) {
    *pages = *total = 0;
    *pdf = NULL;
    if (!d || len == 0)
        return ocr_fail(err, STEP_EINVAL, "document is empty (0 bytes)");
    if (len > o->max_bytes)
        return ocr_fail(err, STEP_EINVAL, "document is %zu bytes; the limit is %zu (max_bytes)",
                        len, o->max_bytes);
    const char *mime = ai_ocr_sniff(d, len);
    if (!mime) {
        char head[40] = "";
        size_t n = len < 8 ? len : 8, k = 0;
        for (size_t i = 0; i < n; i++)
            k += (size_t)snprintf(head + k, sizeof(head) - k, "%02x", d[i]);
        return ocr_fail(err, STEP_EUNSUPPORTED,
                        "not a document we can read (expected PNG, JPEG, TIFF, WebP, BMP, PNM or "
                        "PDF; data starts with %s)",
                        head);
    }
    if (o->mime) {
        int rc = mime_check(o->mime, mime, err);
        if (rc < 0)
            return rc;
    }
    if (!strcmp(mime, "application/pdf")) {
        *kind = KIND_PDF;
        int rc = ocr_pdf_open(d, len, pdf, err);
        if (rc < 0)
            return rc;
        *total = ocr_pdf_pages(*pdf);
        *pages = *total < o->max_pages ? *total : o->max_pages;
        return 0;
    }
    if (!strcmp(mime, "image/tiff")) {
        *kind = KIND_TIFF;
        for (int n = 0; n < o->max_pages; n++) {
            l_int32 w, h, bps, spp, res, cmap, fmt;
            if (readHeaderMemTiff(d, len, n, &w, &h, &bps, &spp, &res, &cmap, &fmt))
                break;
            int rc = pixels_check(w, h, o->max_pixels, "TIFF", n + 1, err);
            if (rc < 0)
                return rc;
            (*pages)++;
        }
        if (*pages == 0)
            return ocr_fail(err, STEP_EPARSE, "TIFF image is corrupt or truncated");
        *total = *pages;
        return 0;
    }
    *kind = KIND_IMAGE;
    l_int32 fmt, w, h, bps, spp, cmap;
    if (pixReadHeaderMem(d, len, &fmt, &w, &h, &bps, &spp, &cmap))
        return ocr_fail(err, STEP_EPARSE, "%s image is corrupt or truncated (unreadable header)",
                        mime_name(mime));
    int rc = pixels_check(w, h, o->max_pixels, mime_name(mime), 0, err);
    if (rc < 0)
        return rc;
    *pages = *total = 1;
    return 0;
}

int ai_ocr_probe(const void *data, size_t len, const ai_ocr_options *opts, int *pages,
                 char **err) {
    pthread_once(&global_once, global_init);
    ai_ocr_options o = opts ? *opts : ai_ocr_options_default();
    ai_ocr_options def = ai_ocr_options_default();
    if (!o.max_bytes)
        o.max_bytes = def.max_bytes;
    if (o.max_pixels <= 0)
        o.max_pixels = def.max_pixels;
    if (o.max_pages <= 0)
        o.max_pages = def.max_pages;
    int kind, total, np = 0;
    ocr_pdf *pdf = NULL;
    int rc = probe(data, len, &o, &kind, &np, &total, &pdf, err);
    ocr_pdf_close(pdf);
    if (pages)
        *pages = np;
    return rc;
}

/* ---- image clean-up ----------------------------------------------------------------------- */

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int int_cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Looks at the dark connected components of an 8-bit image: the median height of the
 * character-sized ones (text size in pixels) and the share of 1-2 pixel specks (noise). */
static void analyse(PIX *gray, int *median_h, double *specks) {
    *median_h = 0;
    *specks = 0;
    PIX *bin = pixThresholdToBinary(gray, 128);
    BOXA *boxa = bin ? pixConnCompBB(bin, 8) : NULL;
    int n = boxa ? boxaGetCount(boxa) : 0, nh = 0, ns = 0;
    int *hs = n > 0 ? malloc((size_t)n * sizeof(int)) : NULL;
    int maxh = pixGetHeight(gray) / 4;
    for (int i = 0; hs && i < n; i++) {
        l_int32 x, y, w, h;
        if (boxaGetBoxGeometry(boxa, i, &x, &y, &w, &h))
            continue;
        if (w <= 2 && h <= 2)
            ns++;
        else if (h >= 4 && h <= maxh && w <= h * 3)
            hs[nh++] = h;
    }
    if (nh > 0) {
        qsort(hs, (size_t)nh, sizeof(int), int_cmp);
        *median_h = hs[nh / 2];
    }
    if (n > 0)
        *specks = (double)ns / n;
    free(hs);
    boxaDestroy(&boxa);
    pixDestroy(&bin);
}

/* Returns a new PIX ready for tesseract; *ppi is scaled with the image. */
static PIX *preprocess(PIX *in, unsigned flags, long long max_pixels, int *ppi, double *skew) {
    *skew = 0;
    PIX *p = pixClone(in), *t;
    if (pixGetSpp(p) == 4 && (t = pixRemoveAlpha(p))) {
        pixDestroy(&p);
        p = t;
    }
    if ((flags & (AI_OCR_PRE_GRAY | AI_OCR_PRE_DENOISE | AI_OCR_PRE_BINARIZE | AI_OCR_PRE_UPSCALE |
                  AI_OCR_PRE_AUTODENOISE)) &&
        pixGetDepth(p) != 8 && (t = pixConvertTo8(p, 0))) {
        pixDestroy(&p);
        p = t;
    }
    int text_h = 0;
    double specks = 0;
    if (pixGetDepth(p) == 8 && (flags & (AI_OCR_PRE_UPSCALE | AI_OCR_PRE_AUTODENOISE)))
        analyse(p, &text_h, &specks);
    /* speckle noise: a median filter removes isolated dots and keeps strokes. Small text is
     * enlarged first (its 1 px strokes would not survive), with a filter grown to match. */
    int denoise = pixGetDepth(p) == 8 && ((flags & AI_OCR_PRE_DENOISE) ||
                                          ((flags & AI_OCR_PRE_AUTODENOISE) && specks > 0.25));
    int small = (flags & AI_OCR_PRE_UPSCALE) && text_h > 0 && text_h < 16;
    if (denoise && !small && (t = pixMedianFilter(p, 3, 3))) {
        pixDestroy(&p);
        p = t;
        denoise = 0;
    }
    /* tesseract reads best with characters ~20+ px tall: enlarge small text, up to 4x */
    double scaled = 1;
    if (small) {
        int w = pixGetWidth(p), h = pixGetHeight(p);
        double f = 22.0 / text_h;
        if (f > 4)
            f = 4;
        while (f >= 1.3 && (double)w * h * f * f > (double)max_pixels)
            f -= 0.1;
        if (f >= 1.3 && (t = pixScale(p, (float)f, (float)f))) {
            pixDestroy(&p);
            p = t;
            *ppi = (int)(*ppi * f);
            scaled = f;
        }
    }
    if (denoise) {
        int k = scaled < 2.5 ? 3 : 5;
        if ((t = pixMedianFilter(p, k, k))) {
            pixDestroy(&p);
            p = t;
        }
    }
    if (flags & AI_OCR_PRE_DESKEW) {
        l_float32 angle = 0, conf = 0;
        t = pixFindSkewAndDeskew(p, 2, &angle, &conf);
        if (t) {
            pixDestroy(&p);
            p = t;
            if (conf >= 2.5)
                *skew = angle;
        }
    }
    if ((flags & AI_OCR_PRE_BINARIZE) && pixGetDepth(p) == 8) {
        PIX *bin = NULL;
        int w = pixGetWidth(p), h = pixGetHeight(p);
        if (!pixOtsuAdaptiveThreshold(p, w < 16 ? 16 : w, h < 16 ? 16 : h, 0, 0, 0.1f, NULL,
                                      &bin) &&
            bin) {
            pixDestroy(&p);
            p = bin;
        }
    }
    return p;
}

/* ---- one page ----------------------------------------------------------------------------- */

typedef struct ocr_job {
    ai_ocr_engine *eng;
    const ai_ocr_options *o;
    const char *lang;
    const unsigned char *data;
    size_t len;
    int kind;
    ocr_pdf *pdf;
    pthread_mutex_t pdf_mu;
    ocr_page *pages;
    int npages;
    atomic_int next;
    atomic_int failed;
} ocr_job;

static int ocr_pix(TessBaseAPI *api, PIX *pix, int ppi, ocr_page *pg, char **err) {
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

static PIX *decode_page(const ocr_job *j, int i, char **err) {
    PIX *pix = j->kind == KIND_TIFF ? pixReadMemTiff(j->data, j->len, i)
                                    : pixReadMem(j->data, j->len);
    if (!pix) {
        ocr_fail(err, STEP_EPARSE, "image page %d is corrupt or truncated (cannot decode)", i + 1);
        return NULL;
    }
    return pix;
}

static int do_page(ocr_job *j, int i, int *slot, char **err) {
    ocr_page *pg = &j->pages[i];
    PIX *pix = NULL;
    int ppi = 300, rc = 0;
    if (j->kind == KIND_PDF) {
        pthread_mutex_lock(&j->pdf_mu);
        int has_text = 0;
        if (!j->o->force_ocr)
            rc = ocr_pdf_page_text(j->pdf, i, pg, &has_text, err);
        if (rc == 0 && has_text) {
            pg->text_layer = 1;
            pthread_mutex_unlock(&j->pdf_mu);
            return ocr_page_layout(pg);
        }
        ocr_page_clear(pg);
        void *out = NULL;
        if (rc == 0)
            rc = ocr_pdf_render(j->pdf, i, j->o->dpi, j->o->max_pixels, &out, &ppi, err);
        pthread_mutex_unlock(&j->pdf_mu);
        if (rc < 0)
            return rc;
        pix = out;
    } else {
        pix = decode_page(j, i, err);
        if (!pix)
            return STEP_EPARSE;
        /* headers can lie about later TIFF pages or frames: check what we actually got */
        rc = pixels_check(pixGetWidth(pix), pixGetHeight(pix), j->o->max_pixels, "decoded", i + 1,
                          err);
        if (rc < 0) {
            pixDestroy(&pix);
            return rc;
        }
        int xres = pixGetXRes(pix);
        ppi = xres >= 70 && xres <= 1200 ? xres : 300;
    }
    double skew = 0;
    PIX *clean = preprocess(pix, j->o->preprocess, j->o->max_pixels, &ppi, &skew);
    pixDestroy(&pix);
    if (!clean)
        return ocr_fail(err, STEP_ENOMEM, "out of memory preparing page %d", i + 1);
    pg->width = pixGetWidth(clean);
    pg->height = pixGetHeight(clean);
    pg->skew = skew;
    if (*slot < 0)
        rc = engine_acquire(j->eng, j->lang, slot, err);
    if (rc == 0)
        rc = ocr_pix(j->eng->slots[*slot].api, clean, ppi, pg, err);
    pixDestroy(&clean);
    if (rc == 0)
        rc = ocr_page_layout(pg);
    return rc;
}

static void *worker(void *arg) {
    ocr_job *j = arg;
    int slot = -1;
    for (;;) {
        if (atomic_load(&j->failed))
            break;
        int i = atomic_fetch_add(&j->next, 1);
        if (i >= j->npages)
            break;
        char *err = NULL;
        int rc = do_page(j, i, &slot, &err);
        if (rc < 0) {
            j->pages[i].rc = rc;
            j->pages[i].err = err;
            atomic_store(&j->failed, 1);
        } else {
            free(err);
        }
    }
    if (slot >= 0)
        engine_release(j->eng, slot);
    return NULL;
}

/* ---- assembling the result ---------------------------------------------------------------- */

static json_t *box_json(int x, int y, int w, int h) { return json_pack("[iiii]", x, y, w, h); }

static json_t *page_json(const ocr_page *p, int words) {
    json_t *o = json_pack("{s:i, s:s, s:i, s:i, s:f, s:f, s:s}", "page", p->number, "source",
                          p->text_layer ? "text" : "ocr", "width", p->width, "height", p->height,
                          "confidence", (double)(int)(p->conf * 1000 + 0.5) / 1000, "skew",
                          p->skew, "text", p->text ? p->text : "");
    if (o && words) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < p->nwords; i++) {
            const ocr_word *w = &p->words[i];
            json_array_append_new(arr, json_pack("{s:s, s:f, s:o}", "text", w->text, "conf",
                                                 (double)(int)(w->conf * 1000 + 0.5) / 1000, "box",
                                                 box_json(w->x, w->y, w->w, w->h)));
        }
        json_object_set_new(o, "words", arr);
    }
    return o;
}

static int assemble(ocr_job *j, int total, json_t **out, char **err) {
    size_t tlen = 0;
    for (int i = 0; i < j->npages; i++)
        tlen += j->pages[i].text_len + 1;
    char *text = malloc(tlen + 1);
    size_t *off = calloc((size_t)j->npages, sizeof(size_t));
    json_t *doc = json_object(), *pages = json_array();
    int rc = 0;
    if (!text || !off || !doc || !pages) {
        rc = STEP_ENOMEM;
        goto done;
    }
    size_t len = 0, nwords = 0;
    double csum = 0;
    for (int i = 0; i < j->npages; i++) {
        const ocr_page *p = &j->pages[i];
        if (i > 0)
            text[len++] = '\f';
        off[i] = len;
        memcpy(text + len, p->text, p->text_len);
        len += p->text_len;
        for (size_t k = 0; k < p->nwords; k++)
            csum += p->words[k].conf;
        nwords += p->nwords;
        json_array_append_new(pages, page_json(p, j->o->words));
    }
    text[len] = '\0';
    ocr_textmap map = {.pages = j->pages, .npages = (size_t)j->npages, .page_off = off};
    rc = ocr_fields_run(text, len, &map, j->o->type, j->o->classify, j->o->classify_user, doc,
                        err);
    if (rc < 0)
        goto done;
    json_t *ents = NULL;
    /* HOOK(text module): when src/ai/text lands, pass its entity extractor as opts.entities
     * (ai_ocr_options.entities); the built-in patterns are the fallback. */
    if (!j->o->entities || j->o->entities(text, &ents, j->o->entities_user) < 0 || !ents)
        ents = ocr_entities_builtin(text, len);
    json_object_set_new(doc, "text", json_stringn(text, len));
    json_object_set_new(doc, "confidence",
                        json_real(nwords ? (double)(int)(csum / nwords * 1000 + 0.5) / 1000 : 0));
    json_object_set_new(doc, "entities", ents ? ents : json_array());
    json_object_set_new(doc, "pages", pages);
    json_object_set_new(doc, "page_count", json_integer(total));
    pages = NULL;
    *out = doc;
    doc = NULL;
done:
    free(text);
    free(off);
    json_decref(doc);
    json_decref(pages);
    return rc;
}

int ai_ocr_process(ai_ocr_engine *eng, const void *data, size_t len, const ai_ocr_options *opts,
                   json_t **out, char **err) {
    pthread_once(&global_once, global_init);
    *out = NULL;
    if (err)
        *err = NULL;
    ai_ocr_options o = opts ? *opts : ai_ocr_options_default();
    ai_ocr_options def = ai_ocr_options_default();
    if (!o.max_bytes)
        o.max_bytes = def.max_bytes;
    if (o.max_pixels <= 0)
        o.max_pixels = def.max_pixels;
    if (o.max_pages <= 0)
        o.max_pages = def.max_pages;
    if (o.dpi <= 0)
        o.dpi = def.dpi;
    if (o.dpi > 1200)
        return ocr_fail(err, STEP_EINVAL, "dpi must be at most 1200 (got %d)", o.dpi);
    if (o.type && strcmp(o.type, "invoice") && strcmp(o.type, "receipt") && strcmp(o.type, "id") &&
        strcmp(o.type, "other"))
        return ocr_fail(err, STEP_EINVAL,
                        "unknown document type '%s' (use invoice, receipt, id or other)", o.type);
    if (!eng && !(eng = ai_ocr_default_engine()))
        return ocr_fail(err, STEP_ENOMEM, "cannot create the OCR engine");
    const char *lang = o.lang ? o.lang : "eng";
    int kind, npages, total;
    ocr_pdf *pdf = NULL;
    int rc = probe(data, len, &o, &kind, &npages, &total, &pdf, err);
    if (rc < 0)
        return rc;
    /* language data is needed unless every page has a text layer; check it up front anyway so
     * a misconfiguration shows on the first document, not the first scan */
    rc = lang_check(lang, err);
    if (rc < 0) {
        ocr_pdf_close(pdf);
        return rc;
    }
    ocr_job j = {.eng = eng, .o = &o, .lang = lang, .data = data, .len = len, .kind = kind,
                 .pdf = pdf, .npages = npages};
    j.pages = calloc((size_t)npages, sizeof(ocr_page));
    if (!j.pages) {
        ocr_pdf_close(pdf);
        return STEP_ENOMEM;
    }
    for (int i = 0; i < npages; i++)
        j.pages[i].number = i + 1;
    pthread_mutex_init(&j.pdf_mu, NULL);
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);

    int nthreads = o.threads > 0 ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads > 8 && o.threads <= 0)
        nthreads = 8;
    if (nthreads > npages)
        nthreads = npages;
    if (nthreads > eng->max)
        nthreads = eng->max;
    if (nthreads < 1)
        nthreads = 1;
    pthread_t tids[64];
    int started = 0;
    for (int t = 1; t < nthreads && t < 64; t++)
        if (pthread_create(&tids[started], NULL, worker, &j) == 0)
            started++;
    worker(&j);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);

    for (int i = 0; i < npages && rc == 0; i++)
        if (j.pages[i].rc < 0) {
            rc = j.pages[i].rc;
            if (err) {
                *err = j.pages[i].err;
                j.pages[i].err = NULL;
            }
        }
    if (rc == 0)
        rc = assemble(&j, total, out, err);
    for (int i = 0; i < npages; i++)
        ocr_page_clear(&j.pages[i]);
    free(j.pages);
    pthread_mutex_destroy(&j.pdf_mu);
    ocr_pdf_close(pdf);
    return rc;
}

int ai_ocr_process_file(ai_ocr_engine *eng, const char *path, const ai_ocr_options *opts,
                        json_t **out, char **err) {
    *out = NULL;
    size_t max = opts && opts->max_bytes ? opts->max_bytes : OCR_DEFAULT_MAX_BYTES;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ocr_fail(err, errno == ENOENT ? STEP_ENOTFOUND : STEP_EIO, "%s: %s", path,
                        strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ocr_fail(err, STEP_EINVAL, "%s: not a regular file", path);
    }
    if ((size_t)st.st_size > max) {
        fclose(f);
        return ocr_fail(err, STEP_EINVAL, "%s is %lld bytes; the limit is %zu (max_bytes)", path,
                        (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return STEP_ENOMEM;
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (got != n) {
        free(buf);
        return ocr_fail(err, STEP_EIO, "%s: short read", path);
    }
    int rc = ai_ocr_process(eng, buf, n, opts, out, err);
    if (rc < 0 && err && *err) {
        char *m = NULL;
        if (asprintf(&m, "%s: %s", path, *err) >= 0) {
            free(*err);
            *err = m;
        }
    }
    free(buf);
    return rc;
}
