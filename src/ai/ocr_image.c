/*
 * ocr_image.c — page clean-up before OCR, on leptonica images: alpha removal, grayscale, a
 * look at the connected components (text height, share of specks), median denoising, upscaling
 * of small text, deskew and Otsu binarisation, each switched by AI_OCR_PRE_* flags.
 *
 * Small text is enlarged before denoising, with a filter grown to the scale, because a 3x3
 * median would erase the 1-pixel strokes of small print along with the specks.
 */
#include "ai/ocr_internal.h"

#include <leptonica/allheaders.h>
#include <stdlib.h>

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
void *ocr_image_prepare(void *image, unsigned flags, long long max_pixels, int *ppi,
                        double *skew) {
    PIX *in = image;
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
    /* deskew before enlarging: finding and undoing the angle costs a quarter as much */
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
