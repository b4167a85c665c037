/*
 * nn_shape.h — what shape inference's two files share (nn_shape.c: the driver and the op
 * rules; nn_shape_sym.c: the dimension algebra). Not used outside src/nn/.
 */
#ifndef STEPD_NN_SHAPE_H
#define STEPD_NN_SHAPE_H

#include "nn/nn_internal.h"

/* A dimension, or an element of a small integer tensor: known when s is NULL and v is not
 * NN_SD_UNK; symbolic when s is set (interned in the model); else unknown. */
typedef struct nn_sdim {
    int64_t v;
    const char *s;
} nn_sdim;

#define NN_SD_UNK INT64_MIN
#define NN_SD_UNKNOWN ((nn_sdim){NN_SD_UNK, NULL})

static inline nn_sdim nn_sd_known(int64_t v) {
    return (nn_sdim){v, NULL};
}
static inline int nn_sd_is_known(nn_sdim d) {
    return !d.s && d.v != NN_SD_UNK;
}

/* The model's symbol for the formatted text (owned by m, valid until nn_model_free), or NULL
 * (unknown) when too long or out of memory. */
const char *nn_sd_intern(nn_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* a + k; a + b or a - b (sub); a * b or floor(a / b) (op '*' or '/'). Overflow: unknown. */
nn_sdim nn_sd_addk(nn_model *m, nn_sdim a, int64_t k);
nn_sdim nn_sd_add(nn_model *m, nn_sdim a, nn_sdim b, int sub);
nn_sdim nn_sd_muldiv(nn_model *m, nn_sdim a, nn_sdim b, char op);
/* 1 equal, 0 known to differ, -1 cannot tell */
int nn_sd_same(nn_sdim a, nn_sdim b);

/* Dimension d of s, and setting it (a negative known value is stored as unknown). */
nn_sdim nn_sd_dim(const nn_shape *s, int d);
void nn_sd_set(nn_shape *s, int d, nn_sdim v);
/* s becomes type t, rank ndim (-1 unknown), every dimension unknown. */
void nn_shape_unknown(nn_shape *s, nn_dtype t, int ndim);
/* numpy broadcasting of a into out; 0, or -1 when two known dimensions conflict. */
int nn_shape_broadcast(nn_shape *out, const nn_shape *a);

#endif
