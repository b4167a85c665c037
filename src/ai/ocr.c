/*
 * ocr.c — reads documents: detects what the bytes are, checks limits, decodes or renders each
 * page, has it cleaned up (ocr_image.c) and recognised (ocr_engine.c), and assembles the JSON
 * result with fields (ocr_fields.c) and entities.
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
#include <errno.h>
#include <leptonica/allheaders.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    ocr_global_init();
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
    PIX *clean = ocr_image_prepare(pix, j->o->preprocess, j->o->max_pixels, &ppi, &skew);
    pixDestroy(&pix);
    if (!clean)
        return ocr_fail(err, STEP_ENOMEM, "out of memory preparing page %d", i + 1);
    pg->width = pixGetWidth(clean);
    pg->height = pixGetHeight(clean);
    pg->skew = skew;
    if (*slot < 0)
        rc = ocr_engine_acquire(j->eng, j->lang, slot, err);
    if (rc == 0)
        rc = ocr_engine_recognize(j->eng, *slot, clean, ppi, pg, err);
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
        ocr_engine_release(j->eng, slot);
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
    ocr_global_init();
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
    rc = ocr_lang_check(lang, err);
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
    if (nthreads > ocr_engine_capacity(eng))
        nthreads = ocr_engine_capacity(eng);
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
