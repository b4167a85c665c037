/*
 * nn_pb.c — protocol-buffers wire-format reader (see nn_pb.h). Varints are at most ten bytes;
 * lengths are checked against what remains before any byte is read.
 */
#include "nn/nn_pb.h"

static int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

int nn_pb_next(nn_pb *pb, nn_pb_field *f) {
    if (pb->bad || pb->p >= pb->end)
        return 0;
    uint64_t key;
    if (read_varint(&pb->p, pb->end, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        goto bad;
    f->num = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->data = NULL;
    f->len = 0;
    f->v = 0;
    switch (f->wire) {
    case 0:
        if (read_varint(&pb->p, pb->end, &f->v) < 0)
            goto bad;
        return 1;
    case 1:
        if (pb->end - pb->p < 8)
            goto bad;
        for (int i = 7; i >= 0; i--)
            f->v = (f->v << 8) | pb->p[i];
        pb->p += 8;
        return 1;
    case 2: {
        uint64_t len;
        if (read_varint(&pb->p, pb->end, &len) < 0 || len > (uint64_t)(pb->end - pb->p))
            goto bad;
        f->data = pb->p;
        f->len = (size_t)len;
        pb->p += len;
        return 1;
    }
    case 5:
        if (pb->end - pb->p < 4)
            goto bad;
        f->v = (uint64_t)pb->p[0] | (uint64_t)pb->p[1] << 8 | (uint64_t)pb->p[2] << 16 |
               (uint64_t)pb->p[3] << 24;
        pb->p += 4;
        return 1;
    default:
        goto bad;
    }
bad:
    pb->bad = 1;
    return 0;
}

long nn_pb_varints(const nn_pb_field *f, void (*fn)(void *arg, uint64_t v), void *arg) {
    if (f->wire == 0) {
        if (fn)
            fn(arg, f->v);
        return 1;
    }
    if (f->wire != 2)
        return -1;
    const uint8_t *p = f->data, *end = f->data + f->len;
    long n = 0;
    while (p < end) {
        uint64_t v;
        if (read_varint(&p, end, &v) < 0)
            return -1;
        if (fn)
            fn(arg, v);
        n++;
    }
    return n;
}
