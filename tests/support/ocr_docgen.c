/*
 * ocr_docgen.c — renders invoices, receipts and ID cards with known fields (see ocr_docgen.h).
 *
 * A document is a list of text draws in points plus the truth its fields should read back as.
 * Layouts, labels, date and amount formats vary with the seed the way real documents do
 * ("Invoice No:" / "Invoice #", "$1,234.56" / "1.234,56 €", "03/15/2024" in dollars and
 * "15.03.2024" in euros), and so do the vendor names and the fonts.
 */
#include "ocr_docgen.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static unsigned rnd(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}
static int pick(unsigned *s, int n) { return (int)(rnd(s) % (unsigned)n); }

static void op(ocr_gen_doc *d, double x, double y, double size, int bold, int right,
               const char *fmt, ...) __attribute__((format(printf, 7, 8)));
#include <stdarg.h>
static void op(ocr_gen_doc *d, double x, double y, double size, int bold, int right,
               const char *fmt, ...) {
    if (d->nops >= (int)(sizeof(d->ops) / sizeof(d->ops[0])))
        return;
    ocr_gen_op *o = &d->ops[d->nops++];
    o->x = x, o->y = y, o->size = size, o->bold = bold, o->right = right;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->text, sizeof(o->text), fmt, ap);
    va_end(ap);
}

static const char *months[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};

static void fmt_date(char *out, size_t cap, int style, int y, int m, int dd) {
    switch (style) {
    case 0: snprintf(out, cap, "%04d-%02d-%02d", y, m, dd); break;
    case 1: snprintf(out, cap, "%02d/%02d/%04d", m, dd, y); break; /* US */
    case 2: snprintf(out, cap, "%02d/%02d/%04d", dd, m, y); break; /* UK */
    case 3: snprintf(out, cap, "%02d.%02d.%04d", dd, m, y); break; /* DE */
    case 4: snprintf(out, cap, "%s %d, %04d", months[m - 1], dd, y); break;
    default: snprintf(out, cap, "%d %.3s %04d", dd, months[m - 1], y); break;
    }
}

static void iso(char *out, size_t cap, int y, int m, int dd) {
    snprintf(out, cap, "%04d-%02d-%02d", y, m, dd);
}

/* "1,234.56" with the currency's conventions. */
static void fmt_money(char *out, size_t cap, const char *cur, int eu, double v) {
    long cents = lround(v * 100);
    long units = cents / 100, c = cents % 100;
    char digits[32], grouped[40];
    snprintf(digits, sizeof(digits), "%ld", units);
    size_t n = strlen(digits), k = 0;
    for (size_t i = 0; i < n; i++) {
        grouped[k++] = digits[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n)
            grouped[k++] = eu ? '.' : ',';
    }
    grouped[k] = '\0';
    if (!strcmp(cur, "EUR") && eu)
        snprintf(out, cap, "%s,%02ld €", grouped, c);
    else if (!strcmp(cur, "EUR"))
        snprintf(out, cap, "€%s.%02ld", grouped, c);
    else if (!strcmp(cur, "GBP"))
        snprintf(out, cap, "£%s.%02ld", grouped, c);
    else
        snprintf(out, cap, "$%s.%02ld", grouped, c);
}

static const char *vendors[] = {"Acme Widgets Ltd",       "Northwind Traders Inc",
                                "Globex Corporation",     "Initech LLC",
                                "Umbrella Supplies GmbH", "Stark Industrial Co",
                                "Wayne Logistics PLC",    "Hooli Services Ltd",
                                "Blue Harbor Foods Inc",  "Summit Office Supply LLC"};
static const char *products[] = {"Consulting hours", "Steel brackets", "Paper A4 box",
                                 "Server rental",    "Design review",  "Cable set",
                                 "Toner cartridge",  "Support plan",   "Desk lamp",
                                 "Shipping"};
static const char *fonts[] = {"DejaVu Sans", "DejaVu Serif", "Nimbus Sans", "DejaVu Sans Mono"};

void ocr_gen_invoice(unsigned seed, ocr_gen_doc *d) {
    memset(d, 0, sizeof(*d));
    unsigned s = seed * 2654435761u + 1;
    ocr_gen_truth *t = &d->truth;
    strcpy(t->type, "invoice");
    d->w = 420, d->h = 595;
    d->font = fonts[pick(&s, 3)];
    static const char *curs[] = {"USD", "EUR", "GBP"};
    strcpy(t->currency, curs[pick(&s, 3)]);
    int eu = !strcmp(t->currency, "EUR") && pick(&s, 2);
    int dstyle = !strcmp(t->currency, "USD") ? (pick(&s, 2) ? 1 : 4)
                 : !strcmp(t->currency, "EUR") ? (pick(&s, 2) ? 3 : 5)
                                                : (pick(&s, 2) ? 2 : 0);
    snprintf(t->vendor, sizeof(t->vendor), "%s", vendors[pick(&s, 10)]);
    switch (pick(&s, 4)) {
    case 0: snprintf(t->number, sizeof(t->number), "INV-%04d-%04d", 2020 + pick(&s, 6), 1 + pick(&s, 9000)); break;
    case 1: snprintf(t->number, sizeof(t->number), "%d", 10000 + pick(&s, 80000)); break;
    case 2: snprintf(t->number, sizeof(t->number), "A-%d", 100 + pick(&s, 9000)); break;
    default: snprintf(t->number, sizeof(t->number), "%d/%03d", 2020 + pick(&s, 6), 1 + pick(&s, 900)); break;
    }
    int y = 2020 + pick(&s, 6), m = 1 + pick(&s, 12), dd = 1 + pick(&s, 28);
    int dm = m == 12 ? 1 : m + 1, dy = m == 12 ? y + 1 : y;
    char dtxt[32], duetxt[32];
    fmt_date(dtxt, sizeof(dtxt), dstyle, y, m, dd);
    fmt_date(duetxt, sizeof(duetxt), dstyle, dy, dm, dd);
    iso(t->date, sizeof(t->date), y, m, dd);
    iso(t->due_date, sizeof(t->due_date), dy, dm, dd);

    op(d, 30, 50, 15, 1, 0, "%s", t->vendor);
    op(d, 390, 50, 18, 1, 1, "INVOICE");
    op(d, 30, 68, 9, 0, 0, "%d Market Street, Springfield", 10 + pick(&s, 90));
    op(d, 30, 81, 9, 0, 0, "billing@%s.example", pick(&s, 2) ? "acme" : "globex");

    static const char *numlab[] = {"Invoice No:", "Invoice #", "Invoice Number:", "INVOICE NO."};
    static const char *datelab[] = {"Invoice Date:", "Date:", "Issue Date:"};
    static const char *duelab[] = {"Due Date:", "Payment Due:", "Due:"};
    double ly = 120;
    op(d, 30, ly, 10, 0, 0, "%s", numlab[pick(&s, 4)]);
    op(d, 130, ly, 10, 0, 0, "%s", t->number);
    op(d, 270, ly, 10, 1, 0, "Bill To:");
    op(d, 30, ly + 16, 10, 0, 0, "%s", datelab[pick(&s, 3)]);
    op(d, 130, ly + 16, 10, 0, 0, "%s", dtxt);
    op(d, 270, ly + 16, 10, 0, 0, "Jordan Lee");
    op(d, 30, ly + 32, 10, 0, 0, "%s", duelab[pick(&s, 3)]);
    op(d, 130, ly + 32, 10, 0, 0, "%s", duetxt);
    op(d, 270, ly + 32, 10, 0, 0, "Oak Avenue, Riverton");

    double ty = 215;
    op(d, 30, ty, 10, 1, 0, "Description");
    op(d, 230, ty, 10, 1, 1, "Qty");
    op(d, 310, ty, 10, 1, 1, "Price");
    op(d, 390, ty, 10, 1, 1, "Amount");
    int n = 2 + pick(&s, 4);
    double sub = 0;
    char a[48];
    for (int i = 0; i < n; i++) {
        int q = 1 + pick(&s, 9);
        double unit = (50 + pick(&s, 40000)) / 100.0;
        sub += q * round(unit * 100) / 100;
        op(d, 30, ty + 18 * (i + 1), 10, 0, 0, "%s", products[(seed + (unsigned)i * 3) % 10]);
        op(d, 230, ty + 18 * (i + 1), 10, 0, 1, "%d", q);
        fmt_money(a, sizeof(a), t->currency, eu, unit);
        op(d, 310, ty + 18 * (i + 1), 10, 0, 1, "%s", a);
        fmt_money(a, sizeof(a), t->currency, eu, q * unit);
        op(d, 390, ty + 18 * (i + 1), 10, 0, 1, "%s", a);
    }
    static const int rates[] = {20, 10, 8, 19};
    int rate = rates[pick(&s, 4)];
    t->subtotal = round(sub * 100) / 100;
    t->tax = round(t->subtotal * rate) / 100;
    t->total = round((t->subtotal + t->tax) * 100) / 100;
    double by = ty + 18 * (n + 2);
    static const char *taxlab[] = {"VAT (%d%%)", "Tax %d%%", "Sales Tax (%d%%)"};
    static const char *totlab[] = {"Total", "Total Due", "Amount Due", "TOTAL"};
    op(d, 230, by, 10, 0, 0, "Subtotal");
    fmt_money(a, sizeof(a), t->currency, eu, t->subtotal);
    op(d, 390, by, 10, 0, 1, "%s", a);
    char tl[32];
    snprintf(tl, sizeof(tl), taxlab[pick(&s, 3)], rate);
    op(d, 230, by + 16, 10, 0, 0, "%s", tl);
    fmt_money(a, sizeof(a), t->currency, eu, t->tax);
    op(d, 390, by + 16, 10, 0, 1, "%s", a);
    op(d, 230, by + 34, 11, 1, 0, "%s", totlab[pick(&s, 4)]);
    fmt_money(a, sizeof(a), t->currency, eu, t->total);
    op(d, 390, by + 34, 11, 1, 1, "%s", a);
    op(d, 30, by + 80, 9, 0, 0, "Payment terms: 30 days. Thank you for your business.");
}

static const char *shops[] = {"Corner Cafe",       "Green Market",  "City Pharmacy",
                              "Sunrise Bakery",    "Metro Hardware Store", "Harbor Books",
                              "Fresh Foods Market", "Luna Restaurant"};
static const char *goods[] = {"Latte",     "Croissant", "Bagel",      "Orange juice",
                              "Sandwich",  "Water",     "Cookie",     "Green tea",
                              "Notebook",  "Batteries", "Toothpaste", "Apples"};

void ocr_gen_receipt(unsigned seed, ocr_gen_doc *d) {
    memset(d, 0, sizeof(*d));
    unsigned s = seed * 2246822519u + 7;
    ocr_gen_truth *t = &d->truth;
    strcpy(t->type, "receipt");
    d->font = fonts[pick(&s, 4)];
    static const char *curs[] = {"USD", "GBP", "EUR"};
    strcpy(t->currency, curs[pick(&s, 3)]);
    snprintf(t->merchant, sizeof(t->merchant), "%s", shops[pick(&s, 8)]);
    int y = 2021 + pick(&s, 5), m = 1 + pick(&s, 12), dd = 1 + pick(&s, 28);
    int dstyle = !strcmp(t->currency, "USD") ? 1 : !strcmp(t->currency, "EUR") ? 3 : 2;
    char dtxt[32];
    fmt_date(dtxt, sizeof(dtxt), dstyle, y, m, dd);
    iso(t->date, sizeof(t->date), y, m, dd);
    t->nitems = 2 + pick(&s, 4);
    d->w = 230;
    d->h = 150 + 16 * t->nitems + 110;
    op(d, 115, 30, 13, 1, 2, "%s", t->merchant);
    op(d, 115, 46, 8, 0, 2, "%d High Street", 1 + pick(&s, 200));
    op(d, 15, 70, 9, 0, 0, "Date: %s %02d:%02d", dtxt, 8 + pick(&s, 12), pick(&s, 60));
    double yy = 95, sum = 0;
    char a[48];
    for (int i = 0; i < t->nitems; i++) {
        ocr_gen_item *it = &t->items[i];
        snprintf(it->name, sizeof(it->name), "%s", goods[(seed * 5 + (unsigned)i * 7) % 12]);
        it->qty = pick(&s, 4) == 0 ? 2 : 1;
        double unit = (100 + pick(&s, 1500)) / 100.0;
        it->price = round(unit * it->qty * 100) / 100;
        sum += it->price;
        if (it->qty > 1)
            op(d, 15, yy, 9, 0, 0, "%d x %s", it->qty, it->name);
        else
            op(d, 15, yy, 9, 0, 0, "%s", it->name);
        op(d, 215, yy, 9, 0, 1, "%.2f", it->price);
        yy += 16;
    }
    double tax = round(sum * 8) / 100;
    t->total = round((sum + tax) * 100) / 100;
    yy += 8;
    op(d, 15, yy, 9, 0, 0, "SUBTOTAL");
    op(d, 215, yy, 9, 0, 1, "%.2f", sum);
    op(d, 15, yy + 14, 9, 0, 0, "TAX 8%%");
    op(d, 215, yy + 14, 9, 0, 1, "%.2f", tax);
    op(d, 15, yy + 32, 11, 1, 0, "TOTAL");
    fmt_money(a, sizeof(a), t->currency, 0, t->total);
    op(d, 215, yy + 32, 11, 1, 1, "%s", a);
    double paid = ceil(t->total / 10) * 10;
    op(d, 15, yy + 50, 9, 0, 0, "CASH");
    op(d, 215, yy + 50, 9, 0, 1, "%.2f", paid);
    op(d, 15, yy + 64, 9, 0, 0, "CHANGE");
    op(d, 215, yy + 64, 9, 0, 1, "%.2f", paid - t->total);
    op(d, 115, yy + 90, 9, 0, 2, "Thank you for shopping!");
}

static const char *given[] = {"Maria", "James", "Aiko", "Lucas", "Fatima", "Oliver", "Elena", "Noah"};
static const char *family[] = {"Lopez", "Smith", "Tanaka", "Martin", "Khan", "Brown", "Rossi", "Berg"};

void ocr_gen_id(unsigned seed, ocr_gen_doc *d) {
    memset(d, 0, sizeof(*d));
    unsigned s = seed * 3266489917u + 3;
    ocr_gen_truth *t = &d->truth;
    strcpy(t->type, "id");
    d->w = 300, d->h = 190;
    d->font = fonts[pick(&s, 3)];
    const char *g = given[pick(&s, 8)], *f = family[pick(&s, 8)];
    snprintf(t->name, sizeof(t->name), "%s %s", g, f);
    snprintf(t->document_number, sizeof(t->document_number), "%c%c%07d", 'A' + pick(&s, 26),
             'A' + pick(&s, 26), pick(&s, 9000000) + 1000000);
    int by = 1950 + pick(&s, 50), bm = 1 + pick(&s, 12), bd = 1 + pick(&s, 28);
    int ey = 2026 + pick(&s, 10), em = 1 + pick(&s, 12), ed = 1 + pick(&s, 28);
    iso(t->date_of_birth, sizeof(t->date_of_birth), by, bm, bd);
    iso(t->date_of_expiry, sizeof(t->date_of_expiry), ey, em, ed);
    int style = pick(&s, 2) ? 0 : 5;
    char b[32], e[32];
    fmt_date(b, sizeof(b), style, by, bm, bd);
    fmt_date(e, sizeof(e), style, ey, em, ed);
    op(d, 150, 24, 13, 1, 2, "IDENTITY CARD");
    op(d, 150, 38, 8, 0, 2, "Republic of Examplia");
    if (pick(&s, 2)) {
        op(d, 20, 65, 9, 0, 0, "Surname: %s", f);
        op(d, 20, 82, 9, 0, 0, "Given names: %s", g);
    } else {
        op(d, 20, 65, 9, 0, 0, "Name: %s %s", g, f);
        op(d, 20, 82, 9, 0, 0, "Nationality: Examplian");
    }
    op(d, 20, 99, 9, 0, 0, "Date of Birth: %s", b);
    op(d, 20, 116, 9, 0, 0, "Document No: %s", t->document_number);
    op(d, 20, 133, 9, 0, 0, "Date of Expiry: %s", e);
    op(d, 20, 150, 9, 0, 0, "Sex: %s", pick(&s, 2) ? "F" : "M");
}

/* ---- rendering ---------------------------------------------------------------------------- */

static void draw(const ocr_gen_doc *d, cairo_t *cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0.05, 0.05, 0.1);
    for (int i = 0; i < d->nops; i++) {
        const ocr_gen_op *o = &d->ops[i];
        cairo_select_font_face(cr, d->font, CAIRO_FONT_SLANT_NORMAL,
                               o->bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, o->size);
        cairo_text_extents_t ext;
        cairo_text_extents(cr, o->text, &ext);
        double x = o->right == 1 ? o->x - ext.x_advance : o->right == 2 ? o->x - ext.x_advance / 2 : o->x;
        cairo_move_to(cr, x, o->y);
        cairo_show_text(cr, o->text);
    }
}

typedef struct membuf {
    unsigned char *p;
    size_t len, cap;
} membuf;

static cairo_status_t mem_write(void *closure, const unsigned char *data, unsigned int n) {
    membuf *b = closure;
    if (b->len + n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 65536);
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np)
            return CAIRO_STATUS_NO_MEMORY;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return CAIRO_STATUS_SUCCESS;
}

static cairo_surface_t *render(const ocr_gen_doc *d, double scale, double rotate, double noise,
                               unsigned seed) {
    int w = (int)ceil(d->w * scale), h = (int)ceil(d->h * scale);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_translate(cr, w / 2.0, h / 2.0);
    cairo_rotate(cr, rotate * M_PI / 180);
    cairo_translate(cr, -w / 2.0, -h / 2.0);
    cairo_scale(cr, scale, scale);
    draw(d, cr);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    if (noise > 0) {
        unsigned r = seed * 747796405u + 2891336453u;
        unsigned char *px = cairo_image_surface_get_data(s);
        int stride = cairo_image_surface_get_stride(s);
        for (int yy = 0; yy < h; yy++)
            for (int xx = 0; xx < w; xx++) {
                uint32_t *p = (uint32_t *)(px + (size_t)yy * stride) + xx;
                int v = (int)(*p & 255);
                int g = (int)(rnd(&r) % 64) + (int)(rnd(&r) % 64) - 64; /* ~triangular */
                v += (int)(g * noise * 0.8);
                unsigned sp = rnd(&r) % 1000;
                if (sp < (unsigned)(3 * noise))
                    v = 0;
                else if (sp > 1000 - (unsigned)(3 * noise))
                    v = 255;
                v = v < 0 ? 0 : v > 255 ? 255 : v;
                *p = 0xff000000u | (uint32_t)v << 16 | (uint32_t)v << 8 | (uint32_t)v;
            }
        cairo_surface_mark_dirty(s);
    }
    return s;
}

int ocr_gen_png(const ocr_gen_doc *d, double scale, double rotate, double noise, unsigned seed,
                unsigned char **out, size_t *len) {
    cairo_surface_t *s = render(d, scale, rotate, noise, seed);
    membuf b = {0};
    cairo_status_t st = cairo_surface_write_to_png_stream(s, mem_write, &b);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int ocr_gen_pdf(const ocr_gen_doc *d, int copies, unsigned char **out, size_t *len) {
    membuf b = {0};
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(mem_write, &b, d->w, d->h);
    cairo_t *cr = cairo_create(s);
    for (int i = 0; i < copies; i++) {
        draw(d, cr);
        cairo_show_page(cr);
    }
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_status_t st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int ocr_gen_pdf_scanned(const ocr_gen_doc *d, double scale, unsigned char **out, size_t *len) {
    cairo_surface_t *img = render(d, scale, 0, 0, 0);
    membuf b = {0};
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(mem_write, &b, d->w, d->h);
    cairo_t *cr = cairo_create(s);
    cairo_scale(cr, 1 / scale, 1 / scale);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_paint(cr);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_status_t st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    cairo_surface_destroy(img);
    if (st != CAIRO_STATUS_SUCCESS) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---- scoring ------------------------------------------------------------------------------ */

static void norm(const char *in, char *out, size_t cap) {
    size_t k = 0;
    int sp = 0;
    for (; in && *in && k + 1 < cap; in++) {
        if (*in == ' ' || *in == '\t') {
            sp = k > 0;
            continue;
        }
        if (sp && k + 2 < cap)
            out[k++] = ' ';
        sp = 0;
        out[k++] = (char)(*in >= 'a' && *in <= 'z' ? *in - 32 : *in);
    }
    out[k] = '\0';
}

static void miss(char *m, size_t cap, const char *name, json_t *got, const char *want) {
    size_t n = strlen(m);
    char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
    snprintf(m + n, cap - n, "%s=%s (want %s); ", name, g ? g : "null", want);
    free(g);
}

static void check_str(json_t *fields, const char *name, const char *want, int *ok, int *tot,
                      char *m, size_t cap) {
    json_t *v = json_object_get(json_object_get(fields, name), "value");
    char a[128], b[128];
    norm(json_string_value(v), a, sizeof(a));
    norm(want, b, sizeof(b));
    (*tot)++;
    if (json_is_string(v) && !strcmp(a, b))
        (*ok)++;
    else
        miss(m, cap, name, v, want);
}

static void check_num(json_t *fields, const char *name, double want, int *ok, int *tot, char *m,
                      size_t cap) {
    json_t *v = json_object_get(json_object_get(fields, name), "value");
    (*tot)++;
    if (json_is_number(v) && fabs(json_number_value(v) - want) < 0.005) {
        (*ok)++;
    } else {
        char w[32];
        snprintf(w, sizeof(w), "%.2f", want);
        miss(m, cap, name, v, w);
    }
}

void ocr_gen_score(const ocr_gen_doc *d, json_t *fields, int *ok, int *tot, char *m, size_t cap) {
    const ocr_gen_truth *t = &d->truth;
    if (!strcmp(t->type, "invoice")) {
        check_str(fields, "number", t->number, ok, tot, m, cap);
        check_str(fields, "date", t->date, ok, tot, m, cap);
        check_str(fields, "due_date", t->due_date, ok, tot, m, cap);
        check_num(fields, "total", t->total, ok, tot, m, cap);
        check_num(fields, "subtotal", t->subtotal, ok, tot, m, cap);
        check_num(fields, "tax", t->tax, ok, tot, m, cap);
        check_str(fields, "currency", t->currency, ok, tot, m, cap);
        check_str(fields, "vendor", t->vendor, ok, tot, m, cap);
    } else if (!strcmp(t->type, "receipt")) {
        check_str(fields, "merchant", t->merchant, ok, tot, m, cap);
        check_str(fields, "date", t->date, ok, tot, m, cap);
        check_num(fields, "total", t->total, ok, tot, m, cap);
        json_t *items = json_object_get(fields, "items");
        for (int i = 0; i < t->nitems; i++) {
            (*tot)++;
            int found = 0;
            size_t k;
            json_t *it;
            json_array_foreach(items, k, it) {
                char a[64], b[64];
                norm(json_string_value(json_object_get(it, "name")), a, sizeof(a));
                norm(t->items[i].name, b, sizeof(b));
                found |= !strcmp(a, b) &&
                         fabs(json_number_value(json_object_get(it, "price")) - t->items[i].price) <
                             0.005;
            }
            if (found) {
                (*ok)++;
            } else {
                char w[80];
                snprintf(w, sizeof(w), "%s %.2f", t->items[i].name, t->items[i].price);
                miss(m, cap, "item", NULL, w);
            }
        }
    } else {
        check_str(fields, "name", t->name, ok, tot, m, cap);
        check_str(fields, "document_number", t->document_number, ok, tot, m, cap);
        check_str(fields, "date_of_birth", t->date_of_birth, ok, tot, m, cap);
        check_str(fields, "date_of_expiry", t->date_of_expiry, ok, tot, m, cap);
    }
}
