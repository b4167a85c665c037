/*
 * nn_pb.h — a minimal protocol-buffers wire-format reader (enough for ONNX). A nn_pb is a
 * cursor over a borrowed byte range; nn_pb_next() yields one field at a time. Nothing is
 * allocated; every length is checked against the remaining bytes, so malformed input ends
 * in an error (pb->bad), never a read out of bounds.
 */
#ifndef STEPD_NN_PB_H
#define STEPD_NN_PB_H

#include <stddef.h>
#include <stdint.h>

typedef struct nn_pb {
    const uint8_t *p, *end;
    int bad; /* set on malformed input; nn_pb_next() then returns 0 */
} nn_pb;

typedef struct nn_pb_field {
    uint32_t num;        /* field number */
    int wire;            /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t v;          /* varint / fixed value */
    const uint8_t *data; /* wire 2: the bytes (borrowed) */
    size_t len;
} nn_pb_field;

static inline nn_pb nn_pb_init(const void *data, size_t len) {
    nn_pb pb = {(const uint8_t *)data, (const uint8_t *)data + len, 0};
    return pb;
}
/* Reads the next field into *f. Returns 1 when a field was read, 0 at the end or on error
 * (check pb->bad). Groups (wire types 3/4) are rejected as malformed. */
int nn_pb_next(nn_pb *pb, nn_pb_field *f);
/* Packed or unpacked repeated varints: calls fn for each value in f (wire 0 or 2). Returns
 * the number of values, or -1 if the packed bytes are malformed. With fn NULL only counts. */
long nn_pb_varints(const nn_pb_field *f, void (*fn)(void *arg, uint64_t v), void *arg);

#endif
