/*
 * ocr_pdf.c — PDF pages through poppler-glib: the text layer as words with boxes, or the page
 * rendered to an 8-bit gray leptonica image for OCR.
 *
 * A page "has text" when its text layer holds at least a few letters or digits; otherwise it
 * is a scan (an image-only page) and gets rendered. poppler_page_get_text_layout gives one
 * rectangle per character of poppler_page_get_text, which we fold into words (runs of
 * non-space characters) whose box is the union of their characters'. Rendering picks the
 * resolution asked for unless the page would exceed the pixel limit, in which case it lowers
 * the resolution, and refuses pages that would still be over it at 50 dpi. Poppler is not
 * thread-safe within one document, so the caller serialises calls on the same handle.
 */
#include "ai/ocr_internal.h"

#include <cairo.h>
#include <glib.h>
#include <leptonica/allheaders.h>
#include <math.h>
#include <poppler.h>
#include <stdlib.h>
#include <string.h>

struct ocr_pdf {
    PopplerDocument *doc;
    GBytes *bytes;
    int npages;
};

int ocr_pdf_open(const void *data, size_t len, ocr_pdf **out, char **err) {
    *out = NULL;
    if (len > (size_t)1 << 31)
        return ocr_fail(err, STEP_EINVAL, "PDF is too large (%zu bytes)", len);
    ocr_pdf *pdf = calloc(1, sizeof(*pdf));
    if (!pdf)
        return STEP_ENOMEM;
    pdf->bytes = g_bytes_new_static(data, len);
    GError *gerr = NULL;
    pdf->doc = poppler_document_new_from_bytes(pdf->bytes, NULL, &gerr);
    if (!pdf->doc) {
        int encrypted = gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED;
        int rc = ocr_fail(err, encrypted ? STEP_EUNSUPPORTED : STEP_EPARSE,
                          encrypted ? "PDF is encrypted; a password is needed to read it"
                                    : "PDF is corrupt or truncated: %s",
                          gerr && gerr->message ? gerr->message : "unreadable");
        if (gerr)
            g_error_free(gerr);
        g_bytes_unref(pdf->bytes);
        free(pdf);
        return rc;
    }
    pdf->npages = poppler_document_get_n_pages(pdf->doc);
    if (pdf->npages <= 0) {
        ocr_pdf_close(pdf);
        return ocr_fail(err, STEP_EPARSE, "PDF has no pages");
    }
    *out = pdf;
    return 0;
}

int ocr_pdf_pages(const ocr_pdf *pdf) { return pdf->npages; }

void ocr_pdf_close(ocr_pdf *pdf) {
    if (!pdf)
        return;
    if (pdf->doc)
        g_object_unref(pdf->doc);
    g_bytes_unref(pdf->bytes);
    free(pdf);
}

static int page_size_ok(double w, double h) {
    return isfinite(w) && isfinite(h) && w >= 1 && h >= 1 && w < 14400 * 4 && h < 14400 * 4;
}

int ocr_pdf_page_text(ocr_pdf *pdf, int index, ocr_page *p, int *has_text, char **err) {
    *has_text = 0;
    PopplerPage *page = poppler_document_get_page(pdf->doc, index);
    if (!page)
        return ocr_fail(err, STEP_EPARSE, "PDF page %d cannot be read", index + 1);
    double pw = 0, ph = 0;
    poppler_page_get_size(page, &pw, &ph);
    if (!page_size_ok(pw, ph)) {
        g_object_unref(page);
        return ocr_fail(err, STEP_EPARSE, "PDF page %d has an invalid size (%gx%g pt)", index + 1,
                        pw, ph);
    }
    p->width = (int)lround(pw);
    p->height = (int)lround(ph);
    char *text = poppler_page_get_text(page);
    PopplerRectangle *rects = NULL;
    guint nrects = 0;
    int rc = 0;
    size_t alnum = 0;
    for (const char *c = text; c && *c; c++)
        alnum += (*c >= '0' && *c <= '9') || ((*c | 32) >= 'a' && (*c | 32) <= 'z');
    if (text && alnum >= 8 && poppler_page_get_text_layout(page, &rects, &nrects)) {
        /* one rectangle per UTF-8 character of text */
        const char *c = text;
        guint ci = 0;
        const char *wstart = NULL;
        double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        while (rc == 0) {
            gunichar u = *c ? g_utf8_get_char_validated(c, -1) : 0;
            int space = !*c || u == (gunichar)-1 || u == (gunichar)-2 || g_unichar_isspace(u) ||
                        ci >= nrects;
            /* separately drawn strings can follow each other without a space in the text:
             * a jump back or a gap wider than half the character height also ends a word */
            if (!space && wstart) {
                const PopplerRectangle *r = &rects[ci];
                double ch = y1 - y0;
                if (r->x1 < x1 - ch * 0.5 || r->x1 > x1 + ch * 0.5 || r->y1 > y1 || r->y2 < y0) {
                    rc = ocr_page_add_word(p, wstart, (size_t)(c - wstart), (int)floor(x0),
                                           (int)floor(y0), (int)ceil(x1 - x0),
                                           (int)ceil(y1 - y0), 1.0f);
                    wstart = NULL;
                    if (rc < 0)
                        break;
                }
            }
            if (space && wstart) {
                rc = ocr_page_add_word(p, wstart, (size_t)(c - wstart), (int)floor(x0),
                                       (int)floor(y0), (int)ceil(x1 - x0), (int)ceil(y1 - y0),
                                       1.0f);
                wstart = NULL;
            } else if (!space) {
                const PopplerRectangle *r = &rects[ci];
                if (!wstart) {
                    wstart = c;
                    x0 = r->x1, y0 = r->y1, x1 = r->x2, y1 = r->y2;
                } else {
                    x0 = fmin(x0, r->x1), y0 = fmin(y0, r->y1);
                    x1 = fmax(x1, r->x2), y1 = fmax(y1, r->y2);
                }
            }
            if (!*c || ci >= nrects || u == (gunichar)-1 || u == (gunichar)-2)
                break;
            c = g_utf8_next_char(c);
            ci++;
        }
        *has_text = p->nwords > 0;
        p->conf = 1.0f;
    }
    g_free(rects);
    g_free(text);
    g_object_unref(page);
    return rc;
}

int ocr_pdf_render(ocr_pdf *pdf, int index, int dpi, long long max_pixels, void **out,
                   int *used_dpi, char **err) {
    *out = NULL;
    PopplerPage *page = poppler_document_get_page(pdf->doc, index);
    if (!page)
        return ocr_fail(err, STEP_EPARSE, "PDF page %d cannot be read", index + 1);
    double pw = 0, ph = 0;
    poppler_page_get_size(page, &pw, &ph);
    if (!page_size_ok(pw, ph)) {
        g_object_unref(page);
        return ocr_fail(err, STEP_EPARSE, "PDF page %d has an invalid size (%gx%g pt)", index + 1,
                        pw, ph);
    }
    double fit = 72.0 * sqrt((double)max_pixels / (pw * ph));
    if (fit < dpi)
        dpi = (int)floor(fit);
    if (dpi < 50) {
        g_object_unref(page);
        return ocr_fail(err, STEP_EINVAL,
                        "PDF page %d is %.0fx%.0f inches: too large to render within the "
                        "%lld-pixel limit",
                        index + 1, pw / 72, ph / 72, max_pixels);
    }
    int w = (int)ceil(pw * dpi / 72.0), h = (int)ceil(ph * dpi / 72.0);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        g_object_unref(page);
        return ocr_fail(err, STEP_ENOMEM, "cannot allocate a %dx%d page image", w, h);
    }
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, dpi / 72.0, dpi / 72.0);
    poppler_page_render_for_printing(page, cr);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    g_object_unref(page);

    PIX *pix = pixCreate(w, h, 8);
    if (!pix) {
        cairo_surface_destroy(s);
        return ocr_fail(err, STEP_ENOMEM, "cannot allocate a %dx%d page image", w, h);
    }
    pixSetResolution(pix, dpi, dpi);
    const unsigned char *src = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    l_uint32 *dst = pixGetData(pix);
    int wpl = pixGetWpl(pix);
    for (int y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(src + (size_t)y * stride);
        l_uint32 *line = dst + (size_t)y * wpl;
        for (int x = 0; x < w; x++) {
            uint32_t v = row[x];
            unsigned r = (v >> 16) & 255, g = (v >> 8) & 255, b = v & 255;
            SET_DATA_BYTE(line, x, (r * 77 + g * 150 + b * 29) >> 8);
        }
    }
    cairo_surface_destroy(s);
    *out = pix;
    *used_dpi = dpi;
    return 0;
}
