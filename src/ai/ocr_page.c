/*
 * ocr_page.c — pages of recognised words and the text built from them.
 *
 * Both tesseract and PDF text layers hand back words with boxes in an order that follows their
 * own idea of blocks and columns, which puts a label ("Total") and its value ("$12.00") in
 * different paragraphs when they are far apart on the line. ocr_page_layout rebuilds reading
 * order from geometry instead: words are grouped into rows by vertical overlap, each row is read
 * left to right, rows top to bottom. Every word remembers its byte span in the page text so a
 * regex match can be traced back to the boxes it came from (ocr_textmap_locate).
 */
#include "ai/ocr_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ocr_fail(char **err, int rc, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(err, fmt, ap) < 0)
            *err = NULL;
        va_end(ap);
    }
    return rc;
}

int ocr_page_add_word(ocr_page *p, const char *text, size_t len, int x, int y, int w, int h,
                      float conf) {
    if (p->nwords == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        ocr_word *nw = realloc(p->words, cap * sizeof(*nw));
        if (!nw)
            return STEP_ENOMEM;
        p->words = nw;
        p->cap = cap;
    }
    char *copy = strndup(text, len);
    if (!copy)
        return STEP_ENOMEM;
    p->words[p->nwords++] = (ocr_word){.text = copy, .x = x, .y = y, .w = w, .h = h,
                                       .conf = conf < 0 ? 0 : conf > 1 ? 1 : conf,
                                       .line = p->line > 0 ? p->line : -1};
    return 0;
}

void ocr_page_clear(ocr_page *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->nwords; i++)
        free(p->words[i].text);
    free(p->words);
    free(p->text);
    free(p->err);
    int number = p->number;
    memset(p, 0, sizeof(*p));
    p->number = number;
}

/* Words are first grouped into units (a tesseract text line, or a single word when lines are
 * unknown); units are then gathered into rows. */
typedef struct unit {
    size_t first, n;   /* range in the group-sorted word array */
    int x0, y0, x1, y1;
    double yc;         /* vertical centre corrected for the page's text slope */
    int row;
} unit;

static int word_cmp_group(const void *a, const void *b) {
    const ocr_word *x = a, *y = b;
    long gx = x->line >= 0 ? x->line : 1000000L + (long)x->start;
    long gy = y->line >= 0 ? y->line : 1000000L + (long)y->start;
    if (gx != gy)
        return (gx > gy) - (gx < gy);
    return (x->x > y->x) - (x->x < y->x);
}

static int unit_cmp_yc(const void *a, const void *b) {
    const unit *x = a, *y = b;
    return (x->yc > y->yc) - (x->yc < y->yc);
}

typedef struct unit_ref {
    int row, x0;
    size_t idx;
} unit_ref;

static int ref_cmp(const void *a, const void *b) {
    const unit_ref *x = a, *y = b;
    if (x->row != y->row)
        return (x->row > y->row) - (x->row < y->row);
    return (x->x0 > y->x0) - (x->x0 < y->x0);
}

int ocr_page_layout(ocr_page *p) {
    free(p->text);
    p->text = NULL;
    p->text_len = 0;
    size_t n = p->nwords;
    if (n == 0) {
        p->text = strdup("");
        return p->text ? 0 : STEP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        p->words[i].start = i; /* tie-breaker for words without a line */
    qsort(p->words, n, sizeof(ocr_word), word_cmp_group);
    unit *u = calloc(n, sizeof(unit));
    unit_ref *refs = calloc(n, sizeof(unit_ref));
    ocr_word *out = malloc(n * sizeof(ocr_word));
    size_t nu = 0;
    if (!u || !refs || !out) {
        free(u), free(refs), free(out);
        return STEP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const ocr_word *w = &p->words[i];
        int same = nu > 0 && w->line >= 0 && p->words[i - 1].line == w->line;
        if (!same)
            u[nu++] = (unit){.first = i, .x0 = w->x, .y0 = w->y, .x1 = w->x + w->w,
                             .y1 = w->y + w->h};
        unit *c = &u[nu - 1];
        if (same) {
            c->x0 = w->x < c->x0 ? w->x : c->x0;
            c->y0 = w->y < c->y0 ? w->y : c->y0;
            c->x1 = w->x + w->w > c->x1 ? w->x + w->w : c->x1;
            c->y1 = w->y + w->h > c->y1 ? w->y + w->h : c->y1;
        }
        c->n++;
    }
    for (size_t k = 0; k < nu; k++)
        u[k].yc = (u[k].y0 + u[k].y1) / 2.0 - p->slope * (u[k].x0 + u[k].x1) / 2.0;
    qsort(u, nu, sizeof(unit), unit_cmp_yc);
    /* a unit joins a row when it sits level with the row's unit nearest to it horizontally */
    int nrows = 0;
    for (size_t k = 0; k < nu; k++) {
        u[k].row = -1;
        double h = u[k].y1 - u[k].y0;
        for (size_t j = k; j-- > 0 && u[k].row < 0;) {
            if (u[k].yc - u[j].yc > 3 * h)
                break;
            /* nearest unit of u[j]'s row */
            size_t best = j;
            long bestd = -1;
            for (size_t q = 0; q < k; q++) {
                if (u[q].row != u[j].row)
                    continue;
                long d = u[q].x1 < u[k].x0 ? u[k].x0 - u[q].x1
                         : u[k].x1 < u[q].x0 ? u[q].x0 - u[k].x1 : 0;
                if (bestd < 0 || d < bestd)
                    bestd = d, best = q;
            }
            double hh = u[best].y1 - u[best].y0;
            double tol = 0.5 * (h < hh ? h : hh);
            if (u[k].yc - u[best].yc < tol && u[best].yc - u[k].yc < tol)
                u[k].row = u[j].row;
        }
        if (u[k].row < 0)
            u[k].row = nrows++;
    }
    for (size_t k = 0; k < nu; k++)
        refs[k] = (unit_ref){.row = u[k].row, .x0 = u[k].x0, .idx = k};
    qsort(refs, nu, sizeof(unit_ref), ref_cmp);
    size_t m = 0, cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += strlen(p->words[i].text) + 4;
    char *t = malloc(cap);
    if (!t) {
        free(u), free(refs), free(out);
        return STEP_ENOMEM;
    }
    size_t len = 0;
    int prev_row = -1;
    for (size_t r = 0; r < nu; r++) {
        const unit *c = &u[refs[r].idx];
        for (size_t i = 0; i < c->n; i++) {
            ocr_word w = p->words[c->first + i];
            if (m > 0 && c->row != prev_row) {
                t[len++] = '\n';
            } else if (m > 0) {
                /* a wide gap separates columns: keep it visible as three spaces */
                const ocr_word *pw = &out[m - 1];
                int gap = w.x - (pw->x + pw->w), hh = pw->h > w.h ? pw->h : w.h;
                t[len++] = ' ';
                if (gap > hh * 1.5) {
                    t[len++] = ' ';
                    t[len++] = ' ';
                }
            }
            prev_row = c->row;
            size_t wl = strlen(w.text);
            memcpy(t + len, w.text, wl);
            w.start = len;
            w.end = len + wl;
            len += wl;
            out[m++] = w;
        }
    }
    t[len] = '\0';
    free(p->words);
    p->words = out;
    p->cap = n;
    p->text = t;
    p->text_len = len;
    free(u);
    free(refs);
    return 0;
}

void ocr_textmap_locate(const ocr_textmap *map, size_t start, size_t end, int *page, int box[4],
                        float *conf) {
    *page = 0;
    box[0] = box[1] = box[2] = box[3] = 0;
    *conf = 1.0f;
    if (!map || map->npages == 0)
        return;
    size_t pi = 0;
    while (pi + 1 < map->npages && map->page_off[pi + 1] <= start)
        pi++;
    const ocr_page *p = &map->pages[pi];
    *page = p->number;
    size_t off = map->page_off[pi];
    size_t s = start >= off ? start - off : 0, e = end >= off ? end - off : 0;
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0, nw = 0;
    float sum = 0;
    for (size_t i = 0; i < p->nwords; i++) {
        const ocr_word *w = &p->words[i];
        if (w->end <= s || w->start >= e)
            continue;
        if (nw == 0 || w->x < x0)
            x0 = w->x;
        if (nw == 0 || w->y < y0)
            y0 = w->y;
        if (nw == 0 || w->x + w->w > x1)
            x1 = w->x + w->w;
        if (nw == 0 || w->y + w->h > y1)
            y1 = w->y + w->h;
        sum += w->conf;
        nw++;
    }
    if (nw) {
        box[0] = x0;
        box[1] = y0;
        box[2] = x1 - x0;
        box[3] = y1 - y0;
        *conf = sum / nw;
    }
}
